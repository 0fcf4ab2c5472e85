package harness

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/integration/jsonlog"
)

// Paths of the Debian zookeeper package, the reference server.
const (
	ZooKeeperJar = "/usr/share/java/zookeeper.jar"
	javaPath     = "/usr/bin/java"
)

// Backend names the implementation behind a Server.
type Backend string

const (
	Apache Backend = "apache"
	Ours   Backend = "ours"
)

// Options shape the zoo.cfg files and the processes of a start.
type Options struct {
	// TickTime defaults to 2s, as in the stock zoo.cfg. Session timeouts are
	// clamped to [2, 20] ticks unless Extra sets min/maxSessionTimeout.
	TickTime time.Duration
	// Observers: the last Observers members of an ensemble are observers.
	Observers int
	// Extra lines appended verbatim to every zoo.cfg; ExtraFor (may be nil)
	// adds lines for one member, by id.
	Extra    []string
	ExtraFor func(id int) []string
	// JVMFlags are ZooKeeper's -D system properties. Apache gets them on the
	// java command line, ours in SERVER_JVMFLAGS, as zkServer.sh passes them.
	JVMFlags []string
	// JavaOpts are Apache's other JVM flags; default -Xmx256m and
	// -XX:+UseSerialGC (one GC thread on a shared 2-core machine). Ours
	// takes the -Xmx among them as its soft memory limit, so a heap cap
	// applies to both servers alike.
	JavaOpts []string
	// StartTimeout bounds the wait for each member to serve; default 90s (a
	// JVM on a busy 2-core machine can take a while).
	StartTimeout time.Duration
	// WaitFor lists the member ids to wait for (all when nil): for tests in
	// which some member must not join.
	WaitFor []int
	// SecureClientOnly makes the client port TLS from the first byte
	// (secureClientPort, Netty) with no plain port beside it; the ssl.*
	// keys go in Extra, and Ready must say when the server serves, since
	// srvr cannot be asked.
	SecureClientOnly bool
	// Ready, when set, replaces the srvr check of WaitServing: it reports
	// whether the server at addr serves.
	Ready func(addr string) bool
	// Classpath replaces Apache's classpath (default: the zoo.cfg's
	// directory, for log4j.properties, and ZooKeeperJar).
	Classpath string
	// Proxied routes member-to-member traffic through a Proxy per directed
	// pair, so tests can partition members (ours only: the peer port is the
	// only one members dial).
	Proxied bool
	// Place, when set, puts member id at ip (its listeners bind there and
	// the server.N lines name it) inside network namespace netns ("" for
	// the host's; the process runs under `ip netns exec`). The test owns
	// the namespace and its addresses (drill.NewNetns). Default: 127.0.0.1
	// on the host. Not with Proxied, whose proxies listen on loopback.
	Place func(id int) (ip, netns string)
}

// Server is one server process bound to one address (127.0.0.1 unless
// Options.Place says otherwise): standalone, or one member of an Ensemble.
type Server struct {
	ID                                 int // myid; 1 for a standalone server
	Backend                            Backend
	IP                                 string // every listener binds here
	Netns                              string // network namespace, "" for the host's
	ClientPort, PeerPort, ElectionPort int    // peer and election 0 when standalone
	Dir, CfgPath, DataDir, LogPath     string
	Observer                           bool

	t    testing.TB
	e    *Ensemble
	proc *Proc
}

// Ensemble is a group of servers of one backend started together. A
// standalone server is an Ensemble of one without peers.
type Ensemble struct {
	T          testing.TB
	Backend    Backend
	Opts       Options
	Members    []*Server
	standalone bool
	// proxies[i][j] carries member i's traffic to member j (indexes).
	proxies [][]*Proxy
}

func requireZkfcBin(t testing.TB) {
	t.Helper()
	if os.Getenv("ZKFC_BIN") == "" {
		t.Fatal("harness: ZKFC_BIN is unset: build the server with `make build` and run with ZKFC_BIN=$PWD/bin/zkfc (make test/integration do this)")
	}
}

// StartServer starts one standalone server (no server.N lines) and waits
// until it serves. It is killed when the test ends.
func StartServer(t testing.TB, b Backend, opts Options) *Server {
	t.Helper()
	return start(t, b, 1, true, opts).Members[0]
}

// StartApache is StartServer for Apache ZooKeeper.
func StartApache(t testing.TB, opts Options) *Server {
	t.Helper()
	return StartServer(t, Apache, opts)
}

// StartOurs is StartServer for `$ZKFC_BIN quorum`.
func StartOurs(t testing.TB, opts Options) *Server {
	t.Helper()
	return StartServer(t, Ours, opts)
}

