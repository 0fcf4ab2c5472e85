package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/integration/harness"
	"github.com/zkfc-project/zkfc/integration/zkfcenv"
)

// pair is two demo services, each guarded by a zkfc, on Apache ZooKeeper.
type pair struct {
	zk        *harness.Server
	roles     string
	demos     [2]*zkfcenv.Demo
	zkfcs     [2]*zkfcenv.ZKFC
	sessionTO time.Duration
	margin    time.Duration
}

func startPair(t *testing.T, opt func(i int, o *zkfcenv.ZKFCOptions)) *pair {
	t.Helper()
	zk := zkfcenv.StartApache(t, 500*time.Millisecond)
	p := startPairOn(t, zk.Addr(), opt)
	p.zk = zk
	return p
}

// startPairOn starts the pair on the ZooKeeper at connect; p.zk is nil.
func startPairOn(t *testing.T, connect string, opt func(i int, o *zkfcenv.ZKFCOptions)) *pair {
	t.Helper()
	p := &pair{roles: filepath.Join(t.TempDir(), "roles.jsonl"), sessionTO: 4 * time.Second, margin: 1500 * time.Millisecond}
	var opts [2]zkfcenv.ZKFCOptions
	for i, name := range []string{"nn1", "nn2"} {
		p.demos[i] = zkfcenv.StartDemo(t, name, p.roles)
		opts[i] = zkfcenv.ZKFCOptions{NodeID: name, Connect: connect, Demo: p.demos[i], SessionTimeout: p.sessionTO, Margin: p.margin}
		if opt != nil {
			opt(i, &opts[i])
		}
	}
	cfg0, url0 := zkfcenv.WriteConfig(t, opts[0])
	zkfcenv.Format(t, cfg0)
	p.zkfcs[0] = zkfcenv.StartZKFCWithConfig(t, opts[0], cfg0, url0)
	// nn1 first, so that it wins: tests then know who is active.
	harness.WaitFor(t, 30*time.Second, "nn1 active", func() bool { return p.zkfcs[0].Role() == "active" })
	p.zkfcs[1] = zkfcenv.StartZKFC(t, opts[1])
	harness.WaitFor(t, 30*time.Second, "nn2 standby", func() bool { return p.zkfcs[1].Role() == "standby" })
	return p
}

func (p *pair) checkObserver(t *testing.T) {
	t.Helper()
	zkfcenv.CheckNoOverlap(t, zkfcenv.ReadIntervals(t, p.roles, time.Now()))
}

func demoRole(t *testing.T, d *zkfcenv.Demo) string {
	t.Helper()
	r, err := d.Role()
	if err != nil {
		t.Fatalf("demo %s: %v", d.Name, err)
	}
	return r
}

// metric reads one sample of /metrics, e.g. zkfc_fence_attempts_total{result="success"}.
func metric(t *testing.T, z *zkfcenv.ZKFC, series string) float64 {
	t.Helper()
	resp, err := http.Get(z.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, series+" ") {
			var v float64
			fmt.Sscanf(strings.TrimPrefix(line, series+" "), "%g", &v)
			return v
		}
	}
	return 0
}

// An unhealthy active quits and leaves its breadcrumb: the standby fences
// it (gracefully, through its zkfc) before promoting with a larger token.
// A graceful quit removes the breadcrumb: the next winner fences nobody.
func TestUnhealthyActiveIsFencedAndGracefulQuitIsNot(t *testing.T) {
	for _, c := range []struct {
		name   string
		breaks func(*zkfcenv.Demo, testing.TB)
	}{
		{"failing health check", (*zkfcenv.Demo).Fail},
		{"hung health check", (*zkfcenv.Demo).Hang},
	} {
		t.Run(c.name, func(t *testing.T) { unhealthyActiveIsFenced(t, c.breaks) })
	}
}

