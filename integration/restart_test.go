package integration

// Issue 16's restarts without failover, drills f and g: every zkfc of the
// drill topology (nn1, nn2 and the witness, each hosting a member of the
// embedded quorum) is stopped with SIGTERM and started again, one at a
// time, the quorum full again before the next: the standby's first, then
// the witness's, then the active's, as the README's rolling upgrade does.
// Paused (f), the active service never stops being active and nothing is
// promoted or demoted; unpaused (g), the active's restart costs at most one
// switchover and no overlap. The same runs against an external Apache
// ZooKeeper 3.8 ensemble, whose members restart one at a time between the
// two zkfc. The evidence is the services' roles file and the observer's
// polls, not what zkfc says. With DRILL_RESTARTS set, each embedded run
// appends its figures (outage, quorum recovery) to that file for the bench.

import (
	"os"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/examples/demo-service/roles"
	"github.com/zkfc-project/zkfc/integration/drill"
	"github.com/zkfc-project/zkfc/integration/harness"
	"github.com/zkfc-project/zkfc/integration/zkfcenv"
)

// zkfcBack: a restarted guarding zkfc answers with a role; which role is
// for the drill's checks to judge.
func zkfcBack(role string) bool { return role == "active" || role == "standby" }

// rollingRestart restarts the standby's zkfc, the witness's, then the
// active's.
func rollingRestart(t *testing.T, d *drillRun) []drill.RestartStep {
	var steps []drill.RestartStep
	for _, n := range []*drill.Node{d.cand, d.c.Nodes[2], d.old} {
		step := d.c.RestartZKFC(t, n, zkfcBack)
		t.Logf("restarted %s (%s): exited after %v, quorum full after %v, zkfc back after %v", n.Name, step.Role,
			step.Exited.Round(time.Millisecond), step.QuorumFull.Round(time.Millisecond), step.Recovered.Round(time.Millisecond))
		steps = append(steps, step)
	}
	return steps
}

// judgeRestart checks the evidence of a rolling restart from start to
// end, old being the active before it (no overlap and growing tokens are
// the observer verdict's). Paused: old's service stayed active throughout,
// every poll of it answered active, nothing was promoted. Unpaused: at
// most one switchover. It returns the service outage and the switchovers.
func judgeRestart(t *testing.T, ivs []drill.Interval, samples []drill.Sample, old string, start, end time.Time, paused bool) (time.Duration, int) {
	t.Helper()
	switchovers := 0
	for _, iv := range ivs {
		if iv.Start.After(start) {
			switchovers++
			t.Logf("%s's service promoted (token %d) %v after the rolling restart began", iv.Name, iv.Token, iv.Start.Sub(start).Round(time.Millisecond))
		}
	}
	outage := drill.Outage(ivs, start, end)
	if !paused {
		if switchovers > 1 {
			t.Errorf("%d switchovers during the unpaused rolling restart, want at most 1", switchovers)
		}
		t.Logf("unpaused rolling restart: %d switchover(s), service outage %v", switchovers, outage)
		return outage, switchovers
	}
	if switchovers > 0 {
		t.Errorf("%d promotions during the paused rolling restart, want none", switchovers)
	}
	if last, ok := drill.LastBefore(ivs, start); !ok || last.Name != old || !last.Open {
		t.Errorf("%s's service did not stay active through the paused rolling restart (last interval %+v)", old, last)
	}
	polls := 0
	for _, s := range samples {
		if s.Name == old && s.Sent.After(start) && s.Recv.Before(end) {
			if s.Role != "active" {
				t.Errorf("%s's service answered %s at %s, during the paused rolling restart", s.Name, s.Role, s.Sent.Format("15:04:05.000"))
			}
			polls++
		}
	}
	if polls == 0 {
		t.Errorf("the observer has no poll of %s's service during the rolling restart", old)
	}
	t.Logf("paused rolling restart: service outage %v, %d polls of the active service", outage, polls)
	return outage, switchovers
}

