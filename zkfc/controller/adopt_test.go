package controller

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/zkfc/elector"
)

// recordedActive makes this node the one the breadcrumb names, with the
// last token issued in the cluster (7).
func recordedActive(f *fixture) {
	f.el.breadcrumb = &elector.Info{NodeID: "me", Token: 7}
	f.el.token = 7
}

func TestAdoptWhilePaused(t *testing.T) {
	playScenarios(t, []scenario{
		{
			name:  "the recorded active whose service says active takes the lock and keeps its token",
			setup: []func(*fixture){recordedActive, serviceSays("active"), pauseFlag},
			steps: []step{
				{do: tickAt(0), role: Active, calls: "try|read-breadcrumb|write-breadcrumb me 7", breadcrumb: "me",
					reason: "paused (generation 42): adopted the running active service (token 7)"},
				{do: tickAt(time.Hour), role: Active, calls: "", reason: "paused (generation 42): no election step; the service stays active"},
				// Resumed: it holds the lock already; nothing is promoted.
				{do: resumed, role: Active, calls: "try", reason: "active: holds the lock (token 7)"},
			},
		},
		{
			name:  "without a role check the recorded active re-runs promote with the same token",
			setup: []func(*fixture){recordedActive, pauseFlag},
			steps: []step{
				{do: tickAt(0), role: Active, calls: "try|read-breadcrumb|write-breadcrumb me 7|promote 7",
					reason: "paused (generation 42): adopted the recorded active role, promote re-run with its token (token 7)"},
			},
		},
		{
			name:  "a failed re-run of promote demotes and gives the lock back",
			setup: []func(*fixture){recordedActive, pauseFlag, func(f *fixture) { f.act.promoteErr = errors.New("exit 1") }},
			steps: []step{
				{do: tickAt(0), role: Standby, calls: "try|read-breadcrumb|write-breadcrumb me 7|promote 7|demote|release",
					reason: "paused (generation 42): standby: the promote action with the recorded token 7 failed: exit 1"},
			},
		},
		{
			name:  "a token issued after this node's promotion: demoted, lock given back",
			setup: []func(*fixture){recordedActive, func(f *fixture) { f.el.token = 8 }, serviceSays("active"), pauseFlag},
			steps: []step{
				{do: tickAt(0), role: Standby, calls: "try|read-breadcrumb|demote|release",
					reason: "paused (generation 42): standby: the breadcrumb's token 7 is not the last issued (8)"},
			},
		},
		{
			name:  "the breadcrumb names another node: demoted",
			setup: []func(*fixture){breadcrumbOf("peer"), serviceSays("active"), pauseFlag},
			steps: []step{
				{do: tickAt(0), role: Standby, calls: "try|read-breadcrumb|demote|release",
					reason: "paused (generation 42): standby: the breadcrumb names peer"},
			},
		},
		{
			name:  "another node holds the lock: demoted without touching the lock",
			setup: []func(*fixture){recordedActive, otherHoldsLock("peer"), serviceSays("active"), pauseFlag},
			steps: []step{
				{do: tickAt(0), role: Standby, calls: "try|demote", reason: "paused (generation 42): standby: lock held by peer"},
			},
		},
		{
			name:  "this node's previous session still holds the lock: wait for it, then adopt",
			setup: []func(*fixture){recordedActive, serviceSays("active"), pauseFlag, func(f *fixture) { f.c.el = previousSessionHolds{f.el} }},
			steps: []step{
				{do: tickAt(0), role: Initializing, calls: "try",
					reason: "paused (generation 42): the service's role is not adopted yet: the lock is held by this node's previous session"},
				{do: tickAt(999 * time.Millisecond), role: Initializing, calls: ""},
				{do: func(f *fixture) { f.c.el = f.el; tickAt(time.Millisecond)(f) }, role: Active, calls: "try|read-breadcrumb|write-breadcrumb me 7"},
			},
		},
		{
			name:  "a failed lock attempt is tried again after the backoff",
			setup: []func(*fixture){recordedActive, serviceSays("active"), pauseFlag, func(f *fixture) { f.el.tryErr = errors.New("connection loss") }},
			steps: []step{
				{do: tickAt(0), role: Initializing, calls: "try",
					reason: "paused (generation 42): the service's role is not adopted yet: lock attempt failed: connection loss"},
				{do: func(f *fixture) { f.el.tryErr = nil; tickAt(time.Second)(f) }, role: Active, calls: "try|read-breadcrumb|write-breadcrumb me 7"},
			},
		},
		{
			name:  "a standby service is adopted as standby: no action, no lock",
			setup: []func(*fixture){breadcrumbOf("peer"), serviceSays("standby"), pauseFlag},
			steps: []step{
				{do: tickAt(0), role: Standby, calls: "", reason: "paused (generation 42): adopted the service's role: standby"},
			},
		},
	})
}

// previousSessionHolds: the lock belongs to an earlier session of this
// node (its zkfc was killed and restarted before the session expired).
type previousSessionHolds struct{ *fakeElector }

func (p previousSessionHolds) TryAcquire(elector.Info) (bool, *elector.Info, error) {
	p.rec("try")
	return false, &elector.Info{NodeID: "me"}, nil
}

// pauseFlag sets the pause as read on connection, leaving the decision to
// the step that follows.
func pauseFlag(f *fixture) {
	f.el.pause = elector.PauseState{Paused: true, Generation: 42}
	f.c.handleEvent(elector.Event{Epoch: f.c.sess.epoch, Kind: elector.PauseChanged})
}

func resumed(f *fixture) {
	f.el.pause = elector.PauseState{}
	event(elector.PauseChanged, 0)(f)
}

// A stop while paused leaves an active service active and its breadcrumb
// in place; unpaused, or when lease_expired may fence this node, the stop
// demotes it as before.
func TestStopWhilePaused(t *testing.T) {
	for _, tc := range []struct {
		name        string
		keep, pause bool
		calls       string
		role        Role
	}{
		{"paused", true, true, "", Active},
		{"unpaused", true, false, "demote|delete-breadcrumb|release", Standby},
		{"paused, lease_expired may fence this node", false, true, "demote|delete-breadcrumb|release", Standby},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.c.cfg.KeepServiceWhenPaused = tc.keep
			healthy(f)
			if f.c.svc.role != Active {
				t.Fatalf("role %s before the stop", f.c.svc.role)
			}
			if tc.pause {
				paused(f)
			}
			f.log = nil
			f.c.shutdown()
			if got := strings.Join(f.log, "|"); got != tc.calls || f.c.svc.role != tc.role {
				t.Fatalf("stop: calls %q role %s, want %q %s", got, f.c.svc.role, tc.calls, tc.role)
			}
		})
	}
}
