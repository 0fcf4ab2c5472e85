package fencing

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/zkfc/proc/proctest"
)

// hostile is a node id that would run a command if it were ever spliced
// into a shell line.
const hostile = `nn1'; touch "$PWNED"; echo '`

func TestShellEnvironment(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "env")
	pwned := filepath.Join(dir, "pwned")
	vars := []string{"ZKFC_TARGET_NODE", "ZKFC_TARGET_HOST", "ZKFC_TARGET_PORT", "ZKFC_TARGET_ADDRESS",
		"ZKFC_TARGET_CONTROL_URL", "ZKFC_FENCING_TOKEN", "target_host", "target_port", "target_address", "EXTRA"}
	var script strings.Builder
	for _, v := range vars {
		script.WriteString(`printf '%s=%s\n' ` + v + ` "$` + v + `" >> "$OUT"; `)
	}
	f := mustNew(t, []MethodConfig{{Type: "shell", Shell: &ShellConfig{
		Command: []string{"/bin/sh", "-c", script.String()},
		// A configured variable cannot override the target's values.
		Env: []string{"OUT=" + out, "PWNED=" + pwned, "EXTRA=x y", "ZKFC_TARGET_HOST=wrong"},
	}}}, nil)
	tg := Target{NodeID: hostile, Host: "::1", Port: 9000, ControlURL: "http://[::1]:7070", Token: 18446744073709551615}
	if _, err := f.Fence(context.Background(), tg); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"ZKFC_TARGET_NODE=" + hostile,
		"ZKFC_TARGET_HOST=::1",
		"ZKFC_TARGET_PORT=9000",
		"ZKFC_TARGET_ADDRESS=[::1]:9000",
		"ZKFC_TARGET_CONTROL_URL=http://[::1]:7070",
		"ZKFC_FENCING_TOKEN=18446744073709551615",
		"target_host=::1",
		"target_port=9000",
		"target_address=[::1]:9000",
		"EXTRA=x y",
	}, "\n") + "\n"
	if string(got) != want {
		t.Errorf("environment:\n%s\nwant:\n%s", got, want)
	}
	if exists(pwned) {
		t.Error("the node id was interpreted by a shell")
	}
}

func TestShellExitCodes(t *testing.T) {
	cases := []struct {
		argv   []string
		ok     bool
		errHas string
	}{
		{[]string{"/bin/true"}, true, ""},
		{[]string{"/bin/false"}, false, "exit status 1"},
		{[]string{"/bin/sh", "-c", "echo power still on >&2; exit 3"}, false, "power still on"},
		{[]string{"/bin/sh", "-c", "kill -9 $$"}, false, "signal: killed"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.argv, " "), func(t *testing.T) {
			m, err := newShellMethod("k", ShellConfig{Command: tc.argv})
			if err != nil {
				t.Fatal(err)
			}
			err = m.Fence(context.Background(), target)
			if (err == nil) != tc.ok || (err != nil && !strings.Contains(err.Error(), tc.errHas)) {
				t.Fatalf("Fence() = %v, want ok=%v containing %q", err, tc.ok, tc.errHas)
			}
		})
	}
}

// The timeout kills the whole process group: the shell and the child it
// started. Hadoop's shell fencer had no timeout at all.
func TestShellTimeoutKillsGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	f := mustNew(t, []MethodConfig{{Type: "shell", Timeout: 300 * time.Millisecond, Shell: &ShellConfig{
		Command: []string{"/bin/sh", "-c", `sleep 30 & echo $! > "$PIDFILE"; wait`},
		Env:     []string{"PIDFILE=" + pidFile},
	}}}, nil)
	rep, err := f.Fence(context.Background(), target)
	if err == nil || !strings.Contains(rep.Attempts[0].Error, "timed out") {
		t.Fatalf("Fence() = %v, report %s; want a timeout", err, rep)
	}
	proctest.WaitGone(t, proctest.ReadPID(t, pidFile))
}