// checkAdopted: the restarted active's zkfc reports it active, holding the
// lock under the token it had before.
func checkAdopted(t *testing.T, name, url string, token uint64) {
	t.Helper()
	st, err := zkfcenv.StatusAt(url, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if st.Role != "active" || !st.HoldsLock || st.FencingToken != token {
		t.Errorf("%s after its restart: role %s, holds lock %v, token %d; want active holding the lock under token %d",
			name, st.Role, st.HoldsLock, st.FencingToken, token)
	}
	t.Logf("%s after its restart: %s", name, st.Reason)
}

// resumeAndStay resumes failover and checks that the adopted active stays:
// it already holds the lock, and the standby finds it held.
func resumeAndStay(t *testing.T, activeURL, standbyURL string) {
	t.Helper()
	if out, code := zkfcenv.RunCLI(t, "resume", "--url", standbyURL, "--timeout", "20s"); code != 0 {
		t.Fatalf("resume: exit %d\n%s", code, out)
	}
	harness.WaitFor(t, 30*time.Second, "the standby back in the election", func() bool {
		st, err := zkfcenv.StatusAt(standbyURL, 3*time.Second)
		return err == nil && st.InElection
	})
	time.Sleep(2 * time.Second) // several health and role-check periods
	if r := zkfcenv.RoleAt(activeURL, 3*time.Second); r != "active" {
		t.Errorf("the adopted active is %q after the resume", r)
	}
}

func pause(t *testing.T, url string) {
	t.Helper()
	if out, code := zkfcenv.RunCLI(t, "pause", "--url", url, "--timeout", "20s"); code != 0 {
		t.Fatalf("pause: exit %d\n%s", code, out)
	}
}

// recordRestart appends the run's figures to $DRILL_RESTARTS, if set.
func recordRestart(t *testing.T, r drill.RollingRestart) {
	if p := os.Getenv("DRILL_RESTARTS"); p != "" {
		if err := drill.AppendJSONLine(p, r); err != nil {
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
	pause(t, d.old.URL)
	d.fault = time.Now()
	steps := rollingRestart(t, d)
	end := time.Now()
	checkAdopted(t, d.old.Name, d.old.URL, before.FencingToken)
	resumeAndStay(t, d.old.URL, d.cand.URL)
	ivs := d.verdict(t)
	outage, _ := judgeRestart(t, ivs, d.c.Observer.Samples(), d.old.Name, d.fault, end, true)
	recordRestart(t, drill.RollingRestart{Drill: "paused", Start: d.fault, Steps: steps, Outage: outage})
}

// Drill g: unpaused, the active's zkfc hands over on SIGTERM; the restart
// costs at most that one switchover.
func TestDrillRollingRestartUnpaused(t *testing.T) {
	d := startDrill(t, drill.DefaultSettings(), drill.Loopback)
	d.fault = time.Now()
	steps := rollingRestart(t, d)
	harness.WaitFor(t, 30*time.Second, "one active and the other standby in the election", func() bool {
		if d.c.Active() == nil {
			return false
		}
		st, err := d.c.Standby().Status()
		return err == nil && st.InElection && st.Role == "standby"
	})
	end := time.Now()
	ivs := d.verdict(t)
	outage, switchovers := judgeRestart(t, ivs, d.c.Observer.Samples(), d.old.Name, d.fault, end, false)
	// The handover was graceful: the old active demoted, removed its
	// breadcrumb and released the lock before its zkfc exited, so the new
	// active had nobody to fence and did not wait for a session expiry.
	for _, n := range d.c.Nodes[:2] {
		if e, ok := drill.FirstLog(drill.ReadLog(n.ZKFC.Log()), d.fault, "fencing the previous active", nil); ok {
			t.Errorf("%s fenced %v during the rolling restart: the handover was not graceful", n.Name, e.Fields["target"])
		}
	}
	recordRestart(t, drill.RollingRestart{Drill: "unpaused", Start: d.fault, Steps: steps, Outage: outage, Switchovers: switchovers})
}

// Drills f and g against an external Apache ZooKeeper 3.8 ensemble of
// three (tickTime 500ms): the standby's zkfc restarts, then each member in
// turn (the ensemble serving with all three again before the next), then
// the active's zkfc.
func TestRollingRestartApache(t *testing.T) {
	for _, paused := range []bool{true, false} {
		t.Run(map[bool]string{true: "paused", false: "unpaused"}[paused], func(t *testing.T) {
			ens := harness.StartEnsemble(t, harness.Apache, 3, harness.Options{TickTime: 500 * time.Millisecond,
				Extra: []string{"maxClientCnxns=0", "forceSync=no"}})
			// The documented session timeout and margin: Apache's leader
			// election after its leader's restart took up to 2.6s here,
			// more than the drill settings' 4s - 1.5s before self-fencing.
			p := startPairOn(t, ens.ConnectString(), func(_ int, o *zkfcenv.ZKFCOptions) {
				o.SessionTimeout, o.Margin = 10*time.Second, 2*time.Second
			})
			act, sby := p.zkfcs[0], p.zkfcs[1] // startPairOn makes nn1 active
			before, err := act.Status()
			if err != nil {
				t.Fatal(err)
			}
			obs := drill.Watch(t, map[string]string{"nn1": p.demos[0].Addr, "nn2": p.demos[1].Addr})
			if paused {
				pause(t, act.URL)
			}
			start := time.Now()
			restartZKFC := func(z *zkfcenv.ZKFC) {
				z.Restart(t)
				harness.WaitFor(t, 60*time.Second, "zkfc "+z.Opts.NodeID+" back", func() bool { return zkfcBack(z.Role()) })
			}
			restartZKFC(sby)
			for _, m := range ens.Members {
				m.Terminate()
				if err := m.Start(); err != nil {
					t.Fatal(err)
				}
				if err := ens.WaitServing(60 * time.Second); err != nil {
					t.Fatal(err)
				}
			}
			restartZKFC(act)
			if paused {
				checkAdopted(t, "nn1", act.URL, before.FencingToken)
			} else {
				harness.WaitFor(t, 30*time.Second, "one active and the other standby in the election", func() bool {
					other := act
					if act.Role() == "active" {
						other = sby
					} else if sby.Role() != "active" {
						return false
					}
					st, err := other.Status()
					return err == nil && st.InElection && st.Role == "standby"
				})
			}
			end := time.Now()
			if paused {
				resumeAndStay(t, act.URL, sby.URL)
			}
			obs.Stop()
			ivs, err := roles.Read(p.roles, time.Now(), nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range drill.Check(ivs, obs.Samples()).Violations {
				t.Error("observer: " + v)
			}
			judgeRestart(t, ivs, obs.Samples(), "nn1", start, end, paused)
		})
	}
}

// The pause is lifted while the active's zkfc is down: the standby takes
// over, fencing the service the stopped zkfc left running; paused again,
// the old zkfc starts and must not adopt the active role its breadcrumb
// no longer records. Without actions.role, the case where only the
// breadcrumb and the token tell: adopting would re-run promote.
func TestRestartAfterTakeoverWhilePaused(t *testing.T) {
	s := drill.DefaultSettings()
	s.NoRoleAction = true
	d := startDrill(t, s, drill.Loopback)
	pause(t, d.old.URL)
	if !d.old.ZKFC.Terminate(30 * time.Second) {
		t.Fatalf("%s's zkfc still runs 30s after SIGTERM", d.old.Name)
	}
	d.fault = time.Now()
	if out, code := zkfcenv.RunCLI(t, "resume", "--url", d.cand.URL, "--timeout", "20s"); code != 0 {
		t.Fatalf("resume: exit %d\n%s", code, out)
	}
	d.waitPromoted(t, 60*time.Second)
	pause(t, d.cand.URL)
	if err := d.old.ZKFC.Start(); err != nil {
		t.Fatal(err)
	}
	harness.WaitFor(t, 60*time.Second, d.old.Name+"'s zkfc back", func() bool { return zkfcBack(d.old.Role()) })
	if st, err := d.old.Status(); err != nil || st.Role != "standby" || st.HoldsLock {
		t.Errorf("%s restarted while paused after %s took over: %+v %v; want standby without the lock", d.old.Name, d.cand.Name, st, err)
	} else {
		t.Logf("%s after its restart: %s", d.old.Name, st.Reason)
	}
	resumeAndStay(t, d.cand.URL, d.old.URL)
	ivs := d.verdict(t)
	promoted := 0
	for _, iv := range ivs {
		if iv.Start.After(d.fault) {
			promoted++
		}
	}
	if promoted != 1 {
		t.Errorf("%d promotions after the resume, want exactly %s's", promoted, d.cand.Name)
	}
}
