package integration

// Issue 16's restarts without failover, drills f and g: every zkfc of the
// drill topology (nn1, nn2 and the witness, each hosting a member of the
// embedded quorum) is stopped with SIGTERM and started again, one at a
// time, the quorum full again before the next: the standby's first, then
// the witness's, then the active's, as the README's rolling upgrade does.
// Paused (f), the active service never stops being active and nothing is
// promoted or demoted; unpaused (g), the active's restart costs at most one
// switchover and no overlap. The evidence is the services' roles file and
// the observer's polls, not what zkfc says. With DRILL_RESTARTS set, each
// run appends its figures (outage, quorum recovery) to that file for the
// bench.

import (
	"os"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/integration/drill"
	"github.com/zkfc-project/zkfc/integration/harness"
	"github.com/zkfc-project/zkfc/integration/zkfcenv"
)

// rollingRestart restarts the standby's zkfc, the witness's, then the
// active's; a restarted guarded node is back once its zkfc reports a role
// (what role is for the drill's checks to judge).
func rollingRestart(t *testing.T, d *drillRun) []drill.RestartStep {
	var steps []drill.RestartStep
	for _, n := range []*drill.Node{d.cand, d.c.Nodes[2], d.old} {
		step := d.c.RestartZKFC(t, n, func(role string) bool { return role == "active" || role == "standby" })
		t.Logf("restarted %s (%s): exited after %v, quorum full and zkfc back after %v", n.Name, step.Role,
			step.Exited.Round(time.Millisecond), step.Recovered.Round(time.Millisecond))
		steps = append(steps, step)
	}
	return steps
}

// recordRestart appends the run's figures to $DRILL_RESTARTS, if set.
func recordRestart(t *testing.T, r drill.RollingRestart) {
	if p := os.Getenv("DRILL_RESTARTS"); p != "" {
		if err := drill.AppendRestart(p, r); err != nil {
			t.Error(err)
		}
	}
}

// Drill f: paused, each zkfc restarts and adopts its service's role.
func TestDrillRollingRestartPaused(t *testing.T) {
	d := startDrill(t, drill.DefaultSettings(), drill.Loopback)
	before, err := d.old.Status()
	if err != nil {
		t.Fatal(err)
	}
	if out, code := zkfcenv.RunCLI(t, "pause", "--url", d.old.URL, "--timeout", "20s"); code != 0 {
		t.Fatalf("pause: exit %d\n%s", code, out)
	}
	d.fault = time.Now()
	steps := rollingRestart(t, d)
	end := time.Now()
	after, err := d.old.Status()
	if err != nil {
		t.Fatal(err)
	}
	if after.Role != "active" || !after.HoldsLock || after.FencingToken != before.FencingToken {
		t.Errorf("%s after its restart: role %s, holds lock %v, token %d; want active holding the lock under token %d",
			d.old.Name, after.Role, after.HoldsLock, after.FencingToken, before.FencingToken)
	}
	t.Logf("%s after its restart: %s", d.old.Name, after.Reason)
	// Resumed, the adopted active stays: it already holds the lock and the
	// standby finds it held.
	if out, code := zkfcenv.RunCLI(t, "resume", "--url", d.cand.URL, "--timeout", "20s"); code != 0 {
		t.Fatalf("resume: exit %d\n%s", code, out)
	}
	harness.WaitFor(t, 30*time.Second, d.cand.Name+" back in the election", func() bool {
		st, err := d.cand.Status()
		return err == nil && st.InElection
	})
	time.Sleep(2 * time.Second) // several health and role-check periods
	if r := d.old.Role(); r != "active" {
		t.Errorf("%s is %s after the resume", d.old.Name, r)
	}

	ivs := d.verdict(t)
	if iv, ok := drill.FirstPromotionAfter(ivs, d.fault); ok {
		t.Errorf("%s's service was promoted (token %d) during or after the paused rolling restart", iv.Name, iv.Token)
	}
	if last, ok := drill.LastBefore(ivs, d.fault); !ok || last.Name != d.old.Name || !last.Open {
		t.Errorf("%s's service did not stay active through the paused rolling restart (last interval %+v)", d.old.Name, last)
	}
	active := 0
	for _, s := range d.c.Observer.Samples() {
		if s.Name == d.old.Name && s.Sent.After(d.fault) && s.Recv.Before(end) {
			if s.Role != "active" {
				t.Errorf("%s's service answered %s at %s, during the paused rolling restart", s.Name, s.Role, s.Sent.Format("15:04:05.000"))
			}
			active++
		}
	}
	if active == 0 {
		t.Errorf("the observer has no poll of %s's service during the drill", d.old.Name)
	}
	outage := drill.Outage(ivs, d.fault, end)
	t.Logf("paused rolling restart: service outage %v, %d polls of the active service", outage, active)
	recordRestart(t, drill.RollingRestart{Drill: "paused", Start: d.fault, Steps: steps, Outage: outage})
}

// Drill g: unpaused, the active's zkfc hands over on SIGTERM; the restart
// costs at most that one switchover.
func TestDrillRollingRestartUnpaused(t *testing.T) {
	d := startDrill(t, drill.DefaultSettings(), drill.Loopback)
	d.fault = time.Now()
	steps := rollingRestart(t, d)
	harness.WaitFor(t, 30*time.Second, "one active and the other standby in the election", func() bool {
		a, s := d.c.Active(), d.c.Standby()
		if a == nil {
			return false
		}
		st, err := s.Status()
		return err == nil && st.InElection && st.Role == "standby"
	})
	end := time.Now()
	ivs := d.verdict(t)
	switchovers := 0
	for _, iv := range ivs {
		if iv.Start.After(d.fault) {
			switchovers++
			t.Logf("switchover to %s (token %d) %v after the drill began", iv.Name, iv.Token, iv.Start.Sub(d.fault).Round(time.Millisecond))
		}
	}
	if switchovers > 1 {
		t.Errorf("%d switchovers during the unpaused rolling restart, want at most 1", switchovers)
	}
	// The handover was graceful: the old active demoted, removed its
	// breadcrumb and released the lock before its zkfc exited, so the new
	// active had nobody to fence and did not wait for a session expiry.
	for _, n := range d.c.Nodes[:2] {
		if e, ok := drill.FirstLog(drill.ReadLog(n.ZKFC.Log()), d.fault, "fencing the previous active", nil); ok {
			t.Errorf("%s fenced %v during the rolling restart: the handover was not graceful", n.Name, e.Fields["target"])
		}
	}
	outage := drill.Outage(ivs, d.fault, end)
	t.Logf("unpaused rolling restart: %d switchover(s), service outage %v", switchovers, outage)
	recordRestart(t, drill.RollingRestart{Drill: "unpaused", Start: d.fault, Steps: steps, Outage: outage, Switchovers: switchovers})
}
