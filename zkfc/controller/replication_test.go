package controller

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/zkfc/elector"
)

// A standby follows each new confirmed active once, with the active's
// identity, and is no candidate until it has.
func TestRejoinOncePerActiveToken(t *testing.T) {
	f := newReplFixture(t, func(r *Replication) { r.Rejoin = true })
	f.rep.gate = make(chan struct{})
	// nn2 holds the lock and wrote the breadcrumb, but its promotion has
	// not finished (no token in its members/ entry): nothing to follow.
	f.otherActive(5)
	f.el.members = []elector.Info{{NodeID: "nn2"}}
	f.c.handleHealth(Health{State: "SERVICE_UNHEALTHY", Known: true})
	f.now = f.now.Add(time.Second)
	f.c.tick()
	if f.c.repl.svcJob != nil || f.ev.index("rejoin") >= 0 {
		t.Fatalf("rejoin started before nn2's promotion was confirmed: %v", f.ev.list())
	}
	f.otherActive(5)
	f.now = f.now.Add(time.Second)
	f.c.tick()
	f.ev.wait(t, "rejoin")
	if got := f.ev.list(); !slices.Equal(got, []string{"rejoin nn2 10.0.0.2:5432 5"}) {
		t.Fatalf("reason %q role %s events %v, want one rejoin of nn2 at 10.0.0.2:5432 token 5", f.c.reason, f.c.svc.role, got)
	}
	// The service recovers while the rejoin runs: still no candidate.
	f.c.handleHealth(Health{State: "SERVICE_HEALTHY", Healthy: true, Known: true})
	f.now = f.now.Add(time.Second)
	f.c.tick()
	if f.c.elec.joined || !strings.HasPrefix(f.c.reason, "not joining: rejoin of nn2 (token 5) running") {
		t.Fatalf("joined=%v reason %q while rejoining", f.c.elec.joined, f.c.reason)
	}
	f.c.publish()
	if s := f.c.Status(); s.Replication == nil || s.Replication.Rejoin != "running for nn2 (token 5)" {
		t.Fatalf("status %+v", s.Replication)
	}
	f.rep.gate <- struct{}{}
	f.settle(t)
	f.step(t, time.Second)
	if !f.c.elec.joined {
		t.Fatalf("not a candidate after its rejoin: %q", f.c.reason)
	}
	if got := f.c.Status().Replication.Rejoin; got != "done for token 5 (nn2)" {
		t.Fatalf("rejoin status %q", got)
	}
	f.rep.gate = nil
	for i := 0; i < 3; i++ {
		f.step(t, time.Second)
	}
	if n := len(f.ev.list()); n != 1 {
		t.Fatalf("rejoin ran %d times for one token: %v", n, f.ev.list())
	}
	// A new active: the candidate leaves the election and rejoins it.
	f.otherActive(6)
	f.step(t, time.Second)
	if got := f.ev.list(); got[len(got)-1] != "rejoin nn2 10.0.0.2:5432 6" {
		t.Fatalf("events %v, want a rejoin for token 6", got)
	}
	f.step(t, time.Second)
	if !f.c.elec.joined || f.c.Status().Replication.Rejoin != "done for token 6 (nn2)" {
		t.Fatalf("after the second rejoin: joined=%v %+v", f.c.elec.joined, f.c.Status().Replication)
	}
}

// A failed rejoin keeps the node out of the election and is retried after
// failover.backoff_initial, doubling.
func TestRejoinFailureRetriesWithBackoff(t *testing.T) {
	f := newReplFixture(t, func(r *Replication) { r.Rejoin = true })
	f.rep.rejoinErr = errors.New("pg_rewind: could not connect")
	f.otherActive(5)
	f.healthy(t)
	st := f.c.Status().Replication.Rejoin
	if !strings.HasPrefix(st, "failed: pg_rewind: could not connect; next try in 1s for nn2 (token 5)") {
		t.Fatalf("status %q", st)
	}
	f.step(t, 0)
	if f.c.elec.joined {
		t.Fatal("a node whose rejoin failed joined the election")
	}
	n := len(f.ev.list())
	f.step(t, 500*time.Millisecond)
	if len(f.ev.list()) != n {
		t.Fatal("rejoin retried before its backoff")
	}
	f.step(t, 600*time.Millisecond)
	if len(f.ev.list()) != n+1 {
		t.Fatalf("rejoin not retried after its backoff: %v", f.ev.list())
	}
	f.rep.mu.Lock()
	f.rep.rejoinErr = nil
	f.rep.mu.Unlock()
	f.step(t, 2*time.Second) // the next backoff doubled
	f.step(t, 100*time.Millisecond)
	if !f.c.elec.joined {
		t.Fatalf("not joined after a successful retry: %q", f.c.reason)
	}
}

