// Package proctest holds the test helpers that prove a command's children
// died with it: the command records a child's pid in a file, the test reads
// it and waits, bounded, for that process to be gone.
package proctest

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ReadPID reads the pid a command wrote to path.
func ReadPID(t testing.TB, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the command did not record its child: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file %q: %v", b, err)
	}
	return pid
}

// WaitGone waits up to 10s for pid to be gone or a zombie (a zombie is dead
// and only waits for its new parent to reap it), and fails the test, after
// killing the process, when it still runs.
func WaitGone(t testing.TB, pid int) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if !Alive(pid) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	t.Fatalf("process %d still running, want it killed with its command", pid)
}

// Alive reports whether pid runs: it exists and is not a zombie.
func Alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(stat)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z"
}
