// Package zkenv starts ZooKeeper-compatible servers on loopback for
// integration tests: the real Apache ZooKeeper 3.8 (the reference) and our
// own `zkfc quorum`, from the same zoo.cfg, behind the same *Server handle.
// It also runs the client tools (kazoo scripts, zkCli.sh) with deadlines and
// speaks the raw wire protocol for requests the Go client cannot send.
//
// It must never bind anything but 127.0.0.1, never leave a process behind a
// finished test, and never wait without a deadline.
package zkenv

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/integration/jsonlog"
)

// Paths of the Debian zookeeper package; tests assume it is installed.
const (
	ZooKeeperJar = "/usr/share/java/zookeeper.jar"
	ZkCliPath    = "/usr/share/zookeeper/bin/zkCli.sh"
	PythonPath   = "/usr/bin/python3"
	javaPath     = "/usr/bin/java"
)

// Backend names the implementation behind a Server.
type Backend string

const (
	Apache Backend = "apache"
	Ours   Backend = "ours"
)

// Options shape the zoo.cfg and the process environment of a server.
type Options struct {
	// TickTime defaults to 2s, as in the stock zoo.cfg. Session timeouts are
	// clamped to [2, 20] ticks unless Extra sets min/maxSessionTimeout.
	TickTime time.Duration
	// Extra lines appended verbatim to zoo.cfg (e.g. "extendedTypesEnabled=true").
	Extra []string
	// JVMFlags are ZooKeeper's -D system properties. Apache gets them on the
	// java command line, ours in SERVER_JVMFLAGS, as zkServer.sh would pass them.
	JVMFlags []string
	// Members is the ensemble size for StartApacheEnsemble/StartOursEnsemble
	// (default 3); StartApache/StartOurs are standalone and refuse Members > 1.
	Members int
	// StartTimeout bounds the wait for ruok → imok; default 60s (a JVM on a
	// busy 2-core machine can take a while).
	StartTimeout time.Duration
}

// Server is one running (or stopped) server process bound to 127.0.0.1.
type Server struct {
	t       testing.TB
	backend Backend
	opts    Options
	dir     string // per-server temp dir: zoo.cfg, data/, server.log
	cfgPath string
	dataDir string
	logPath string
	port    int
	myid    int      // 1 for standalone; the member id in an ensemble
	peers   []string // server.N lines; empty for standalone
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has been reaped
	exitErr error
}

// StartApache starts Apache ZooKeeper 3.8 standalone and waits until it
// answers ruok and serves requests. The process is killed when the test ends.
func StartApache(t testing.TB, opts Options) *Server {
	t.Helper()
	return start(t, Apache, opts)
}

// StartOurs starts `$ZKFC_BIN quorum --zoo-cfg FILE` with the same zoo.cfg
// StartApache would write. It fails the test when ZKFC_BIN is unset.
func StartOurs(t testing.TB, opts Options) *Server {
	t.Helper()
	requireZkfcBin(t)
	return start(t, Ours, opts)
}

func requireZkfcBin(t testing.TB) {
	t.Helper()
	if os.Getenv("ZKFC_BIN") == "" {
		t.Fatalf("zkenv: ZKFC_BIN is unset: build the server with `make build` and run with ZKFC_BIN=$PWD/bin/zkfc (make test/integration do this)")
	}
}

func start(t testing.TB, b Backend, opts Options) *Server {
	t.Helper()
	if opts.Members > 1 {
		t.Fatalf("zkenv: Members=%d: use StartApacheEnsemble/StartOursEnsemble for ensembles", opts.Members)
	}
	members := startMembers(t, b, opts, 1)
	return members[0]
}

