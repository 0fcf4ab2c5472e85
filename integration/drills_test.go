package integration

// The failure drills of issue 5: the demo topology (nn1 and nn2 guarding a
// demo-service each, a witness; the three zkfc processes host a 3-member
// embedded quorum), one fault per drill, and an independent observer
// (integration/drill) that judges the outcome from the services' own roles
// files and its own polls, never from what zkfc says. With DRILL_TIMINGS
// set, each drill appends its measured failover to that JSON file; with
// DRILL_STEPS=1 it prints every zkfc's takeover steps (always on failure).
//
// Run: make build && ZKFC_BIN=$PWD/bin/zkfc go test -run 'TestDrill' -v ./integration
// (the partition drill needs root for network namespaces; it skips otherwise).

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/examples/demo-service/roles"
	"github.com/zkfc-project/zkfc/integration/drill"
	"github.com/zkfc-project/zkfc/integration/harness"
	"github.com/zkfc-project/zkfc/integration/zkfcenv"
)

// drillRun is one drill in progress: the fault and who it hit.
type drillRun struct {
	c      *drill.Cluster
	old    *drill.Node // active before the fault
	cand   *drill.Node // the node expected to take over (nil: none may)
	fault  time.Time
	killed map[string]time.Time // services the test killed, by name
}

func startDrill(t *testing.T, s drill.Settings, lay drill.Layout) *drillRun {
	c := drill.StartCluster(t, s, lay)
	old := c.Active()
	if old == nil {
		t.Fatal("no active after start")
	}
	return &drillRun{c: c, old: old, cand: c.Other(old), killed: map[string]time.Time{}}
}

// waitPromoted waits until the candidate's service is active per its own
// roles file (the evidence), not per zkfc.
func (d *drillRun) waitPromoted(t *testing.T, within time.Duration) {
	t.Helper()
	harness.WaitFor(t, within, d.cand.Name+"'s service active", func() bool {
		ivs, err := roles.Read(d.c.Roles, time.Now(), nil)
		if err != nil {
			t.Fatal(err)
		}
		iv, ok := drill.FirstPromotionAfter(ivs, d.fault)
		return ok && iv.Name == d.cand.Name
	})
}

// verdict stops the observer, proves the shared properties and returns the
// intervals.
func (d *drillRun) verdict(t *testing.T) []drill.Interval {
	t.Helper()
	d.c.Observer.Stop()
	kills, err := roles.ReadKills(d.c.Kills)
	if err != nil {
		t.Fatal(err)
	}
	for n, at := range d.killed {
		if at.After(kills[n]) {
			kills[n] = at
		}
	}
	d.killed = kills // the fencer's kills too: they end intervals as well
	ivs, err := roles.Read(d.c.Roles, time.Now(), kills)
	if err != nil {
		t.Fatal(err)
	}
	samples := d.c.Observer.Samples()
	v := drill.Check(ivs, samples)
	for _, x := range v.Violations {
		t.Error("observer: " + x)
	}
	for _, iv := range ivs {
		t.Logf("interval %s token %d [%s, %s] open=%v", iv.Name, iv.Token, iv.Start.Format("15:04:05.000"), iv.End.Format("15:04:05.000"), iv.Open)
	}
	t.Logf("observer: %d intervals, %d polls", len(ivs), len(samples))
	return ivs
}

