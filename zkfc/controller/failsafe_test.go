package controller

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/zkfc/elector"
)

// fakeAsker answers for each peer what the test scripted.
type fakeAsker map[string]func() (FailsafeAnswer, error)

func (a fakeAsker) AskFailsafe(_ context.Context, p FailsafePeer, _ string) (FailsafeAnswer, error) {
	return a[p.ID]()
}

func promises(id string) func() (FailsafeAnswer, error) {
	return func() (FailsafeAnswer, error) { return FailsafeAnswer{Node: id, PromiseMs: 10_000}, nil }
}

// failsafeFixture: "me" with failsafe peers (session 10s, margin 2s, a
// promise of 10s), already past its start-up promise.
func failsafeFixture(t *testing.T, a fakeAsker) *fixture {
	f := newFixture(t)
	for id := range a {
		f.c.cfg.Failsafe.Peers = append(f.c.cfg.Failsafe.Peers, FailsafePeer{ID: id, URL: "http://" + id})
	}
	f.c.cfg.Failsafe.Asker, f.c.cfg.Failsafe.Promise = a, 10*time.Second
	f.c.initFailsafe()
	f.now = f.now.Add(10 * time.Second)
	return f
}

// activeThenQuorumLost makes "me" active with its last ack at t0 (the
// fixture's now), then the quorum goes silent.
func activeThenQuorumLost(t *testing.T, f *fixture) time.Time {
	t.Helper()
	t0 := f.now
	f.el.ack = t0
	healthy(f)
	if f.c.svc.role != Active {
		t.Fatalf("setup: role %s, want active", f.c.svc.role)
	}
	f.log = nil
	return t0
}

// The rule: the role is held past the quorum's deadline (t0+8s) only while
// every peer's answer in one round promised; a round whose answers do
// not all promise extends nothing.
func TestFailsafeHoldsOnlyWhileEveryPeerPromises(t *testing.T) {
	cases := []struct {
		name    string
		asker   fakeAsker
		holding bool
	}{
		{"the only peer promises", fakeAsker{"nn2": promises("nn2")}, true},
		{"every peer promises", fakeAsker{"nn2": promises("nn2"), "nn3": promises("nn3")}, true},
		{"the peer reaches the quorum", fakeAsker{"nn2": func() (FailsafeAnswer, error) {
			return FailsafeAnswer{Node: "nn2", QuorumReachable: true}, nil
		}}, false},
		{"the peer is active", fakeAsker{"nn2": func() (FailsafeAnswer, error) { return FailsafeAnswer{Node: "nn2", Active: true}, nil }}, false},
		{"the peer does not answer", fakeAsker{"nn2": func() (FailsafeAnswer, error) { return FailsafeAnswer{}, errors.New("timeout") }}, false},
		{"one of two peers promises (a majority is not enough)", fakeAsker{"nn2": promises("nn2"), "nn3": func() (FailsafeAnswer, error) {
			return FailsafeAnswer{}, errors.New("connection refused")
		}}, false},
		{"a peer answers under another name", fakeAsker{"nn2": promises("nn3")}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := failsafeFixture(t, tc.asker)
			t0 := activeThenQuorumLost(t, f)
			f.now = t0.Add(5 * time.Second)
			f.c.tick() // the loop sees the stale ack: asking is on
			f.c.askRound(context.Background(), time.Second)
			f.now = t0.Add(9 * time.Second) // past the ack's deadline (t0+8s)
			f.c.tick()
			f.c.publish()
			st := f.c.Status()
			if got := f.c.svc.role == Active; got != tc.holding {
				t.Fatalf("at t0+9s active=%v, want %v (calls %v)", got, tc.holding, f.log)
			}
			if !tc.holding {
				if !strings.Contains(strings.Join(f.log, "|"), "demote") {
					t.Errorf("self-fenced without a demote: %v", f.log)
				}
				return
			}
			if st.Failsafe == nil || !st.Failsafe.Holding || !st.Failsafe.Since.Equal(f.now) {
				t.Errorf("status does not show the hold since now: %+v", st.Failsafe)
			}
			if !strings.Contains(st.Reason, "failsafe holds the role") {
				t.Errorf("reason %q does not say failsafe holds the role", st.Reason)
			}
			// The round counts as an ack sent at its start (t0+5s): the
			// hold ends at t0+5s+10s-2s.
			f.now = t0.Add(13*time.Second - time.Millisecond)
			f.c.tick()
			if f.c.svc.role != Active {
				t.Fatalf("self-fenced before the round's deadline: %v", f.log)
			}
			f.now = t0.Add(13 * time.Second)
			f.c.tick()
			if f.c.svc.role != Standby {
				t.Fatalf("still %s at the round's deadline", f.c.svc.role)
			}
		})
	}
}

