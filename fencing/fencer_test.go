package fencing

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// fakeGraceful stands in for the daemon's control-API client, which lives
// in another package; it records calls and answers as told.
type fakeGraceful struct {
	mu      sync.Mutex
	calls   []string
	err     error
	block   bool // wait for the method's deadline
	pingErr error
	pings   int
}

func (f *fakeGraceful) Demote(ctx context.Context, controlURL string, token uint64) error {
	f.mu.Lock()
	f.calls = append(f.calls, controlURL+"#"+strconv.FormatUint(token, 10))
	f.mu.Unlock()
	if f.block {
		<-ctx.Done()
		return ctx.Err()
	}
	return f.err
}

func (f *fakeGraceful) Ping(ctx context.Context, controlURL string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pings++
	return f.pingErr
}

var target = Target{NodeID: "nn1", Host: "127.0.0.1", Port: 8020, ControlURL: "http://127.0.0.1:7070", Token: 42}

// mustNew builds a Fencer that logs to the test, failing the test if the
// methods are refused.
func mustNew(t *testing.T, methods []MethodConfig, g GracefulClient, opts ...Option) *Fencer {
	t.Helper()
	f, err := New(methods, g, zaptest.NewLogger(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// marker returns a shell method config that creates a file when it runs
// and exits with code, and the file's path.
func marker(t *testing.T, name string, code string) (MethodConfig, string) {
	path := filepath.Join(t.TempDir(), name)
	return MethodConfig{Type: "shell", Shell: &ShellConfig{
		Command: []string{"/bin/sh", "-c", `touch "$MARK"; exit ` + code},
		Env:     []string{"MARK=" + path},
	}}, path
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func TestFencerFirstSuccessWins(t *testing.T) {
	g := &fakeGraceful{err: errors.New("connection refused")}
	fail, failMark := marker(t, "fail", "1")
	win, winMark := marker(t, "win", "0")
	never, neverMark := marker(t, "never", "0")
	f := mustNew(t, []MethodConfig{{Type: "graceful"}, fail, win, never}, g)
	rep, err := f.Fence(context.Background(), target)
	if err != nil {
		t.Fatalf("Fence() = %v, want success; report %s", err, rep)
	}
	if rep.FencedBy != "shell" || len(rep.Attempts) != 3 {
		t.Fatalf("report %s: want 3 attempts, fenced by shell", rep)
	}
	for i, want := range []string{"graceful", "shell", "shell"} {
		a := rep.Attempts[i]
		if a.Index != i || a.Method != want || (a.Err == nil) != (i == 2) || (a.Error == "") != (i == 2) {
			t.Errorf("attempt %d = %+v", i, a)
		}
	}
	if !strings.Contains(rep.Attempts[0].Error, "connection refused") || !strings.Contains(rep.Attempts[1].Error, "exit status 1") {
		t.Errorf("attempt errors lack their causes: %s", rep)
	}
	if len(g.calls) != 1 || g.calls[0] != "http://127.0.0.1:7070#42" {
		t.Errorf("graceful client calls = %v, want the target's URL and token", g.calls)
	}
	if !exists(failMark) || !exists(winMark) || exists(neverMark) {
		t.Errorf("ran: fail %v win %v never %v; want the methods after the winner skipped",
			exists(failMark), exists(winMark), exists(neverMark))
	}
}

func TestFencerAllFail(t *testing.T) {
	g := &fakeGraceful{err: errors.New("refused")}
	fail1, _ := marker(t, "a", "1")
	fail2, _ := marker(t, "b", "7")
	f := mustNew(t, []MethodConfig{{Type: "graceful"}, fail1, fail2}, g)
	rep, err := f.Fence(context.Background(), target)
	if !errors.Is(err, ErrNotFenced) {
		t.Fatalf("Fence() = %v, want ErrNotFenced", err)
	}
	if rep.FencedBy != "" || len(rep.Attempts) != 3 {
		t.Fatalf("report %s: want 3 failed attempts", rep)
	}
	for _, a := range rep.Attempts {
		if a.Err == nil {
			t.Errorf("attempt %+v succeeded", a)
		}
	}
	if !strings.Contains(err.Error(), "exit status 7") {
		t.Errorf("error %q does not carry the attempts", err)
	}
}

// A target that answers it is active under a newer token is no fence, and
// no harsher method may take that newer active down: Fence stops there.
func TestFencerStopsWhenTheTargetIsSuperseded(t *testing.T) {
	g := &fakeGraceful{err: fmt.Errorf("%w: 409 Conflict", ErrSuperseded)}
	next, nextMark := marker(t, "next", "0")
	f, err := New([]MethodConfig{{Type: "graceful"}, next}, g, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := f.Fence(context.Background(), target)
	if !errors.Is(err, ErrNotFenced) || !errors.Is(err, ErrSuperseded) {
		t.Fatalf("Fence() = %v, want ErrNotFenced and ErrSuperseded", err)
	}
	if len(rep.Attempts) != 1 || exists(nextMark) {
		t.Fatalf("report %s: the method after the refusal ran", rep)
	}
}

// A method that hangs is cut off by its own timeout and the next one runs.
func TestFencerMethodTimeout(t *testing.T) {
	g := &fakeGraceful{block: true}
	win, winMark := marker(t, "win", "0")
	f := mustNew(t, []MethodConfig{{Type: "graceful", Timeout: 100 * time.Millisecond}, win}, g)
	rep, err := f.Fence(context.Background(), target)
	if err != nil || rep.FencedBy != "shell" || !exists(winMark) {
		t.Fatalf("Fence() = %v; report %s", err, rep)
	}
	if !errors.Is(rep.Attempts[0].Err, context.DeadlineExceeded) {
		t.Fatalf("graceful attempt error %v, want deadline exceeded", rep.Attempts[0].Err)
	}
}

func TestFencerBudget(t *testing.T) {
	sh := &ShellConfig{Command: []string{"/bin/true"}}
	f := mustNew(t, []MethodConfig{{Type: "graceful"}, {Type: "shell", Shell: sh}, {Type: "shell", Shell: sh, Timeout: time.Second}},
		&fakeGraceful{})
	if got, want := f.Budget(), DefaultGracefulTimeout+DefaultShellTimeout+time.Second; got != want {
		t.Fatalf("Budget() = %s, want %s", got, want)
	}
}

func TestFencerStopsWhenCallerCancels(t *testing.T) {
	win, winMark := marker(t, "win", "0")
	f := mustNew(t, []MethodConfig{win}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep, err := f.Fence(ctx, target)
	if !errors.Is(err, ErrNotFenced) || !errors.Is(err, context.Canceled) || exists(winMark) {
		t.Fatalf("Fence(cancelled) = %v, report %s, method ran: %v", err, rep, exists(winMark))
	}
}

func TestFencerCheckDoesNotFence(t *testing.T) {
	g := &fakeGraceful{pingErr: errors.New("control API down")}
	sh, mark := marker(t, "fenced", "0")
	f := mustNew(t, []MethodConfig{{Type: "graceful"}, sh}, g)
	rep := f.Check(context.Background(), target)
	if len(rep.Attempts) != 2 || rep.FencedBy != "" {
		t.Fatalf("Check report %s", rep)
	}
	if rep.Attempts[0].Err == nil || !strings.Contains(rep.Attempts[0].Error, "control API down") || g.pings != 1 {
		t.Errorf("graceful check = %+v (pings %d), want the ping's error", rep.Attempts[0], g.pings)
	}
	if rep.Attempts[1].Err != nil {
		t.Errorf("shell check = %v, want ok", rep.Attempts[1].Err)
	}
	if len(g.calls) != 0 || exists(mark) {
		t.Fatalf("Check fenced: demotes %v, shell ran %v", g.calls, exists(mark))
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	openKey := filepath.Join(dir, "open_key")
	if err := os.WriteFile(openKey, []byte("whatever"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(openKey, 0o644); err != nil { // umask may have narrowed it
		t.Fatal(err)
	}
	garbageKey := filepath.Join(dir, "garbage_key")
	if err := os.WriteFile(garbageKey, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyKnown := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(emptyKnown, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	sh := &ShellConfig{Command: []string{"/bin/true"}}
	cases := []struct {
		name     string
		methods  []MethodConfig
		graceful GracefulClient
		want     []string
	}{
		{"nothing configured", nil, nil, []string{"fencing.methods: no fencing method"}},
		{"type missing", []MethodConfig{{}}, nil, []string{"fencing.methods[0].type: required"}},
		{"unknown type", []MethodConfig{{Type: "shell", Shell: sh}, {Type: "stonith"}}, nil,
			[]string{`fencing.methods[1].type: unknown method "stonith"`}},
		{"graceful without client", []MethodConfig{{Type: "graceful"}}, nil, []string{"fencing.methods[0].type: graceful needs"}},
		{"negative timeout", []MethodConfig{{Type: "shell", Shell: sh, Timeout: -time.Second}}, nil,
			[]string{"fencing.methods[0].timeout"}},
		{"shell section missing", []MethodConfig{{Type: "shell"}}, nil, []string{"fencing.methods[0].shell.command: required"}},
		{"shell argv empty", []MethodConfig{{Type: "shell", Shell: &ShellConfig{}}}, nil,
			[]string{"fencing.methods[0].shell.command: required"}},
		{"shell binary missing", []MethodConfig{{Type: "shell", Shell: &ShellConfig{Command: []string{"/nonexistent/stonith"}}}}, nil,
			[]string{"fencing.methods[0].shell.command:"}},
		{"shell bad env", []MethodConfig{{Type: "shell", Shell: &ShellConfig{Command: []string{"/bin/true"}, Env: []string{"X"}}}}, nil,
			[]string{"fencing.methods[0].shell.env[0]"}},
		{"ssh section missing", []MethodConfig{{Type: "ssh"}}, nil, []string{"fencing.methods[0].ssh.user: required"}},
		{"ssh without user", []MethodConfig{{Type: "ssh", SSH: &SSHConfig{KeyFile: garbageKey, KnownHostsFile: emptyKnown}}}, nil,
			[]string{"fencing.methods[0].ssh.user: required"}},
		{"ssh without known_hosts", []MethodConfig{{Type: "ssh", SSH: &SSHConfig{User: "root", KeyFile: garbageKey}}}, nil,
			[]string{"fencing.methods[0].ssh.known_hosts_file: required (or insecure_ignore_host_key: true"}},
		{"ssh without credentials", []MethodConfig{{Type: "ssh", SSH: &SSHConfig{User: "root", KnownHostsFile: emptyKnown}}}, nil,
			[]string{"fencing.methods[0].ssh.key_file: set a private key file or use_agent"}},
		{"ssh key readable by others", []MethodConfig{{Type: "shell", Shell: sh},
			{Type: "ssh", SSH: &SSHConfig{User: "root", KeyFile: openKey, KnownHostsFile: emptyKnown}}}, nil,
			[]string{"fencing.methods[1].ssh.key_file:", "chmod 600 " + openKey}},
		{"ssh key unparsable", []MethodConfig{{Type: "ssh", SSH: &SSHConfig{User: "root", KeyFile: garbageKey, KnownHostsFile: emptyKnown}}}, nil,
			[]string{"fencing.methods[0].ssh.key_file: parse"}},
		{"ssh key missing", []MethodConfig{{Type: "ssh", SSH: &SSHConfig{User: "root", KeyFile: filepath.Join(dir, "nope"), KnownHostsFile: emptyKnown}}}, nil,
			[]string{"fencing.methods[0].ssh.key_file:"}},
		{"ssh known_hosts missing", []MethodConfig{{Type: "ssh", SSH: &SSHConfig{User: "root", KeyFile: garbageKey, KnownHostsFile: filepath.Join(dir, "nope")}}}, nil,
			[]string{"fencing.methods[0].ssh.known_hosts_file:", "ssh-keyscan"}},
		{"ssh bad port", []MethodConfig{{Type: "ssh", SSH: &SSHConfig{User: "root", Port: 70000, KeyFile: garbageKey, KnownHostsFile: emptyKnown}}}, nil,
			[]string{"fencing.methods[0].ssh.port"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := New(tc.methods, tc.graceful, zaptest.NewLogger(t))
			if err == nil {
				t.Fatalf("New() = %v, nil; want error", f)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New() error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestReportString(t *testing.T) {
	rep := Report{Target: target, FencedBy: "shell", Attempts: []Attempt{
		{Index: 0, Method: "ssh", Duration: 1500 * time.Millisecond, Err: errors.New("connect refused")},
		{Index: 1, Method: "shell", Duration: 20 * time.Millisecond},
	}}
	want := "fencing nn1 (127.0.0.1:8020): [0] ssh 1.5s: connect refused; [1] shell 20ms: ok; fenced by shell"
	if got := rep.String(); got != want {
		t.Fatalf("String() = %q\nwant       %q", got, want)
	}
}
