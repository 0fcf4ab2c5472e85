package integration

// PostgreSQL 15 under zkfc (issue 15): examples/postgresql's scripts and
// loopback templates, a real primary and streaming standby, the embedded
// quorum hosted by pg1's, pg2's and a witness's zkfc. An independent
// writer (integration/pgenv) commits numbered rows to both servers at once
// and records every acknowledged commit with the server and the fencing
// token it read; after each drill the checker proves that every
// acknowledged row is on the final primary, that no two servers accepted
// writes in overlapping intervals and that tokens only grew.
//
// Run: make build && ZKFC_BIN=$PWD/bin/zkfc go test -run 'TestPostgres' -v ./integration
// (needs postgresql-15; the namespace drills need root and run under
// flock /tmp/zkfc-netns.lock in shared machines).

import (
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/integration/drill"
	"github.com/zkfc-project/zkfc/integration/harness"
	"github.com/zkfc-project/zkfc/integration/pgenv"
)

// pgDrill is one drill in progress.
type pgDrill struct {
	c     *pgenv.Cluster
	w     *pgenv.Writer
	old   *pgenv.Node // the primary before the fault
	fault time.Time
}

// startPG starts the cluster and the writer, and waits until pg2 is the
// synchronous standby (durable mode) and pg1 has taken writes.
func startPG(t *testing.T, o pgenv.Options) *pgDrill {
	t.Helper()
	c := pgenv.Start(t, o)
	d := &pgDrill{c: c, old: c.Nodes[0]}
	c.WaitInSync(t, c.Nodes[0], c.Nodes[1])
	d.w = pgenv.StartWriter(c.Targets(), 5*time.Millisecond)
	t.Cleanup(func() { d.w.Stop() })
	start := time.Now().Add(-time.Minute)
	harness.WaitFor(t, 30*time.Second, "writes acknowledged by pg1", func() bool { return d.w.AcksOn("pg1", start) >= 20 })
	return d
}

// waitWrites waits until node's server acknowledged writes after the fault.
func (d *pgDrill) waitWrites(t *testing.T, n *pgenv.Node, within time.Duration) {
	t.Helper()
	harness.WaitFor(t, within, n.Name+" taking writes after the fault", func() bool { return d.w.AcksOn(n.Name, d.fault) >= 20 })
}

// waitStandby waits until n's server streams from primary's as a standby,
// with no manual step.
func (d *pgDrill) waitStandby(t *testing.T, n, primary *pgenv.Node, within time.Duration) time.Duration {
	t.Helper()
	harness.WaitFor(t, within, n.Name+" a streaming standby of "+primary.Name, func() bool {
		return pgenv.StreamingFrom(n.PG, primary.PG)
	})
	return time.Since(d.fault)
}

// verdict stops the writer and checks its history against the rows of
// final, which must be the active node.
func (d *pgDrill) verdict(t *testing.T, final *pgenv.Node) pgenv.History {
	t.Helper()
	h := d.w.Stop()
	if a := d.c.Active(); a != final {
		t.Fatalf("expected %s active at the end, zkfc says %v", final.Name, a)
	}
	var rows map[int64]pgenv.Row
	var err error
	harness.WaitFor(t, 30*time.Second, "the rows of "+final.Name, func() bool {
		rows, err = pgenv.ReadRows(final.PG.DSN())
		return err == nil
	})
	for _, v := range pgenv.Check(h, rows) {
		t.Error(v)
	}
	t.Logf("%d commits acknowledged (%d on the final primary), %d refused for a stale token, %d failed attempts; outage %v",
		len(h.Acks), len(rows), len(h.Refusals), h.Errors, pgenv.Outage(h.Acks, d.fault, time.Now()).Round(time.Millisecond))
	return h
}

// takeover waits for the candidate to become active and take writes.
func (d *pgDrill) takeover(t *testing.T, cand *pgenv.Node) {
	t.Helper()
	harness.WaitFor(t, 90*time.Second, cand.Name+" active", func() bool { return cand.Role() == "active" })
	d.waitWrites(t, cand, 60*time.Second)
}

// failOver injects fault into the running cluster, marking the time, and
// waits until pg2, the standby, is active and takes writes; it returns pg2.
func (d *pgDrill) failOver(t *testing.T, fault func()) *pgenv.Node {
	t.Helper()
	cand := d.c.Nodes[1]
	d.fault = time.Now()
	fault()
	d.takeover(t, cand)
	return cand
}

