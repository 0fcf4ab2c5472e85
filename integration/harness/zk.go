// Package cluster starts ensembles of real server processes on loopback for
// integration tests and benchmarks: Apache ZooKeeper 3.8 (the reference) or
// our quorum (`$ZKFC_BIN quorum --zoo-cfg FILE`), from the same zoo.cfg
// files. It can kill, stop and restart members and find the leader. It must
// never reach anything but 127.0.0.1.
package harness

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Backend names which server runs.
type Backend string

const (
	Apache Backend = "apache"
	Ours   Backend = "ours"
)

// Options shape the ensemble.
type Options struct {
	TickTime  time.Duration // default 2s
	Observers int           // the last Observers members are observers
	Extra     []string      // extra zoo.cfg lines
	JVMFlags  []string      // -D properties (java command line for Apache, SERVER_JVMFLAGS for ours)
	// StartTimeout bounds the wait for the ensemble to serve; default 90s.
	StartTimeout time.Duration
	// Proxied routes member-to-member traffic through a fault proxy per
	// directed pair, so tests can partition members (ours only: the
	// peer port is the only one members dial).
	Proxied bool
}

// Member is one server process.
type Member struct {
	ID                                 int
	ClientPort, PeerPort, ElectionPort int
	Dir, CfgPath, DataDir, LogPath     string
	Observer                           bool

	c      *Cluster
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// Cluster is an ensemble of members.
type Cluster struct {
	T       testing.TB
	Backend Backend
	Opts    Options
	Members []*Member
	// proxies[i][j] carries member i's traffic to member j (indexes).
	proxies  [][]*Proxy
	extraFor func(id int) []string
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Start writes an n-member ensemble's configuration, starts every member
// and waits until each answers requests. Members are killed when the test
// ends.
func Start(t testing.TB, b Backend, n int, opts Options) *Cluster {
	t.Helper()
	return StartPerMember(t, b, n, opts, nil, nil)
}

// StartPerMember is Start with extra zoo.cfg lines per member (extraFor,
// by member id; may be nil) and waiting only for the members listed in
// waitFor (all when nil): for tests in which some member must not join.
func StartPerMember(t testing.TB, b Backend, n int, opts Options, extraFor func(id int) []string, waitFor []int) *Cluster {
	t.Helper()
	if opts.TickTime == 0 {
		opts.TickTime = 2 * time.Second
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 90 * time.Second
	}
	if b == Ours && os.Getenv("ZKFC_BIN") == "" {
		t.Fatal("cluster: ZKFC_BIN is unset: run through `make test` or set ZKFC_BIN=$PWD/bin/zkfc after `make build`")
	}
	// Free ports are found by binding and closing; another process can take
	// one before a member binds it. Such a start is retried on fresh ports.
	var lastErr error
	for attempt := 1; attempt <= 3; attempt++ {
		c, err := startAttempt(t, b, n, opts, extraFor, waitFor)
		if err == nil {
			return c
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
		t.Logf("cluster: a port was taken meanwhile (%v); retrying on fresh ports", firstLine(err.Error()))
	}
	t.Fatal(lastErr)
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func startAttempt(t testing.TB, b Backend, n int, opts Options, extraFor func(id int) []string, waitFor []int) (*Cluster, error) {
	c := &Cluster{T: t, Backend: b, Opts: opts, extraFor: extraFor}
	base := t.TempDir()
	for i := 1; i <= n; i++ {
		m := &Member{ID: i, c: c, Observer: i > n-opts.Observers}
		var err error
		for _, p := range []*int{&m.ClientPort, &m.PeerPort, &m.ElectionPort} {
			if *p, err = freePort(); err != nil {
				return nil, err
			}
		}
		m.Dir = filepath.Join(base, fmt.Sprintf("m%d", i))
		m.CfgPath = filepath.Join(m.Dir, "zoo.cfg")
		m.DataDir = filepath.Join(m.Dir, "data")
		m.LogPath = filepath.Join(m.Dir, "server.log")
		c.Members = append(c.Members, m)
	}
	if opts.Proxied {
		c.proxies = make([][]*Proxy, n)
		for i := range c.Members {
			c.proxies[i] = make([]*Proxy, n)
			for j, to := range c.Members {
				if i == j {
					continue
				}
				p, err := StartProxy(fmt.Sprintf("127.0.0.1:%d", to.PeerPort))
				if err != nil {
					return nil, err
				}
				c.proxies[i][j] = p
				t.Cleanup(p.Close)
			}
		}
	}
	for _, m := range c.Members {
		if err := m.writeConfig(); err != nil {
			return nil, err
		}
	}
	t.Cleanup(func() {
		for _, m := range c.Members {
			if t.Failed() && m.Pid() != 0 {
				t.Logf("member %d (%s) log tail:\n%s", m.ID, b, m.LogTail(30))
			}
		}
		c.Kill()
	})
	for _, m := range c.Members {
		if err := m.launch(); err != nil {
			c.Kill()
			return nil, fmt.Errorf("start member %d: %w", m.ID, err)
		}
	}
	for _, m := range c.Members {
		if waitFor != nil && !contains(waitFor, m.ID) {
			continue
		}
		if err := m.WaitServing(opts.StartTimeout); err != nil {
			tail := m.LogTail(30)
			c.Kill()
			return nil, fmt.Errorf("member %d: %v\n%s", m.ID, err, tail)
		}
	}
	return c, nil
}

func contains(ids []int, id int) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func (m *Member) writeConfig() error {
	if err := os.MkdirAll(m.DataDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(m.DataDir, "myid"), []byte(strconv.Itoa(m.ID)+"\n"), 0o644); err != nil {
		return err
	}
	var b strings.Builder
	tick := m.c.Opts.TickTime.Milliseconds()
	fmt.Fprintf(&b, "tickTime=%d\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n",
		tick, m.DataDir, m.ClientPort)
	b.WriteString("admin.enableServer=false\n4lw.commands.whitelist=*\n")
	if m.Observer {
		b.WriteString("peerType=observer\n")
	}
	for j, o := range m.c.Members {
		suffix := ""
		if o.Observer {
			suffix = ":observer"
		}
		port := o.PeerPort
		if m.c.proxies != nil && o != m {
			port = m.c.proxies[m.ID-1][j].Port()
		}
		fmt.Fprintf(&b, "server.%d=127.0.0.1:%d:%d%s\n", o.ID, port, o.ElectionPort, suffix)
	}
	for _, l := range m.c.Opts.Extra {
		b.WriteString(l + "\n")
	}
	if m.c.extraFor != nil {
		for _, l := range m.c.extraFor(m.ID) {
			b.WriteString(l + "\n")
		}
	}
	return os.WriteFile(m.CfgPath, []byte(b.String()), 0o644)
}

func (m *Member) command() *exec.Cmd {
	if m.c.Backend == Apache {
		log4j := filepath.Join(m.Dir, "conf")
		_ = os.MkdirAll(log4j, 0o755)
		_ = os.WriteFile(filepath.Join(log4j, "log4j.properties"), []byte(
			"log4j.rootLogger=INFO, CONSOLE\nlog4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender\n"+
				"log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout\n"+
				"log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n\n"), 0o644)
		args := []string{heapFlag, "-cp", log4j + ":/usr/share/java/zookeeper.jar"}
		args = append(args, m.c.Opts.JVMFlags...)
		args = append(args, "org.apache.zookeeper.server.quorum.QuorumPeerMain", m.CfgPath)
		return exec.Command("java", args...)
	}
	cmd := exec.Command(os.Getenv("ZKFC_BIN"), "quorum", "--zoo-cfg", m.CfgPath)
	cmd.Env = append(os.Environ(), "SERVER_JVMFLAGS="+strings.Join(append([]string{heapFlag}, m.c.Opts.JVMFlags...), " "))
	return cmd
}

// heapFlag caps both servers' heaps alike: the JVM's maximum heap, and our
// server's soft memory limit (it reads -Xmx from SERVER_JVMFLAGS).
const heapFlag = "-Xmx512m"

func (m *Member) launch() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, err := os.OpenFile(m.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := m.command()
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); f.Close(); close(exited) }()
	m.cmd, m.exited = cmd, exited
	return nil
}

// Addr is the member's client address.
func (m *Member) Addr() string { return fmt.Sprintf("127.0.0.1:%d", m.ClientPort) }

// Kill kills every member (kill -9); members already stopped are left as
// they are.
func (c *Cluster) Kill() {
	for _, m := range c.Members {
		m.Kill()
	}
}

// Addrs lists every member's client address.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, m := range c.Members {
		out = append(out, m.Addr())
	}
	return out
}