// With replication.max_lag, a candidate behind the old active's last
// recorded position gives the lock back without fencing or promoting,
// says why, and backs off.
func TestLaggingCandidateIsNotPromoted(t *testing.T) {
	f := newReplFixture(t, func(r *Replication) { r.Position = true; r.MaxLag = u64(0) })
	f.rel.pos = &elector.Position{Node: "nn2", Token: 7, Position: 456}
	f.el.breadcrumb = &elector.Info{NodeID: "nn2", Token: 7}
	f.rep.setPosition(123)
	f.healthy(t)
	want := "no promotion: not eligible: position 123 behind the old active's 456 by 333 > replication.max_lag 0"
	if !strings.HasPrefix(f.c.reason, want) {
		t.Fatalf("reason %q, want %q", f.c.reason, want)
	}
	if slices.Contains(f.log, "fence nn2") || slices.ContainsFunc(f.log, func(s string) bool { return strings.HasPrefix(s, "promote") }) {
		t.Fatalf("an ineligible candidate fenced or promoted: %v", f.log)
	}
	if f.c.svc.role == Active || f.el.lock != "" || !f.c.elec.notBefore.Equal(f.now.Add(time.Second)) {
		t.Fatalf("role %s, lock %q, notBefore %v: want standby, the lock released, a 1s backoff", f.c.svc.role, f.el.lock, f.c.elec.notBefore)
	}
	if got := f.c.Status().Replication.Eligibility; !strings.HasPrefix(got, "not eligible: position 123") {
		t.Fatalf("status eligibility %q", got)
	}
	// The backoff doubles: no hot loop.
	f.step(t, time.Second)
	if !f.c.elec.notBefore.Equal(f.now.Add(2 * time.Second)) {
		t.Fatalf("second backoff until %v, want %v", f.c.elec.notBefore, f.now.Add(2*time.Second))
	}
	// Caught up: it fences the old active and promotes.
	f.rep.setPosition(456)
	f.step(t, 2*time.Second)
	f.step(t, 0)
	if f.c.svc.role != Active || !slices.Contains(f.log, "fence nn2") {
		t.Fatalf("caught-up candidate: role %s, log %v", f.c.svc.role, f.log)
	}
}

// The check after fencing counts: an old active that recorded a further
// position before it was fenced keeps a lagging candidate from promoting.
func TestEligibilityCheckedAgainAfterFencing(t *testing.T) {
	f := newReplFixture(t, func(r *Replication) { r.Position = true; r.MaxLag = u64(10) })
	f.rel.pos = &elector.Position{Node: "nn2", Token: 7, Position: 100}
	f.el.breadcrumb = &elector.Info{NodeID: "nn2", Token: 7}
	f.rep.setPosition(95)
	f.rel.onFence = func() { f.rel.pos = &elector.Position{Node: "nn2", Token: 7, Position: 200} }
	f.healthy(t)
	if !slices.Contains(f.log, "fence nn2") || f.c.svc.role == Active {
		t.Fatalf("log %v, role %s: want nn2 fenced and no promotion", f.log, f.c.svc.role)
	}
	if !strings.Contains(f.c.reason, "position 95 behind the old active's 200 by 105 > replication.max_lag 10") {
		t.Fatalf("reason %q", f.c.reason)
	}
}