// StartEnsemble writes an n-member ensemble's configuration (n may be 1:
// a one-member ensemble, unlike a standalone server), starts every member
// and only then waits for each to serve: a member serves only once a
// quorum has formed. Members are killed when the test ends.
func StartEnsemble(t testing.TB, b Backend, n int, opts Options) *Ensemble {
	t.Helper()
	return start(t, b, n, false, opts)
}

func start(t testing.TB, b Backend, n int, standalone bool, opts Options) *Ensemble {
	t.Helper()
	if opts.TickTime == 0 {
		opts.TickTime = 2 * time.Second
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 90 * time.Second
	}
	if opts.JavaOpts == nil {
		opts.JavaOpts = []string{"-Xmx256m", "-XX:+UseSerialGC"}
	}
	if b == Ours {
		requireZkfcBin(t)
	}
	if opts.Place != nil && opts.Proxied {
		t.Fatal("harness: Options.Place and Options.Proxied do not go together: the proxies listen on loopback")
	}
	// Free ports are found by binding and closing; another process can take
	// one before a member binds it. Such a start is retried on fresh ports.
	var lastErr error
	for attempt := 1; attempt <= 3; attempt++ {
		e, err := startAttempt(t, b, n, standalone, opts)
		if err == nil {
			return e
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
		t.Logf("harness: a port was taken meanwhile (%v); retrying on fresh ports", firstLine(err.Error()))
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

func startAttempt(t testing.TB, b Backend, n int, standalone bool, opts Options) (*Ensemble, error) {
	e := &Ensemble{T: t, Backend: b, Opts: opts, standalone: standalone}
	base := t.TempDir()
	for i := 1; i <= n; i++ {
		s := &Server{ID: i, Backend: b, t: t, e: e, Observer: i > n-opts.Observers, ClientPort: FreePort(t), IP: "127.0.0.1"}
		if opts.Place != nil {
			s.IP, s.Netns = opts.Place(i)
		}
		if !standalone {
			s.PeerPort, s.ElectionPort = FreePort(t), FreePort(t)
		}
		s.Dir = filepath.Join(base, fmt.Sprintf("m%d", i))
		s.CfgPath = filepath.Join(s.Dir, "zoo.cfg")
		s.DataDir = filepath.Join(s.Dir, "data")
		s.LogPath = filepath.Join(s.Dir, "server.log")
		s.proc = NewProc(t, fmt.Sprintf("%s server %d", b, i), s.LogPath)
		s.proc.Dir = s.Dir
		e.Members = append(e.Members, s)
	}
	if opts.Proxied {
		e.proxies = make([][]*Proxy, n)
		for i := range e.Members {
			e.proxies[i] = make([]*Proxy, n)
			for j, to := range e.Members {
				if i == j {
					continue
				}
				p, err := StartProxy(fmt.Sprintf("127.0.0.1:%d", to.PeerPort))
				if err != nil {
					return nil, err
				}
				e.proxies[i][j] = p
				t.Cleanup(p.Close)
			}
		}
	}
	for _, s := range e.Members {
		if err := s.writeConfig(); err != nil {
			return nil, err
		}
		s.proc.Argv, s.proc.Env = s.command()
	}
	t.Cleanup(func() {
		for _, s := range e.Members {
			if t.Failed() && s.Running() {
				t.Logf("%s server %d log tail (%s):\n%s", b, s.ID, s.LogPath, s.LogTail(40))
			}
		}
		e.Kill()
		for _, s := range e.Members {
			s.keepLog()
			jsonlog.CheckFile(t, s.LogPath)
		}
	})
	for _, s := range e.Members {
		if err := s.proc.Start(); err != nil {
			e.Kill()
			return nil, err
		}
	}
	for _, s := range e.Members {
		if opts.WaitFor != nil && !contains(opts.WaitFor, s.ID) {
			continue
		}
		if err := s.WaitServing(opts.StartTimeout); err != nil {
			tail := s.LogTail(40)
			e.Kill()
			return nil, fmt.Errorf("%s server %d: %v\nlog tail:\n%s", b, s.ID, err, tail)
		}
	}
	return e, nil
}

func contains(ids []int, id int) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func (s *Server) writeConfig() error {
	if err := os.MkdirAll(s.DataDir, 0o755); err != nil {
		return err
	}
	e := s.e
	var b strings.Builder
	fmt.Fprintf(&b, "tickTime=%d\ndataDir=%s\n", e.Opts.TickTime.Milliseconds(), s.DataDir)
	if e.Opts.SecureClientOnly {
		fmt.Fprintf(&b, "secureClientPort=%d\nsecureClientPortAddress=%s\n", s.ClientPort, s.IP)
		b.WriteString("serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n")
	} else {
		fmt.Fprintf(&b, "clientPort=%d\nclientPortAddress=%s\n", s.ClientPort, s.IP)
	}
	b.WriteString("admin.enableServer=false\n4lw.commands.whitelist=*\n")
	if !e.standalone {
		myid := filepath.Join(s.DataDir, "myid")
		if err := os.WriteFile(myid, []byte(strconv.Itoa(s.ID)+"\n"), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", myid, err)
		}
		b.WriteString("initLimit=10\nsyncLimit=5\n")
		if s.Observer {
			b.WriteString("peerType=observer\n")
		}
		for j, o := range e.Members {
			suffix := ""
			if o.Observer {
				suffix = ":observer"
			}
			ip, port := o.IP, o.PeerPort
			if e.proxies != nil && o != s {
				port = e.proxies[s.ID-1][j].Port()
			}
			fmt.Fprintf(&b, "server.%d=%s:%d:%d%s\n", o.ID, ip, port, o.ElectionPort, suffix)
		}
	}
	for _, l := range e.Opts.Extra {
		b.WriteString(l + "\n")
	}
	if e.Opts.ExtraFor != nil {
		for _, l := range e.Opts.ExtraFor(s.ID) {
			b.WriteString(l + "\n")
		}
	}
	if err := os.WriteFile(s.CfgPath, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", s.CfgPath, err)
	}
	// Apache's jar ships only slf4j-api (no binding), so logging goes to a
	// NOP logger; the properties file is there for builds that have log4j.
	props := "log4j.rootLogger=INFO, CONSOLE\n" +
		"log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender\n" +
		"log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout\n" +
		"log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} [myid:%X{myid}] %-5p [%t] %m%n\n"
	p := filepath.Join(s.Dir, "log4j.properties")
	if err := os.WriteFile(p, []byte(props), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

// command is the server's argv and environment, under `ip netns exec`
// (which execs it: the pid is the server's) when it has a namespace.
func (s *Server) command() ([]string, []string) {
	argv, env := s.serverCommand()
	return InNetns(s.Netns, argv...), env
}

func (s *Server) serverCommand() ([]string, []string) {
	o := s.e.Opts
	if s.Backend == Apache {
		argv := append([]string{javaPath}, o.JavaOpts...)
		cp := o.Classpath
		if cp == "" {
			cp = s.Dir + ":" + ZooKeeperJar
		}
		argv = append(argv, "-cp", cp)
		argv = append(argv, o.JVMFlags...)
		return append(argv, "org.apache.zookeeper.server.quorum.QuorumPeerMain", s.CfgPath), nil
	}
	var flags []string
	for _, f := range o.JavaOpts {
		if strings.HasPrefix(f, "-Xmx") {
			flags = append(flags, f)
		}
	}
	flags = append(flags, o.JVMFlags...)
	env := append(os.Environ(), "SERVER_JVMFLAGS="+strings.Join(flags, " "))
	return []string{os.Getenv("ZKFC_BIN"), "quorum", "--zoo-cfg", s.CfgPath}, env
}

// Addr is the client address, "ip:port".
func (s *Server) Addr() string { return net.JoinHostPort(s.IP, strconv.Itoa(s.ClientPort)) }

// Standalone reports whether the server runs without peers.
func (s *Server) Standalone() bool { return s.e.standalone }

// Running reports whether the process has been started and not reaped.
func (s *Server) Running() bool { return s.proc.Running() }

// Pid is the server's process id, 0 when it is not running.
func (s *Server) Pid() int { return s.proc.Pid() }

// Kill sends SIGKILL and waits (bounded) for the process to be gone. A
// stopped server is left as it is.
func (s *Server) Kill() { s.proc.Kill() }

// Terminate sends SIGTERM and waits up to 20s for a clean exit, then kills.
func (s *Server) Terminate() {
	if !s.proc.Terminate(20 * time.Second) {
		s.proc.Kill()
	}
}

// Freeze stops the server with SIGSTOP: its connections hang as in a
// partition. Thaw resumes it.
func (s *Server) Freeze() { s.proc.Freeze() }

// Thaw resumes a frozen server.
func (s *Server) Thaw() { s.proc.Thaw() }

// Start starts a terminated or killed server again on the same ports,
// zoo.cfg and dataDir. It does not wait for it to serve (a member serves
// only with a quorum): call WaitServing.
func (s *Server) Start() error {
	if s.Running() {
		return fmt.Errorf("%s server %d is still running", s.Backend, s.ID)
	}
	return s.proc.Start()
}

// Mode is the "Mode:" line of srvr: standalone, leader, follower or
// observer; "" when the server does not serve.
func (s *Server) Mode() string {
	out, err := FourLetterWord(s.Addr(), "srvr", 2*time.Second)
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(out, "\n") {
		if m, ok := strings.CutPrefix(l, "Mode: "); ok {
			return strings.TrimSpace(m)
		}
	}
	return ""
}

// WaitServing waits up to timeout for the server to report a serving mode.
// Apache answers ruok before it serves; srvr names a mode only once it does.
func (s *Server) WaitServing(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if !s.Running() {
			return errors.New("process exited")
		}
		if ready := s.e.Opts.Ready; ready != nil {
			if ready(s.Addr()) {
				return nil
			}
		} else {
			switch s.Mode() {
			case "leader", "follower", "observer", "standalone":
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not serving on %s after %v", s.Addr(), timeout)
}

// FourLetterWord sends word to this server.
func (s *Server) FourLetterWord(word string) (string, error) {
	return FourLetterWord(s.Addr(), word, 5*time.Second)
}

// RSS is the server's resident set size in bytes, read from /proc.
func (s *Server) RSS() (int64, error) {
	pid := s.Pid()
	if pid == 0 {
		return 0, errors.New("server not running")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read rss: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse VmRSS %q: %w", sc.Text(), err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// LogTail returns the last n lines of the server log.
func (s *Server) LogTail(n int) string { return s.proc.LogTail(n, "") }

// keepLog copies the server's log into $ZKENV_KEEP_LOGS (when set) before
// the test's temporary directory goes, for reading after a run.
func (s *Server) keepLog() {
	dir := os.Getenv("ZKENV_KEEP_LOGS")
	if dir == "" {
		return
	}
	b, err := os.ReadFile(s.LogPath)
	if err != nil {
		return
	}
	name := fmt.Sprintf("%s-%s-%d-%d.log", strings.ReplaceAll(s.t.Name(), "/", "_"), s.Backend, s.ID, time.Now().UnixNano())
	if err := os.MkdirAll(dir, 0o755); err == nil {
		_ = os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
}

// Kill kills every member; members already stopped are left as they are.
func (e *Ensemble) Kill() {
	for _, s := range e.Members {
		s.Kill()
	}
}

// WaitServing waits, member by member and up to timeout for each, until
// every member serves; the error names the first that does not, with the
// tail of its log.
func (e *Ensemble) WaitServing(timeout time.Duration) error {
	for _, s := range e.Members {
		if err := s.WaitServing(timeout); err != nil {
			return fmt.Errorf("%s server %d: %w\nlog tail:\n%s", s.Backend, s.ID, err, s.LogTail(20))
		}
	}
	return nil
}

// Addrs are the members' client addresses in id order.
func (e *Ensemble) Addrs() []string {
	out := make([]string, len(e.Members))
	for i, s := range e.Members {
		out[i] = s.Addr()
	}
	return out
}

// ConnectString is "host:port,host:port,..." of every member.
func (e *Ensemble) ConnectString() string { return strings.Join(e.Addrs(), ",") }

// Partition cuts member i (an index into Members) off from every other
// member: traffic both ways stops while connections stay open. The
// ensemble must have been started with Options.Proxied.
func (e *Ensemble) Partition(i int) {
	for j := range e.Members {
		if j != i {
			e.proxies[i][j].Block()
			e.proxies[j][i].Block()
		}
	}
}

// Heal undoes Partition.
func (e *Ensemble) Heal(i int) {
	for j := range e.Members {
		if j != i {
			e.proxies[i][j].Unblock()
			e.proxies[j][i].Unblock()
		}
	}
}

// Leader returns the index in Members of a running member that reports
// Mode: leader, or -1.
func (e *Ensemble) Leader() int {
	for i, s := range e.Members {
		if s.Running() && s.Mode() == "leader" {
			return i
		}
	}
	return -1
}

// WaitLeader waits up to timeout for a running member to lead and returns
// its index.
func (e *Ensemble) WaitLeader(timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if l := e.Leader(); l >= 0 {
			return l, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return -1, fmt.Errorf("no leader within %v", timeout)
}

// FourLetterWord sends a four-letter word on a fresh connection and returns
// everything the server wrote before closing it, trimmed of surrounding space.
func FourLetterWord(addr, word string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", fmt.Errorf("4lw %s: %w", word, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte(word)); err != nil {
		return "", fmt.Errorf("4lw %s: write: %w", word, err)
	}
	var out bytes.Buffer
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return out.String(), fmt.Errorf("4lw %s: server did not close the connection within %v", word, timeout)
			}
			break
		}
		if out.Len() > 1<<20 {
			return "", fmt.Errorf("4lw %s: answer over 1 MiB", word)
		}
	}
	return strings.TrimSpace(out.String()), nil
}
