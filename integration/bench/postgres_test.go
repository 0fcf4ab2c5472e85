package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/integration/drill"
	"github.com/zkfc-project/zkfc/integration/harness"
	"github.com/zkfc-project/zkfc/integration/pgenv"
)

// The PostgreSQL section: zkfc (examples/postgresql, durable mode) and
// Patroni 3.0.2 (Debian's, synchronous_mode) each guarding a PostgreSQL
// 15 primary and streaming standby on this machine, one after the other
// in the same run, a fresh cluster per run, the same writer
// (integration/pgenv) and the same detection budget: zkfc's session
// timeout 10 s; Patroni's ttl 10 s, loop_wait 2 s, retry_timeout 3 s.

var patroniSettings = pgenv.PatroniSettings{TTL: 10, LoopWait: 2, RetryTimeout: 3}

// pgFaults are the faults, in report order.
var pgFaults = []string{FaultNodeDeath, FaultCrash, FaultCutOff, FaultSwitchover}

// pgCluster is what a run needs of either system.
type pgCluster struct {
	servers    [2]*pgenv.Server
	primary    func(i int) bool  // node i's agent reports its server as the primary
	restart    func(i int) error // start node i's agent again (its host returns)
	killAgent  func(i int)
	switchover func(t testing.TB, from, to int)
	targets    []pgenv.Target
}

// zkfcCluster starts examples/postgresql's loopback cluster with a 10 s
// session; with ns, pg1 lives in that namespace and lease_expired comes
// first (margin 4.5 s >= demote 1.9 s + 10 s/5 + 250 ms + 100 ms).
func zkfcCluster(t testing.TB, ns *drill.Netns) *pgCluster {
	o := pgenv.Options{Edit: func(_, y string) string {
		return strings.Replace(y, "session_timeout: 4s", "session_timeout: 10s", 1)
	}}
	if ns != nil {
		o = pgenv.NamespaceOptions(ns.Name, ns.InnerIP, ns.HostIP, "10s", "4500ms")
	}
	c := pgenv.Start(t, o)
	c.WaitInSync(t, c.Nodes[0], c.Nodes[1])
	return &pgCluster{
		servers:   [2]*pgenv.Server{c.Nodes[0].PG, c.Nodes[1].PG},
		primary:   func(i int) bool { return c.Nodes[i].Role() == "active" },
		restart:   func(i int) error { return c.Nodes[i].ZKFC.Start() },
		killAgent: func(i int) { c.Nodes[i].ZKFC.Kill() },
		switchover: func(t testing.TB, _, to int) {
			c.Failover(t, c.Nodes[to].Name)
		},
		targets: c.Targets(),
	}
}

// patroniCluster starts a 3-member ensemble of our quorum and Patroni on
// it; with ns, pat1 lives in that namespace and reaches the ensemble
// through proxies on the host's veth address (the members listen on
// loopback), and pat2 listens on that address so pat1 can follow it.
func patroniCluster(t testing.TB, ns *drill.Netns) *pgCluster {
	e := harness.StartEnsemble(t, harness.Ours, 3, harness.Options{TickTime: 500 * time.Millisecond})
	pl := pgenv.PatroniPlace{Hosts: [2][]string{e.Addrs(), e.Addrs()}}
	if ns != nil {
		var via []string
		for _, a := range e.Addrs() {
			px, err := harness.StartProxyOn(ns.HostIP+":0", a)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(px.Close)
			via = append(via, px.Addr())
		}
		pl = pgenv.PatroniPlace{IPs: [2]string{ns.InnerIP, ns.HostIP}, NS: [2]string{ns.Name, ""}, Hosts: [2][]string{via, e.Addrs()}}
	}
	p := pgenv.StartPatroniAt(t, pl, patroniSettings)
	return &pgCluster{
		servers:   [2]*pgenv.Server{p.Nodes[0].PG, p.Nodes[1].PG},
		primary:   func(i int) bool { return p.Nodes[i].Role() == "primary" },
		restart:   func(i int) error { return p.Nodes[i].Proc.Start() },
		killAgent: func(i int) { p.Nodes[i].Proc.Kill() },
		switchover: func(t testing.TB, from, to int) {
			p.Switchover(t, p.Nodes[from].Name, p.Nodes[to].Name)
		},
		targets: p.Targets(),
	}
}