// A position answered earlier (the periodic query's at the first check,
// one started beside the fencing after it) may clear a candidate, sparing
// a query on the failover's path; only a query started at the check may
// find it unfit. The periodic answer does not count after a rejoin or a
// health failure, or when older than two position intervals.
func TestEligibilityEarlierAnswersOnlyClear(t *testing.T) {
	for _, tc := range []struct {
		name       string
		fence      bool     // the breadcrumb names the old active
		since      string   // what happened after the periodic answer: rejoin, sick, stale
		last       uint64   // the periodic query's answer
		answers    []uint64 // the failover path's queries, in order
		wantFence  bool
		wantActive bool
		wantReason string
	}{
		{name: "cleared by the last answer, then by the one beside the fencing", fence: true, last: 100, answers: []uint64{100},
			wantFence: true, wantActive: true},
		{name: "not cleared beside the fencing: a fresh query finds it unfit", fence: true, last: 100, answers: []uint64{50, 50},
			wantFence: true, wantReason: "position 50 behind the old active's 100"},
		{name: "not cleared beside the fencing: a fresh query clears it", fence: true, last: 100, answers: []uint64{50, 100},
			wantFence: true, wantActive: true},
		{name: "not cleared by the last answer: a fresh query clears it", fence: true, last: 50, answers: []uint64{100, 100},
			wantFence: true, wantActive: true},
		{name: "nothing to fence: cleared by the last answer", last: 100, wantActive: true},
		{name: "nothing to fence, not cleared: a fresh query finds it unfit", last: 50, answers: []uint64{50},
			wantReason: "position 50 behind the old active's 100"},
		{name: "a rejoin since the last answer", fence: true, since: "rejoin", last: 100, answers: []uint64{50},
			wantReason: "position 50 behind the old active's 100"},
		{name: "a health failure since the last answer", fence: true, since: "sick", last: 100, answers: []uint64{50},
			wantReason: "position 50 behind the old active's 100"},
		{name: "the last answer is older than two intervals", fence: true, since: "stale", last: 100, answers: []uint64{50},
			wantReason: "position 50 behind the old active's 100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newReplFixture(t, func(r *Replication) { r.Position = true; r.MaxLag = u64(0); r.Rejoin = tc.since == "rejoin" })
			f.rel.pos = &elector.Position{Node: "nn2", Token: 7, Position: 100}
			// nn2 holds the lock: this node is a standby and its periodic
			// query answers last.
			f.el.lock = "nn2"
			f.el.breadcrumb = &elector.Info{NodeID: "nn2", Token: 7}
			f.rep.setPosition(tc.last)
			f.healthy(t)
			switch tc.since {
			case "rejoin":
				f.el.members = []elector.Info{{NodeID: "nn2", Token: 7}}
				f.step(t, time.Second)
				if f.ev.index("rejoin nn2") < 0 {
					t.Fatalf("no rejoin: %v", f.ev.list())
				}
			case "sick":
				f.now = f.now.Add(100 * time.Millisecond)
				f.c.handleHealth(Health{State: "SERVICE_UNHEALTHY", Known: true})
				f.now = f.now.Add(100 * time.Millisecond)
				f.c.handleHealth(Health{State: "SERVICE_HEALTHY", Healthy: true, Known: true})
			case "stale":
				f.rep.mu.Lock()
				f.rep.posErr = errors.New("psql: connection refused")
				f.rep.mu.Unlock()
				f.step(t, time.Second)
				f.step(t, 1500*time.Millisecond)
				f.rep.mu.Lock()
				f.rep.posErr = nil
				f.rep.mu.Unlock()
			}
			if f.c.svc.role != Standby || f.c.repl.position == nil || *f.c.repl.position != tc.last {
				t.Fatalf("role %s, position %v: want a standby whose periodic query answered %d", f.c.svc.role, f.c.repl.position, tc.last)
			}
			// nn2's session ends: the lock is free.
			f.el.lock = ""
			if !tc.fence {
				f.el.breadcrumb = nil
			}
			f.rep.mu.Lock()
			f.rep.answers = slices.Clone(tc.answers)
			n := f.rep.queries
			f.rep.mu.Unlock()
			f.log = nil
			f.c.handleEvent(elector.Event{Epoch: f.c.sess.epoch, Kind: elector.LockChanged})
			f.c.tick() // the attempt; no settle: a periodic query would count
			if got := slices.Contains(f.log, "fence nn2"); got != tc.wantFence {
				t.Fatalf("fenced %v, want %v: %v", got, tc.wantFence, f.log)
			}
			if got := f.c.svc.role == Active; got != tc.wantActive {
				t.Fatalf("active %v, want %v: %q", got, tc.wantActive, f.c.reason)
			}
			if got := f.rep.queried() - n; got != len(tc.answers) {
				t.Fatalf("%d position queries on the failover's path, want %d", got, len(tc.answers))
			}
			if !strings.Contains(f.c.reason, tc.wantReason) {
				t.Fatalf("reason %q, want it to say %q", f.c.reason, tc.wantReason)
			}
			f.settle(t)
		})
	}
}