// timing measures the takeover from the intervals and the zkfc logs and
// records it. target is the budget total must stay within.
func (d *drillRun) timing(t *testing.T, name string, ivs []drill.Interval, target time.Duration, targetText string) drill.Timing {
	t.Helper()
	tm := drill.Timing{Drill: name, Run: 1, Fault: d.fault, OldActive: d.old.Name, Target: targetText}
	if oldIv, ok := drill.LastBefore(ivs, d.fault); ok {
		tm.OldToken = oldIv.Token
		if !oldIv.Open || d.killed[oldIv.Name].After(oldIv.Start) {
			tm.OldDemoted = oldIv.End.Sub(d.fault)
		} else if oldIv.Open {
			tm.Note = oldIv.Name + " still active at the end of the drill"
		}
	}
	newIv, ok := drill.FirstPromotionAfter(ivs, d.fault)
	if ok {
		tm.Promoted, tm.NewActive, tm.NewToken = true, newIv.Name, newIv.Token
		tm.Promote = newIv.Start.Sub(d.fault)
		tm.Total = tm.Promote
	}
	oldLog, candLog := drill.ReadLog(d.old.ZKFC.Log()), drill.ReadLog(d.cand.ZKFC.Log())
	// Each node's takeover steps, relative to the fault: printed when the
	// drill fails, or always with DRILL_STEPS=1.
	var steps strings.Builder
	for _, n := range []*drill.Node{d.old, d.cand} {
		for _, e := range drill.ReadLog(n.ZKFC.Log()) {
			if !e.At.Before(d.fault.Add(-time.Second)) && e.Fields["level"] != "debug" && !raftChatter(e.Msg) {
				fmt.Fprintf(&steps, "  %s +%v %s%s\n", n.Name, e.At.Sub(d.fault).Round(time.Millisecond), e.Msg, compact(e.Fields))
			}
		}
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("DRILL_STEPS") != "" {
			t.Logf("steps of %s (from each zkfc's log):\n%s", name, steps.String())
		}
	})
	// Detection: the old active's health monitor (or its loop) saw the
	// service fail, or else the candidate started to fence (it saw the
	// lock free).
	var detect []time.Time
	if e, ok := drill.FirstLog(oldLog, d.fault, "health", map[string]string{"from": "SERVICE_HEALTHY"}); ok {
		detect = append(detect, e.At)
	}
	fenceStart, fs := drill.FirstLog(candLog, d.fault, "fencing the previous active", nil)
	if fs {
		detect = append(detect, fenceStart.At)
	}
	for _, at := range detect {
		if tm.Detect == 0 || at.Sub(d.fault) < tm.Detect {
			tm.Detect = at.Sub(d.fault)
		}
	}
	if e, ok := drill.FirstLog(candLog, d.fault, "target fenced", nil); ok {
		tm.Fence = e.At.Sub(d.fault)
	}
	if target > 0 {
		tm.TargetHeld = tm.Promoted && tm.Total <= target
	} else {
		tm.TargetHeld = !tm.Promoted // the drill's target is that nobody is promoted
	}
	t.Logf("TIMING %s: detect %v, fenced %v, old demoted %v, new active %s (token %d -> %d) after %v; target %s (%v): held=%v",
		name, tm.Detect.Round(time.Millisecond), tm.Fence.Round(time.Millisecond), tm.OldDemoted.Round(time.Millisecond),
		tm.NewActive, tm.OldToken, tm.NewToken, tm.Total.Round(time.Millisecond), targetText, target.Round(time.Millisecond), tm.TargetHeld)
	if p := os.Getenv("DRILL_TIMINGS"); p != "" {
		s := d.c.Settings
		if err := drill.Append(p, drill.File{HealthInterval: s.HealthInterval, SessionTimeout: s.SessionTimeout, TickTime: s.TickTime}, tm); err != nil {
			t.Errorf("DRILL_TIMINGS: %v", err)
		}
	}
	return tm
}

// raftChatter: the quorum member's consensus lines, noise for a takeover.
func raftChatter(msg string) bool {
	return strings.Contains(strings.ToLower(msg), "raft") || (msg != "" && msg[0] >= '0' && msg[0] <= '9')
}

// compact renders a log line's own fields, without the common ones.
func compact(m map[string]any) string {
	var b strings.Builder
	for k, v := range m {
		switch k {
		case "ts", "msg", "level", "logger", "caller", "node":
			continue
		}
		fmt.Fprintf(&b, " %s=%v", k, v)
	}
	return b.String()
}

// unhealthyTarget: 2 health intervals plus the measured fence and promote
// time.
func (d *drillRun) unhealthyTarget(t *testing.T) time.Duration {
	return 2*d.c.Settings.HealthInterval + d.fenceAndPromote()
}

