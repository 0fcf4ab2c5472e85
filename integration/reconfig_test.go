package integration

// A membership's life under reconfig on our ensemble: a new member started
// with the current configuration joins and catches up from the leader's
// snapshot; a removed member stops serving and says so; a restart keeps
// the new membership (dynamicConfigFile); the leader can be removed and
// hands over. The answers themselves are compared with Apache ZooKeeper in
// TestDifferentialReconfig.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkfc-project/zkfc/integration/harness"
	"github.com/zkfc-project/zkfc/integration/jsonlog"
	"github.com/zkfc-project/zkfc/integration/zkenv"
	qconfig "github.com/zkfc-project/zkfc/quorum/config"
)

func superConn(t *testing.T, addrs ...string) *zk.Conn {
	t.Helper()
	c, _, err := zk.Connect(addrs, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.AddAuth("digest", []byte(superUser+":"+superPassword)); err != nil {
		t.Fatal(err)
	}
	return c
}

func readConfig(t *testing.T, c *zk.Conn) (string, int64) {
	t.Helper()
	var data []byte
	var err error
	harness.WaitFor(t, 20*time.Second, "read /zookeeper/config", func() bool {
		data, _, err = c.Get("/zookeeper/config")
		return err == nil
	})
	return string(data), configVersion(data)
}

func TestReconfigJoinRemoveRestart(t *testing.T) {
	opts := reconfigOptions()
	e := harness.StartEnsemble(t, harness.Ours, 3, opts)
	c := superConn(t, e.Members[0].Addr(), e.Members[1].Addr())
	for i := 0; i < 50; i++ {
		if _, err := c.Create(fmt.Sprintf("/before-%d", i), []byte(fmt.Sprintf("value %d", i)), 0, openACL); err != nil {
			t.Fatal(err)
		}
	}

	// Member 4 starts with the current configuration plus itself, as
	// ZooKeeper's documentation asks of a joiner, then is added.
	line, addr4, log4 := startJoiner(t, c, opts, 4)
	_, version := readConfig(t, c)
	if _, err := c.IncrementalReconfig([]string{line}, nil, version); err != nil {
		t.Fatalf("add member 4: %v", err)
	}
	harness.WaitFor(t, 30*time.Second, "member 4 serving", func() bool {
		out, err := harness.FourLetterWord(addr4, "srvr", 2*time.Second)
		return err == nil && strings.Contains(out, "Mode: follower")
	})
	c4, _, err := zkenv.DialZK(addr4, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c4.Close()
	for i := 0; i < 50; i += 7 {
		got, _, err := c4.Get(fmt.Sprintf("/before-%d", i))
		if err != nil || string(got) != fmt.Sprintf("value %d", i) {
			t.Fatalf("member 4 read /before-%d: %q %v", i, got, err)
		}
	}
	if b, _ := os.ReadFile(log4); !strings.Contains(string(b), "waiting for the leader's snapshot") ||
		!strings.Contains(string(b), "caught up from the leader's snapshot") {
		t.Errorf("member 4 did not start empty and install the leader's snapshot; log:\n%s", b)
	}

	// Remove the leader: another voter takes over and writes go on.
	l, err := e.WaitLeader(20 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	leader := e.Members[l]
	if _, err := c.IncrementalReconfig(nil, []string{fmt.Sprint(leader.ID)}, -1); err != nil && err != zk.ErrConnectionClosed {
		t.Fatalf("remove leader %d: %v", leader.ID, err)
	}
	harness.WaitFor(t, 30*time.Second, "a new leader among the remaining members", func() bool {
		for _, m := range e.Members {
			if m != leader && m.Mode() == "leader" {
				return true
			}
		}
		out, err := harness.FourLetterWord(addr4, "srvr", 2*time.Second)
		return err == nil && strings.Contains(out, "Mode: leader")
	})
	harness.WaitFor(t, 30*time.Second, "the removed leader says so and stops serving", func() bool {
		return strings.Contains(leader.LogTail(400), "removed from the ensemble") && leader.Mode() == ""
	})
	w := superConn(t, addr4)
	if _, err := w.Create("/after-leader-removed", nil, 0, openACL); err != nil {
		t.Fatalf("write after the leader's removal: %v", err)
	}

	// A restart of a remaining member keeps the new membership.
	var keep *harness.Server
	for _, m := range e.Members {
		if m != leader {
			keep = m
			break
		}
	}
	want, _ := readConfig(t, w)
	keep.Terminate()
	must(t, keep.Start())
	if err := keep.WaitServing(60 * time.Second); err != nil {
		t.Fatalf("member %d after restart: %v\n%s", keep.ID, err, keep.LogTail(40))
	}
	cfgText, err := os.ReadFile(keep.CfgPath)
	must(t, err)
	if !strings.Contains(string(cfgText), "dynamicConfigFile=") || strings.Contains(string(cfgText), "server.") {
		t.Errorf("member %d's zoo.cfg was not rewritten to point at its dynamic config file:\n%s", keep.ID, cfgText)
	}
	ck, _, err := zkenv.DialZK(keep.Addr(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	if got, _ := readConfig(t, ck); got != want {
		t.Errorf("member %d's configuration after restart:\n%s\nwant:\n%s", keep.ID, got, want)
	}
	if strings.Contains(want, fmt.Sprintf("server.%d=", leader.ID)) || !strings.Contains(want, "server.4=") {
		t.Errorf("configuration after the changes: %s", want)
	}
}

// startJoiner starts member id of our ensemble with the current
// configuration (read through c) plus its own line as its dynamic config
// file, and returns that line, its client address and its log file.
func startJoiner(t *testing.T, c *zk.Conn, opts harness.Options, id int) (line, addr, logPath string) {
	t.Helper()
	text, version := readConfig(t, c)
	dir := t.TempDir()
	ports := [3]int{harness.FreePort(t), harness.FreePort(t), harness.FreePort(t)}
	line = fmt.Sprintf("server.%d=127.0.0.1:%d:%d:participant;127.0.0.1:%d", id, ports[0], ports[1], ports[2])
	members := strings.TrimSuffix(text, fmt.Sprintf("version=%x", version)) + line + "\n"
	dyn := filepath.Join(dir, fmt.Sprintf("zoo.cfg.dynamic.%x", version))
	data := filepath.Join(dir, "data")
	must(t, os.MkdirAll(data, 0o755))
	must(t, os.WriteFile(filepath.Join(data, "myid"), []byte(fmt.Sprintf("%d\n", id)), 0o644))
	must(t, os.WriteFile(dyn, []byte(members), 0o644))
	cfg := fmt.Sprintf("tickTime=%d\ndataDir=%s\nadmin.enableServer=false\n4lw.commands.whitelist=*\nreconfigEnabled=true\nstandaloneEnabled=false\ndynamicConfigFile=%s\n",
		opts.TickTime.Milliseconds(), data, dyn)
	cfgPath := filepath.Join(dir, "zoo.cfg")
	must(t, os.WriteFile(cfgPath, []byte(cfg), 0o644))
	logPath = filepath.Join(dir, "server.log")
	p := harness.NewProc(t, fmt.Sprintf("ours server %d", id), logPath, os.Getenv("ZKFC_BIN"), "quorum", "--zoo-cfg", cfgPath)
	// The same -D flags as the ensemble's members (the super user).
	p.Env = append(os.Environ(), "SERVER_JVMFLAGS="+strings.Join(opts.JVMFlags, " "))
	must(t, p.Start())
	t.Cleanup(func() {
		p.Kill()
		jsonlog.CheckFile(t, logPath)
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("ours server %d log tail:\n%s", id, p.LogTail(60, ""))
		}
	})
	addr = fmt.Sprintf("127.0.0.1:%d", ports[2])
	// It listens (and answers four-letter words) before it serves.
	harness.WaitFor(t, 30*time.Second, fmt.Sprintf("member %d listening", id), func() bool {
		_, err := harness.FourLetterWord(addr, "ruok", time.Second)
		return err == nil
	})
	return line, addr, logPath
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestZkfcQuorumReplaceDeadMember replaces a dead voter with zkfc quorum
// add and remove, as the README's procedure for a dead witness does, and
// shows that the majority check refuses changes that would stop the
// quorum.
func TestZkfcQuorumReplaceDeadMember(t *testing.T) {
	opts := reconfigOptions()
	e := harness.StartEnsemble(t, harness.Ours, 3, opts)
	c := superConn(t, e.Members[0].Addr(), e.Members[1].Addr())
	servers := e.ConnectString()
	zkfcQuorum := func(args ...string) (string, int) {
		t.Helper()
		stdout, stderr, err := runZkfc(t, 60*time.Second, append([]string{"quorum"},
			append(args, "--server", servers, "--timeout", "20s", "--super", superUser+":"+superPassword)...)...)
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatalf("zkfc quorum %s: %v", strings.Join(args, " "), err)
		}
		out := stdout + stderr
		t.Logf("zkfc quorum %s -> exit %d\n%s", strings.Join(args, " "), code, out)
		return out, code
	}
	e.Members[2].Kill()
	out, code := zkfcQuorum("members")
	if code != 0 || !regexp.MustCompile(`\n3 +participant +(down|unknown) `).MatchString(out) {
		t.Fatalf("members with member 3 dead: exit %d\n%s", code, out)
	}
	// Removing a live member while 3 is dead leaves 1 live voter of 2.
	if out, code := zkfcQuorum("remove", "--id", "2"); code != 1 || !strings.Contains(out, "refused") {
		t.Fatalf("remove 2 while 3 is dead was not refused: exit %d\n%s", code, out)
	}
	// Adding a voter that does not run leaves 2 live voters of 4.
	if out, code := zkfcQuorum("add", "--id", "5", "--peer", fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t)),
		"--client", fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))); code != 1 || !strings.Contains(out, "refused") {
		t.Fatalf("adding a member that does not run was not refused: exit %d\n%s", code, out)
	}
	line, addr4, _ := startJoiner(t, c, opts, 4)
	servers += "," + addr4
	m, err := parseLine(line)
	must(t, err)
	if out, code := zkfcQuorum("add", "--id", "4", "--peer", fmt.Sprintf("127.0.0.1:%d", m.PeerPort), "--client", addr4); code != 0 {
		t.Fatalf("add 4: exit %d\n%s", code, out)
	}
	harness.WaitFor(t, 30*time.Second, "member 4 serving", func() bool {
		out, err := harness.FourLetterWord(addr4, "srvr", 2*time.Second)
		return err == nil && strings.Contains(out, "Mode: follower")
	})
	if out, code := zkfcQuorum("remove", "--id", "3"); code != 0 {
		t.Fatalf("remove 3: exit %d\n%s", code, out)
	}
	out, code = zkfcQuorum("members")
	if code != 0 || strings.Contains(out, "\n3 ") || !strings.Contains(out, "\n4 ") || strings.Contains(out, "down") {
		t.Fatalf("members after the replacement: exit %d\n%s", code, out)
	}
	if _, err := c.Create("/after-replacement", nil, 0, openACL); err != nil {
		t.Fatalf("write after the replacement: %v", err)
	}
}