// In durable mode a candidate promotes only when Sync names it, and
// records nobody in sync before its service may acknowledge anything.
func TestDurableCandidateNeedsTheSyncRecord(t *testing.T) {
	f := newReplFixture(t, func(r *Replication) { r.Position = true; r.Durable = true })
	f.rel.pos = &elector.Position{Node: "nn2", Token: 7, Position: 500}
	f.rel.sync = &elector.Sync{Active: "nn2", Token: 7, Standby: "", Position: 0}
	f.el.breadcrumb = &elector.Info{NodeID: "nn2", Token: 7}
	f.el.token = 7
	f.rep.setPosition(500)
	f.healthy(t)
	want := "no promotion: not eligible: durable mode, and the Sync record names nobody, not me, as the synchronous standby of nn2 (token 7)"
	if f.c.reason != want {
		t.Fatalf("reason %q, want %q", f.c.reason, want)
	}
	if f.c.svc.role == Active || slices.Contains(f.log, "fence nn2") {
		t.Fatalf("a standby not in sync was fenced or promoted: %v", f.log)
	}
	f.rel.sync = &elector.Sync{Active: "nn2", Token: 7, Standby: "me", Position: 400}
	f.step(t, time.Second)
	if f.c.svc.role != Active {
		t.Fatalf("the synchronous standby was not promoted: %q", f.c.reason)
	}
	// Its service may acknowledge commits alone from its first moment:
	// nobody in sync is recorded before the promote action runs.
	if i, j := f.ev.index("write-sync me 8 nobody"), f.ev.index("promote 8"); i < 0 || j < 0 || j < i {
		t.Fatalf("events %v, want nobody in sync recorded under token 8, then the promotion", f.ev.list())
	}
}

// The active's durable mode: sync_off only after the record says nobody
// is in sync; a standby recorded in sync only once it reached the
// position read after sync_on; a gone standby turns sync off (continue).
func TestDurableActiveOrdering(t *testing.T) {
	f := newReplFixture(t, func(r *Replication) { r.Position = true; r.Durable = true })
	f.rep.setPosition(100)
	f.healthy(t)
	if f.c.svc.role != Active {
		t.Fatalf("not active: %q", f.c.reason)
	}
	f.step(t, time.Second)
	ev := f.ev.list()
	if i, j := f.ev.index("write-sync me 1 nobody"), f.ev.index("sync-off"); i < 0 || j < 0 || j < i {
		t.Fatalf("events %v: want nobody recorded, then sync_off", ev)
	}
	// A standby registers: sync_on, then catch-up to the position read
	// after it.
	f.el.members = []elector.Info{{NodeID: "me"}, {NodeID: "nn2", Candidate: true, Position: u64(40)}}
	f.rep.setPosition(150)
	f.step(t, time.Second)
	if f.ev.index("sync-on nn2 1") < 0 {
		t.Fatalf("no sync_on for nn2: %v", f.ev.list())
	}
	f.step(t, time.Second)
	if f.ev.index("write-sync me 1 nn2") >= 0 {
		t.Fatal("nn2 recorded in sync at position 40, before reaching 150")
	}
	if got := f.c.Status().Replication.Sync; got != "nn2 catching up: at 40 of 150" {
		t.Fatalf("sync status %q", got)
	}
	f.el.members[1].Position = u64(150)
	f.step(t, time.Second)
	if f.ev.index("write-sync me 1 nn2") < 0 || f.rel.sync.Position != 150 {
		t.Fatalf("nn2 not recorded in sync at 150: %v %+v", f.ev.list(), f.rel.sync)
	}
	// nn2 leaves: nobody recorded, then sync_off.
	f.el.members = f.el.members[:1]
	n := len(f.ev.list())
	f.step(t, time.Second)
	tail := f.ev.list()[n:]
	if !slices.Equal(tail, []string{"write-sync me 1 nobody", "sync-off 1"}) {
		t.Fatalf("after nn2 left: %v, want nobody recorded, then sync_off", tail)
	}
}

