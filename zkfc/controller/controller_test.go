package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/zkfc/elector"
)

// fakeElector simulates the znodes in memory and logs every call.
type fakeElector struct {
	log        *[]string
	epoch      uint64
	lock       string // holder node id, "" if free
	breadcrumb *elector.Info
	token      uint64
	pause      elector.PauseState
	pauseErr   error // RefreshPause fails with it
	ack        time.Time
	timeout    time.Duration
	members    []elector.Info
	tryErr     error
	markErr    error // MarkSession fails with it
	releaseErr error // Release fails with it
	session    int64 // the session MarkSession reports
	events     chan elector.Event
}

func (f *fakeElector) rec(s string) { *f.log = append(*f.log, s) }
func (f *fakeElector) Open() (uint64, error) {
	f.epoch++
	f.rec("open")
	f.lockLost()
	return f.epoch, nil
}
func (f *fakeElector) lockLost()                    {}
func (f *fakeElector) Close()                       {}
func (f *fakeElector) Events() <-chan elector.Event { return f.events }
func (f *fakeElector) CheckFormatted() error        { return nil }
func (f *fakeElector) Pause() elector.PauseState    { return f.pause }
func (f *fakeElector) RefreshPause() (elector.PauseState, error) {
	return f.pause, f.pauseErr
}
func (f *fakeElector) SetPaused(on bool) (elector.PauseState, error) {
	f.pause = elector.PauseState{Paused: on}
	return f.pause, nil
}
func (f *fakeElector) CurrentToken() (uint64, error)    { return f.token, nil }
func (f *fakeElector) Register(elector.Info) error      { return nil }
func (f *fakeElector) Unregister(string) error          { return nil }
func (f *fakeElector) Members() ([]elector.Info, error) { return f.members, nil }
func (f *fakeElector) Holder() (*elector.Info, error)   { return nil, nil }
func (f *fakeElector) LastAck() (time.Time, time.Duration, bool) {
	return f.ack, f.timeout, !f.ack.IsZero()
}
func (f *fakeElector) TryAcquire(self elector.Info) (bool, *elector.Info, error) {
	f.rec("try")
	if f.tryErr != nil {
		return false, nil, f.tryErr
	}
	if f.lock == "" {
		f.lock = self.NodeID
	}
	if f.lock == self.NodeID {
		return true, &self, nil
	}
	return false, &elector.Info{NodeID: f.lock}, nil
}
func (f *fakeElector) Release() error {
	f.rec("release")
	if f.releaseErr != nil {
		return f.releaseErr
	}
	if f.lock == "me" {
		f.lock = ""
	}
	return nil
}
func (f *fakeElector) Breadcrumb() (*elector.Info, int32, error) {
	f.rec("read-breadcrumb")
	if f.breadcrumb == nil {
		return nil, -1, nil
	}
	return f.breadcrumb, 3, nil
}

// MarkSession records no call unless it fails: the sequences below list
// the calls that change what other nodes see.
func (f *fakeElector) MarkSession(string) (int64, error) {
	if f.markErr != nil {
		f.rec("mark-session failed")
		return 0, f.markErr
	}
	return f.session, nil
}
func (f *fakeElector) WriteBreadcrumb(i elector.Info, v int32) error {
	f.rec(fmt.Sprintf("write-breadcrumb %s %d", i.NodeID, i.Token))
	f.breadcrumb = &i
	return nil
}
func (f *fakeElector) DeleteBreadcrumb(id string) error {
	f.rec("delete-breadcrumb")
	if f.breadcrumb != nil && f.breadcrumb.NodeID == id {
		f.breadcrumb = nil
	}
	return nil
}
func (f *fakeElector) NextToken() (uint64, error) {
	f.token++
	f.rec(fmt.Sprintf("token %d", f.token))
	return f.token, nil
}

type fakeFencer struct {
	log *[]string
	err error
}

func (f *fakeFencer) Fence(_ context.Context, t elector.Info) error {
	*f.log = append(*f.log, "fence "+t.NodeID)
	return f.err
}

type fakeActions struct {
	log        *[]string
	promoteErr error
	demoteErr  error
	role       string
	queries    int // QueryRole calls
}