// startMembers writes the configs of n members (n == 1: standalone), starts
// every process, and only then waits for each to serve: an ensemble member
// serves only once a quorum has formed.
func startMembers(t testing.TB, b Backend, opts Options, n int) []*Server {
	t.Helper()
	if opts.TickTime == 0 {
		opts.TickTime = 2 * time.Second
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 60 * time.Second
	}
	members := make([]*Server, n)
	var peers []string
	for i := range members {
		dir := t.TempDir()
		s := &Server{t: t, backend: b, opts: opts, dir: dir, myid: i + 1,
			cfgPath: filepath.Join(dir, "zoo.cfg"),
			dataDir: filepath.Join(dir, "data"),
			logPath: filepath.Join(dir, "server.log"),
		}
		if err := os.MkdirAll(s.dataDir, 0o755); err != nil {
			t.Fatalf("zkenv: %v", err)
		}
		ports := make([]int, 3) // client, quorum, election
		for j := range ports {
			if n == 1 && j > 0 {
				break
			}
			p, err := FreePort()
			if err != nil {
				t.Fatalf("zkenv: %v", err)
			}
			ports[j] = p
		}
		s.port = ports[0]
		if n > 1 {
			peers = append(peers, fmt.Sprintf("server.%d=127.0.0.1:%d:%d", i+1, ports[1], ports[2]))
		}
		members[i] = s
	}
	for _, s := range members {
		s.peers = peers
		if err := s.writeConfig(); err != nil {
			t.Fatalf("zkenv: %v", err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("%s server %d log tail (%s):\n%s", s.backend, s.myid, s.logPath, s.LogTail(40))
			}
			s.Kill()
			s.keepLog()
			jsonlog.CheckFile(t, s.logPath)
		})
	}
	for _, s := range members {
		if err := s.startProcess(); err != nil {
			t.Fatalf("zkenv: start %s: %v\nlog tail:\n%s", b, err, s.LogTail(40))
		}
	}
	for _, s := range members {
		if err := s.waitReady(); err != nil {
			t.Fatalf("zkenv: start %s member %d: %v\nlog tail:\n%s", b, s.myid, err, s.LogTail(40))
		}
	}
	return members
}