// killHost kills n's zkfc and PostgreSQL at once: its machine died.
func killHost(n *pgenv.Node) {
	n.ZKFC.Kill()
	n.PG.Kill()
}

// rejoinAfter starts the old primary's zkfc again (its host returned), waits
// until it streams from cand's server, and judges the history on cand.
func (d *pgDrill) rejoinAfter(t *testing.T, cand *pgenv.Node) (time.Duration, pgenv.History) {
	t.Helper()
	if err := d.old.ZKFC.Start(); err != nil {
		t.Fatal(err)
	}
	took := d.waitStandby(t, d.old, cand, 90*time.Second)
	return took, d.verdict(t, cand)
}

// Drill: kill -9 of the primary's postmaster. zkfc restarts it in place
// (restart.max_attempts 1): the same server serves again, nothing lost.
func TestPostgresKillPostmaster(t *testing.T) {
	d := startPG(t, pgenv.Options{})
	d.fault = time.Now()
	if !d.old.PG.Signal(syscall.SIGKILL) {
		t.Fatal("no postmaster to kill")
	}
	d.waitWrites(t, d.old, 90*time.Second)
	d.verdict(t, d.old)
}

// Drill: SIGSTOP of the primary's postmaster. New connections hang (the
// health check fails), while backends already connected go on committing:
// the writer keeps its connection, so whatever stops the old server must
// end them too before anyone else takes writes.
func TestPostgresFreezePostmaster(t *testing.T) {
	d := startPG(t, pgenv.Options{})
	frozen := d.old.PG.PostmasterPID()
	d.fault = time.Now()
	if !d.old.PG.Signal(syscall.SIGSTOP) {
		t.Fatal("no postmaster to freeze")
	}
	t.Cleanup(func() { d.old.PG.Signal(syscall.SIGCONT) })
	// Restarted in place (a new postmaster) or failed over: either way a
	// server other than the frozen postmaster's takes writes again, and
	// the checker judges the history. Writes through the frozen
	// postmaster's backends do not count as recovery.
	var final *pgenv.Node
	var since time.Time
	harness.WaitFor(t, 90*time.Second, "writes after the freeze", func() bool {
		other := d.c.Other(d.old)
		switch {
		case other.Role() == "active":
			final = other
		case d.old.Role() == "active" && d.old.PG.PostmasterPID() != frozen && d.old.PG.PostmasterPID() != 0:
			final = d.old
		default:
			return false
		}
		if since.IsZero() {
			since = time.Now()
		}
		return d.w.AcksOn(final.Name, since) >= 20
	})
	t.Logf("%s serves after the freeze (frozen postmaster %d, now %d)", final.Name, frozen, final.PG.PostmasterPID())
	if final != d.old {
		d.waitStandby(t, d.old, final, 90*time.Second)
	}
	d.verdict(t, final)
}

// Drill: kill -9 of the primary's zkfc. PostgreSQL runs on unguarded; pg2
// wins once the session expired, fences the old server (fence.sh) and
// promotes. The old zkfc restarts and brings its server back as a standby.
func TestPostgresKillPrimaryZKFC(t *testing.T) {
	d := startPG(t, pgenv.Options{})
	cand := d.failOver(t, func() { d.old.ZKFC.Kill() })
	d.rejoinAfter(t, cand)
}

// Drill: `zkfc failover --to pg2`: pg1 is stopped, pg2 promoted, and pg1
// comes back as pg2's standby.
func TestPostgresSwitchover(t *testing.T) {
	d := startPG(t, pgenv.Options{})
	cand := d.failOver(t, func() { d.c.Failover(t, "pg2") })
	d.waitStandby(t, d.old, cand, 90*time.Second)
	d.verdict(t, cand)
}

// Drill: the primary's host dies (zkfc and PostgreSQL killed together),
// pg2 takes over; then the host restarts. Its PostgreSQL comes up first,
// still a primary under the old token, as an init system would start it:
// the writer refuses to commit there (stale token), and once zkfc starts
// it demotes the server and rejoins it as pg2's standby.
func TestPostgresHostRestartRejoins(t *testing.T) {
	d := startPG(t, pgenv.Options{})
	cand := d.failOver(t, func() { killHost(d.old) })
	// The reboot: PostgreSQL first, as it was.
	if _, err := d.old.PG.Script("restart", nil); err != nil {
		t.Fatal(err)
	}
	harness.WaitFor(t, 30*time.Second, "a stale write refused on the restarted "+d.old.Name, func() bool {
		return len(d.w.Snapshot().Refusals) > 0
	})
	took, h := d.rejoinAfter(t, cand)
	r := h.Refusals[0]
	t.Logf("refused on %s: its token %d < %d seen; back as a standby %v after the host died", r.Server, r.Token, r.Seen, took.Round(time.Millisecond))
	if r.Server != d.old.Name || r.Token >= r.Seen {
		t.Errorf("refusal %+v is not the restarted old primary's stale token", r)
	}
}

