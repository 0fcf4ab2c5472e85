package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/zkfc-project/zkfc/zkfc/elector"
)

// A hung service never answers a role query; querying it would stall the
// loop for the action's deadline on every tick and hold back the health
// failure. Neither an applied failure nor one the monitor reported but the
// loop has not applied yet may lead to a role query.
func TestNoRoleQueryOfASickService(t *testing.T) {
	for _, pending := range []bool{false, true} {
		f := newFixture(t)
		f.act.role = "active"
		healthy(f)
		if f.c.svc.role != Active {
			t.Fatalf("role %s, want active", f.c.svc.role)
		}
		tickAt(5 * time.Second)(f)
		if f.act.queries != 1 {
			t.Fatalf("%d role queries of a healthy active, want 1 (the test would prove nothing)", f.act.queries)
		}
		if pending {
			f.c.SetHealth(Health{State: "SERVICE_NOT_RESPONDING", Known: true}) // reported, not applied
		} else {
			f.c.handleHealth(Health{State: "SERVICE_NOT_RESPONDING", Known: true})
		}
		f.now = f.now.Add(5 * time.Second)
		f.c.tick()
		if f.act.queries != 1 {
			t.Errorf("pending=%v: the role of a sick service was queried (%d queries)", pending, f.act.queries)
		}
	}
}

func TestGracefulDemoteFailureIsAnError(t *testing.T) {
	f := newFixture(t)
	healthy(f)
	f.act.demoteErr = errors.New("service hung")
	if err := f.c.handleRequest(request{kind: reqDemote, token: 1}); err == nil {
		t.Fatal("graceful demote reported success although the demote action failed")
	}
	if f.c.svc.role != Active {
		t.Fatalf("role %s after a failed graceful demote; zkfc must not pretend", f.c.svc.role)
	}
}

// A hung service that already failed to demote when its zkfc quit is not
// asked again by graceful fencing: the caller must move on to a method
// that works without the service, not wait out its graceful timeout.
func TestGracefulDemoteOfAHungServiceFailsAtOnce(t *testing.T) {
	f := newFixture(t)
	healthy(f)
	f.act.demoteErr = errors.New("demote action did not finish within 2s")
	f.c.handleHealth(Health{State: "SERVICE_NOT_RESPONDING", Known: true})
	f.c.tick()
	if f.c.svc.role != Standby {
		t.Fatalf("role %s after the service stopped responding, want standby", f.c.svc.role)
	}
	f.log = nil
	err := f.c.handleRequest(request{kind: reqDemote, token: 2})
	if err == nil || !strings.Contains(err.Error(), "not tried again") {
		t.Fatalf("graceful demote = %v, want an immediate failure", err)
	}
	if len(f.log) != 0 {
		t.Fatalf("calls %v: the hung service was asked to demote again", f.log)
	}
	// Healthy again: graceful fencing tries the service as usual.
	f.act.demoteErr = nil
	healthy(f)
	f.log = nil
	if err := f.c.handleRequest(request{kind: reqDemote, token: f.c.svc.token}); err != nil || len(f.log) == 0 || f.log[0] != "demote" {
		t.Fatalf("graceful demote of a recovered service = %v, calls %v", err, f.log)
	}
}

func TestPrepareFailoverRefusesNoFailoverAndUnhealthy(t *testing.T) {
	f := newFixture(t)
	if err := f.c.handleRequest(request{kind: reqPrepare}); err == nil {
		t.Fatal("prepare accepted while health is unknown")
	}
	healthy(f)
	f.c.cfg.Self.NoFailover = true
	if err := f.c.handleRequest(request{kind: reqPrepare}); err == nil || !strings.Contains(err.Error(), "no-failover") {
		t.Fatalf("prepare with no-failover tag: %v", err)
	}
}

func TestPriorityDefersToHigherCandidate(t *testing.T) {
	f := newFixture(t)
	f.c.cfg.PriorityDelay = 2 * time.Second
	f.el.members = []elector.Info{{NodeID: "big", Priority: 10, Candidate: true}}
	healthy(f)
	if got := strings.Join(f.log, "|"); got != "" || f.c.svc.role != Initializing {
		t.Fatalf("did not defer: calls %q role %s", got, f.c.svc.role)
	}
	tickAt(2 * time.Second)(f)
	if f.c.svc.role != Active {
		t.Fatalf("did not take the lock after the priority delay: role %s", f.c.svc.role)
	}
}

type blockingActions struct {
	fakeActions
	entered chan struct{}
	release chan struct{}
}

func (a *blockingActions) DoPromote(ctx context.Context, tok uint64) error {
	close(a.entered)
	<-a.release
	return nil
}

