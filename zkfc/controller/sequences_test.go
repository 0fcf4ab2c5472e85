package controller

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/zkfc/elector"
)

type step struct {
	do         func(*fixture)
	role       Role
	calls      string // the calls this step made, in order, space-joined with "|" between calls
	breadcrumb string // node id named by the breadcrumb afterwards, "-" for none; "" to skip
	reason     string // how the decision's sentence afterwards begins; "" to skip
}

func TestSequences(t *testing.T) {
	playScenarios(t, []scenario{
		{
			name: "healthy node wins a free lock: read breadcrumb, token, write breadcrumb, promote",
			steps: []step{
				{do: healthy, role: Active, calls: "try|read-breadcrumb|token 1|write-breadcrumb me 1|promote 1", breadcrumb: "me",
					reason: "active: won the election (token 1)"},
				{do: tickAt(time.Second), role: Active, calls: "", reason: "active: holds the lock (token 1)"},
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
				{do: healthy, role: Standby, calls: "try|read-breadcrumb|fence peer|demote|release", breadcrumb: "peer",
					reason: "no promotion: fencing peer failed: ssh: host unreachable"},
				{do: tickAt(999 * time.Millisecond), role: Standby, calls: "",
					reason: "not joining for another 1ms: no promotion: fencing peer failed: ssh: host unreachable"},
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
				{do: healthy, role: Standby, calls: "try|demote", reason: "standby: lock held by peer"},
				{do: tickAt(time.Second), role: Standby, calls: "", reason: "standby: lock held by peer"},
				{do: lockFreed, role: Standby, calls: ""},
				{do: lockChanged(0), role: Active, calls: "try|read-breadcrumb|token 1|write-breadcrumb me 1|promote 1"},
			},
		},
		{
			name: "unhealthy active quits and leaves its breadcrumb to be fenced",
			steps: []step{
				{do: healthy, role: Active, calls: "try|read-breadcrumb|token 1|write-breadcrumb me 1|promote 1"},
				{do: unhealthy, role: Standby, calls: "release|demote", breadcrumb: "me", reason: "not joining: service SERVICE_UNHEALTHY"},
				{do: tickAt(time.Hour), role: Standby, calls: ""},
			},
		},
		{
			name: "a recovering service stays out and says how far its rise has got",
			steps: []step{
				{do: healthy, role: Active, calls: "try|read-breadcrumb|token 1|write-breadcrumb me 1|promote 1"},
				{do: unhealthy, role: Standby, calls: "release|demote", reason: "not joining: service SERVICE_UNHEALTHY"},
				{do: recovering, role: Standby, calls: "", reason: "not joining: service SERVICE_UNHEALTHY (rise 1 of 2)"},
				{do: healthy, role: Active, calls: "try|read-breadcrumb|token 2|write-breadcrumb me 2|promote 2"},
			},
		},
		{
			name: "graceful cede removes the breadcrumb and stays out for the cede period",
			steps: []step{
				{do: healthy, role: Active, calls: "try|read-breadcrumb|token 1|write-breadcrumb me 1|promote 1"},
				{do: cede, role: Standby, calls: "demote|delete-breadcrumb|release", breadcrumb: "-", reason: "not joining for another 10s: ceded for 10s"},
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
			name:  "paused: a starting node that is not the recorded active is demoted and does not join",
			setup: []func(*fixture){pauseFlag},
			steps: []step{
				{do: healthy, role: Standby, calls: "try|read-breadcrumb|demote|release",
					reason: "paused (generation 42): standby: no breadcrumb: this node is not the recorded active"},
				{do: tickAt(time.Hour), role: Standby, calls: "", reason: "paused (generation 42): no election step"},
			},
		},
		{
			name: "unhealthy at start: standby without joining",
			steps: []step{
				{do: unhealthy, role: Standby, calls: "demote", reason: "not joining: service SERVICE_UNHEALTHY"},
			},
		},
	})
}

// scenario is one named case of playSteps.
type scenario struct {
	name  string
	setup []func(*fixture)
	steps []step
}

// playScenarios plays each scenario as a subtest named after it.
func playScenarios(t *testing.T, cases []scenario) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { playSteps(t, tc.setup, tc.steps) })
	}
}

// playSteps runs setup on a new fixture, then each step, checking the
// calls it made, the role, the reason and the breadcrumb afterwards.
func playSteps(t *testing.T, setup []func(*fixture), steps []step) {
	t.Helper()
	f := newFixture(t)
	for _, s := range setup {
		s(f)
	}
	f.log = nil
	for i, s := range steps {
		s.do(f)
		got := strings.Join(f.log, "|")
		f.log = nil
		if got != s.calls {
			t.Fatalf("step %d: calls %q, want %q", i, got, s.calls)
		}
		if f.c.svc.role != s.role {
			t.Fatalf("step %d: role %s, want %s", i, f.c.svc.role, s.role)
		}
		if !strings.HasPrefix(f.c.reason, s.reason) {
			t.Fatalf("step %d: reason %q, want it to begin %q", i, f.c.reason, s.reason)
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
}
