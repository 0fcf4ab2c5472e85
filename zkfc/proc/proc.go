// Package proc runs the external commands of zkfc — health checks, fencing
// commands, promote and demote actions — each in a process group of its
// own, so that a deadline kills the command's children with it, and keeps
// what they print within a bound.
//
// It is a leaf: it decides nothing about what a command's outcome means,
// and imports nothing of zkfc.
package proc

import (
	"context"
	"errors"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// waitDelay bounds the wait for output pipes that children of an exited
// command still hold open.
const waitDelay = time.Second

// Run runs cmd in its own process group and waits for it. When ctx ends
// first, the whole group is killed. Members left behind when cmd exits
// are not touched: a promote script may start a service that must outlive
// it.
func Run(ctx context.Context, cmd *exec.Cmd) error {
	pgid, err := start(cmd)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { killGroup(pgid) })
	err = cmd.Wait()
	stop()
	return err
}

// RunAll is Run for a command none of whose children may outlive it (a
// probe, a fencing command): once cmd has exited, whatever is left of its
// group is killed too.
func RunAll(ctx context.Context, cmd *exec.Cmd) error {
	err := Run(ctx, cmd)
	if errors.Is(err, exec.ErrWaitDelay) {
		// The command itself exited 0; only a straggler it left behind
		// still held an output pipe. The exit status is what counts, and
		// the straggler dies with the group below.
		err = nil
	}
	// A group id is not reused while the group has members, so this cannot
	// hit another group; ESRCH only means nothing was left.
	killGroup(cmd.Process.Pid)
	return err
}

// Combined runs cmd with RunAll and returns its stdout and stderr
// interleaved, at most limit bytes of them.
func Combined(ctx context.Context, cmd *exec.Cmd, limit int) ([]byte, error) {
	out := NewBuffer(limit)
	cmd.Stdout, cmd.Stderr = out, out
	err := RunAll(ctx, cmd)
	return out.Bytes(), err
}

func start(cmd *exec.Cmd) (int, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.WaitDelay = waitDelay
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	return cmd.Process.Pid, nil
}

func killGroup(pgid int) { _ = syscall.Kill(-pgid, syscall.SIGKILL) }

// Buffer keeps the first limit bytes written to it and drops the rest
// without failing the writer, so a command that floods its output cannot
// grow zkfc. It is safe for concurrent writers (exec's, or an SSH
// session's, stdout and stderr copiers).
type Buffer struct {
	mu    sync.Mutex
	limit int
	b     []byte
}

// NewBuffer returns a Buffer that keeps at most limit bytes.
func NewBuffer(limit int) *Buffer { return &Buffer{limit: limit} }

func (c *Buffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.limit - len(c.b); room > 0 {
		c.b = append(c.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// Bytes is a copy of what was kept.
func (c *Buffer) Bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.b...)
}

// String is what was kept, as text.
func (c *Buffer) String() string { return string(c.Bytes()) }