// pgRun starts a fresh cluster of system, starts the writer, injects the
// fault on the primary and measures the outage, the commits lost and the
// time until the old primary streams again as a standby.
func pgRun(t testing.TB, system, fault string, run int) PGRun {
	var ns *drill.Netns
	if fault == FaultCutOff {
		unlock := netnsLock(t)
		defer unlock()
		ns = drill.NewNetns(t, "zkfcbpg", 81)
	}
	var c *pgCluster
	if system == SystemZKFC {
		c = zkfcCluster(t, ns)
	} else {
		c = patroniCluster(t, ns)
	}
	r := PGRun{System: system, Fault: fault, Run: run}
	w := pgenv.StartWriter(c.targets, 5*time.Millisecond)
	defer w.Stop()
	harness.WaitFor(t, 30*time.Second, "writes on the primary", func() bool { return w.AcksOn(c.targets[0].Name, time.Time{}) >= 20 })
	time.Sleep(time.Second)
	old, other := 0, 1
	frozen := c.servers[old].PostmasterPID()
	fault0 := time.Now()
	switch fault {
	case FaultNodeDeath:
		c.killAgent(old)
		c.servers[old].Kill()
	case FaultCrash:
		c.servers[old].Kill()
	case FaultCutOff:
		ns.Cut(t)
	case FaultSwitchover:
		c.switchover(t, old, other)
	}
	// Recovered: a primary (the other node, or the old one with a new
	// postmaster) takes writes again.
	var final int
	var back time.Time
	harness.WaitFor(t, 120*time.Second, "writes after the fault", func() bool {
		for _, i := range []int{other, old} {
			if !c.primary(i) || (i == old && c.servers[old].PostmasterPID() == frozen) {
				continue
			}
			if a := firstAckOn(w, c.targets[i].Name, fault0); !a.IsZero() {
				final, back = i, a
				return true
			}
		}
		return false
	})
	time.Sleep(2 * time.Second) // a later stall (a rejoin, sync_on) counts too
	r.Outage = pgenv.Outage(w.Snapshot().Acks, fault0, back.Add(2*time.Second))
	r.NewPrimary = c.targets[final].Name
	if final == old {
		r.RejoinNote = "restarted in place, still primary"
	} else {
		returned := fault0
		switch fault {
		case FaultNodeDeath:
			// The host returns: its agent starts again (PostgreSQL is
			// left to the agent).
			returned = time.Now()
			if err := c.restart(old); err != nil {
				t.Fatal(err)
			}
		case FaultCutOff:
			returned = time.Now()
			ns.Heal(t)
		}
		deadline := time.Now().Add(90 * time.Second)
		for time.Now().Before(deadline) && !pgenv.StreamingFrom(c.servers[old], c.servers[final]) {
			time.Sleep(200 * time.Millisecond)
		}
		if pgenv.StreamingFrom(c.servers[old], c.servers[final]) {
			r.Rejoin = time.Since(returned)
		} else {
			r.RejoinNote = "not streaming within 90 s"
		}
	}
	h := w.Stop()
	var rows map[int64]pgenv.Row
	var err error
	harness.WaitFor(t, 30*time.Second, "the rows of the final primary", func() bool {
		rows, err = pgenv.ReadRows(c.servers[final].DSN())
		return err == nil
	})
	r.Acked = len(h.Acks)
	for _, a := range h.Acks {
		if _, ok := rows[a.ID]; !ok {
			r.Lost++
		}
	}
	if system == SystemZKFC {
		for _, v := range pgenv.Check(h, rows) {
			if !strings.Contains(v, "missing") {
				r.Note += v + "; "
			}
		}
	}
	progress("postgres %s %s run %d: outage %.1f s, %d of %d acknowledged commits lost, new primary %s, old back as standby %s",
		system, fault, run, r.Outage.Seconds(), r.Lost, r.Acked, r.NewPrimary, rejoinText(r))
	return r
}

// netnsLock holds /tmp/zkfc-netns.lock, which every test that creates
// network namespaces on this machine takes, until the returned func runs.
func netnsLock(t testing.TB) func() {
	f, err := os.OpenFile("/tmp/zkfc-netns.lock", os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatal(err)
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }
}

func rejoinText(r PGRun) string {
	if r.RejoinNote != "" {
		return r.RejoinNote
	}
	return fmt.Sprintf("after %.1f s", r.Rejoin.Seconds())
}

func firstAckOn(w *pgenv.Writer, server string, after time.Time) time.Time {
	for _, a := range w.Snapshot().Acks {
		if a.Server == server && a.At.After(after) {
			return a.At
		}
	}
	return time.Time{}
}

// postgresBench runs every fault runs times on both systems, alternating
// which system goes first.
func postgresBench(b testing.TB, runs int, part func(name string, tries int, fn func(tb testing.TB))) *PGBench {
	pb := &PGBench{Runs: runs, Quorum: "zkfc's embedded quorum: for zkfc the 3 members its own processes host; " +
		"for Patroni a 3-member `zkfc quorum` ensemble on loopback (tickTime 500 ms), reached through kazoo"}
	only := regexp.MustCompile(envString("BENCH_PG_FAULTS", "."))
	// BENCH_PG_RESULTS: a JSON file of earlier runs (e.g. of other
	// faults) to report together with these; every run is written back.
	saved := os.Getenv("BENCH_PG_RESULTS")
	if saved != "" {
		if b, err := os.ReadFile(saved); err == nil {
			if err := json.Unmarshal(b, &pb.Results); err != nil {
				progress("BENCH_PG_RESULTS %s: %v (ignored)", saved, err)
			}
			progress("%d earlier PostgreSQL runs from %s", len(pb.Results), saved)
		}
		defer func() {
			if b, err := json.MarshalIndent(pb.Results, "", " "); err == nil {
				_ = os.WriteFile(saved, b, 0o644)
			}
		}()
	}
	for _, fault := range pgFaults {
		if !only.MatchString(fault) {
			continue
		}
		for run := 1; run <= runs; run++ {
			order := []string{SystemZKFC, SystemPatroni}
			if run%2 == 0 {
				order[0], order[1] = order[1], order[0]
			}
			for _, system := range order {
				part(fmt.Sprintf("postgres/%s/%s/%d", system, fault, run), 2, func(tb testing.TB) {
					pb.Results = append(pb.Results, pgRun(tb, system, fault, run))
				})
			}
		}
	}
	return pb
}

func envString(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