func parseLine(line string) (qconfig.Server, error) {
	k, v, _ := strings.Cut(line, "=")
	return qconfig.ParseServer(k, v)
}

// reconfigRetry changes the membership through a fresh super-user
// session to addrs, asking again (bounded) while the ensemble is busy
// with another change or between leaders; a change whose answer was lost
// counts once /zookeeper/config shows it.
func reconfigRetry(t *testing.T, addrs []string, joining, leaving []string, done func(config string) bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for attempt := 1; ; attempt++ {
		// A fresh session each time: one that moved members meanwhile may
		// not have its credentials back yet.
		c := connectZK(t, 6*time.Second, addrs...)
		err := c.AddAuth("digest", []byte(superUser+":"+superPassword))
		if err == nil {
			_, err = c.IncrementalReconfig(joining, leaving, -1)
		}
		if err == nil {
			c.Close()
			return
		}
		data, _, gerr := c.Get("/zookeeper/config")
		c.Close()
		if gerr == nil && done(string(data)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("reconfig joining %v leaving %v: %v", joining, leaving, err)
		}
		t.Logf("reconfig joining %v leaving %v: %v; asking again", joining, leaving, err)
		time.Sleep(200 * time.Millisecond)
	}
}

// leaderID finds the member that leads among addrs (id by conf).
func leaderID(t *testing.T, addrs map[int]string) int {
	t.Helper()
	var id int
	harness.WaitFor(t, 30*time.Second, "a leader", func() bool {
		for i, a := range addrs {
			if out, err := harness.FourLetterWord(a, "srvr", time.Second); err == nil && strings.Contains(out, "Mode: leader") {
				id = i
				return true
			}
		}
		return false
	})
	return id
}

