package harness

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/integration/jsonlog"
)

// killWait bounds the wait for a process to be reaped after SIGKILL. Only
// a process stuck in the kernel takes longer; it runs no more user code,
// and the test that started it is told rather than left hanging.
const killWait = 10 * time.Second

// Proc is one process a test started: its own process group (signals
// reach children it forks), output appended to LogPath, and one set of
// verbs. It can be started again after it ended.
type Proc struct {
	Name    string
	LogPath string
	Argv    []string
	Env     []string // the whole environment; nil inherits the test's
	Dir     string   // working directory; "" is the test's

	t    testing.TB // the test that started it, for Kill's report
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been reaped
}

// NewProc describes a process of test t without starting it: set Env or
// Dir, then Start. The caller kills it when the test ends.
func NewProc(t testing.TB, name, logPath string, argv ...string) *Proc {
	return &Proc{Name: name, LogPath: logPath, Argv: argv, t: t}
}

// InNetns is argv run inside network namespace ns, or argv itself when ns
// is "" (the host's). ip netns exec execs the command, so a Proc's pid is
// the process's own and its signals reach it.
func InNetns(ns string, argv ...string) []string {
	if ns == "" {
		return argv
	}
	return append([]string{"ip", "netns", "exec", ns}, argv...)
}

// StartProc starts argv as name with its output in logPath and kills it
// when the test ends, then fails the test for a JSON log line of its that
// carries a key twice (jsonlog). It fails the test if the process cannot
// start.
func StartProc(t testing.TB, name, logPath string, argv ...string) *Proc {
	t.Helper()
	p := NewProc(t, name, logPath, argv...)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Kill()
		jsonlog.CheckFile(t, p.LogPath)
	})
	return p
}

// Start starts the process (again, if it ran before and has ended).
func (p *Proc) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !closed(p.done) {
		return fmt.Errorf("start %s: still running as pid %d", p.Name, p.cmd.Process.Pid)
	}
	logf, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	cmd := exec.Command(p.Argv[0], p.Argv[1:]...)
	cmd.Env, cmd.Dir = p.Env, p.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// Pdeathsig: if the test binary itself dies (a go test -timeout, a
	// killed bench), its cleanups never run; the kernel then kills these.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: exec %s: %w", p.Name, cmd.Path, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	p.cmd, p.done = cmd, done
	return nil
}

func closed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// current is the last started command and its reaping channel (nil, nil
// before the first start).
func (p *Proc) current() (*exec.Cmd, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd, p.done
}

// signal sends sig to the process group of a running process.
func (p *Proc) signal(sig syscall.Signal) bool {
	cmd, done := p.current()
	if cmd == nil || closed(done) {
		return false
	}
	_ = syscall.Kill(-cmd.Process.Pid, sig)
	return true
}

// wait waits up to d for the process to be reaped; true if it was (or
// never ran).
func (p *Proc) wait(d time.Duration) bool {
	_, done := p.current()
	if done == nil || closed(done) {
		return true
	}
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// Terminate sends SIGTERM (and SIGCONT, so a frozen process gets it) and
// waits up to within for the process to exit. It reports whether it did;
// the caller decides what a process that ignores SIGTERM means, and Kill
// still ends it.
func (p *Proc) Terminate(within time.Duration) bool {
	if p.signal(syscall.SIGTERM) {
		p.signal(syscall.SIGCONT)
	}
	return p.wait(within)
}

// Kill sends SIGKILL to the process group (SIGCONT first, so a frozen
// process dies too), waits a bounded time for it to be reaped (failing
// the test that started it if it was not), and returns a time by which it
// was certainly dead: it ran no code after. A process that is not running
// is left as it is.
func (p *Proc) Kill() time.Time {
	if p.signal(syscall.SIGCONT) {
		p.signal(syscall.SIGKILL)
	}
	if !p.wait(killWait) && p.t != nil {
		p.t.Errorf("%s (pid %d) still running %s after SIGKILL", p.Name, p.Pid(), killWait)
	}
	return time.Now()
}

// Freeze stops the process group with SIGSTOP: it hangs, keeping its
// sockets open, as a process stalled by the machine would.
func (p *Proc) Freeze() { p.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen process group with SIGCONT.
func (p *Proc) Thaw() { p.signal(syscall.SIGCONT) }

// Running reports whether the process was started and has not ended.
func (p *Proc) Running() bool {
	cmd, done := p.current()
	return cmd != nil && !closed(done)
}

// Exited reports whether the process was started and has ended.
func (p *Proc) Exited() bool {
	cmd, done := p.current()
	return cmd != nil && closed(done)
}

// Pid is the process id, 0 when it is not running.
func (p *Proc) Pid() int {
	cmd, done := p.current()
	if cmd == nil || closed(done) {
		return 0
	}
	return cmd.Process.Pid
}

// ExitCode waits up to within for the process to end and returns its exit
// status and true; -1 for a death by signal. It returns false if the
// process still runs (or never ran).
func (p *Proc) ExitCode(within time.Duration) (int, bool) {
	cmd, _ := p.current()
	if cmd == nil || !p.wait(within) {
		return -1, false
	}
	return cmd.ProcessState.ExitCode(), true
}

// Log returns everything the process wrote.
func (p *Proc) Log() string { b, _ := os.ReadFile(p.LogPath); return string(b) }

// LogTail returns the last n lines of the log that do not contain skip
// ("" keeps every line), for failure messages.
func (p *Proc) LogTail(n int, skip string) string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return Tail(string(b), n, skip)
}

// Tail returns the last n lines of s that do not contain skip ("" keeps
// every line).
func Tail(s string, n int, skip string) string {
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if skip == "" || !strings.Contains(l, skip) {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
