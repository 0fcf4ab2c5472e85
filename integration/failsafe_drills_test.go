package integration

// The quorum-outage drills of issue 16 (failover.failsafe), judged by the
// same independent observer as drills_test.go:
//
//	a  TestDrillQuorumOutageFailsafe         whole quorum stopped, failsafe on
//	b  TestDrillQuorumOutageStandbyZKFCGone  quorum stopped and the standby's zkfc killed
//	c  TestDrillFailsafeActiveCutFromQuorum  the active cut from the quorum, not from its peer
//	d  TestDrillFailsafePartitionActiveHost  the active cut from everything
//	e  TestDrillFailsafeQuorumReturnsExpired the quorum returns for the standby only
//	h  TestDrillQuorumOutageApache           Apache ZooKeeper 3.8 stopped, failsafe on and off
//
// a, b and h stop a 3-member ensemble (ours, `zkfc quorum`, or Apache's)
// that nn1 and nn2 use from outside; c, d and e use the embedded quorum
// with nn1 in a network namespace (run them under
// `flock /tmp/zkfc-netns.lock`). The quorum stays stopped for
// drill.QuorumStop ($ZKFC_QUORUM_STOP, default 3 session timeouts;
// `make bench` runs a with 60s). With QUORUM_OUTAGE_OUT set, a and h
// append what they measured to that JSON-lines file (the bench reads it).

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/integration/drill"
	"github.com/zkfc-project/zkfc/integration/harness"
)

// externalEnsemble starts the 3-member ensemble nn1 and nn2 use: tickTime
// 500ms as the drills' embedded quorum, so a 4s session is legal on both.
func externalEnsemble(t *testing.T, b harness.Backend) *harness.Ensemble {
	return harness.StartEnsemble(t, b, 3, harness.Options{TickTime: 500 * time.Millisecond,
		Extra: []string{"maxClientCnxns=0", "forceSync=no"}})
}

// stopQuorum kills every member; restartQuorum starts them again and
// returns when every member serves.
func stopQuorum(e *harness.Ensemble) {
	for _, m := range e.Members {
		m.Kill()
	}
}