// The watchdog callback comes from the loop itself: while the loop is
// stuck (here in a promote action), OnTick is not called, so systemd's
// watchdog fires.
func TestWatchdogStarvesWhenLoopStalls(t *testing.T) {
	var log []string
	el := &fakeElector{log: &log, timeout: 10 * time.Second, events: make(chan elector.Event, 4)}
	act := &blockingActions{fakeActions: fakeActions{log: &log}, entered: make(chan struct{}), release: make(chan struct{})}
	var ticks atomicCounter
	r := runHealthy(Config{OnTick: ticks.inc}, el, el.events, act)
	done, cancel := r.done, r.cancel
	select {
	case <-act.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("promote never ran")
	}
	before := ticks.get()
	time.Sleep(100 * time.Millisecond) // ten ticks' worth
	if got := ticks.get(); got != before {
		t.Fatalf("OnTick called %d times while the loop was stuck", got-before)
	}
	close(act.release)
	deadline := time.Now().Add(10 * time.Second)
	for ticks.get() == before {
		if time.Now().After(deadline) {
			t.Fatal("OnTick did not resume after the loop unblocked")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

type atomicCounter struct {
	mu sync.Mutex
	n  int
}

func (a *atomicCounter) inc() { a.mu.Lock(); a.n++; a.mu.Unlock() }

func (a *atomicCounter) get() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n
}

// The breadcrumb names the session the node is active under, which the
// lease_expired fencing of the next winner checks; a node that cannot
// prove the lock is its session's does not promote.
func TestBreadcrumbNamesTheActiveSession(t *testing.T) {
	f := newFixture(t)
	f.el.session = 0x4200000000001234
	healthy(f)
	if f.c.svc.role != Active || f.el.breadcrumb == nil || f.el.breadcrumb.Session != 0x4200000000001234 {
		t.Fatalf("role %s, breadcrumb %+v: want active with the session in the breadcrumb", f.c.svc.role, f.el.breadcrumb)
	}

	f = newFixture(t)
	f.el.markErr = errors.New("lock no longer belongs to session 0x1")
	healthy(f)
	if f.c.svc.role == Active {
		t.Fatal("promoted without marking its session")
	}
	if got := strings.Join(f.log, "|"); got != "try|read-breadcrumb|mark-session failed|demote|release" {
		t.Fatalf("calls %q: want no token, no breadcrumb, no promote after a failed session mark", got)
	}
}

// A release that fails while quitting (the connection dropped under the
// request) must be retried: the session lives on, and so would its lock,
// with no node in the election to free it and none able to win.
func TestFailedReleaseIsRetried(t *testing.T) {
	f := newFixture(t)
	healthy(f)
	if f.c.svc.role != Active || f.el.lock != "me" {
		t.Fatalf("role %s, lock %q: want active holding the lock", f.c.svc.role, f.el.lock)
	}
	f.el.releaseErr = errors.New("zk: connection closed")
	unhealthy(f)
	if f.el.lock != "me" {
		t.Fatal("the fake released the lock although told to fail")
	}
	f.el.releaseErr = nil
	f.log = nil
	tickAt(100 * time.Millisecond)(f)
	if f.el.lock != "" || strings.Join(f.log, "|") != "release" {
		t.Fatalf("lock %q, calls %v after the connection came back: want the lock released", f.el.lock, f.log)
	}
	f.log = nil
	tickAt(100 * time.Millisecond)(f)
	if len(f.log) != 0 {
		t.Fatalf("calls %v: released again after success", f.log)
	}
}

// A promotion whose breadcrumb write lost its connection keeps the lock
// and promotes once connected again, under the same session: releasing
// would hand the lock to whoever comes next (a restarting active), which
// would then fence this node. A session that is gone takes the lock with
// it; a connection that keeps failing gives the lock back after
// maxInterrupted tries.
func TestPromotionInterruptedByTheConnectionKeepsTheLock(t *testing.T) {
	f := newFixture(t)
	f.el.writeErr = fmt.Errorf("write breadcrumb: %w", zk.ErrConnectionClosed)
	healthy(f)
	if f.c.svc.role == Active || f.el.lock != "me" {
		t.Fatalf("role %s, lock %q after the interrupted write: want not active, still holding the lock", f.c.svc.role, f.el.lock)
	}
	if got := strings.Join(f.log, "|"); strings.Contains(got, "release") || strings.Contains(got, "promote") {
		t.Fatalf("calls %q: released the lock or promoted after the interrupted write", got)
	}
	// The next attempt runs before the loop hears of the disconnection.
	f.el.tryErr = fmt.Errorf("%w (StateConnecting)", elector.ErrNoSession)
	f.c.tick()
	f.el.tryErr = nil
	event(elector.Disconnected, 0)(f)
	f.log = nil
	f.now = f.now.Add(300 * time.Microsecond) // reconnected at once: no backoff to wait out
	event(elector.Connected, 0)(f)
	if f.c.svc.role != Active {
		t.Fatalf("role %s after the reconnection (calls %v): want active", f.c.svc.role, f.log)
	}
	if got := strings.Join(f.log, "|"); got != "try|read-breadcrumb|token 2|write-breadcrumb me 2|promote 2" {
		t.Fatalf("calls %q after the reconnection: want the promotion retried under the lock it kept", got)
	}

	f = newFixture(t)
	f.el.writeErr, f.el.writeErrs = fmt.Errorf("write breadcrumb: %w", zk.ErrConnectionClosed), true
	healthy(f)
	for i := 1; i < maxInterrupted && f.el.lock == "me"; i++ {
		f.c.tick()
	}
	if f.el.lock != "me" {
		t.Fatalf("lock %q: released before %d interrupted promotions", f.el.lock, maxInterrupted)
	}
	f.log = nil
	f.c.tick()
	if f.el.lock != "" || !strings.HasSuffix(strings.Join(f.log, "|"), "release") {
		t.Fatalf("lock %q, calls %v: want the lock given back after %d interrupted promotions", f.el.lock, f.log, maxInterrupted+1)
	}

	f = newFixture(t)
	f.el.writeErr = fmt.Errorf("write breadcrumb: %w", zk.ErrBadVersion)
	healthy(f)
	if f.el.lock != "" {
		t.Fatalf("lock %q after a refused breadcrumb write: want it released", f.el.lock)
	}
}

// While its service is active the elector breaks a connection that went
// silent at the self-fence deadline (elector.BreakAfterSilence), so that
// no request of the loop can hold it past that deadline; a standby, which
// has nothing to self-fence, leaves a slow connection alone.
func TestActiveArmsTheSilenceBreak(t *testing.T) {
	f := newFixture(t)
	healthy(f)
	if f.c.svc.role != Active || f.el.silence != f.c.cfg.SelfFenceMargin {
		t.Fatalf("role %s, break armed with %v: want active, armed with the margin %v", f.c.svc.role, f.el.silence, f.c.cfg.SelfFenceMargin)
	}
	unhealthy(f)
	if f.c.svc.role == Active || f.el.silence != 0 {
		t.Fatalf("role %s, break armed with %v: want standby, disarmed", f.c.svc.role, f.el.silence)
	}
}

// The decision's sentence is the node's status reason, and a role change
// records the sentence of the decision that made it.
func TestTransitionsRecordTheReason(t *testing.T) {
	for _, c := range []struct {
		name  string
		setup []func(*fixture)
		want  string
	}{
		{"lock held", []func(*fixture){otherHoldsLock("peer")}, "standby: lock held by peer"},
		{"fencing failed", []func(*fixture){breadcrumbOf("peer"), fenceFails}, "no promotion: fencing peer failed: ssh: host unreachable"},
		{"won", nil, "active: won the election (token 1)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			for _, s := range c.setup {
				s(f)
			}
			healthy(f)
			f.c.publish()
			st := f.c.Status()
			if st.Reason != c.want {
				t.Fatalf("status reason %q, want %q", st.Reason, c.want)
			}
			if n := len(st.Transitions); n == 0 || st.Transitions[n-1].Reason != c.want {
				t.Fatalf("transitions %+v, want the last one to record %q", st.Transitions, c.want)
			}
		})
	}
}

// A reconnection is logged with how long the connection was gone; a
// second Disconnected during the same loss does not restart the count.
func TestReconnectionIsLogged(t *testing.T) {
	f := newFixture(t)
	core, logs := observer.New(zap.InfoLevel)
	f.c.lg = zap.New(core)
	event(elector.Disconnected, 0)(f)
	f.now = f.now.Add(1500 * time.Millisecond)
	event(elector.Disconnected, 0)(f)
	f.now = f.now.Add(1000 * time.Millisecond)
	event(elector.Connected, 0)(f)
	if n := logs.FilterMessage("disconnected from zookeeper").Len(); n != 1 {
		t.Fatalf("%d disconnection lines, want 1", n)
	}
	got := logs.FilterMessage("reconnected to zookeeper").All()
	if len(got) != 1 || got[0].ContextMap()["disconnected_for"] != 2500*time.Millisecond {
		t.Fatalf("reconnection lines %+v, want one with disconnected_for 2.5s", got)
	}
}