// expiryTarget is the bound when the standby must wait for the old active's
// session to expire: the session timeout after the old zkfc's last ping,
// plus half a tickTime (a member forwards pings to the leader, which alone
// expires sessions, every tickTime/2; the embedded quorum then expires
// within about a millisecond), plus the measured handover and fence and
// promote times.
func (d *drillRun) expiryTarget() time.Duration {
	s := d.c.Settings
	return s.SessionTimeout + s.TickTime/2 + d.handover() + d.fenceAndPromote()
}

// expiryTargetText says what expiryTarget adds up.
const expiryTargetText = "session timeout + tickTime/2 + handover + fence + promote"

// handover is the measured time from the quorum leader's expiry of the old
// session to the candidate's start of fencing: the closeSession's commit,
// the watch event and the candidate's lock write.
func (d *drillRun) handover() time.Duration {
	fence, ok := drill.FirstLog(drill.ReadLog(d.cand.ZKFC.Log()), d.fault, "fencing the previous active", nil)
	if !ok {
		return 0
	}
	for _, n := range d.c.Nodes {
		if e, ok := drill.FirstLog(drill.ReadLog(n.ZKFC.Log()), d.fault, "session expired", nil); ok && e.At.Before(fence.At) {
			return fence.At.Sub(e.At)
		}
	}
	return 0
}

// fenceAndPromote is the measured time from the candidate's start of
// fencing to its service serving as active.
func (d *drillRun) fenceAndPromote() time.Duration {
	candLog := drill.ReadLog(d.cand.ZKFC.Log())
	ivs, _ := roles.Read(d.c.Roles, time.Now(), nil)
	e, ok1 := drill.FirstLog(candLog, d.fault, "fencing the previous active", nil)
	iv, ok2 := drill.FirstPromotionAfter(ivs, d.fault)
	if ok1 && ok2 {
		return iv.Start.Sub(e.At)
	}
	return 0
}

func (d *drillRun) checkTokenGrew(t *testing.T, tm drill.Timing) {
	t.Helper()
	if !tm.Promoted || tm.NewActive != d.cand.Name {
		t.Fatalf("expected %s to take over from %s; new active %q", d.cand.Name, d.old.Name, tm.NewActive)
	}
	if tm.NewToken <= tm.OldToken {
		t.Errorf("new token %d not above old token %d", tm.NewToken, tm.OldToken)
	}
}

// Drill: the active service dies (kill -9). Its zkfc sees the health check
// fail and quits; the standby fences the dead service and takes over.
func TestDrillServiceCrash(t *testing.T) {
	d := startDrill(t, drill.DefaultSettings(), drill.Loopback)
	d.fault = time.Now()
	d.killed[d.old.Name] = d.old.Demo.Kill()
	d.waitPromoted(t, 60*time.Second)
	ivs := d.verdict(t)
	tm := d.timing(t, "service-crash", ivs, d.unhealthyTarget(t), "2 health intervals + fence + promote")
	d.checkTokenGrew(t, tm)
}

// Drill: the active service hangs (SIGSTOP): health probes time out
// (SERVICE_NOT_RESPONDING), the frozen service cannot demote itself, so
// the fencer must kill it before the standby is promoted.
func TestDrillServiceHang(t *testing.T) {
	startDrill(t, drill.DefaultSettings(), drill.Loopback).hangService(t, "service-hang")
}

// hangService freezes the active service, waits for the candidate to take
// over and checks the verdict, the token and that the fencer killed the
// frozen service: its interval must have been closed by a kill (the
// fencer's note), not left open past the promotion.
func (d *drillRun) hangService(t *testing.T, name string) {
	t.Helper()
	d.fault = time.Now()
	d.old.Demo.Freeze()
	d.waitPromoted(t, 60*time.Second)
	ivs := d.verdict(t)
	tm := d.timing(t, name, ivs, d.unhealthyTarget(t), "2 health intervals + fence + promote")
	d.checkTokenGrew(t, tm)
	if kills, _ := roles.ReadKills(d.c.Kills); kills[d.old.Name].IsZero() {
		t.Errorf("the hung service %s was never killed by the fencer", d.old.Name)
	}
}