func restartQuorum(t *testing.T, e *harness.Ensemble) {
	t.Helper()
	for _, m := range e.Members {
		if err := m.Start(); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.WaitServing(90 * time.Second); err != nil {
		t.Fatal(err)
	}
}

// waitSessions waits until both guarding zkfc have a fresh session.
func (d *drillRun) waitSessions(t *testing.T) {
	t.Helper()
	harness.WaitFor(t, 60*time.Second, "both zkfc back on the quorum", func() bool {
		for _, n := range d.c.Nodes[:2] {
			st, err := n.Status()
			if err != nil || !st.Connected || st.QuorumUnreachableMs != 0 {
				return false
			}
		}
		return true
	})
}

// quorumOutage stops the whole external quorum for drill.QuorumStop with
// both nodes healthy, restarts it, and returns what the observer saw.
func quorumOutage(t *testing.T, name string, b harness.Backend, failsafe bool) ([]drill.Interval, drill.QuorumOutageRun) {
	s := drill.DefaultSettings()
	s.Failsafe = failsafe
	s.External = externalEnsemble(t, b)
	d := startDrill(t, s, drill.Loopback)
	if failsafe {
		// Out of the start-up promise (failsafe.go): the standby could not
		// take over before anyway; waiting keeps the figures about the outage.
		time.Sleep(s.SessionTimeout)
	}
	stop := drill.QuorumStop(t, s)
	d.fault = time.Now()
	stopQuorum(s.External)
	if failsafe {
		harness.WaitFor(t, 3*s.SessionTimeout, d.old.Name+" holding by failsafe", func() bool {
			st, err := d.old.Status()
			return err == nil && st.Failsafe != nil && st.Failsafe.Holding
		})
		st, _ := d.old.Status()
		t.Logf("%s: failsafe holds since %s; peers %+v", d.old.Name, st.Failsafe.Since.Format("15:04:05.000"), st.Failsafe.Peers)
	}
	time.Sleep(time.Until(d.fault.Add(stop)))
	restarted := time.Now()
	restartQuorum(t, s.External)
	d.waitSessions(t)
	recovered := time.Now()
	// Long enough for an expired session to have let the standby win.
	time.Sleep(2 * s.SessionTimeout)
	end := time.Now()
	ivs := d.verdict(t)
	run := drill.QuorumOutageRun{Drill: name, Backend: string(b), Failsafe: failsafe, StopMs: stop.Milliseconds(),
		OutageMs: drill.Outage(ivs, d.fault, end).Milliseconds(), RecoveryMs: recovered.Sub(restarted).Milliseconds()}
	for _, iv := range ivs {
		if iv.Start.After(d.fault) {
			run.Promotions++
		}
	}
	t.Logf("QUORUM OUTAGE %s (%s, failsafe %v): quorum stopped %v, service outage %d ms, quorum recovery %d ms, %d promotions",
		name, b, failsafe, stop, run.OutageMs, run.RecoveryMs, run.Promotions)
	if p := os.Getenv("QUORUM_OUTAGE_OUT"); p != "" {
		if err := drill.AppendJSONLine(p, run); err != nil {
			t.Errorf("QUORUM_OUTAGE_OUT: %v", err)
		}
	}
	if !failsafe {
		return ivs, run
	}
	// a: the active stays active throughout, nothing is promoted.
	if run.OutageMs != 0 || run.Promotions != 0 {
		t.Errorf("failsafe: service outage %d ms and %d promotions over the quorum outage, want 0 and 0", run.OutageMs, run.Promotions)
	}
	if old, ok := drill.LastBefore(ivs, d.fault); !ok || old.Name != d.old.Name || !old.Open {
		t.Errorf("%s's active interval did not run on through the outage: %+v", d.old.Name, old)
	}
	if strings.Contains(d.old.ZKFC.Log(), "self-fencing") {
		t.Errorf("%s self-fenced although its peer promised", d.old.Name)
	}
	return ivs, run
}

// Drill a: the whole quorum (ours) stopped, both nodes healthy, failsafe
// on: the active stays active, nothing is promoted when it returns.
func TestDrillQuorumOutageFailsafe(t *testing.T) {
	quorumOutage(t, "quorum-outage-failsafe", harness.Ours, true)
}

// Drill h: an Apache ZooKeeper 3.8 ensemble stopped, with failsafe on
// (as a: no outage) and off (the active self-fences: an outage of about
// the stop, until the quorum is back and a node wins again).
func TestDrillQuorumOutageApache(t *testing.T) {
	var outage [2]int64
	for i, on := range []bool{true, false} {
		t.Run(fmt.Sprintf("failsafe=%v", on), func(t *testing.T) {
			ivs, run := quorumOutage(t, fmt.Sprintf("apache-quorum-outage-failsafe-%v", on), harness.Apache, on)
			outage[i] = run.OutageMs
			if !on {
				if run.OutageMs == 0 {
					t.Errorf("without failsafe the active stayed active through the outage: it must self-fence")
				}
				if last := ivs[len(ivs)-1]; !last.Open {
					t.Errorf("no active after the quorum returned: last interval %+v", last)
				}
			}
		})
	}
	t.Logf("Apache ZooKeeper stopped: service outage %d ms with failsafe, %d ms without", outage[0], outage[1])
}

// Drill b: the quorum stopped and the standby's zkfc killed: its answer
// never comes, so the active self-fences at its deadline, as without
// failsafe. Once both return, exactly one node is active.
func TestDrillQuorumOutageStandbyZKFCGone(t *testing.T) {
	s := drill.DefaultSettings()
	s.Failsafe = true
	s.External = externalEnsemble(t, harness.Ours)
	d := startDrill(t, s, drill.Loopback)
	d.fault = time.Now()
	d.cand.ZKFC.Kill()
	stopQuorum(s.External)
	harness.WaitFor(t, 3*s.SessionTimeout, d.old.Name+" self-fenced", func() bool {
		return strings.Contains(d.old.ZKFC.Log(), "self-fencing")
	})
	time.Sleep(time.Until(d.fault.Add(drill.QuorumStop(t, s))))
	restartQuorum(t, s.External)
	if err := d.cand.ZKFC.Start(); err != nil {
		t.Fatal(err)
	}
	harness.WaitFor(t, 60*time.Second, "an active again", func() bool { return d.c.Active() != nil })
	ivs := d.verdict(t)
	old, ok := drill.LastBefore(ivs, d.fault)
	if !ok || old.Open || old.End.After(d.fault.Add(s.SessionTimeout)) {
		t.Errorf("%s's service was not demoted within a session timeout of the quorum's stop: %+v", d.old.Name, old)
	}
	if strings.Contains(d.old.ZKFC.Log(), "failsafe: keeping the service active") {
		t.Errorf("%s held the role by failsafe without its peer's answer", d.old.Name)
	}
	if last := ivs[len(ivs)-1]; !last.Open {
		t.Errorf("no active at the end: last interval %+v", last)
	}
}

// netnsCutFromQuorum cuts nn1 off everything but the two control APIs
// and its own demo service (which the observer polls).
func netnsCutFromQuorum(t *testing.T, d *drillRun, ns *drill.Netns) {
	ns.CutExcept(t, d.c.Nodes[0].Port(t), d.c.Nodes[1].Port(t), d.c.Nodes[0].DemoPort(t))
}

// Drill c: the active's host loses the quorum but still reaches the
// standby, which reaches the quorum: the standby's answer ("quorum
// reachable") extends nothing, the active self-fences at its deadline
// (or at the end of a round the standby answered while its own client
// was moving off the cut member), and the standby, fencing through
// lease_expired, promotes only after.
func TestDrillFailsafeActiveCutFromQuorum(t *testing.T) {
	s := drill.FailsafeSettings()
	d, ns := startOnNetns(t, s)
	d.fault = time.Now()
	netnsCutFromQuorum(t, d, ns)
	d.waitPromoted(t, 90*time.Second)
	ivs := d.verdict(t)
	tm := d.timing(t, "failsafe-cut-from-quorum", ivs, d.expiryTarget(), expiryTargetText)
	d.checkTokenGrew(t, tm)
	if tm.OldDemoted <= 0 || tm.OldDemoted >= tm.Promote {
		t.Errorf("%s demoted %v after the cut, %s promoted at %v: the old active must stop first", d.old.Name, tm.OldDemoted, d.cand.Name, tm.Promote)
	}
	oldLog := drill.ReadLog(d.old.ZKFC.Log())
	if _, ok := drill.FirstLog(oldLog, d.fault, "failsafe: peer answer", map[string]string{"answer": "quorum reachable"}); !ok {
		t.Errorf("%s never heard %s answer that it reaches the quorum", d.old.Name, d.cand.Name)
	}
	// nn2 may have been connected to nn1's member when the cut came: it
	// then rightly answers "no quorum" (with a promise) until its client
	// moves to another member, and nn1 may hold for a round. That costs
	// time, not safety, which the verdict above checks.
	if e, ok := drill.FirstLog(oldLog, d.fault, "failsafe: keeping the service active", nil); ok {
		t.Logf("%s held by failsafe from +%v while %s had no fresh session", d.old.Name, e.At.Sub(d.fault).Round(time.Millisecond), d.cand.Name)
	}
	ns.Flush(t)
}

// Drill d: the active's host cut off from everything: its peer does not
// answer, so everything goes as without failsafe (drills_test.go's
// partition drill, with failsafe on).
func TestDrillFailsafePartitionActiveHost(t *testing.T) {
	s := drill.FailsafeSettings()
	d := partitionActiveHost(t, s, "failsafe-partition")
	if _, ok := drill.FirstLog(drill.ReadLog(d.old.ZKFC.Log()), d.fault, "failsafe: keeping the service active", nil); ok {
		t.Errorf("%s held the role by failsafe without an answer from its peer", d.old.Name)
	}
}

// Drill e: the embedded quorum is lost by all (witness killed, nn1 cut
// off from the members but not from nn2's control API): nn1 holds by
// failsafe. The quorum then returns for nn2 only: nn1's session expires
// on it while nn1 cannot reach it. nn2's answer turns to "quorum
// reachable"; nn1 self-fences when its last complete round runs out, and
// nn2, bound by its promise, promotes only after that (fencing through
// lease_expired). Exactly one active afterwards, also once nn1 is back.
func TestDrillFailsafeQuorumReturnsExpired(t *testing.T) {
	s := drill.FailsafeSettings()
	d, ns := startOnNetns(t, s)
	witness := d.c.Nodes[2]
	time.Sleep(s.SessionTimeout) // out of the start-up promise, as in a
	d.fault = time.Now()
	witness.ZKFC.Kill()
	netnsCutFromQuorum(t, d, ns)
	harness.WaitFor(t, 3*s.SessionTimeout, d.old.Name+" holding by failsafe", func() bool {
		st, err := d.old.Status()
		return err == nil && st.Failsafe != nil && st.Failsafe.Holding
	})
	time.Sleep(time.Until(d.fault.Add(drill.QuorumStop(t, s))))
	returned := time.Now()
	if err := witness.ZKFC.Start(); err != nil {
		t.Fatal(err)
	}
	d.waitPromoted(t, 90*time.Second)
	ivs := d.verdict(t)
	old, _ := drill.LastBefore(ivs, d.fault)
	promoted, _ := drill.FirstPromotionAfter(ivs, d.fault)
	if old.Open || !old.End.Before(promoted.Start) {
		t.Errorf("%s (active until %v) did not stop before %s was promoted at %s", d.old.Name, old.End, promoted.Name, promoted.Start.Format("15:04:05.000"))
	}
	if old.End != nil && old.End.Before(returned) {
		t.Errorf("%s stopped at %s, before the quorum returned at %s: failsafe did not hold it", d.old.Name, old.End.Format("15:04:05.000"), returned.Format("15:04:05.000"))
	}
	if promoted.Token <= old.Token {
		t.Errorf("token did not grow: %d -> %d", old.Token, promoted.Token)
	}
	if _, ok := drill.FirstLog(drill.ReadLog(d.cand.ZKFC.Log()), d.fault, "target fenced", map[string]string{"method": "lease_expired"}); !ok {
		t.Errorf("%s did not fence %s through lease_expired", d.cand.Name, d.old.Name)
	}
	t.Logf("quorum back for %s at +%v; %s stopped at +%v; %s promoted at +%v", d.cand.Name, returned.Sub(d.fault).Round(time.Millisecond),
		d.old.Name, old.End.Sub(d.fault).Round(time.Millisecond), promoted.Name, promoted.Start.Sub(d.fault).Round(time.Millisecond))
	ns.Flush(t)
	harness.WaitFor(t, 90*time.Second, d.old.Name+" back as standby", func() bool {
		st, err := d.old.Status()
		return err == nil && st.Role == "standby" && st.Connected
	})
	time.Sleep(s.SessionTimeout)
	ivs = d.verdict(t)
	var open []string
	for _, iv := range ivs {
		if iv.Open {
			open = append(open, iv.Name)
		}
	}
	if len(open) != 1 || open[0] != d.cand.Name {
		t.Errorf("active at the end: %v, want exactly %s", open, d.cand.Name)
	}
}