// TestReconfigLinearizableUnderMembershipChanges runs porcupine-checked
// clients while the membership changes: two members are added (one
// member is killed while the second is added), the leader is removed and
// so is one more original member. Every acknowledged write must survive
// and the history must be linearizable.
func TestReconfigLinearizableUnderMembershipChanges(t *testing.T) {
	opts := reconfigOptions()
	e := harness.StartEnsemble(t, harness.Ours, 3, opts)
	admin := superConn(t, e.Addrs()...)
	addrs := map[int]string{1: e.Members[0].Addr(), 2: e.Members[1].Addr(), 3: e.Members[2].Addr()}
	all := func() []string {
		var out []string
		for _, a := range addrs {
			out = append(out, a)
		}
		return out
	}
	has := func(id int) func(string) bool {
		return func(cfg string) bool { return strings.Contains(cfg, fmt.Sprintf("server.%d=", id)) }
	}
	hasNot := func(id int) func(string) bool {
		return func(cfg string) bool { return !strings.Contains(cfg, fmt.Sprintf("server.%d=", id)) }
	}
	waitServing := func(id int) {
		harness.WaitFor(t, 60*time.Second, fmt.Sprintf("member %d serving", id), func() bool {
			out, err := harness.FourLetterWord(addrs[id], "srvr", time.Second)
			return err == nil && (strings.Contains(out, "Mode: follower") || strings.Contains(out, "Mode: leader"))
		})
	}
	var steps []string
	step := func(s string) { steps = append(steps, s); t.Log(s) }
	runFaults(t, e, 4, func(ctx context.Context) {
		time.Sleep(time.Second)
		line4, addr4, _ := startJoiner(t, admin, opts, 4)
		reconfigRetry(t, all(), []string{line4}, nil, has(4))
		addrs[4] = addr4
		waitServing(4)
		step("added member 4")
		line5, addr5, _ := startJoiner(t, admin, opts, 5)
		// Member 2 dies while the change that adds member 5 is under way.
		go func() {
			time.Sleep(20 * time.Millisecond)
			e.Members[1].Kill()
		}()
		reconfigRetry(t, all(), []string{line5}, nil, has(5))
		addrs[5] = addr5
		waitServing(5)
		step("added member 5; member 2 was killed during the change")
		must(t, e.Members[1].Start())
		waitServing(2)
		step("member 2 restarted")
		time.Sleep(time.Second)
		l := leaderID(t, addrs)
		reconfigRetry(t, all(), nil, []string{fmt.Sprint(l)}, hasNot(l))
		step(fmt.Sprintf("removed the leader, member %d", l))
		// A removed member is out of the ensemble: stopping it is what an
		// operator does next, and the final check then skips it.
		stopRemoved := func(id int) {
			if id <= 3 {
				harness.WaitFor(t, 30*time.Second, fmt.Sprintf("member %d says it was removed", id), func() bool {
					return strings.Contains(e.Members[id-1].LogTail(2000), "removed from the ensemble")
				})
				e.Members[id-1].Kill()
			}
			delete(addrs, id)
		}
		stopRemoved(l)
		time.Sleep(time.Second)
		second := 0
		for _, id := range []int{1, 2, 3} {
			if _, ok := addrs[id]; ok && id != leaderID(t, addrs) {
				second = id
				break
			}
		}
		reconfigRetry(t, all(), nil, []string{fmt.Sprint(second)}, hasNot(second))
		step(fmt.Sprintf("removed member %d", second))
		stopRemoved(second)
		time.Sleep(2 * time.Second)
	})
	// The members added by reconfig hold what the others hold.
	var want string
	for id, a := range addrs {
		c := connectZK(t, 6*time.Second, a)
		var got []string
		for k := 0; k < 3; k++ {
			p := fmt.Sprintf("/lin/r%d", k)
			if _, err := c.Sync(p); err != nil {
				t.Fatalf("member %d sync: %v", id, err)
			}
			d, _, err := c.Get(p)
			if err != nil {
				t.Fatalf("member %d get %s: %v", id, p, err)
			}
			got = append(got, string(d))
		}
		if want == "" {
			want = strings.Join(got, ",")
		} else if strings.Join(got, ",") != want {
			t.Fatalf("member %d holds %v, another %s", id, got, want)
		}
	}
	t.Logf("steps: %s", strings.Join(steps, "; "))
}