// Drill: as the hang above, with lease_expired first. The old zkfc quit
// the election while connected, so its session lives on: lease_expired
// must refuse, and the fence must come from a method that reached the
// service (the kill), never from the quorum's say-so. Its own demote of
// the frozen service fails, so the old zkfc exits with status 3 without
// closing its session (under systemd, BindsTo= would then stop the
// service before the session could expire).
func TestDrillServiceHangLeaseRefuses(t *testing.T) {
	d := startDrill(t, drill.LeaseSettings(), drill.Loopback)
	d.hangService(t, "service-hang-lease")
	candLog := drill.ReadLog(d.cand.ZKFC.Log())
	if _, ok := drill.FirstLog(candLog, d.fault, "fencing method failed", map[string]string{"method": "lease_expired"}); !ok {
		t.Errorf("lease_expired did not refuse %s's live session", d.old.Name)
	}
	if e, ok := drill.FirstLog(candLog, d.fault, "target fenced", nil); !ok || fmt.Sprint(e.Fields["method"]) == "lease_expired" {
		t.Errorf("%s fenced by %v, want a method that reached the service", d.old.Name, e.Fields["method"])
	}
	if code, _ := d.old.ZKFC.ExitCode(10 * time.Second); code != 3 {
		t.Errorf("%s's zkfc: exit status %d after its demote failed, want 3 (leave without closing the session)", d.old.Name, code)
	}
	if !strings.Contains(d.old.ZKFC.Log(), "exiting with status 3") {
		t.Errorf("%s's zkfc log does not say why it exited", d.old.Name)
	}
}

// Drill: kill -9 of the active's zkfc (and the quorum member it hosts).
// The service keeps running unguarded; the standby can win only once the
// session expired, and must fence the service before promoting.
func TestDrillKillActiveZKFC(t *testing.T) {
	d := startDrill(t, drill.DefaultSettings(), drill.Loopback)
	d.fault = time.Now()
	d.old.ZKFC.Kill()
	d.waitPromoted(t, 60*time.Second)
	ivs := d.verdict(t)
	tm := d.timing(t, "kill-active-zkfc", ivs, d.expiryTarget(), expiryTargetText)
	d.checkTokenGrew(t, tm)
	if tm.OldDemoted > tm.Promote {
		t.Errorf("old active demoted %v after the fault, new one promoted at %v", tm.OldDemoted, tm.Promote)
	}
}

// quorumLeader returns the node whose member says Mode: leader.
func quorumLeader(c *drill.Cluster) *drill.Node {
	for _, n := range c.Nodes {
		if n.MemberMode() == "leader" {
			return n
		}
	}
	return nil
}

// Drill: the active's service fails its health check, and while its zkfc
// is handing over, the process hosting the quorum leader dies (kill -9)
// and restarts. Whoever hosted the leader, the healthy node ends active.
func TestDrillKillQuorumLeaderMidFailover(t *testing.T) {
	d := startDrill(t, drill.DefaultSettings(), drill.Loopback)
	var leader *drill.Node
	harness.WaitFor(t, 30*time.Second, "a quorum leader", func() bool { leader = quorumLeader(d.c); return leader != nil })
	t.Logf("active %s, quorum leader hosted by %s", d.old.Name, leader.Name)
	d.fault = time.Now()
	d.old.PostDemo(t, "/admin/fail")
	// Mid-failover: the health failure is being detected (a takeover
	// takes well under a second here, so the kill follows at once).
	killedAt := leader.ZKFC.Kill()
	t.Logf("leader's process killed %v after the fault", killedAt.Sub(d.fault).Round(time.Millisecond))
	if err := leader.ZKFC.Start(); err != nil {
		t.Fatal(err)
	}
	d.waitPromoted(t, 90*time.Second)
	ivs := d.verdict(t)
	// The health failover's own budget, plus the quorum's election: raft's
	// randomized election timeout is one to two tickTimes here, and the
	// fast election on a refused peer port usually beats it.
	target := d.unhealthyTarget(t) + 2*d.c.Settings.TickTime
	tm := d.timing(t, "kill-quorum-leader", ivs, target, "2 health intervals + fence + promote + 2 tickTime (leader "+leader.Name+")")
	d.checkTokenGrew(t, tm)
}