func unhealthyActiveIsFenced(t *testing.T, breakHealth func(*zkfcenv.Demo, testing.TB)) {
	p := startPair(t, nil)
	a, b := p.zkfcs[0], p.zkfcs[1]
	if r := demoRole(t, p.demos[0]); r != "active" {
		t.Fatalf("nn1's service is %s, want active", r)
	}
	stA, _ := a.Status()

	breakHealth(p.demos[0], t)
	harness.WaitFor(t, 30*time.Second, "nn2 active", func() bool { return b.Role() == "active" })
	stB, _ := b.Status()
	if stB.FencingToken <= stA.FencingToken {
		t.Fatalf("token did not grow: nn1 %d, nn2 %d", stA.FencingToken, stB.FencingToken)
	}
	if got := metric(t, b, `zkfc_fence_attempts_total{result="success"}`); got != 1 {
		t.Fatalf("nn2 fenced %v times, want 1: the unhealthy nn1 left its breadcrumb", got)
	}
	if r := demoRole(t, p.demos[0]); r != "standby" {
		t.Fatalf("nn1's service is %s after failover", r)
	}

	// nn1 recovers and rejoins as standby; nn2 stops gracefully.
	p.demos[0].Recover(t)
	harness.WaitFor(t, 30*time.Second, "nn1 back in the election", func() bool {
		st, err := a.Status()
		return err == nil && st.InElection
	})
	b.Terminate(t)
	harness.WaitFor(t, 30*time.Second, "nn1 active again", func() bool { return a.Role() == "active" })
	if got := metric(t, a, `zkfc_fence_attempts_total{result="success"}`) + metric(t, a, `zkfc_fence_attempts_total{result="failure"}`); got != 0 {
		t.Fatalf("nn1 tried to fence %v times after nn2's graceful quit, want 0", got)
	}
	if r := demoRole(t, p.demos[1]); r != "standby" {
		t.Fatalf("nn2's service is %s after its zkfc stopped", r)
	}
	p.checkObserver(t)
}

// A standby whose service failed says, in `zkfc status`, why it stays out
// of the election and how far the recovering service has got. Its rise is
// long enough that the service is still recovering when the status is read.
func TestStatusSaysHowFarTheServiceHasRecovered(t *testing.T) {
	const rise = 1000
	p := startPair(t, func(i int, o *zkfcenv.ZKFCOptions) {
		if i == 1 {
			o.HealthRise = rise
		}
	})
	b := p.zkfcs[1]
	p.demos[1].Fail(t)
	harness.WaitFor(t, 30*time.Second, "nn2 out of the election", func() bool {
		st, err := b.Status()
		return err == nil && !st.InElection && strings.HasPrefix(st.Reason, "not joining: service SERVICE_UNHEALTHY")
	})
	p.demos[1].Recover(t)
	harness.WaitFor(t, 30*time.Second, "nn2's service to start its rise", func() bool {
		st, err := b.Status()
		return err == nil && strings.Contains(st.Reason, "(rise ")
	})
	out, code := zkfcenv.RunCLI(t, "status", "--url", b.URL)
	want := regexp.MustCompile(fmt.Sprintf(`(?m)^why: +not joining: service SERVICE_UNHEALTHY \(rise [0-9]+ of %d\)$`, rise))
	if code != 0 || !want.MatchString(out) {
		t.Fatalf("status of the recovering nn2 does not match %s: exit %d\n%s", want, code, out)
	}
	if st, err := b.Status(); err != nil || st.InElection || st.Role != "standby" {
		t.Fatalf("recovering nn2: %+v (err %v), want a standby out of the election", st, err)
	}
	p.checkObserver(t)
}

