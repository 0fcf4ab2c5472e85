package zkenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/zkfc-project/zkfc/integration/harness"
)

// RunPython runs `/usr/bin/python3 script args...` (the Debian interpreter,
// which has kazoo; the first python3 on PATH may not) and returns stdout.
// The process is killed at the deadline; stderr is folded into the error.
func RunPython(timeout time.Duration, script string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, PythonPath, append([]string{script}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	killGroupOnCancel(cmd)
	err := cmd.Run()
	if ctx.Err() != nil {
		return stdout.String(), fmt.Errorf("python3 %s: deadline %v exceeded; stderr:\n%s", script, timeout, harness.Tail(stderr.String(), 30, ""))
	}
	if err != nil {
		return stdout.String(), fmt.Errorf("python3 %s: %w; stderr:\n%s", script, err, harness.Tail(stderr.String(), 30, ""))
	}
	return stdout.String(), nil
}

// RunKazoo runs a kazoo script with the server address as its first argument.
func RunKazoo(timeout time.Duration, script, addr string, args ...string) (string, error) {
	return RunPython(timeout, script, append([]string{addr}, args...)...)
}

// RunZkCli feeds script to `zkCli.sh -server addr` on stdin and returns its
// output without the JVM's and client's log noise (SLF4J warnings, the
// banner, connection events), so two servers' outputs can be compared, and
// its exit code (that of the last command, so a failing command is not an
// error here). err is set only when the tool could not run or hit the deadline.
// env (NAME=value) is added to the tool's environment, e.g. CLIENT_JVMFLAGS
// for TLS.
func RunZkCli(timeout time.Duration, addr, script string, env ...string) (out string, exitCode int, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, ZkCliPath, "-server", addr)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdin = strings.NewReader(script)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	killGroupOnCancel(cmd)
	err = cmd.Run()
	if ctx.Err() != nil {
		return FilterZkCli(buf.String()), -1, fmt.Errorf("zkCli.sh: deadline %v exceeded; output:\n%s", timeout, harness.Tail(buf.String(), 30, ""))
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return FilterZkCli(buf.String()), exit.ExitCode(), nil
	}
	if err != nil {
		return FilterZkCli(buf.String()), -1, fmt.Errorf("zkCli.sh: %w; output:\n%s", err, harness.Tail(buf.String(), 30, ""))
	}
	return FilterZkCli(buf.String()), 0, nil
}

// killGroupOnCancel makes the deadline kill the whole process group:
// zkCli.sh starts java as a child, which would outlive a killed shell.
func killGroupOnCancel(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
}

// zkCliNoise are line prefixes zkCli.sh prints regardless of the commands.
var zkCliNoise = []string{
	"SLF4J:", "Connecting to ", "Welcome to ZooKeeper!", "JLine support is",
	"WATCHER::", "WatchedEvent state:SyncConnected type:None",
	"WatchedEvent state:Closed type:None",
}

// FilterZkCli drops zkCli.sh's log noise and blank lines.
func FilterZkCli(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimRight(l, "\r ")
		if l == "" {
			continue
		}
		noise := false
		for _, p := range zkCliNoise {
			if strings.HasPrefix(l, p) {
				noise = true
				break
			}
		}
		if !noise {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}
