package controller

import (
	"context"
	"errors"
	"fmt"
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
	markErr    error         // MarkSession fails with it
	releaseErr error         // Release fails with it
	writeErr   error         // WriteBreadcrumb fails with it, then clears it unless writeErrs
	writeErrs  bool          // WriteBreadcrumb keeps failing with writeErr
	session    int64         // the session MarkSession reports
	silence    time.Duration // as BreakAfterSilence last set it
	events     chan elector.Event
}

func (f *fakeElector) rec(s string) { *f.log = append(*f.log, s) }

func (f *fakeElector) Open() (uint64, error) {
	f.epoch++
	f.rec("open")
	f.lockLost()
	return f.epoch, nil
}

func (f *fakeElector) lockLost() {}

func (f *fakeElector) Close() {}

func (f *fakeElector) Events() <-chan elector.Event { return f.events }

func (f *fakeElector) CheckFormatted() error { return nil }

func (f *fakeElector) Pause() elector.PauseState { return f.pause }

func (f *fakeElector) RefreshPause() (elector.PauseState, error) {
	return f.pause, f.pauseErr
}

func (f *fakeElector) SetPaused(on bool) (elector.PauseState, error) {
	f.pause = elector.PauseState{Paused: on}
	return f.pause, nil
}

func (f *fakeElector) CurrentToken() (uint64, error) { return f.token, nil }

func (f *fakeElector) BreakAfterSilence(margin time.Duration) { f.silence = margin }

func (f *fakeElector) Register(elector.Info) error { return nil }

func (f *fakeElector) Unregister(string) error { return nil }

func (f *fakeElector) Members() ([]elector.Info, error) { return f.members, nil }

func (f *fakeElector) Holder() (*elector.Info, error) { return nil, nil }

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
	if err := f.writeErr; err != nil {
		if !f.writeErrs {
			f.writeErr = nil
		}
		return err
	}
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
	queries    int    // QueryRole calls
	onDemote   func() // called as the demote action runs
}

func (a *fakeActions) DoPromote(_ context.Context, tok uint64) error {
	*a.log = append(*a.log, fmt.Sprintf("promote %d", tok))
	return a.promoteErr
}

func (a *fakeActions) DoDemote(context.Context, uint64) error {
	if a.onDemote != nil {
		a.onDemote()
	}
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
	f.connect()
	return f
}

// connect puts f.c on the fixture's clock and connects its session.
func (f *fixture) connect() {
	f.c.now = func() time.Time { return f.now }
	epoch, _ := f.el.Open()
	f.c.sess.epoch = epoch
	f.c.handleEvent(elector.Event{Epoch: epoch, Kind: elector.Connected})
	f.log = nil
}

// Steps of a scripted sequence.
func healthy(f *fixture) {
	f.c.handleHealth(Health{State: "SERVICE_HEALTHY", Healthy: true, Known: true})
	f.c.tick()
}

func unhealthy(f *fixture) {
	f.c.handleHealth(Health{State: "SERVICE_UNHEALTHY", Known: true})
	f.c.tick()
}

// recovering reports the unhealthy service part way through its rise.
func recovering(f *fixture) {
	f.c.handleHealth(Health{State: "SERVICE_UNHEALTHY", Progress: "rise 1 of 2", Known: true})
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
		f.c.handleEvent(elector.Event{Epoch: uint64(int(f.c.sess.epoch) + epochDelta), Kind: elector.LockChanged})
		f.c.tick()
	}
}

func event(k elector.Kind, epochDelta int) func(*fixture) {
	return func(f *fixture) {
		f.c.handleEvent(elector.Event{Epoch: uint64(int(f.c.sess.epoch) + epochDelta), Kind: k})
		f.c.tick()
	}
}

func otherHoldsLock(id string) func(*fixture) { return func(f *fixture) { f.el.lock = id } }

func lockFreed(f *fixture) { f.el.lock = "" }

func breadcrumbOf(id string) func(*fixture) {
	return func(f *fixture) { f.el.breadcrumb = &elector.Info{NodeID: id, Token: 7} }
}

func fenceFails(f *fixture) { f.fn.err = errors.New("ssh: host unreachable") }

func fenceWorks(f *fixture) { f.fn.err = nil }

func serviceSays(r string) func(*fixture) { return func(f *fixture) { f.act.role = r } }

func cede(f *fixture) { _ = f.c.handleRequest(request{kind: reqCede}); f.c.tick() }

func paused(f *fixture) {
	f.el.pause = elector.PauseState{Paused: true, Generation: 42}
	event(elector.PauseChanged, 0)(f)
}
