package harness

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// state is the process state letter from /proc/<pid>/stat (R, S, T...).
func state(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return f[0]
}

func TestProcVerbs(t *testing.T) {
	dir := t.TempDir()
	p := StartProc(t, "sleeper", filepath.Join(dir, "sleeper.log"), "/bin/sleep", "60")
	pid := p.Pid()
	if pid == 0 || !p.Running() || p.Exited() {
		t.Fatalf("started: pid %d running %v exited %v", pid, p.Running(), p.Exited())
	}
	p.Freeze()
	WaitFor(t, 10*time.Second, "SIGSTOP to take effect", func() bool { return state(t, pid) == "T" })
	p.Thaw()
	WaitFor(t, 10*time.Second, "SIGCONT to take effect", func() bool { return state(t, pid) != "T" })
	if !p.Terminate(10 * time.Second) {
		t.Fatal("sleep outlived SIGTERM")
	}
	if code, ok := p.ExitCode(0); !ok || code != -1 {
		t.Fatalf("exit after SIGTERM: code %d ok %v, want -1 (a signal) true", code, ok)
	}

	// A process that ignores SIGTERM: Terminate reports it, Kill ends it,
	// frozen or not, and the process can be started again.
	stubborn := StartProc(t, "stubborn", filepath.Join(dir, "stubborn.log"),
		"/bin/sh", "-c", `trap "" TERM; echo ready; while :; do sleep 0.05; done`)
	WaitFor(t, 10*time.Second, "the trap to be set", func() bool { return strings.Contains(stubborn.Log(), "ready") })
	if stubborn.Terminate(300 * time.Millisecond) {
		t.Fatal("Terminate reported an exit of a process that ignores SIGTERM")
	}
	stubborn.Freeze()
	before := time.Now()
	if dead := stubborn.Kill(); dead.Before(before) || stubborn.Running() || stubborn.Pid() != 0 {
		t.Fatalf("after Kill: running %v pid %d", stubborn.Running(), stubborn.Pid())
	}
	if err := stubborn.Start(); err != nil {
		t.Fatal(err)
	}
	if err := stubborn.Start(); err == nil {
		t.Fatal("a second Start of a running process succeeded")
	}
	stubborn.Kill()
	if _, ok := stubborn.ExitCode(10 * time.Second); !ok {
		t.Fatal("killed process not reaped")
	}
}