// A peer that answers "no quorum, not active" keeps its promise: it holds
// a lock it wins but does not promote until the promise has run out.
func TestFailsafeAnswerIsAPromiseNotToPromote(t *testing.T) {
	f := failsafeFixture(t, fakeAsker{"nn1": promises("nn1")})
	otherHoldsLock("nn1")(f)
	breadcrumbOf("nn1")(f)
	f.el.ack = f.now
	healthy(f)
	f.c.tick()
	if a, err := f.c.AnswerFailsafe("nn1"); err != nil || !a.QuorumReachable || a.PromiseMs != 0 {
		t.Fatalf("with a fresh session: %+v %v, want quorum reachable and no promise", a, err)
	}
	f.now = f.now.Add(5 * time.Second) // the quorum went silent
	f.c.tick()
	a, err := f.c.AnswerFailsafe("nn1")
	if err != nil || a.Active || a.QuorumReachable || a.PromiseMs != 10_000 {
		t.Fatalf("without the quorum: %+v %v, want a 10s promise", a, err)
	}
	answered := f.now
	// The quorum returns, the old active's session has expired.
	f.el.ack = f.now
	lockFreed(f)
	f.log = nil
	lockChanged(0)(f)
	if f.c.svc.role == Active || strings.Contains(strings.Join(f.log, "|"), "promote") {
		t.Fatalf("promoted during its promise: %v", f.log)
	}
	if !strings.Contains(f.c.reason, "failsafe promise to nn1") {
		t.Errorf("reason %q does not name the promise", f.c.reason)
	}
	f.now = answered.Add(10*time.Second - time.Millisecond)
	f.el.ack = f.now
	f.c.tick()
	if f.c.svc.role == Active {
		t.Fatal("promoted before the promise ran out")
	}
	f.now = answered.Add(10 * time.Second)
	f.el.ack = f.now
	f.c.tick()
	if f.c.svc.role != Active || !strings.Contains(strings.Join(f.log, "|"), "fence nn1") {
		t.Fatalf("after the promise: role %s, calls %v: want the old active fenced, then active", f.c.svc.role, f.log)
	}
	if a, _ := f.c.AnswerFailsafe("nn1"); !a.Active {
		t.Error("an active answers not active")
	}
}

// A zkfc just started may have promised in its previous life: it does not
// promote for a promise's length.
func TestFailsafeNoPromotionRightAfterStart(t *testing.T) {
	f := newFixture(t)
	f.c.cfg.Failsafe = FailsafeConfig{Peers: []FailsafePeer{{ID: "nn2"}}, Asker: fakeAsker{}, Promise: 10 * time.Second}
	f.c.initFailsafe()
	start := f.now
	f.el.ack = f.now
	healthy(f)
	if f.c.svc.role == Active {
		t.Fatal("promoted right after start")
	}
	f.now = start.Add(10 * time.Second)
	f.el.ack = f.now
	f.c.tick()
	if f.c.svc.role != Active {
		t.Fatalf("not active after the start-up promise: %s", f.c.reason)
	}
}

// Without failsafe the endpoint refuses: such a node keeps no promise.
func TestFailsafeOffRefusesToAnswer(t *testing.T) {
	f := newFixture(t)
	if _, err := f.c.AnswerFailsafe("nn1"); !errors.Is(err, ErrFailsafeOff) {
		t.Fatalf("err %v, want ErrFailsafeOff", err)
	}
}

// openFails is an elector whose Open fails a number of times.
type openFails struct {
	*fakeElector
	fails int
}

func (o *openFails) Open() (uint64, error) {
	if o.fails > 0 {
		o.fails--
		o.rec("open failed")
		return 0, errors.New("lookup zk1: no such host")
	}
	return o.fakeElector.Open()
}

// A session that cannot be opened is tried again with backoff; Run does
// not end.
func TestOpenFailureIsRetried(t *testing.T) {
	f := newFixture(t)
	el := &openFails{fakeElector: f.el, fails: 2}
	f.c.el = el
	f.c.reopen()
	if !f.c.sess.openFailed || !strings.Contains(f.c.lastErr, "no such host") {
		t.Fatalf("openFailed=%v lastErr=%q", f.c.sess.openFailed, f.c.lastErr)
	}
	epoch := f.c.sess.epoch
	f.now = f.now.Add(999 * time.Millisecond)
	f.c.tick()
	if got := strings.Join(f.log, "|"); got != "open failed" {
		t.Fatalf("retried before the backoff: %s", got)
	}
	f.now = f.now.Add(time.Millisecond)
	f.c.tick() // second failure: backoff doubles
	f.now = f.now.Add(2 * time.Second)
	f.c.tick()
	if got := strings.Join(f.log, "|"); got != "open failed|open failed|open" || f.c.sess.openFailed || f.c.sess.epoch == epoch {
		t.Fatalf("calls %s, openFailed=%v, epoch %d (was %d)", got, f.c.sess.openFailed, f.c.sess.epoch, epoch)
	}
	f.c.handleEvent(elector.Event{Epoch: f.c.sess.epoch, Kind: elector.Connected})
	if !f.c.sess.connected {
		t.Error("not connected on the new session")
	}
}

// Status says since when the quorum has been gone: from the last
// acknowledgment once a ping was missed, and nothing once it is back.
func TestQuorumUnreachableSince(t *testing.T) {
	f := newFixture(t)
	t0 := f.now
	f.el.ack = t0
	f.c.tick()
	f.c.publish()
	if st := f.c.Status(); !st.QuorumUnreachableSince.IsZero() {
		t.Fatalf("fresh session reported unreachable since %s", st.QuorumUnreachableSince)
	}
	f.now = t0.Add(5 * time.Second)
	f.c.tick()
	f.c.publish()
	if st := f.c.Status(); !st.QuorumUnreachableSince.Equal(t0) || st.QuorumUnreachableMs != 5000 {
		t.Fatalf("unreachable since %s for %dms, want since the last ack, 5000ms", st.QuorumUnreachableSince, st.QuorumUnreachableMs)
	}
	f.el.ack = f.now
	f.c.tick()
	f.c.publish()
	if st := f.c.Status(); !st.QuorumUnreachableSince.IsZero() || st.QuorumUnreachableMs != 0 {
		t.Fatalf("back on the quorum, still unreachable since %s", st.QuorumUnreachableSince)
	}
}