// Drill: the active host (zkfc, quorum member, service) is cut off the
// quorum and its peer: its namespace drops every packet to and from the
// host. Self-fencing must demote its service BEFORE the standby is
// promoted. The standby's fencing cannot reach the host; lease_expired,
// first in its list, confirms the fence from the quorum instead (the old
// session expired), so the takeover costs the session timeout, not the
// session timeout plus every method's timeout.
func TestDrillPartitionActiveHost(t *testing.T) {
	partitionActiveHost(t, drill.LeaseSettings(), "partition")
}

// startOnNetns starts the drill with nn1 in a namespace of its own
// (nn2 and the witness on the host), nn1 active, the witness leading.
func startOnNetns(t *testing.T, s drill.Settings) (*drillRun, *drill.Netns) {
	ns := drill.NewNetns(t, "zkfcdrl", 77)
	lay := drill.Layout{IPs: [3]string{ns.InnerIP, ns.HostIP, ns.HostIP}, NS: [3]string{ns.Name, "", ""}}
	// nn1 must be the active: start, then move the activity to nn1 if needed.
	d := startDrill(t, s, lay)
	if d.old.Name != "nn1" {
		d.old.PostDemo(t, "/admin/fail")
		harness.WaitFor(t, 60*time.Second, "nn1 active", func() bool { return d.c.Nodes[0].Role() == "active" })
		d.old.PostDemo(t, "/admin/recover")
		d.old, d.cand = d.c.Nodes[0], d.c.Nodes[1]
		harness.WaitFor(t, 60*time.Second, "nn2 back in the election", func() bool {
			st, err := d.cand.Status()
			return err == nil && st.InElection && st.Healthy
		})
	}
	// A leader on the cut host costs an election, and the new leader gives
	// every session a full timeout. The witness is the preferred leader
	// (drill.Cluster's zoo.cfg); a freshly started quorum hands over within
	// about an election timeout, so wait for that (bounded) as a deployment
	// that has run for a while would be, then log where the leader is.
	witness := d.c.Nodes[2]
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end) && quorumLeader(d.c) != witness; {
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("quorum leader before the cut: %s", leaderName(quorumLeader(d.c)))
	return d, ns
}

func partitionActiveHost(t *testing.T, s drill.Settings, name string) *drillRun {
	d, ns := startOnNetns(t, s)
	d.fault = time.Now()
	ns.Cut(t)
	d.waitPromoted(t, 90*time.Second)
	ivs := d.verdict(t)
	tm := d.timing(t, name, ivs, d.expiryTarget(), expiryTargetText)
	d.checkTokenGrew(t, tm)
	old, _ := drill.LastBefore(ivs, d.fault)
	if old.Open {
		t.Errorf("partitioned %s never closed its active interval", old.Name)
	}
	if tm.OldDemoted >= tm.Promote {
		t.Errorf("partitioned %s demoted %v after the cut, %s promoted already at %v", d.old.Name, tm.OldDemoted, d.cand.Name, tm.Promote)
	}
	// The takeover went through lease_expired: no method reached the host.
	if _, ok := drill.FirstLog(drill.ReadLog(d.cand.ZKFC.Log()), d.fault, "target fenced", map[string]string{"method": "lease_expired"}); !ok {
		t.Errorf("%s did not fence %s through lease_expired", d.cand.Name, d.old.Name)
	}
	ns.Heal(t)
	var last string
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s's last status after the heal: %s; quorum leader now: %v", d.old.Name, last, quorumLeader(d.c))
		}
	})
	harness.WaitFor(t, 90*time.Second, d.old.Name+" back as standby", func() bool {
		st, err := d.old.Status()
		last = fmt.Sprintf("%+v (err %v)", st, err)
		return err == nil && st.Role == "standby" && st.Connected
	})
	d.verdict(t)
	return d
}