// sync_off never runs while the record could not be written, and with
// when_alone block the active keeps waiting for its gone standby.
func TestSyncOffNeverBeforeTheRecord(t *testing.T) {
	for _, block := range []bool{false, true} {
		t.Run(fmt.Sprintf("block=%v", block), func(t *testing.T) {
			f := newReplFixture(t, func(r *Replication) { r.Position = true; r.Durable = true; r.WhenAloneBlock = block })
			f.rep.setPosition(100)
			f.healthy(t)
			f.el.members = []elector.Info{{NodeID: "nn2", Candidate: true, Position: u64(100)}}
			for i := 0; i < 3; i++ {
				f.step(t, time.Second)
			}
			if f.rel.sync.Standby != "nn2" {
				t.Fatalf("nn2 not in sync: %v", f.ev.list())
			}
			f.rel.syncErr = errors.New("connection loss")
			f.el.members = nil
			n := len(f.ev.list())
			for i := 0; i < 3; i++ {
				f.step(t, time.Second)
			}
			tail := f.ev.list()[n:]
			if slices.Contains(tail, "sync-off 1") {
				t.Fatalf("sync_off ran although nobody-in-sync could not be recorded: %v", tail)
			}
			if block && len(tail) != 0 {
				t.Fatalf("when_alone block changed something: %v", tail)
			}
			if block && !strings.Contains(f.c.Status().Replication.Sync, "writes wait for it") {
				t.Fatalf("sync status %q", f.c.Status().Replication.Sync)
			}
		})
	}
}

// Restart in place keeps the lock, the role and the token; after
// max_attempts within the window the node fails over as without it.
func TestRestartInPlaceThenFailover(t *testing.T) {
	f := newReplFixture(t, func(r *Replication) {
		r.RestartAttempts, r.RestartWindow, r.RestartSettle = 2, 10*time.Minute, 3*time.Second
	})
	f.healthy(t)
	if f.c.svc.role != Active {
		t.Fatal("not active")
	}
	f.log = nil
	f.rep.gate = make(chan struct{})
	f.c.handleHealth(Health{State: "SERVICE_UNHEALTHY", Known: true})
	f.now = f.now.Add(time.Second)
	f.c.tick()
	if f.c.reason != "restarting in place: attempt 1 of 2 in 10m: running actions.restart" {
		t.Fatalf("reason %q", f.c.reason)
	}
	if f.c.svc.role != Active || !f.c.elec.holdsLock || len(f.log) != 0 {
		t.Fatalf("while restarting: role %s, lock %v, log %v", f.c.svc.role, f.c.elec.holdsLock, f.log)
	}
	f.rep.gate <- struct{}{}
	f.settle(t)
	f.step(t, time.Second)
	if !strings.Contains(f.c.reason, "waiting for the service to pass its health check") {
		t.Fatalf("reason %q", f.c.reason)
	}
	f.rep.gate = nil
	f.healthy(t)
	if f.c.svc.role != Active || f.c.svc.token != 1 || len(f.log) != 0 {
		t.Fatalf("after the restart: role %s token %d log %v", f.c.svc.role, f.c.svc.token, f.log)
	}
	// Second failure: the second attempt does not bring it back in time.
	f.c.handleHealth(Health{State: "SERVICE_UNHEALTHY", Known: true})
	f.step(t, time.Second)
	f.step(t, 2*time.Second)
	if f.c.svc.role != Active {
		t.Fatalf("gave up before the settle time: %q", f.c.reason)
	}
	f.step(t, 2*time.Second)
	if f.c.svc.role != Standby || !slices.Contains(f.log, "demote") || !slices.Contains(f.log, "release") {
		t.Fatalf("after 2 attempts: role %s, log %v, reason %q: want a failover", f.c.svc.role, f.log, f.c.reason)
	}
	if got := f.c.Status().Replication.Restart; got != "restart in place exhausted: 2 attempts in 10m; failing over" {
		t.Fatalf("restart status %q", got)
	}
	if n := len(slices.DeleteFunc(f.ev.list(), func(s string) bool { return !strings.HasPrefix(s, "restart") })); n != 2 {
		t.Fatalf("%d restarts, want 2", n)
	}
}