// Running reports whether the member's process is alive.
func (m *Member) Running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.exited == nil {
		return false
	}
	select {
	case <-m.exited:
		return false
	default:
		return true
	}
}

// Pid is the member's process id, 0 when not running.
func (m *Member) Pid() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil || m.cmd.Process == nil {
		return 0
	}
	return m.cmd.Process.Pid
}

func (m *Member) signal(sig syscall.Signal, wait time.Duration) {
	m.mu.Lock()
	cmd, exited := m.cmd, m.exited
	m.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, sig)
	select {
	case <-exited:
	case <-time.After(wait):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
}

// Kill sends SIGKILL and waits for the process to be gone.
func (m *Member) Kill() { m.signal(syscall.SIGKILL, 10*time.Second) }

// Stop sends SIGTERM and waits (up to 20s, then SIGKILL).
func (m *Member) Stop() { m.signal(syscall.SIGTERM, 20*time.Second) }

// Pause freezes the process (SIGSTOP); Resume thaws it.
func (m *Member) Pause()  { m.sendOnly(syscall.SIGSTOP) }
func (m *Member) Resume() { m.sendOnly(syscall.SIGCONT) }

func (m *Member) sendOnly(sig syscall.Signal) {
	if pid := m.Pid(); pid != 0 {
		_ = syscall.Kill(-pid, sig)
	}
}