// Drill, durable mode: pg2 is down while pg1 keeps taking writes (it
// turned synchronous replication off, replication.when_alone: continue);
// then pg1's host dies and pg2 comes back. pg2 lacks commits pg1
// acknowledged: it must not be promoted, and says why. When pg1's host
// returns, pg1 is active again with every acknowledged commit.
func TestPostgresDurableStaleStandbyNotPromoted(t *testing.T) {
	d := startPG(t, pgenv.Options{})
	stale := d.c.Nodes[1]
	killHost(stale)
	// pg1 gives up waiting for pg2 and acknowledges alone.
	alone := time.Now()
	d.waitWrites(t, d.old, 60*time.Second)
	harness.WaitFor(t, 30*time.Second, "writes acknowledged by pg1 alone", func() bool { return d.w.AcksOn("pg1", alone) >= 50 })
	d.fault = time.Now()
	killHost(d.old)
	if _, err := stale.PG.Script("restart", nil); err != nil {
		t.Fatal(err)
	}
	if err := stale.ZKFC.Start(); err != nil {
		t.Fatal(err)
	}
	// Long enough for pg1's session to expire and pg2 to consider the
	// lock: session timeout (4 s) + health + a margin of a few seconds.
	var reason string
	harness.WaitFor(t, 60*time.Second, "pg2 saying why it does not promote", func() bool {
		st, err := stale.Status()
		reason = st.Reason
		return err == nil && st.Healthy && st.Connected && regexp.MustCompile(`(?i)sync|eligib|position|behind|lag`).MatchString(st.Reason)
	})
	t.Logf("pg2: %s", reason)
	time.Sleep(3 * time.Second)
	if r := stale.Role(); r == "active" {
		t.Fatalf("stale pg2 promoted (%s)", reason)
	}
	if r := stale.PG.Role(); r != "standby" {
		t.Fatalf("stale pg2's server is %q, want standby", r)
	}
	// pg1's host comes back: it is the one with every commit.
	if _, err := d.old.PG.Script("restart", nil); err != nil {
		t.Fatal(err)
	}
	if err := d.old.ZKFC.Start(); err != nil {
		t.Fatal(err)
	}
	d.takeover(t, d.old)
	d.waitStandby(t, stale, d.old, 90*time.Second)
	d.verdict(t, d.old)
}

// nsOptions places pg1 (its zkfc and PostgreSQL) in namespace ns, pg2 and
// the witness on the host, with lease_expired fencing: session 6 s, margin
// 3.5 s >= demote 1.9 s + 6 s/5 + 250 ms + 100 ms.
func nsOptions(ns *drill.Netns) pgenv.Options {
	return pgenv.NamespaceOptions(ns.Name, ns.InnerIP, ns.HostIP, "6s", "3500ms")
}

// Drill: the primary's whole host dies: everything in its namespace is
// killed at once. pg2 takes over through lease_expired (nothing on the
// dead host can answer); the host restarts and pg1 rejoins as a standby.
func TestPostgresHostDies(t *testing.T) {
	ns := drill.NewNetns(t, "zkfcpgd", 78)
	d := startPG(t, nsOptions(ns))
	cand := d.failOver(t, func() { killHost(d.old) })
	d.rejoinAfter(t, cand)
}

// Drill: the primary's host is cut off (its namespace drops every packet
// to and from the host). Its zkfc loses its session and stops PostgreSQL
// before pg2 promotes (lease_expired); healed, pg1 rejoins as a standby.
func TestPostgresHostCutOff(t *testing.T) {
	ns := drill.NewNetns(t, "zkfcpgc", 79)
	d := startPG(t, nsOptions(ns))
	cand := d.failOver(t, func() { ns.Cut(t) })
	if r := d.old.PG.Role(); r == "active" {
		t.Errorf("cut-off %s still runs as a primary after %s took over", d.old.Name, cand.Name)
	}
	ns.Heal(t)
	d.waitStandby(t, d.old, cand, 90*time.Second)
	d.verdict(t, cand)
}