// Drill: fencing is impossible — ssh is the only method and the target's
// sshd is not running. After the active's zkfc dies, the standby must
// never promote; the reason shows in its status and its log.
func TestDrillFencingImpossible(t *testing.T) {
	dir := t.TempDir()
	key := dir + "/id_ed25519"
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Skipf("ssh-keygen: %v %s", err, out)
	}
	if err := os.WriteFile(dir+"/known_hosts", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s := drill.DefaultSettings()
	// Port of an sshd that is not running.
	s.Fencing = fmt.Sprintf("    - type: ssh\n      timeout: 3s\n      ssh: {user: root, port: %d, key_file: %s, known_hosts_file: %s, connect_timeout: 1s}\n",
		harness.FreePort(t), key, dir+"/known_hosts")
	d := startDrill(t, s, drill.Loopback)
	d.fault = time.Now()
	d.old.ZKFC.Kill()
	var st statusLike
	harness.WaitFor(t, 60*time.Second, d.cand.Name+" to try and fail to fence twice", func() bool {
		return strings.Count(d.cand.ZKFC.Log(), "promotion failed; releasing the lock") >= 2
	})
	status, err := d.cand.Status()
	if err != nil {
		t.Fatal(err)
	}
	st = statusLike{status.Role, status.LastError}
	ivs := d.verdict(t)
	if iv, ok := drill.FirstPromotionAfter(ivs, d.fault); ok {
		t.Errorf("%s promoted (token %d) although fencing %s was impossible", iv.Name, iv.Token, d.old.Name)
	}
	if st.role == "active" {
		t.Errorf("%s reports active without fencing", d.cand.Name)
	}
	if !strings.Contains(st.lastError, "fencing "+d.old.Name+" failed") {
		t.Errorf("status last_error %q does not name the fencing failure", st.lastError)
	}
	if _, ok := drill.FirstLog(drill.ReadLog(d.cand.ZKFC.Log()), d.fault, "fencing method failed", map[string]string{"method": "ssh"}); !ok {
		t.Errorf("%s's log has no failed ssh fencing attempt", d.cand.Name)
	}
	// The operator's view: `zkfc status --json` of the candidate.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	zkfcBin, _ := zkfcenv.Binaries(t)
	out, err := exec.CommandContext(ctx, zkfcBin, "status", "--json", "--url", d.cand.URL).Output()
	if err != nil {
		t.Fatalf("zkfc status --json: %v\n%s", err, out)
	}
	var cli struct {
		Role      string `json:"role"`
		LastError string `json:"last_error"`
	}
	if err := json.Unmarshal(out, &cli); err != nil {
		t.Fatalf("zkfc status --json: %v\n%s", err, out)
	}
	if cli.Role == "active" || !strings.Contains(cli.LastError, "fencing "+d.old.Name+" failed") {
		t.Errorf("zkfc status --json of %s: role %q, last_error %q: the blocked promotion is not explained", d.cand.Name, cli.Role, cli.LastError)
	}
	d.timing(t, "fencing-impossible", ivs, 0, "no promotion")
}

type statusLike struct{ role, lastError string }

func leaderName(n *drill.Node) string {
	if n == nil {
		return "none"
	}
	return n.Name
}