// With the old active's zkfc dead and its service still running, graceful
// fencing fails and so does the shell method until it is allowed to act:
// the winner must not promote in between.
func TestPromotionBlockedWhenFencingFails(t *testing.T) {
	allow := filepath.Join(t.TempDir(), "allow-fence")
	var demo1 string
	p := startPair(t, func(i int, o *zkfcenv.ZKFCOptions) {
		if i == 0 {
			demo1 = o.Demo.Addr
			return
		}
		o.Fencing = fmt.Sprintf(`    - type: graceful
      timeout: 2s
    - type: shell
      timeout: 5s
      shell:
        command: ["/bin/sh", "-c", "test -e %s && curl -fsS --max-time 3 -X POST http://%s/demote"]
`, allow, demo1)
	})
	a, b := p.zkfcs[0], p.zkfcs[1]
	a.Kill() // nn1's service stays active: only fencing can stop it
	harness.WaitFor(t, 60*time.Second, "nn2 to try and fail to fence", func() bool {
		return metric(t, b, `zkfc_fence_attempts_total{result="failure"}`) >= 2
	})
	st, _ := b.Status()
	if st.Role == "active" || demoRole(t, p.demos[1]) != "standby" {
		t.Fatalf("nn2 promoted although fencing failed: %+v", st)
	}
	if !strings.Contains(st.LastError, "fencing nn1 failed") {
		t.Fatalf("last error %q does not explain the blocked promotion", st.LastError)
	}
	if r := demoRole(t, p.demos[0]); r != "active" {
		t.Fatalf("nn1's service is %s; the test needs it unfenced", r)
	}

	if err := os.WriteFile(allow, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	harness.WaitFor(t, 60*time.Second, "nn2 active after fencing works", func() bool { return b.Role() == "active" })
	if r := demoRole(t, p.demos[0]); r != "standby" {
		t.Fatalf("nn1's service is %s after being fenced", r)
	}
	p.checkObserver(t)
}

// Freezing the ZooKeeper server (SIGSTOP: connections hang as in a
// partition) makes the active demote its own service before the server
// could expire its session; nobody else can win meanwhile, and after the
// thaw the next active starts only after the old one ended.
func TestSelfFenceOnQuorumLoss(t *testing.T) {
	t.Run("server frozen", func(t *testing.T) { selfFenceOnQuorumLoss(t, false) })
	t.Run("server killed", func(t *testing.T) { selfFenceOnQuorumLoss(t, true) })
}

func selfFenceOnQuorumLoss(t *testing.T, kill bool) {
	p := startPair(t, nil)
	a := p.zkfcs[0]
	stopped := time.Now()
	if kill {
		p.zk.Kill()
	} else {
		p.zk.Freeze()
	}
	harness.WaitFor(t, 30*time.Second, "nn1's service demoted while ZooKeeper is frozen", func() bool {
		r, _ := p.demos[0].Role()
		return r == "standby"
	})
	// The guarantee under test: demoted before the earliest possible
	// session expiry (the last ack was before the freeze).
	ivs := zkfcenv.ReadIntervals(t, p.roles, time.Now())
	last := ivs[len(ivs)-1]
	if last.Name != "nn1" || last.End == nil {
		t.Fatalf("unexpected last interval %+v", last)
	}
	if deadline := stopped.Add(p.sessionTO); !last.End.Before(deadline) {
		t.Fatalf("nn1 demoted at %s, after the earliest session expiry %s", last.End.Format(time.RFC3339Nano), deadline.Format(time.RFC3339Nano))
	}
	if r := demoRole(t, p.demos[1]); r != "standby" {
		t.Fatalf("nn2's service became %s while ZooKeeper was frozen", r)
	}
	// The status is published once the demote action has returned.
	harness.WaitFor(t, 10*time.Second, "nn1's status to record the self-fence", func() bool {
		st, err := a.Status()
		return err == nil && st.Role == "standby" && strings.Contains(st.Transitions[len(st.Transitions)-1].Reason, "self-fenced")
	})
	if kill {
		p.checkObserver(t)
		return
	}
	p.zk.Thaw()
	harness.WaitFor(t, 60*time.Second, "an active after the thaw", func() bool {
		return a.Role() == "active" || p.zkfcs[1].Role() == "active"
	})
	p.checkObserver(t)
}

// `zkfc failover --to nn2` moves the active role without fencing; a
// second failover back works within the cede period because the named
// target ignores its own cede.
func TestGracefulFailover(t *testing.T) {
	p := startPair(t, nil)
	a, b := p.zkfcs[0], p.zkfcs[1]
	out, code := zkfcenv.RunCLI(t, "failover", "--url", a.URL, "--to", "nn2", "--timeout", "30s")
	if code != 0 {
		t.Fatalf("failover: exit %d: %s", code, out)
	}
	if b.Role() != "active" || demoRole(t, p.demos[1]) != "active" || demoRole(t, p.demos[0]) != "standby" {
		t.Fatalf("after failover: nn2 %s (service %s), nn1 service %s", b.Role(), demoRole(t, p.demos[1]), demoRole(t, p.demos[0]))
	}
	if got := metric(t, b, `zkfc_fence_attempts_total{result="success"}`); got != 0 {
		t.Fatalf("graceful failover fenced %v times", got)
	}
	out, code = zkfcenv.RunCLI(t, "failover", "--url", b.URL, "--to", "nn1")
	if code != 0 || a.Role() != "active" {
		t.Fatalf("failover back: exit %d role %s: %s", code, a.Role(), out)
	}
	out, code = zkfcenv.RunCLI(t, "status", "--url", a.URL, "--json")
	var st struct {
		Role         string `json:"role"`
		FencingToken uint64 `json:"fencing_token"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.Role != "active" || st.FencingToken != 3 {
		t.Fatalf("status --json: exit %d %+v: %s", code, st, out)
	}
	out, code = zkfcenv.RunCLI(t, "status", "--url", b.URL)
	for _, want := range []string{"role:          standby", "lock holder:   nn1", "ceding for"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("status of nn2 lacks %q: exit %d\n%s", want, code, out)
		}
	}
	p.checkObserver(t)
}

// While paused, a failing active is left alone and the standby does not
// take over; resume restores automatic failover.
func TestPauseAndResume(t *testing.T) {
	p := startPair(t, nil)
	a, b := p.zkfcs[0], p.zkfcs[1]
	if out, code := zkfcenv.RunCLI(t, "pause", "--url", a.URL); code != 0 {
		t.Fatalf("pause: %s", out)
	}
	harness.WaitFor(t, 20*time.Second, "both see the pause", func() bool {
		sa, e1 := a.Status()
		sb, e2 := b.Status()
		return e1 == nil && e2 == nil && sa.Paused && sb.Paused
	})
	p.demos[0].Fail(t)
	harness.WaitFor(t, 20*time.Second, "nn1 sees its service unhealthy", func() bool {
		st, err := a.Status()
		return err == nil && st.Health == "SERVICE_UNHEALTHY"
	})
	// Several role-check and health periods pass with no change.
	for i := 0; i < 10; i++ {
		time.Sleep(200 * time.Millisecond)
		if a.Role() != "active" || b.Role() != "standby" {
			t.Fatalf("role changed while paused: nn1 %s nn2 %s", a.Role(), b.Role())
		}
	}
	if out, code := zkfcenv.RunCLI(t, "resume", "--url", b.URL); code != 0 {
		t.Fatalf("resume: %s", out)
	}
	harness.WaitFor(t, 30*time.Second, "nn2 active after resume", func() bool { return b.Role() == "active" })
	p.checkObserver(t)
}

func TestFormat(t *testing.T) {
	zk := zkfcenv.StartApache(t, 500*time.Millisecond)
	demo := zkfcenv.StartDemo(t, "nn1", filepath.Join(t.TempDir(), "roles"))
	o := zkfcenv.ZKFCOptions{NodeID: "nn1", Cluster: "fmt", Connect: zk.Addr(), Demo: demo}
	cfg, url := zkfcenv.WriteConfig(t, o)

	// An unformatted cluster: run refuses and says what to do.
	z := zkfcenv.StartZKFCWithConfig(t, o, cfg, url)
	if code := z.Wait(t, 60*time.Second); code == 0 {
		t.Fatal("zkfc run on an unformatted cluster exited 0")
	}
	if !strings.Contains(z.Log(), "zkfc format") {
		t.Fatalf("run's error does not point at 'zkfc format':\n%s", z.Log())
	}

	cases := []struct {
		args []string
		code int
	}{
		{[]string{"--non-interactive"}, 0},
		{[]string{"--non-interactive"}, 2}, // exists, not wiped
		{nil, 2},                           // prompt answered with EOF: no
		{[]string{"--force", "--non-interactive"}, 0},
	}
	for i, c := range cases {
		out, code := zkfcenv.RunCLI(t, append([]string{"format", "--config", cfg}, c.args...)...)
		if code != c.code {
			t.Fatalf("case %d format %v: exit %d, want %d: %s", i, c.args, code, c.code, out)
		}
	}
	z = zkfcenv.StartZKFCWithConfig(t, o, cfg, url)
	harness.WaitFor(t, 30*time.Second, "nn1 active on the formatted cluster", func() bool { return z.Role() == "active" })
}

func TestConfigValidationErrors(t *testing.T) {
	zkfcenv.Binaries(t)
	dir := t.TempDir()
	base := `node: {id: nn1}
cluster: {name: c}
zookeeper: {connect: "127.0.0.1:1"}
health: {http: {url: "http://127.0.0.1:1/health"}}
actions: {promote: {command: [/bin/true]}, demote: {command: [/bin/true]}}
`
	cases := []struct {
		name, yaml, env, want string
	}{
		{"margin over session", base + "fencing: {methods: [{type: graceful}]}\n" + "", "ZKFC_ZOOKEEPER_SELF_FENCE_MARGIN=30s", "zookeeper.self_fence_margin"},
		{"no fencing", base, "", "fencing.methods"},
		{"bad fence type", base + "fencing: {methods: [{type: stonith}]}\n", "", "fencing.methods[0].type"},
		{"yaml typo", base + "fencing: {methods: [{type: graceful}]}\nfailover: {cede_perod: 1s}\n", "", "cede_perod"},
		{"quorum without data_dir", strings.Replace(base, `zookeeper: {connect: "127.0.0.1:1"}`, `zookeeper: {connect: ""}`, 1) +
			"fencing: {methods: [{type: graceful}]}\nquorum: {enabled: true, id: 1, client_listen: '127.0.0.1:2181', members: [{id: 1, peer: '127.0.0.1:2888'}]}\n", "", "quorum.data_dir"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".yaml")
			if err := os.WriteFile(p, []byte(c.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			if c.env != "" {
				t.Setenv(strings.SplitN(c.env, "=", 2)[0], strings.SplitN(c.env, "=", 2)[1])
			}
			out, code := zkfcenv.RunCLI(t, "run", "--config", p)
			if code == 0 || !strings.Contains(out, c.want) || !strings.Contains(out, p) {
				t.Fatalf("exit %d, output does not name %q and the file:\n%s", code, c.want, out)
			}
		})
	}
}

// fence-test checks reachability without fencing: against a live zkfc the
// graceful method passes and the service stays active.
func TestFenceTest(t *testing.T) {
	p := startPair(t, nil)
	out, code := zkfcenv.RunCLI(t, "fence-test", "nn1", "--config", p.zkfcs[1].Config)
	if code != 0 || !strings.Contains(out, "graceful") {
		t.Fatalf("fence-test: exit %d: %s", code, out)
	}
	if demoRole(t, p.demos[0]) != "active" || p.zkfcs[0].Role() != "active" {
		t.Fatal("fence-test fenced the active")
	}
	out, code = zkfcenv.RunCLI(t, "fence-test", "ghost", "--config", p.zkfcs[1].Config)
	if code == 0 {
		t.Fatalf("fence-test of an unknown node succeeded: %s", out)
	}
}

// The pair with a witness on the embedded quorum: nn1 and nn2 each host a
// quorum member in their zkfc process, a witness zkfc hosts the third. The
// quorum keeps serving while nn1's zkfc and member die, and nn2 takes over.
func TestEmbeddedQuorumPairWithWitness(t *testing.T) {
	roles := filepath.Join(t.TempDir(), "roles.jsonl")
	type member struct{ client, peer string }
	var ms [3]member
	for i := range ms {
		ms[i] = member{fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t)), fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))}
	}
	connect := ms[0].client + "," + ms[1].client + "," + ms[2].client
	quorum := func(id int, witness bool) string {
		y := fmt.Sprintf("quorum:\n  enabled: true\n  witness: %v\n  id: %d\n  data_dir: %s\n  client_listen: \"%s\"\n  peer_listen: \"%s\"\n  members:\n",
			witness, id+1, t.TempDir(), ms[id].client, ms[id].peer)
		for j, m := range ms {
			y += fmt.Sprintf("    - {id: %d, peer: \"%s\", client: \"%s\"}\n", j+1, m.peer, m.client)
		}
		return y
	}
	wcfg, wurl := zkfcenv.WriteConfig(t, zkfcenv.ZKFCOptions{NodeID: "witness", Connect: connect, Extra: quorum(2, true)})
	w := zkfcenv.StartZKFCWithConfig(t, zkfcenv.ZKFCOptions{NodeID: "witness"}, wcfg, wurl)
	var demos [2]*zkfcenv.Demo
	var zkfcs [2]*zkfcenv.ZKFC
	var cfgs [2]string
	for i, name := range []string{"nn1", "nn2"} {
		demos[i] = zkfcenv.StartDemo(t, name, roles)
		o := zkfcenv.ZKFCOptions{NodeID: name, Connect: connect, Demo: demos[i], SessionTimeout: 4 * time.Second,
			Margin: 1500 * time.Millisecond, Extra: quorum(i, false), Fencing: zkfcenv.FencingDemoteOrGone}
		var url string
		cfgs[i], url = zkfcenv.WriteConfig(t, o)
		zkfcs[i] = zkfcenv.StartZKFCWithConfig(t, o, cfgs[i], url)
	}
	// The daemons wait for the cluster znode; format once the quorum serves.
	harness.WaitFor(t, 60*time.Second, "format through the embedded quorum", func() bool {
		_, code := zkfcenv.RunCLI(t, "format", "--config", cfgs[0], "--non-interactive")
		return code == 0
	})
	harness.WaitFor(t, 60*time.Second, "one active, one standby", func() bool {
		r0, r1 := zkfcs[0].Role(), zkfcs[1].Role()
		return (r0 == "active" && r1 == "standby") || (r0 == "standby" && r1 == "active")
	})
	act := 0
	if zkfcs[1].Role() == "active" {
		act = 1
	}
	// A health failure first: every quorum member stays up.
	demos[act].Fail(t)
	harness.WaitFor(t, 60*time.Second, "the other node active", func() bool { return zkfcs[1-act].Role() == "active" })
	// Now kill the new active's zkfc and its member: 2 of 3 members remain
	// (the witness and the old active's), enough for a quorum.
	demos[act].Recover(t)
	harness.WaitFor(t, 60*time.Second, "the old active back as standby candidate", func() bool {
		st, err := zkfcs[act].Status()
		return err == nil && st.InElection
	})
	zkfcs[1-act].Kill()
	killedAt := demos[1-act].Kill() // a whole node lost: the shell method confirms it is gone
	harness.WaitFor(t, 90*time.Second, "failover after losing a zkfc and its quorum member", func() bool {
		return zkfcs[act].Role() == "active"
	})
	zkfcenv.CheckNoOverlap(t, zkfcenv.ReadIntervalsKilled(t, roles, time.Now(), map[string]time.Time{demos[1-act].Name: killedAt}))

	// The witness serves a control API about the member it hosts: healthy
	// while the member serves (2 of 3 members are up), with the member's
	// metrics, and zkfc status works against its config.
	st, err := w.Status()
	if err != nil || st.Role != "witness" || !st.Healthy || !strings.HasPrefix(st.Health, "QUORUM_MEMBER_SERVING") {
		t.Fatalf("witness status %+v, err %v; want role witness, healthy, member serving", st, err)
	}
	if n := metric(t, w, "zk_znode_count"); n < 1 {
		t.Errorf("witness /metrics: zk_znode_count %v, want the member's znode count", n)
	}
	// Its status shows its member, not election lines a witness has none of.
	if out, code := zkfcenv.RunCLI(t, "status", "--config", wcfg); code != 0 || !strings.Contains(out, "role:          witness") ||
		!strings.Contains(out, "quorum member: QUORUM_MEMBER_SERVING") || strings.Contains(out, "election:") || strings.Contains(out, "zookeeper:") {
		t.Errorf("zkfc status -c witness.yaml: exit %d\n%s", code, out)
	}
	if resp, err := http.Post(w.URL+"/cede", "", nil); err != nil || resp.StatusCode == http.StatusOK {
		t.Errorf("POST /cede to the witness: %v %v, want a refusal", resp, err)
	} else {
		resp.Body.Close()
	}
	// Alone, its member has no quorum: the witness reports it unhealthy.
	zkfcs[act].Kill()
	harness.WaitFor(t, 30*time.Second, "the witness to report its member not serving", func() bool {
		resp, err := http.Get(w.URL + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	})
}

// The active service demoted behind zkfc's back: the role check sees the
// drift, zkfc quits (keeping its breadcrumb) and the standby takes over.
func TestRoleDriftQuitsAndRejoins(t *testing.T) {
	p := startPair(t, nil)
	a, b := p.zkfcs[0], p.zkfcs[1]
	p.demos[0].Demote(t)
	harness.WaitFor(t, 30*time.Second, "nn2 active after nn1's drift", func() bool { return b.Role() == "active" })
	st, err := a.Status()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tr := range st.Transitions {
		found = found || strings.Contains(tr.Reason, "role drift")
	}
	if !found {
		t.Fatalf("nn1's transitions do not record the drift: %+v", st.Transitions)
	}
	harness.WaitFor(t, 30*time.Second, "nn1 rejoined as standby", func() bool {
		st, err := a.Status()
		return err == nil && st.InElection && st.Role == "standby"
	})
	p.checkObserver(t)
}

// Under systemd (NOTIFY_SOCKET set), zkfc sends READY=1 with the first
// election outcome, STATUS= with the role, and WATCHDOG=1 while its loop
// runs (WATCHDOG_USEC set).
func TestSystemdNotify(t *testing.T) {
	zk := zkfcenv.StartApache(t, 500*time.Millisecond)
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	demo := zkfcenv.StartDemo(t, "nn1", filepath.Join(t.TempDir(), "roles"))
	o := zkfcenv.ZKFCOptions{NodeID: "nn1", Connect: zk.Addr(), Demo: demo,
		Env: []string{"NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC=600000"}}
	cfg, url := zkfcenv.WriteConfig(t, o)
	zkfcenv.Format(t, cfg)
	zkfcenv.StartZKFCWithConfig(t, o, cfg, url)
	var got []string
	buf := make([]byte, 4096)
	want := map[string]bool{"READY=1": false, "STATUS=active": false, "WATCHDOG=1": false}
	deadline := time.Now().Add(60 * time.Second)
	for {
		done := true
		for _, v := range want {
			done = done && v
		}
		if done {
			break
		}
		if err := conn.SetReadDeadline(deadline); err != nil {
			t.Fatal(err)
		}
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("notify socket: %v; got %q", err, got)
		}
		msg := string(buf[:n])
		got = append(got, msg)
		for k := range want {
			if strings.Contains(msg, k) {
				want[k] = true
			}
		}
	}
	// Watchdog pings may precede READY (systemd counts from start); the
	// first role report must carry READY=1.
	for _, m := range got {
		if strings.Contains(m, "STATUS=") {
			if !strings.Contains(m, "READY=1") {
				t.Fatalf("first status %q does not carry READY=1 (all: %q)", m, got)
			}
			break
		}
	}
}

// Only the active is cut off ZooKeeper (a proxy freezes its connection;
// the standby keeps its session), and fencing is configured as Hadoop's
// notorious shell(/bin/true), which fences nothing. Self-fencing alone
// must bring the active's service down before the standby can win, which
// it only can once the server expires the active's session.
func TestPartitionedActiveIsDownBeforeTheStandbyWins(t *testing.T) {
	zk := zkfcenv.StartApache(t, 500*time.Millisecond)
	proxy, err := harness.StartProxy(zk.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	roles := filepath.Join(t.TempDir(), "roles.jsonl")
	noFence := "    - type: shell\n      shell: {command: [/bin/true]}\n"
	var demos [2]*zkfcenv.Demo
	var zkfcs [2]*zkfcenv.ZKFC
	for i, name := range []string{"nn1", "nn2"} {
		demos[i] = zkfcenv.StartDemo(t, name, roles)
		connect := zk.Addr()
		if i == 0 {
			connect = proxy.Addr()
		}
		o := zkfcenv.ZKFCOptions{NodeID: name, Connect: connect, Demo: demos[i], SessionTimeout: 4 * time.Second,
			Margin: 1500 * time.Millisecond, Fencing: noFence}
		cfg, url := zkfcenv.WriteConfig(t, o)
		if i == 0 {
			zkfcenv.Format(t, cfg)
		}
		zkfcs[i] = zkfcenv.StartZKFCWithConfig(t, o, cfg, url)
		want := map[int]string{0: "active", 1: "standby"}[i]
		harness.WaitFor(t, 30*time.Second, name+" "+want, func() bool { return zkfcs[i].Role() == want })
	}
	proxy.Block()
	harness.WaitFor(t, 60*time.Second, "nn2 active after nn1's session expired", func() bool { return zkfcs[1].Role() == "active" })
	ivs := zkfcenv.ReadIntervals(t, roles, time.Now())
	zkfcenv.CheckNoOverlap(t, ivs)
	var nn1End, nn2Start time.Time
	for _, iv := range ivs {
		if iv.Name == "nn1" {
			nn1End = *iv.End
		}
		if iv.Name == "nn2" {
			nn2Start = iv.Start
		}
	}
	if !nn1End.Before(nn2Start) {
		t.Fatalf("nn1 active until %s, nn2 active from %s", nn1End.Format(time.RFC3339Nano), nn2Start.Format(time.RFC3339Nano))
	}
	if r := demoRole(t, demos[0]); r != "standby" {
		t.Fatalf("partitioned nn1's service is %s", r)
	}
	proxy.Unblock()
	harness.WaitFor(t, 60*time.Second, "nn1 back as standby", func() bool {
		st, err := zkfcs[0].Status()
		return err == nil && st.Role == "standby" && st.Connected
	})
	zkfcenv.CheckNoOverlap(t, zkfcenv.ReadIntervals(t, roles, time.Now()))
}
