package controller

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/zkfc/elector"
)

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
	c.SetHealth(Health{State: "SERVICE_HEALTHY", Healthy: true, Known: true})
	return r
}

// stop ends Run and waits for it, at most 10 s (a loop stuck in an
// action's query would hold it longer).
func (r *running) stop() {
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
	}
}

// await fails the test unless ch receives within 10 s.
func await(t *testing.T, ch <-chan struct{}, failure string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal(failure)
	}
}

// awaitCanceled fails the test unless a role query whose deadline is an
// hour ends within 10 s, canceled by what `by` names.
func awaitCanceled(t *testing.T, ended <-chan error, by string) {
	t.Helper()
	select {
	case err := <-ended:
		if err != context.Canceled {
			t.Fatalf("role query ended with %v, want canceled by %s", err, by)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the role query still runs 10 s after %s (its deadline is an hour)", by)
	}
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
	c.SetHealth(Health{State: state, Known: true})
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
		r.stop()
	}()
	await(t, act.queried, "the role of the healthy active was never queried (the test would prove nothing)")
	c.SetHealth(Health{State: NotResponding, Known: true})
	awaitCanceled(t, act.ended, "the health failure")
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
	c.SetHealth(Health{State: NotResponding, Known: true})
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
	if f.c.svc.role != Standby || !strings.Contains(strings.Join(f.log, "|"), "demote") {
		t.Fatalf("role %s, calls %v: want a (failed) demote to standby", f.c.svc.role, f.log)
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
	if f.c.svc.role != Active || f.c.svc.token != 1 {
		t.Fatalf("role %s token %d, want active with token 1", f.c.svc.role, f.c.svc.token)
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
	if f.c.svc.role != Active || len(f.log) != 0 {
		t.Fatalf("after refused fences: role %s, calls %v; want active and no call", f.c.svc.role, f.log)
	}
	if err := f.c.handleRequest(request{kind: reqDemote, token: 1}); err != nil || f.c.svc.role != Standby {
		t.Fatalf("graceful fence for the current token = %v, role %s; want a demote", err, f.c.svc.role)
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
	if f.c.elec.joined || f.c.svc.role == Active || !f.c.Status().PauseUnknown {
		t.Fatalf("pause unknown: joined=%v role %s status %+v", f.c.elec.joined, f.c.svc.role, f.c.Status())
	}
	f.el.pauseErr = nil
	f.el.pause = elector.PauseState{Paused: true, Generation: 9}
	tickAt(time.Second)(f)
	if f.c.elec.joined || f.c.svc.role == Active {
		t.Fatalf("paused: joined=%v role %s", f.c.elec.joined, f.c.svc.role)
	}
	f.c.publish()
	if st := f.c.Status(); !st.Paused || st.PauseGeneration != 9 || st.PauseUnknown {
		t.Fatalf("status %+v, want paused with generation 9", st)
	}
	f.el.pause = elector.PauseState{}
	event(elector.PauseChanged, 0)(f)
	if f.c.svc.role != Active {
		t.Fatalf("role %s after resume, want active", f.c.svc.role)
	}
}

// hangingRole is an Actions whose first role query hangs until its
// context ends; later ones report no role check.
type hangingRole struct {
	fakeActions
	queries  int
	queried  chan struct{}
	ended    chan error
	promoted chan uint64
}

func (a *hangingRole) QueryRole(ctx context.Context) (string, error) {
	a.queries++
	if a.queries > 1 {
		return "", ErrNoRoleCheck
	}
	a.queried <- struct{}{}
	<-ctx.Done()
	a.ended <- ctx.Err()
	return "", ctx.Err()
}

func (a *hangingRole) DoPromote(_ context.Context, tok uint64) error {
	a.promoted <- tok
	return nil
}

// A standby whose role query is running when the lock is freed: the lock
// change ends the query at once (its deadline is an hour here), and the
// standby takes the lock and promotes.
func TestLockChangeCancelsTheRoleQuery(t *testing.T) {
	log := new([]string)
	el := &fakeElector{log: log, timeout: 10 * time.Second, events: make(chan elector.Event, 4), lock: "nn2"}
	act := &hangingRole{queried: make(chan struct{}, 1), ended: make(chan error, 1), promoted: make(chan uint64, 1)}
	act.log = new([]string)
	r := runHealthy(Config{RoleInterval: 10 * time.Millisecond, FenceTimeout: time.Hour}, el, el.events, act)
	defer r.stop()
	await(t, act.queried, "the standby's role was never queried (the test would prove nothing)")
	el.lock = "" // read by the loop only after the event below
	el.events <- elector.Event{Epoch: 1, Kind: elector.LockChanged}
	awaitCanceled(t, act.ended, "the lock change")
	select {
	case tok := <-act.promoted:
		if tok != 1 {
			t.Fatalf("promoted under token %d, want 1", tok)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the standby did not promote after the lock was freed")
	}
}
