package zkenv

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/zkfc-project/zkfc/integration/harness"
)

// PyDriver runs a Python client script that takes one command a line on
// stdin and answers each with one line on stdout, so that a test can
// inject faults between a real client's steps (a partition, a heal).
type PyDriver struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	done   chan struct{}
	mu     sync.Mutex
	stderr bytes.Buffer
}

// StartPython starts `/usr/bin/python3 script args...` as a driver in a
// process group of its own; Close kills it.
func StartPython(script string, args ...string) (*PyDriver, error) {
	d := &PyDriver{cmd: exec.Command(PythonPath, append([]string{script}, args...)...), lines: make(chan string, 16), done: make(chan struct{})}
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	d.cmd.Stderr = writerFunc(func(p []byte) (int, error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.stderr.Write(p)
	})
	var err error
	if d.stdin, err = d.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("python3 %s: %w", script, err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		defer close(d.lines)
		for sc.Scan() {
			select {
			case d.lines <- sc.Text():
			case <-d.done:
				return
			}
		}
	}()
	return d, nil
}

// Do sends one command and waits up to timeout for its answer.
func (d *PyDriver) Do(command string, timeout time.Duration) (string, error) {
	if _, err := io.WriteString(d.stdin, command+"\n"); err != nil {
		return "", fmt.Errorf("driver %q: %w; stderr:\n%s", command, err, d.stderrTail())
	}
	select {
	case l, ok := <-d.lines:
		if !ok {
			return "", fmt.Errorf("driver %q: the script exited; stderr:\n%s", command, d.stderrTail())
		}
		return l, nil
	case <-time.After(timeout):
		return "", fmt.Errorf("driver %q: no answer within %v; stderr:\n%s", command, timeout, d.stderrTail())
	}
}

// Close kills the script's process group and reaps it.
func (d *PyDriver) Close() {
	close(d.done)
	_ = d.stdin.Close()
	_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	_ = d.cmd.Wait()
}

func (d *PyDriver) stderrTail() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return harness.Tail(d.stderr.String(), 30, "")
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