func (a *fakeActions) DoPromote(_ context.Context, tok uint64) error {
	*a.log = append(*a.log, fmt.Sprintf("promote %d", tok))
	return a.promoteErr
}
func (a *fakeActions) DoDemote(context.Context, uint64) error {
	*a.log = append(*a.log, "demote")
	return a.demoteErr
}
func (a *fakeActions) QueryRole(context.Context) (string, error) {
	a.queries++
	if a.role == "" {
		return "", ErrNoRoleCheck
	}
	return a.role, nil
}

type fixture struct {
	c   *Controller
	el  *fakeElector
	fn  *fakeFencer
	act *fakeActions
	log []string
	now time.Time
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{now: time.Unix(1000, 0)}
	f.el = &fakeElector{log: &f.log, timeout: 10 * time.Second, events: make(chan elector.Event)}
	f.fn = &fakeFencer{log: &f.log}
	f.act = &fakeActions{log: &f.log}
	f.c = New(Config{
		Self: elector.Info{NodeID: "me"}, SelfFenceMargin: 2 * time.Second,
		BackoffInitial: time.Second, BackoffMax: 4 * time.Second, CedePeriod: 10 * time.Second,
		RoleInterval: 5 * time.Second,
	}, f.el, f.fn, f.act, nil, zap.NewNop())
	f.c.now = func() time.Time { return f.now }
	epoch, _ := f.el.Open()
	f.c.epoch = epoch
	f.c.handleEvent(elector.Event{Epoch: epoch, Kind: elector.Connected})
	f.log = nil
	return f
}

// Steps of a scripted sequence.
func healthy(f *fixture) {
	f.c.handleHealth(healthUpdate{state: "SERVICE_HEALTHY", healthy: true, known: true})
	f.c.tick()
}
func unhealthy(f *fixture) {
	f.c.handleHealth(healthUpdate{state: "SERVICE_UNHEALTHY", known: true})
	f.c.tick()
}
func tickAt(d time.Duration) func(*fixture) {
	return func(f *fixture) { f.now = f.now.Add(d); f.c.tick() }
}
func ackAt(d time.Duration) func(*fixture) {
	return func(f *fixture) { f.el.ack = time.Unix(1000, 0).Add(d) }
}
func lockChanged(epochDelta int) func(*fixture) {
	return func(f *fixture) {
		f.c.handleEvent(elector.Event{Epoch: uint64(int(f.c.epoch) + epochDelta), Kind: elector.LockChanged})
		f.c.tick()
	}
}
func event(k elector.Kind, epochDelta int) func(*fixture) {
	return func(f *fixture) {
		f.c.handleEvent(elector.Event{Epoch: uint64(int(f.c.epoch) + epochDelta), Kind: k})
		f.c.tick()
	}
}
func otherHoldsLock(id string) func(*fixture) { return func(f *fixture) { f.el.lock = id } }
func lockFreed(f *fixture)                    { f.el.lock = "" }
func breadcrumbOf(id string) func(*fixture) {
	return func(f *fixture) { f.el.breadcrumb = &elector.Info{NodeID: id, Token: 7} }
}
func fenceFails(f *fixture)               { f.fn.err = errors.New("ssh: host unreachable") }
func fenceWorks(f *fixture)               { f.fn.err = nil }
func serviceSays(r string) func(*fixture) { return func(f *fixture) { f.act.role = r } }
func cede(f *fixture)                     { _ = f.c.handleRequest(request{kind: reqCede}); f.c.tick() }
func paused(f *fixture) {
	f.el.pause = elector.PauseState{Paused: true, Generation: 42}
	event(elector.PauseChanged, 0)(f)
}

type step struct {
	do         func(*fixture)
	role       Role
	calls      string // the calls this step made, in order, space-joined with "|" between calls
	breadcrumb string // node id named by the breadcrumb afterwards, "-" for none; "" to skip
}