// FreePort asks the kernel for an unused 127.0.0.1 TCP port. Another process
// could take it before the server binds it; on a test machine that is rare
// enough, and a start failure then names the port in the log tail.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) writeConfig() error {
	var b strings.Builder
	fmt.Fprintf(&b, "tickTime=%d\n", s.opts.TickTime.Milliseconds())
	fmt.Fprintf(&b, "dataDir=%s\n", s.dataDir)
	fmt.Fprintf(&b, "clientPort=%d\n", s.port)
	b.WriteString("clientPortAddress=127.0.0.1\n")
	b.WriteString("admin.enableServer=false\n")
	b.WriteString("4lw.commands.whitelist=*\n")
	if len(s.peers) > 0 {
		b.WriteString("initLimit=10\nsyncLimit=5\n")
		for _, p := range s.peers {
			b.WriteString(p + "\n")
		}
		myid := filepath.Join(s.dataDir, "myid")
		if err := os.WriteFile(myid, []byte(fmt.Sprintf("%d\n", s.myid)), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", myid, err)
		}
	}
	for _, l := range s.opts.Extra {
		b.WriteString(l + "\n")
	}
	if err := os.WriteFile(s.cfgPath, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", s.cfgPath, err)
	}
	// Apache's jar ships only slf4j-api (no binding), so logging goes to a
	// NOP logger; the properties file is there for builds that have log4j.
	props := "log4j.rootLogger=INFO, CONSOLE\n" +
		"log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender\n" +
		"log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout\n" +
		"log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} %-5p [%t] %m%n\n"
	p := filepath.Join(s.dir, "log4j.properties")
	if err := os.WriteFile(p, []byte(props), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

func (s *Server) command() *exec.Cmd {
	switch s.backend {
	case Apache:
		args := []string{"-Xmx256m", "-XX:+UseSerialGC", "-cp", s.dir + ":" + ZooKeeperJar}
		args = append(args, s.opts.JVMFlags...)
		args = append(args, "org.apache.zookeeper.server.quorum.QuorumPeerMain", s.cfgPath)
		return exec.Command(javaPath, args...)
	default:
		cmd := exec.Command(os.Getenv("ZKFC_BIN"), "quorum", "--zoo-cfg", s.cfgPath)
		cmd.Env = append(os.Environ(), "SERVER_JVMFLAGS="+strings.Join(s.opts.JVMFlags, " "))
		return cmd
	}
}

// launch starts the process and waits until it serves.
func (s *Server) launch() error {
	if err := s.startProcess(); err != nil {
		return err
	}
	return s.waitReady()
}

// startProcess starts the server process with its output appended to the log.
func (s *Server) startProcess() error {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	cmd := s.command()
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	fmt.Fprintf(logf, "=== zkenv: %s\n", strings.Join(cmd.Args, " "))
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("exec %s: %w", cmd.Path, err)
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	go func(exited chan struct{}) {
		s.exitErr = cmd.Wait()
		logf.Close()
		close(exited)
	}(s.exited)
	return nil
}

func (s *Server) waitReady() error {
	deadline := time.Now().Add(s.opts.StartTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("%s server exited before serving: %v", s.backend, s.exitErr)
		default:
		}
		// ruok only says the process is up; Apache answers imok before its
		// ZooKeeperServer runs and closes client connections until then, so
		// srvr must also stop saying "not currently serving requests".
		out, err := FourLetterWord(s.Addr(), "ruok", 2*time.Second)
		if err == nil && out == "imok" {
			out, err = FourLetterWord(s.Addr(), "srvr", 2*time.Second)
			if err == nil && !strings.Contains(out, "not currently serving") {
				return nil
			}
		}
		if err == nil {
			err = fmt.Errorf("not serving yet, last answer %q", out)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s server on %s not ready after %v: %v", s.backend, s.Addr(), s.opts.StartTimeout, last)
}

// Standalone reports whether the server runs without peers.
func (s *Server) Standalone() bool { return len(s.peers) == 0 }

// MyID is the member's id (1 for a standalone server).
func (s *Server) MyID() int { return s.myid }

// Mode is the "Mode:" line of srvr: standalone, leader, follower or
// observer; "" when the server does not serve.
func (s *Server) Mode() string {
	out, err := s.FourLetterWord("srvr")
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

// Backend reports which implementation runs behind s.
func (s *Server) Backend() Backend { return s.backend }

// Addr is the client address, "127.0.0.1:port".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// DataDir is the server's dataDir from zoo.cfg.
func (s *Server) DataDir() string { return s.dataDir }

// ConfigPath is the zoo.cfg the server runs with.
func (s *Server) ConfigPath() string { return s.cfgPath }

// LogPath is the file that captures the server's stdout and stderr.
func (s *Server) LogPath() string { return s.logPath }

// Pid is the server's process id, 0 when it is not running.
func (s *Server) Pid() int {
	if !s.Running() {
		return 0
	}
	return s.cmd.Process.Pid
}

// Running reports whether the process has been started and not reaped.
func (s *Server) Running() bool {
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// Kill sends SIGKILL to the server's process group and waits for it to be
// reaped. It is a no-op on a stopped server.
func (s *Server) Kill() {
	s.signalAndWait(syscall.SIGKILL, 10*time.Second)
}

// Stop sends SIGTERM and waits up to 20s for a clean exit, then kills.
func (s *Server) Stop() {
	if !s.signalAndWait(syscall.SIGTERM, 20*time.Second) {
		s.Kill()
	}
}

func (s *Server) signalAndWait(sig syscall.Signal, wait time.Duration) bool {
	if !s.Running() {
		return true
	}
	// The negative pid reaches children a wrapper might have started.
	_ = syscall.Kill(-s.cmd.Process.Pid, sig)
	select {
	case <-s.exited:
		return true
	case <-time.After(wait):
		return false
	}
}

// Restart stops the server (SIGTERM) and starts it again on the same port
// with the same zoo.cfg and dataDir, waiting for readiness.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	if err := s.launch(); err != nil {
		s.t.Fatalf("zkenv: restart %s: %v\nlog tail:\n%s", s.backend, err, s.LogTail(40))
	}
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
func (s *Server) LogTail(n int) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
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

// FourLetterWord sends word to this server.
func (s *Server) FourLetterWord(word string) (string, error) {
	return FourLetterWord(s.Addr(), word, 5*time.Second)
}

// keepLog copies the server's log into $ZKENV_KEEP_LOGS (when set) before
// the test's temporary directory goes, for reading after a run.
func (s *Server) keepLog() {
	dir := os.Getenv("ZKENV_KEEP_LOGS")
	if dir == "" {
		return
	}
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return
	}
	name := fmt.Sprintf("%s-%s-%d-%d.log", strings.ReplaceAll(s.t.Name(), "/", "_"), s.backend, s.myid, time.Now().UnixNano())
	if err := os.MkdirAll(dir, 0o755); err == nil {
		_ = os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
}
