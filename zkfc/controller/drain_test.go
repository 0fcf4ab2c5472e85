package controller

import (
	"testing"
	"time"
)

// Before demoting its active service an active reports itself as draining
// for LBDrain, so that load balancers polling /active take it out first;
// self-fencing, whose deadline is the session's, never waits.
func TestLBDrainBeforeDemoteButNotWhenSelfFencing(t *testing.T) {
	const drain = 500 * time.Millisecond
	for _, tc := range []struct {
		name      string
		demote    func(*fixture)
		wantDrain bool
	}{
		{"unhealthy service", unhealthy, true},
		{"graceful fence", func(f *fixture) { _ = f.c.handleRequest(request{kind: reqDemote, token: f.c.svc.token}) }, true},
		{"self-fencing", func(f *fixture) { f.c.selfFence("test") }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.c.cfg.LBDrain = drain
			healthy(f)
			if f.c.svc.role != Active || f.c.Status().Draining {
				t.Fatalf("role %s draining %v, want a plain active", f.c.svc.role, f.c.Status().Draining)
			}
			var draining, demoted bool
			f.act.onDemote = func() { draining, demoted = f.c.Status().Draining, true }
			start := time.Now()
			tc.demote(f)
			took := time.Since(start)
			if !demoted {
				t.Fatal("the demote action did not run")
			}
			if draining != tc.wantDrain {
				t.Errorf("draining while the demote action ran: %v, want %v", draining, tc.wantDrain)
			}
			if tc.wantDrain && took < drain {
				t.Errorf("demoted %s after the decision, before the %s drain ended", took, drain)
			}
			f.c.publish() // as the loop does after every step
			if f.c.Status().Draining {
				t.Error("still draining after the demote")
			}
		})
	}
}

// The loop checks nothing while it drains: the drain ends no later than
// the moment the active would self-fence, after which a peer may promote.
func TestLBDrainEndsAtTheSelfFenceDeadline(t *testing.T) {
	f := newFixture(t)
	f.c.cfg.LBDrain = 20 * time.Second
	healthy(f)
	// Self-fence due 100ms from now (session 10s, margin 2s).
	f.el.ack = time.Now().Add(-8*time.Second + 100*time.Millisecond)
	var draining bool
	f.act.onDemote = func() { draining = f.c.Status().Draining }
	start := time.Now()
	unhealthy(f)
	if took := time.Since(start); took >= f.c.cfg.LBDrain {
		t.Fatalf("demoted after %s: the drain ran past the self-fence deadline", took)
	}
	if !draining {
		t.Fatal("not draining while the demote action ran")
	}
}
