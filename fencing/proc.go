package fencing

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// maxOutput bounds the captured output of a fencing command.
const maxOutput = 4096

// runGroup runs cmd in its own process group and returns its combined
// output (truncated). When ctx ends the whole group is killed, so a
// script's children cannot carry on fencing (or hang) after the method
// has given up; members left when the leader exits are killed too.
func runGroup(ctx context.Context, cmd *exec.Cmd) ([]byte, error) {
	var out capBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Bounds the wait for output pipes held open by stray children.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pgid := cmd.Process.Pid
	stop := context.AfterFunc(ctx, func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })
	err := cmd.Wait()
	stop()
	if errors.Is(err, exec.ErrWaitDelay) {
		// The command itself exited 0; only a straggler it left behind
		// still held the output pipe. The exit status is what counts, and
		// the straggler dies with the group below.
		err = nil
	}
	// A group id is not reused while the group has members; ESRCH only
	// means nothing was left.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	return out.Bytes(), err
}

// capBuffer keeps the first maxOutput bytes written to it. It is safe for
// the concurrent stdout and stderr copiers of an SSH session.
type capBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (c *capBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := maxOutput - len(c.b); room > 0 {
		c.b = append(c.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (c *capBuffer) Bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.b...)
}

// snippet keeps command output short enough for a log line.
func snippet(b []byte) string {
	const max = 300
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		s = s[:max] + "..."
	}
	return fmt.Sprintf("%q", s)
}