// A demote cancels a restart in flight and waits for it to end first: a
// restart finishing behind a demote would start the service again.
func TestDemoteCancelsRestart(t *testing.T) {
	f := newReplFixture(t, func(r *Replication) { r.RestartAttempts, r.RestartWindow = 3, time.Minute })
	f.healthy(t)
	f.rep.gate = make(chan struct{}) // never opened: only cancellation ends it
	f.c.handleHealth(Health{State: "SERVICE_UNHEALTHY", Known: true})
	f.now = f.now.Add(time.Second)
	f.c.tick()
	if f.c.repl.svcJob == nil || f.c.repl.svcJob.kind != jobRestart {
		t.Fatalf("no restart running: %q", f.c.reason)
	}
	j := f.c.repl.svcJob
	if err := f.c.handleRequest(request{kind: reqDemote, token: f.c.svc.token}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-j.done:
	default:
		t.Fatal("the demote ran while the restart was still running")
	}
	if f.c.svc.role != Standby || !slices.Contains(f.log, "demote") {
		t.Fatalf("role %s log %v", f.c.svc.role, f.log)
	}
	r := <-f.c.repl.results
	f.c.jobDone(r) // the cancelled job's end changes nothing
	if f.c.repl.restart.recovering || f.c.repl.svcJob != nil {
		t.Fatal("the cancelled restart's end was applied")
	}
}

// A failed sync_on may have half-worked: the active turns synchronous
// replication off again (the record still says nobody) and retries later;
// the standby is never recorded in sync meanwhile. A standby's status
// says what the record says of it.
func TestSyncOnFailureTurnsSyncOff(t *testing.T) {
	f := newReplFixture(t, func(r *Replication) { r.Position = true; r.Durable = true })
	f.rep.setPosition(100)
	f.healthy(t)
	f.step(t, time.Second) // sync_off after the promotion
	f.rep.syncOnErr = errors.New("ALTER SYSTEM: permission denied")
	f.el.members = []elector.Info{{NodeID: "nn2", Candidate: true, Position: u64(100)}}
	n := len(f.ev.list())
	for i := 0; i < 3; i++ {
		f.step(t, time.Second)
	}
	tail := f.ev.list()[n:]
	if len(tail) < 2 || tail[0] != "sync-on nn2 1" || tail[1] != "sync-off 1" || slices.ContainsFunc(tail, func(s string) bool { return strings.HasPrefix(s, "write-sync") }) {
		t.Fatalf("after a failed sync_on: %v, want sync_off next and no record", tail)
	}
	if got := f.c.Status().Replication.Sync; !strings.Contains(got, "permission denied") && !strings.HasPrefix(got, "nobody in sync") {
		t.Fatalf("sync status %q", got)
	}

	g := newReplFixture(t, func(r *Replication) { r.Position = true; r.Durable = true })
	g.otherActive(4)
	g.rel.sync = &elector.Sync{Active: "nn2", Token: 4, Standby: "me", Position: 90}
	g.healthy(t)
	if got := g.c.Status().Replication.Sync; got != "in sync with nn2 (token 4) since position 90" {
		t.Fatalf("standby's sync status %q", got)
	}
}
