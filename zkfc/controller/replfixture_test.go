package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/zkfc/elector"
)

// The fixture of the replication tests (replication_test.go): a fake
// elector that keeps Position and Sync, fake replication actions that
// log what ran, and a controller stepped by hand.

// events is a log written from the loop and from jobs off the loop.
type events struct {
	mu  sync.Mutex
	evs []string
}

func (e *events) add(s string) { e.mu.Lock(); e.evs = append(e.evs, s); e.mu.Unlock() }

func (e *events) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.evs...)
}

// wait waits until an event with prefix p was logged.
func (e *events) wait(t *testing.T, p string) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); e.index(p) < 0; time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("no event %q within 5s: %v", p, e.list())
		}
	}
}

// index is the position of the first event with prefix p, -1 if none.
func (e *events) index(p string) int {
	return slices.IndexFunc(e.list(), func(s string) bool { return strings.HasPrefix(s, p) })
}

// replElector adds the lock holder and the replication znodes to
// fakeElector.
type replElector struct {
	*fakeElector
	ev      *events
	pos     *elector.Position
	sync    *elector.Sync
	syncErr error // WriteSync fails with it
	onFence func()
}

func (r *replElector) Holder() (*elector.Info, error) {
	if r.lock == "" {
		return nil, nil
	}
	return &elector.Info{NodeID: r.lock}, nil
}

func (r *replElector) ReadPosition() (*elector.Position, error) { return r.pos, nil }

func (r *replElector) WritePosition(p elector.Position) error {
	r.ev.add(fmt.Sprintf("write-position %s %d %d", p.Node, p.Token, p.Position))
	r.pos = &p
	return nil
}

func (r *replElector) ReadSync() (*elector.Sync, error) { return r.sync, nil }

func (r *replElector) WriteSync(s elector.Sync) error {
	if r.syncErr != nil {
		r.ev.add("write-sync failed")
		return r.syncErr
	}
	who := s.Standby
	if who == "" {
		who = "nobody"
	}
	r.ev.add(fmt.Sprintf("write-sync %s %d %s", s.Active, s.Token, who))
	r.sync = &s
	return nil
}

// fakeReplica runs no command; gate, when set, holds a job until it
// receives.
type fakeReplica struct {
	ev         *events
	mu         sync.Mutex
	position   uint64
	rejoinErr  error
	restartErr error
	syncOnErr  error
	gate       chan struct{}
	rejoinEnv  string
	queries    int      // QueryPosition calls
	answers    []uint64 // the next QueryPosition answers, then position
	posErr     error    // QueryPosition fails with it
}

func (a *fakeReplica) wait(ctx context.Context) error {
	if a.gate == nil {
		return nil
	}
	select {
	case <-a.gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (a *fakeReplica) DoRejoin(ctx context.Context, node, host string, port int, token uint64) error {
	a.ev.add(fmt.Sprintf("rejoin %s %s:%d %d", node, host, port, token))
	if err := a.wait(ctx); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rejoinErr
}

func (a *fakeReplica) QueryPosition(context.Context) (uint64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.queries++
	if a.posErr != nil {
		return 0, a.posErr
	}
	if len(a.answers) > 0 {
		p := a.answers[0]
		a.answers = a.answers[1:]
		return p, nil
	}
	return a.position, nil
}

func (a *fakeReplica) queried() int { a.mu.Lock(); defer a.mu.Unlock(); return a.queries }

func (a *fakeReplica) setPosition(p uint64) { a.mu.Lock(); a.position = p; a.mu.Unlock() }

func (a *fakeReplica) DoSyncOn(_ context.Context, standby string, token uint64) error {
	a.ev.add(fmt.Sprintf("sync-on %s %d", standby, token))
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.syncOnErr
}

func (a *fakeReplica) DoSyncOff(_ context.Context, token uint64) error {
	a.ev.add(fmt.Sprintf("sync-off %d", token))
	return nil
}

func (a *fakeReplica) DoRestart(ctx context.Context, role string, token uint64) error {
	a.ev.add(fmt.Sprintf("restart %s %d", role, token))
	if err := a.wait(ctx); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.restartErr
}

type replFixture struct {
	*fixture
	rel *replElector
	rep *fakeReplica
	ev  *events
}

// newReplFixture is newFixture with the replication mechanisms cfg turns
// on, the lock holder and the replication znodes.
func newReplFixture(t *testing.T, cfg func(*Replication)) *replFixture {
	f := &replFixture{fixture: &fixture{now: time.Unix(1000, 0)}, ev: &events{}}
	f.el = &fakeElector{log: &f.log, timeout: 10 * time.Second, events: make(chan elector.Event)}
	f.rel = &replElector{fakeElector: f.el, ev: f.ev}
	f.fn = &fakeFencer{log: &f.log}
	f.act = &fakeActions{log: &f.log}
	f.rep = &fakeReplica{ev: f.ev}
	r := Replication{Actions: f.rep, Records: f.rel, PositionInterval: time.Second}
	cfg(&r)
	f.c = New(Config{
		Self: elector.Info{NodeID: "me", Host: "10.0.0.1", Port: 5432}, SelfFenceMargin: 2 * time.Second,
		BackoffInitial: time.Second, BackoffMax: 4 * time.Second, CedePeriod: 10 * time.Second,
		Replication: r,
	}, f.rel, fencerFunc(func(t elector.Info) error {
		f.log = append(f.log, "fence "+t.NodeID)
		if f.rel.onFence != nil {
			f.rel.onFence()
		}
		return f.fn.err
	}), evActions{f.act, f.ev}, nil, zap.NewNop())
	f.connect()
	return f
}

// evActions logs promotions in the events too, to order them against the
// znode writes.
type evActions struct {
	*fakeActions
	ev *events
}

func (a evActions) DoPromote(ctx context.Context, tok uint64) error {
	a.ev.add(fmt.Sprintf("promote %d", tok))
	return a.fakeActions.DoPromote(ctx, tok)
}

type fencerFunc func(elector.Info) error

func (f fencerFunc) Fence(_ context.Context, t elector.Info) error { return f(t) }

// settle applies the end of every job in flight, as the loop would.
func (f *replFixture) settle(t *testing.T) {
	t.Helper()
	for f.c.repl.svcJob != nil || f.c.repl.posJob != nil {
		select {
		case r := <-f.c.repl.results:
			f.c.jobDone(r)
		case <-time.After(5 * time.Second):
			t.Fatal("a job did not end within 5s")
		}
	}
	f.c.publish()
}

// step advances the clock by d, runs a cycle and lets its jobs end.
func (f *replFixture) step(t *testing.T, d time.Duration) {
	t.Helper()
	f.now = f.now.Add(d)
	f.c.tick()
	f.settle(t)
	f.c.publish()
}

func (f *replFixture) healthy(t *testing.T) {
	f.c.handleHealth(Health{State: "SERVICE_HEALTHY", Healthy: true, Known: true})
	f.step(t, 0)
}

// otherActive makes nn2 the confirmed active under token.
func (f *replFixture) otherActive(token uint64) {
	f.el.lock = "nn2"
	f.el.breadcrumb = &elector.Info{NodeID: "nn2", Host: "10.0.0.2", Port: 5432, Token: token}
	f.el.members = []elector.Info{{NodeID: "nn2", Host: "10.0.0.2", Port: 5432, Token: token}}
}

func u64(v uint64) *uint64 { return &v }
