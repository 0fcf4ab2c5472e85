package budget

import (
	"strings"
	"testing"
	"time"
)

// The defaults of configs/README.md with graceful then ssh fencing.
func defaults() Inputs {
	return Inputs{HealthInterval: time.Second, Fall: 2, ProbeTimeout: 2 * time.Second,
		SessionTimeout: 10 * time.Second, SelfFenceMargin: 2 * time.Second, TickTime: 2 * time.Second, Embedded: true,
		Methods:        []Method{{"graceful", 5 * time.Second}, {"ssh", 30 * time.Second}},
		PromoteTimeout: 30 * time.Second, DemoteTimeout: 30 * time.Second, LoopTick: 100 * time.Millisecond}
}

func TestComputeTerms(t *testing.T) {
	b := Compute(defaults())
	for _, c := range []struct {
		kind  string
		worst time.Duration
		terms []string
	}{
		// 2×1s + 0.1 + (5+30) + 30
		{ServiceUnhealthy, 67100 * time.Millisecond, []string{"health.interval 1s × fall 2", "loop tick 100ms", "fencing (graceful 5s + ssh 30s)", "actions.promote.timeout 30s"}},
		// + probe timeout 2s
		{ServiceHung, 69100 * time.Millisecond, []string{"health.timeout 2s"}},
		// 10 + 2/2 + 0.1 + 35 + 30
		{ZKFCKilled, 76100 * time.Millisecond, []string{"zookeeper.session_timeout 10s + tickTime 2s/2", "self_fence_margin 2s"}},
		{HostLost, 76100 * time.Millisecond, nil},
		// drain 0 + demote 30 + tick + promote 30
		{Switchover, 60100 * time.Millisecond, []string{"control.lb_drain 0s", "actions.demote.timeout 30s"}},
	} {
		k, ok := b.Of(c.kind)
		if !ok {
			t.Fatalf("%s missing from %+v", c.kind, b)
		}
		if k.WorstMs != c.worst.Milliseconds() {
			t.Errorf("%s: worst %dms, want %dms (%s)", c.kind, k.WorstMs, c.worst.Milliseconds(), k.Terms)
		}
		for _, term := range c.terms {
			if !strings.Contains(k.Terms, term) {
				t.Errorf("%s: terms %q lack %q", c.kind, k.Terms, term)
			}
		}
	}
	if len(b.Kinds) != 5 {
		t.Errorf("%d kinds, want 5", len(b.Kinds))
	}
}

// The lock-free part of the session-loss budget is the bound README
// derives and TestKillActiveZKFCBound measures (tickTime 2s, session 4s):
// 5s on the embedded quorum, 7s on Apache ZooKeeper.
func TestSessionTermMatchesMeasuredBound(t *testing.T) {
	for _, c := range []struct {
		embedded bool
		tick     time.Duration
		want     time.Duration
	}{
		{true, 2 * time.Second, 5 * time.Second},
		{false, 2 * time.Second, 7 * time.Second},
		// Unknown tickTime: the largest a quorum granting 4s can have, 2s.
		{false, 0, 7 * time.Second},
		{true, 0, 5 * time.Second},
	} {
		in := Inputs{SessionTimeout: 4 * time.Second, TickTime: c.tick, Embedded: c.embedded}
		k, _ := Compute(in).Of(ZKFCKilled)
		if got := time.Duration(k.WorstMs) * time.Millisecond; got != c.want {
			t.Errorf("embedded=%v tick=%s: %s, want %s (%s)", c.embedded, c.tick, got, c.want, k.Terms)
		}
		if c.tick == 0 && !strings.Contains(k.Terms, "≤ session_timeout/2") {
			t.Errorf("an unknown tickTime is not said to be bounded: %s", k.Terms)
		}
	}
}

// Every configured fencing method counts, in order, each with its timeout.
func TestFenceTermSumsEveryMethod(t *testing.T) {
	in := defaults()
	in.Methods = []Method{{"lease_expired", 3 * time.Second}, {"graceful", 5 * time.Second}, {"shell", 7 * time.Second}}
	k, _ := Compute(in).Of(ServiceUnhealthy)
	if !strings.Contains(k.Terms, "fencing (lease_expired 3s + graceful 5s + shell 7s)") {
		t.Errorf("terms: %s", k.Terms)
	}
	if want := (2*time.Second + 100*time.Millisecond + 15*time.Second + 30*time.Second).Milliseconds(); k.WorstMs != want {
		t.Errorf("worst %d, want %d", k.WorstMs, want)
	}
}