// Drill: health flaps around the threshold (fall 3, rise 3). First the
// active's service fails for one probe interval in every three: under
// the threshold, nothing may move. Then it fails for well over fall
// probes: exactly one takeover. Then both services flap under the
// threshold: the new active stays, the old one does not come back. Over
// the whole drill exactly one promotion (no ping-pong).
func TestDrillHealthFlapping(t *testing.T) {
	s := drill.DefaultSettings()
	s.Rise, s.Fall = 3, 3
	d := startDrill(t, s, drill.Loopback)
	d.fault = time.Now()
	flap := func(nodes ...*drill.Node) {
		for i := 0; i < 8; i++ { // bounded: 8 cycles of 3 intervals
			for _, n := range nodes {
				n.PostDemo(t, "/admin/fail")
			}
			time.Sleep(s.HealthInterval)
			for _, n := range nodes {
				n.PostDemo(t, "/admin/recover")
			}
			time.Sleep(2 * s.HealthInterval)
		}
	}
	flap(d.old)
	if ivs, _ := roles.Read(d.c.Roles, time.Now(), nil); len(ivs) != 1 {
		t.Errorf("health flapping under the threshold moved the active: %d intervals", len(ivs))
	}
	over := time.Now()
	d.old.PostDemo(t, "/admin/fail")
	d.waitPromoted(t, 60*time.Second)
	d.old.PostDemo(t, "/admin/recover")
	flap(d.old, d.cand)
	time.Sleep(s.SessionTimeout)
	ivs := d.verdict(t)
	var promotions []drill.Interval
	for _, iv := range ivs {
		if iv.Start.After(d.fault) {
			promotions = append(promotions, iv)
		}
	}
	if len(promotions) != 1 || promotions[0].Name != d.cand.Name || promotions[0].Start.Before(over) {
		t.Errorf("want exactly one promotion (%s, after the failure over the threshold); got %d: %+v", d.cand.Name, len(promotions), promotions)
	}
	if a := d.c.Active(); a != d.cand {
		name := "none"
		if a != nil {
			name = a.Name
		}
		t.Errorf("active after flapping: %s, want %s", name, d.cand.Name)
	}
}

// Drill: the witness's host dies for good. An operator starts a new
// witness and, with zkfc quorum add and remove, makes it a member in the
// dead one's place, without stopping either data node. The pair never
// loses its active and never has two.
func TestDrillReplaceDeadWitness(t *testing.T) {
	s := drill.DefaultSettings()
	s.Super = superUser + ":" + superPassword
	d := startDrill(t, s, drill.Loopback)
	c := d.c
	d.fault = time.Now()
	c.Nodes[2].ZKFC.Kill()
	pair := c.Nodes[0].Client + "," + c.Nodes[1].Client
	conn := superConn(t, c.Nodes[0].Client, c.Nodes[1].Client)
	text, version := readConfig(t, conn)
	w := c.StartWitness(t, 4, strings.TrimSuffix(text, fmt.Sprintf("version=%x", version)), uint64(version))
	harness.WaitFor(t, 30*time.Second, "the new witness's member listening", func() bool {
		_, err := harness.FourLetterWord(w.Client, "ruok", time.Second)
		return err == nil
	})
	quorum := func(args ...string) string {
		t.Helper()
		stdout, stderr, err := runZkfc(t, 90*time.Second, append([]string{"quorum"},
			append(args, "--server", pair+","+w.Client, "--timeout", "30s", "--super", s.Super)...)...)
		t.Logf("zkfc quorum %s:\n%s%s", strings.Join(args, " "), stdout, stderr)
		if err != nil {
			t.Fatalf("zkfc quorum %s: %v", strings.Join(args, " "), err)
		}
		return stdout
	}
	quorum("add", "--id", "4", "--peer", w.Peer, "--client", w.Client)
	quorum("remove", "--id", "3")
	out := quorum("members")
	if strings.Contains(out, "down") || strings.Contains(out, "\n3 ") || !strings.Contains(out, "\n4 ") {
		t.Errorf("members after the replacement:\n%s", out)
	}
	// The pair goes on a while with the new witness.
	time.Sleep(3 * time.Second)
	ivs := d.verdict(t)
	if iv, ok := drill.LastBefore(ivs, d.fault); !ok || iv.Name != d.old.Name || !iv.Open {
		t.Errorf("the active before the witness died (%s) is no longer active: %+v", d.old.Name, iv)
	}
	if iv, ok := drill.FirstPromotionAfter(ivs, d.fault); ok {
		t.Errorf("%s was promoted during the replacement", iv.Name)
	}
}