func TestSequences(t *testing.T) {
	cases := []struct {
		name  string
		setup []func(*fixture)
		steps []step
	}{
		{
			name: "healthy node wins a free lock: read breadcrumb, token, write breadcrumb, promote",
			steps: []step{
				{do: healthy, role: Active, calls: "try|read-breadcrumb|token 1|write-breadcrumb me 1|promote 1", breadcrumb: "me"},
			},
		},
		{
			name:  "previous active named by the breadcrumb is fenced before promotion",
			setup: []func(*fixture){breadcrumbOf("peer")},
			steps: []step{
				{do: healthy, role: Active, calls: "try|read-breadcrumb|fence peer|token 1|write-breadcrumb me 1|promote 1", breadcrumb: "me"},
			},
		},
		{
			name:  "own breadcrumb is not fenced",
			setup: []func(*fixture){breadcrumbOf("me")},
			steps: []step{
				{do: healthy, role: Active, calls: "try|read-breadcrumb|token 1|write-breadcrumb me 1|promote 1"},
			},
		},
		{
			name:  "failed fence: no promotion, lock released, backoff doubles, then success",
			setup: []func(*fixture){breadcrumbOf("peer"), fenceFails},
			steps: []step{
				{do: healthy, role: Standby, calls: "try|read-breadcrumb|fence peer|demote|release", breadcrumb: "peer"},
				{do: tickAt(999 * time.Millisecond), role: Standby, calls: ""},
				{do: tickAt(time.Millisecond), role: Standby, calls: "try|read-breadcrumb|fence peer|release", breadcrumb: "peer"},
				{do: tickAt(1999 * time.Millisecond), role: Standby, calls: ""},
				{do: fenceWorks, role: Standby, calls: ""},
				{do: tickAt(time.Millisecond), role: Active, calls: "try|read-breadcrumb|fence peer|token 1|write-breadcrumb me 1|promote 1", breadcrumb: "me"},
			},
		},
		{
			name:  "loser becomes standby and retries when the lock changes",
			setup: []func(*fixture){otherHoldsLock("peer")},
			steps: []step{
				{do: healthy, role: Standby, calls: "try|demote"},
				{do: lockFreed, role: Standby, calls: ""},
				{do: lockChanged(0), role: Active, calls: "try|read-breadcrumb|token 1|write-breadcrumb me 1|promote 1"},
			},
		},
		{
			name: "unhealthy active quits and leaves its breadcrumb to be fenced",
			steps: []step{
				{do: healthy, role: Active, calls: "try|read-breadcrumb|token 1|write-breadcrumb me 1|promote 1"},
				{do: unhealthy, role: Standby, calls: "release|demote", breadcrumb: "me"},
				{do: tickAt(time.Hour), role: Standby, calls: ""},
			},
		},
		{
			name: "graceful cede removes the breadcrumb and stays out for the cede period",
			steps: []step{
				{do: healthy, role: Active, calls: "try|read-breadcrumb|token 1|write-breadcrumb me 1|promote 1"},
				{do: cede, role: Standby, calls: "demote|delete-breadcrumb|release", breadcrumb: "-"},
				{do: tickAt(9 * time.Second), role: Standby, calls: ""},
				{do: tickAt(time.Second), role: Active, calls: "try|read-breadcrumb|token 2|write-breadcrumb me 2|promote 2"},
			},
		},
		{
			name: "callbacks from an old session are ignored",
			steps: []step{
				{do: otherHoldsLock("peer"), role: Initializing, calls: ""},
				{do: healthy, role: Standby, calls: "try|demote"},
				{do: lockFreed, role: Standby, calls: ""},
				{do: lockChanged(-1), role: Standby, calls: ""},
				{do: event(elector.Expired, -1), role: Standby, calls: ""},
				{do: lockChanged(0), role: Active, calls: "try|read-breadcrumb|token 1|write-breadcrumb me 1|promote 1"},
				{do: event(elector.Expired, -1), role: Active, calls: ""},
			},
		},
		{
			name: "self-fencing at session timeout minus margin after the last ack",
			steps: []step{
				{do: ackAt(0), role: Initializing, calls: ""},
				{do: healthy, role: Active, calls: "try|read-breadcrumb|token 1|write-breadcrumb me 1|promote 1"},
				{do: event(elector.Disconnected, 0), role: Active, calls: ""},
				{do: tickAt(7999 * time.Millisecond), role: Active, calls: ""},
				{do: tickAt(time.Millisecond), role: Standby, calls: "demote|open", breadcrumb: "me"},
				// the old session's expiry arrives late: ignored
				{do: event(elector.Expired, -1), role: Standby, calls: ""},
			},
		},
		{
			name: "an acknowledged ping pushes the self-fencing deadline",
			steps: []step{
				{do: ackAt(0), role: Initializing, calls: ""},
				{do: healthy, role: Active, calls: "try|read-breadcrumb|token 1|write-breadcrumb me 1|promote 1"},
				{do: ackAt(5 * time.Second), role: Active, calls: ""},
				{do: tickAt(12 * time.Second), role: Active, calls: ""},
				{do: tickAt(time.Second), role: Standby, calls: "demote|open"},
			},
		},
		{
			name: "session expiry demotes the active and opens a new session",
			steps: []step{
				{do: healthy, role: Active, calls: "try|read-breadcrumb|token 1|write-breadcrumb me 1|promote 1"},
				{do: event(elector.Expired, 0), role: Standby, calls: "demote|open"},
			},
		},
		{
			name: "role drift: service says standby while active, quit and rejoin after backoff",
			steps: []step{
				{do: healthy, role: Active, calls: "try|read-breadcrumb|token 1|write-breadcrumb me 1|promote 1"},
				{do: serviceSays("standby"), role: Active, calls: ""},
				{do: tickAt(5 * time.Second), role: Standby, calls: "release|demote", breadcrumb: "me"},
				{do: serviceSays("standby"), role: Standby, calls: ""},
				{do: tickAt(time.Second), role: Active, calls: "try|read-breadcrumb|token 2|write-breadcrumb me 2|promote 2"},
			},
		},
		{
			name:  "role drift: standby service claims active, demote it",
			setup: []func(*fixture){otherHoldsLock("peer")},
			steps: []step{
				{do: healthy, role: Standby, calls: "try|demote"},
				{do: serviceSays("active"), role: Standby, calls: ""},
				{do: tickAt(5 * time.Second), role: Standby, calls: "demote"},
				{do: tickAt(time.Second), role: Standby, calls: "try"},
			},
		},
		{
			name:  "failed promote action demotes, releases and backs off",
			setup: []func(*fixture){func(f *fixture) { f.act.promoteErr = errors.New("exit 1") }},
			steps: []step{
				{do: healthy, role: Standby, calls: "try|read-breadcrumb|token 1|write-breadcrumb me 1|promote 1|demote|release"},
			},
		},
		{
			name:  "failed promote action of a standby still demotes the half-promoted service",
			setup: []func(*fixture){otherHoldsLock("peer"), func(f *fixture) { f.act.promoteErr = errors.New("exit 1") }},
			steps: []step{
				{do: healthy, role: Standby, calls: "try|demote"},
				{do: lockFreed, role: Standby, calls: ""},
				{do: lockChanged(0), role: Standby, calls: "try|read-breadcrumb|token 1|write-breadcrumb me 1|promote 1|demote|release"},
			},
		},
		{
			name:  "paused: a healthy node does not join",
			setup: []func(*fixture){paused},
			steps: []step{
				{do: healthy, role: Initializing, calls: ""},
			},
		},
		{
			name: "unhealthy at start: standby without joining",
			steps: []step{
				{do: unhealthy, role: Standby, calls: "demote"},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			for _, s := range tc.setup {
				s(f)
			}
			f.log = nil
			for i, s := range tc.steps {
				s.do(f)
				got := strings.Join(f.log, "|")
				f.log = nil
				if got != s.calls {
					t.Fatalf("step %d: calls %q, want %q", i, got, s.calls)
				}
				if f.c.role != s.role {
					t.Fatalf("step %d: role %s, want %s", i, f.c.role, s.role)
				}
				switch s.breadcrumb {
				case "":
				case "-":
					if f.el.breadcrumb != nil {
						t.Fatalf("step %d: breadcrumb %s, want none", i, f.el.breadcrumb.NodeID)
					}
				default:
					if f.el.breadcrumb == nil || f.el.breadcrumb.NodeID != s.breadcrumb {
						t.Fatalf("step %d: breadcrumb %+v, want %s", i, f.el.breadcrumb, s.breadcrumb)
					}
				}
			}
		})
	}
}

