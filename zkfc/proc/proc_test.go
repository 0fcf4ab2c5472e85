package proc

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/zkfc/proc/proctest"
)

// childCmd is a shell that starts a sleeping child, records its pid, then
// runs tail ("wait" to outlive ctx, "exit 0" to leave the child behind).
func childCmd(t *testing.T, tail string) (*exec.Cmd, string) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	cmd := exec.Command("/bin/sh", "-c", `sleep 30 & echo $! > "$PIDFILE"; `+tail)
	cmd.Env = []string{"PIDFILE=" + pidFile}
	return cmd, pidFile
}

// The deadline kills the whole group, the shell's child too, with Run and
// RunAll alike.
func TestDeadlineKillsGroup(t *testing.T) {
	for name, run := range map[string]func(context.Context, *exec.Cmd) error{"Run": Run, "RunAll": RunAll} {
		t.Run(name, func(t *testing.T) {
			cmd, pidFile := childCmd(t, "wait")
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			if err := run(ctx, cmd); err == nil {
				t.Fatal("a command killed at its deadline reported success")
			}
			proctest.WaitGone(t, proctest.ReadPID(t, pidFile))
		})
	}
}

// RunAll kills what a command left behind; its exit status still counts,
// even when the straggler held the output pipe past the wait delay.
func TestRunAllKillsStragglers(t *testing.T) {
	cmd, pidFile := childCmd(t, "exit 0")
	out, err := Combined(context.Background(), cmd, 100)
	if err != nil {
		t.Fatalf("Combined: %v (output %q), want the command's own success", err, out)
	}
	proctest.WaitGone(t, proctest.ReadPID(t, pidFile))
}

// Run leaves a command's children alone once it exited: a promote script
// may start the service itself.
func TestRunLeavesChildrenOfAnExitedCommand(t *testing.T) {
	cmd, pidFile := childCmd(t, "exit 0")
	cmd.Args[2] = `sleep 30 >/dev/null 2>&1 & echo $! > "$PIDFILE"; exit 0`
	if err := Run(context.Background(), cmd); err != nil {
		t.Fatal(err)
	}
	pid := proctest.ReadPID(t, pidFile)
	t.Cleanup(func() { killGroup(cmd.Process.Pid) })
	// A SIGKILL takes effect asynchronously: give one the time to land.
	time.Sleep(200 * time.Millisecond)
	if !proctest.Alive(pid) {
		t.Fatalf("the child %d of an exited command was killed", pid)
	}
}

func TestRunReportsExitStatus(t *testing.T) {
	var ee *exec.ExitError
	if err := Run(context.Background(), exec.Command("/bin/sh", "-c", "exit 3")); !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("Run = %v, want exit status 3", err)
	}
}

// A flood keeps only the first limit bytes and never fails the writer.
func TestBufferKeepsFirstBytes(t *testing.T) {
	b := NewBuffer(5)
	for _, s := range []string{"abc", "defgh", "ijk"} {
		if n, err := b.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if got := b.Bytes(); !bytes.Equal(got, []byte("abcde")) {
		t.Fatalf("kept %q, want %q", got, "abcde")
	}
}