// Restart starts a stopped or killed member again from its data directory.
func (m *Member) Restart() error {
	if m.Running() {
		return fmt.Errorf("member %d is still running", m.ID)
	}
	return m.launch()
}

// FourLetter sends a four-letter word and returns the answer.
func FourLetter(addr, cmd string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte(cmd)); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

// Partition cuts member i (an index into Members) off from every other
// member: traffic both ways stops while connections stay open.
func (c *Cluster) Partition(i int) {
	for j := range c.Members {
		if j != i {
			c.proxies[i][j].Block()
			c.proxies[j][i].Block()
		}
	}
}

// Heal undoes Partition.
func (c *Cluster) Heal(i int) {
	for j := range c.Members {
		if j != i {
			c.proxies[i][j].Unblock()
			c.proxies[j][i].Unblock()
		}
	}
}

// Mode asks srvr for the member's mode: leader, follower, observer,
// standalone, or "" when it does not serve.
func (m *Member) Mode() string {
	out, err := FourLetter(m.Addr(), "srvr", 2*time.Second)
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Mode: "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// WaitServing waits until the member reports a serving mode.
func (m *Member) WaitServing(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if !m.Running() {
			return fmt.Errorf("process exited")
		}
		switch m.Mode() {
		case "leader", "follower", "observer", "standalone":
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not serving after %v", timeout)
}

// Leader returns the index in Members of the current leader, or -1.
func (c *Cluster) Leader() int {
	for i, m := range c.Members {
		if m.Running() && m.Mode() == "leader" {
			return i
		}
	}
	return -1
}

// WaitLeader waits until some running member leads.
func (c *Cluster) WaitLeader(timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if l := c.Leader(); l >= 0 {
			return l, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return -1, fmt.Errorf("no leader within %v", timeout)
}

// RSS is the member's resident memory in bytes (0 if unknown).
func (m *Member) RSS() int64 {
	pid := m.Pid()
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// LogTail returns the last n lines of the member's log.
func (m *Member) LogTail(n int) string {
	b, err := os.ReadFile(m.LogPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