// A hung service never answers a role query; querying it would stall the
// loop for the action's deadline on every tick and hold back the health
// failure. Neither an applied failure nor one the monitor reported but the
// loop has not applied yet may lead to a role query.
func TestNoRoleQueryOfASickService(t *testing.T) {
	for _, pending := range []bool{false, true} {
		f := newFixture(t)
		f.act.role = "active"
		healthy(f)
		if f.c.role != Active {
			t.Fatalf("role %s, want active", f.c.role)
		}
		tickAt(5 * time.Second)(f)
		if f.act.queries != 1 {
			t.Fatalf("%d role queries of a healthy active, want 1 (the test would prove nothing)", f.act.queries)
		}
		if pending {
			f.c.SetHealth("SERVICE_NOT_RESPONDING", false, true) // reported, not applied
		} else {
			f.c.handleHealth(healthUpdate{state: "SERVICE_NOT_RESPONDING", known: true})
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
	if f.c.role != Active {
		t.Fatalf("role %s after a failed graceful demote; zkfc must not pretend", f.c.role)
	}
}

// A hung service that already failed to demote when its zkfc quit is not
// asked again by graceful fencing: the caller must move on to a method
// that works without the service, not wait out its graceful timeout.
func TestGracefulDemoteOfAHungServiceFailsAtOnce(t *testing.T) {
	f := newFixture(t)
	healthy(f)
	f.act.demoteErr = errors.New("demote action did not finish within 2s")
	f.c.handleHealth(healthUpdate{state: "SERVICE_NOT_RESPONDING", known: true})
	f.c.tick()
	if f.c.role != Standby {
		t.Fatalf("role %s after the service stopped responding, want standby", f.c.role)
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
	if err := f.c.handleRequest(request{kind: reqDemote, token: f.c.token}); err != nil || len(f.log) == 0 || f.log[0] != "demote" {
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
	if got := strings.Join(f.log, "|"); got != "" || f.c.role != Initializing {
		t.Fatalf("did not defer: calls %q role %s", got, f.c.role)
	}
	tickAt(2 * time.Second)(f)
	if f.c.role != Active {
		t.Fatalf("did not take the lock after the priority delay: role %s", f.c.role)
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
	if f.c.role != Active || f.el.breadcrumb == nil || f.el.breadcrumb.Session != 0x4200000000001234 {
		t.Fatalf("role %s, breadcrumb %+v: want active with the session in the breadcrumb", f.c.role, f.el.breadcrumb)
	}

	f = newFixture(t)
	f.el.markErr = errors.New("lock no longer belongs to session 0x1")
	healthy(f)
	if f.c.role == Active {
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
	if f.c.role != Active || f.el.lock != "me" {
		t.Fatalf("role %s, lock %q: want active holding the lock", f.c.role, f.el.lock)
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

// running is a controller driven by its own Run loop, for tests of what
// happens while the loop is busy.
type running struct {
	c      *Controller
	done   chan error // Run's result
	cancel context.CancelFunc
}

// runHealthy starts Run with cfg (Self "me", a 10 ms tick and a 1 s
// self-fence margin unless set), connects the session and reports the
// service healthy, so the controller goes on to win the election.
func runHealthy(cfg Config, el Elector, events chan<- elector.Event, act Actions) *running {
	if cfg.Self.NodeID == "" {
		cfg.Self = elector.Info{NodeID: "me"}
	}
	if cfg.Tick == 0 {
		cfg.Tick = 10 * time.Millisecond
	}
	if cfg.SelfFenceMargin == 0 {
		cfg.SelfFenceMargin = time.Second
	}
	c := New(cfg, el, &fakeFencer{log: new([]string)}, act, nil, zap.NewNop())
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{c: c, done: make(chan error, 1), cancel: cancel}
	go func() { r.done <- c.Run(ctx) }()
	events <- elector.Event{Epoch: 1, Kind: elector.Connected}
	c.SetHealth("SERVICE_HEALTHY", true, true)
	return r
}

// demoteGate is an Actions whose demote blocks until released, like the
// demote of a frozen service before its timeout.
type demoteGate struct {
	fakeActions
	mu       sync.Mutex
	demotes  int
	entered  chan struct{} // receives once per demote that starts
	release  chan error    // the blocked demote returns what it receives
	released chan struct{} // closed when the first demote returned
}

func (a *demoteGate) DoDemote(ctx context.Context, _ uint64) error {
	a.mu.Lock()
	a.demotes++
	n := a.demotes
	a.mu.Unlock()
	if n > 1 {
		return nil // standby already; not blocked
	}
	a.entered <- struct{}{}
	err := <-a.release
	close(a.released)
	return err
}

func (a *demoteGate) count() int { a.mu.Lock(); defer a.mu.Unlock(); return a.demotes }

// runSickActive runs a controller that wins, then reports state: it
// returns once the loop sits in the quitting demote.
func runSickActive(t *testing.T, state string) (*Controller, *demoteGate, *[]string, func()) {
	t.Helper()
	log := new([]string)
	el := &fakeElector{log: log, timeout: 10 * time.Second, events: make(chan elector.Event, 4)}
	act := &demoteGate{entered: make(chan struct{}, 1), release: make(chan error, 1), released: make(chan struct{})}
	act.log = new([]string)
	roles := make(chan Role, 8)
	r := runHealthy(Config{OnRole: func(r Role, _ string) { roles <- r }}, el, el.events, act)
	c, done, cancel := r.c, r.done, r.cancel
	select {
	case r := <-roles:
		if r != Active {
			t.Fatalf("first role %s, want active", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("never became active")
	}
	c.SetHealth(state, false, true)
	select {
	case <-act.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the sick active never started its demote")
	}
	stop := func() {
		select {
		case act.release <- nil:
		default:
		}
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	return c, act, log, stop
}

// A sick active gives up the lock before it demotes: the demote of a
// frozen service only ends at its timeout, and the next candidate must
// fence it anyway. That candidate's graceful fencing must not queue behind
// the demote: a service that does not answer probes is refused at once.
func TestHungActiveReleasesFirstAndGracefulFencingFailsFast(t *testing.T) {
	c, act, log, stop := runSickActive(t, NotResponding)
	defer stop()
	// The loop is inside the demote: the lock must already be gone.
	// (The loop goroutine wrote the log before it entered the demote.)
	if got := strings.Join(*log, "|"); !strings.HasSuffix(got, "release") {
		t.Fatalf("elector calls %q while the demote runs; the lock must be released first", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := c.GracefulDemote(ctx, 7)
	if err == nil || !strings.Contains(err.Error(), "not confirmed") {
		t.Fatalf("graceful demote during the hung demote = %v, want an immediate refusal", err)
	}
	select {
	case <-act.released:
		t.Fatal("the answer waited for the demote")
	default:
	}
	if n := act.count(); n != 1 {
		t.Fatalf("%d demotes, want only the one in flight", n)
	}
}

// A sick service that still answers (its check failed, it did not hang)
// is demoted by the loop; a graceful fencing request meanwhile gets that
// demote's outcome instead of a second demote or a refusal.
func TestGracefulFencingJoinsTheDemoteInFlight(t *testing.T) {
	for _, outcome := range []error{nil, errors.New("demote exited 1")} {
		c, act, _, stop := runSickActive(t, "SERVICE_UNHEALTHY")
		got := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			got <- c.GracefulDemote(ctx, 7)
		}()
		select {
		case err := <-got:
			t.Fatalf("graceful demote answered %v before the demote in flight ended", err)
		case <-time.After(100 * time.Millisecond):
		}
		act.release <- outcome
		select {
		case err := <-got:
			if (err == nil) != (outcome == nil) {
				t.Fatalf("graceful demote = %v, demote in flight returned %v", err, outcome)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("graceful demote never answered")
		}
		if n := act.count(); n != 1 {
			t.Fatalf("%d demotes, want only the one in flight", n)
		}
		stop()
	}
}

// roleGate is an Actions whose role query hangs like a frozen service's:
// it returns only when its context ends.
type roleGate struct {
	demoteGate
	queried chan struct{} // receives when a query starts
	ended   chan error    // the query's context error
}

func (a *roleGate) QueryRole(ctx context.Context) (string, error) {
	a.queried <- struct{}{}
	<-ctx.Done()
	a.ended <- ctx.Err()
	return "", ctx.Err()
}

// A service that hangs while its role is being queried: the health failure
// must end the query at once, not after the action's deadline (an hour
// here), so the active quits and releases the lock.
func TestHealthFailureCancelsTheRoleQuery(t *testing.T) {
	log := new([]string)
	el := &fakeElector{log: log, timeout: 10 * time.Second, events: make(chan elector.Event, 4)}
	act := &roleGate{
		demoteGate: demoteGate{entered: make(chan struct{}, 1), release: make(chan error, 1), released: make(chan struct{})},
		queried:    make(chan struct{}, 1), ended: make(chan error, 1),
	}
	act.log = new([]string)
	r := runHealthy(Config{RoleInterval: 10 * time.Millisecond, FenceTimeout: time.Hour}, el, el.events, act)
	c := r.c
	defer func() {
		act.release <- nil
		r.cancel()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second): // the loop is stuck in the query
		}
	}()
	select {
	case <-act.queried:
	case <-time.After(10 * time.Second):
		t.Fatal("the role of the healthy active was never queried (the test would prove nothing)")
	}
	c.SetHealth(NotResponding, false, true)
	select {
	case err := <-act.ended:
		if err != context.Canceled {
			t.Fatalf("role query ended with %v, want canceled by the health failure", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the role query still runs 10 s after the health failure (its deadline is an hour)")
	}
	select {
	case <-act.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the sick active never quit after its role query ended")
	}
	if got := strings.Join(*log, "|"); !strings.HasSuffix(got, "release") {
		t.Fatalf("elector calls %q while the demote runs; the lock must be released first", got)
	}
}

// closeRecorder notes whether the controller closed its session.
type closeRecorder struct {
	*fakeElector
	closed chan struct{}
}

func (c *closeRecorder) Close() { close(c.closed) }

// runUntilSick runs a controller that wins, then reports its service
// unhealthy; the demote fails. It returns Run's result (or times out).
func runUntilSick(t *testing.T, exitOnFailedDemote bool) (error, *closeRecorder, []string) {
	t.Helper()
	log := new([]string)
	el := &closeRecorder{&fakeElector{log: log, timeout: 10 * time.Second, events: make(chan elector.Event, 4)}, make(chan struct{})}
	act := &fakeActions{log: new([]string), demoteErr: errors.New("demote action did not finish within 2s (killed)")}
	roles := make(chan Role, 8)
	r := runHealthy(Config{ExitOnFailedDemote: exitOnFailedDemote, OnRole: func(r Role, _ string) { roles <- r }}, el, el.events, act)
	c, done, cancel := r.c, r.done, r.cancel
	defer cancel()
	if r := <-roles; r != Active {
		t.Fatalf("first role %s, want active", r)
	}
	c.SetHealth(NotResponding, false, true)
	select {
	case err := <-done:
		return err, el, *log
	case <-time.After(2 * time.Second):
		// Still running: stop it the normal way.
		cancel()
		return <-done, el, nil
	}
}

// With lease_expired in use, a failed demote of the active service ends
// Run with ErrServiceStateUnknown and leaves the session open, so that
// systemd stops the bound service before the session can expire; the
// lock is released first all the same.
func TestFailedDemoteExitsWithoutClosingTheSession(t *testing.T) {
	err, el, log := runUntilSick(t, true)
	if !errors.Is(err, ErrServiceStateUnknown) {
		t.Fatalf("Run = %v, want ErrServiceStateUnknown", err)
	}
	select {
	case <-el.closed:
		t.Fatal("the session was closed: a peer's lease_expired could promote while the service may still be active")
	default:
	}
	if got := strings.Join(log, "|"); !strings.Contains(got, "release") {
		t.Fatalf("elector calls %q: the lock was not released", got)
	}
	// Without lease_expired the peer's other methods fence the service:
	// zkfc stays up, standby.
	err, el, _ = runUntilSick(t, false)
	if err != nil {
		t.Fatalf("Run without ExitOnFailedDemote = %v, want it still running until cancelled", err)
	}
	select {
	case <-el.closed:
	default:
		t.Fatal("a normal shutdown did not close the session")
	}
}

// A service that is down at start is not active: a failed demote then
// is no reason to leave.
func TestFailedDemoteAtStartDoesNotExit(t *testing.T) {
	f := newFixture(t)
	f.c.cfg.ExitOnFailedDemote = true
	f.act.demoteErr = errors.New("connection refused")
	unhealthy(f)
	f.c.tick()
	if f.c.role != Standby || !strings.Contains(strings.Join(f.log, "|"), "demote") {
		t.Fatalf("role %s, calls %v: want a (failed) demote to standby", f.c.role, f.log)
	}
	if f.c.fatal != nil {
		t.Fatalf("fatal %v after a failed demote of a service that was never active", f.c.fatal)
	}
}

// A graceful fence names the token of the active it means to demote: an
// active under another token refuses it, stays active and runs no action;
// a standby demotes whatever the token (after a restart its zkfc does not
// know which token its service last ran under).
func TestGracefulFenceForAnotherTokenIsRefused(t *testing.T) {
	f := newFixture(t)
	healthy(f)
	if f.c.role != Active || f.c.token != 1 {
		t.Fatalf("role %s token %d, want active with token 1", f.c.role, f.c.token)
	}
	f.log = nil
	for _, tok := range []uint64{0, 2} {
		err := f.c.handleRequest(request{kind: reqDemote, token: tok})
		var mm *TokenMismatchError
		if !errors.As(err, &mm) || mm.Requested != tok || mm.Current != 1 {
			t.Fatalf("graceful fence for token %d = %v, want a refusal naming both tokens", tok, err)
		}
	}
	f.c.tick()
	if f.c.role != Active || len(f.log) != 0 {
		t.Fatalf("after refused fences: role %s, calls %v; want active and no call", f.c.role, f.log)
	}
	if err := f.c.handleRequest(request{kind: reqDemote, token: 1}); err != nil || f.c.role != Standby {
		t.Fatalf("graceful fence for the current token = %v, role %s; want a demote", err, f.c.role)
	}
	f.log = nil
	if err := f.c.handleRequest(request{kind: reqDemote, token: 7}); err != nil || len(f.log) == 0 || f.log[0] != "demote" {
		t.Fatalf("graceful fence of a standby = %v, calls %v; want a demote", err, f.log)
	}
}

// A node whose pause read failed at connection takes no election step
// until it reads the flag: it may have been away while a pause was set.
func TestNoElectionStepWhilePauseUnknown(t *testing.T) {
	f := newFixture(t)
	f.el.pauseErr = errors.New("connection loss")
	event(elector.Connected, 0)(f)
	healthy(f)
	tickAt(time.Second)(f)
	f.c.publish()
	if f.c.joined || f.c.role == Active || !f.c.Status().PauseUnknown {
		t.Fatalf("pause unknown: joined=%v role %s status %+v", f.c.joined, f.c.role, f.c.Status())
	}
	f.el.pauseErr = nil
	f.el.pause = elector.PauseState{Paused: true, Generation: 9}
	tickAt(time.Second)(f)
	if f.c.joined || f.c.role == Active {
		t.Fatalf("paused: joined=%v role %s", f.c.joined, f.c.role)
	}
	f.c.publish()
	if st := f.c.Status(); !st.Paused || st.PauseGeneration != 9 || st.PauseUnknown {
		t.Fatalf("status %+v, want paused with generation 9", st)
	}
	f.el.pause = elector.PauseState{}
	event(elector.PauseChanged, 0)(f)
	if f.c.role != Active {
		t.Fatalf("role %s after resume, want active", f.c.role)
	}
}
