package fencing

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/zkfc-project/zkfc/quorum/freeport"
	"github.com/zkfc-project/zkfc/zkfc/proc/proctest"
)

// sshd is a real OpenSSH server on loopback, with its own host key and one
// authorized client key.
type sshd struct {
	port       int
	hostKey    ssh.PublicKey
	clientKey  string // private key file, mode 0600
	knownHosts string // holds the right host key
	dir        string
}

// startSSHD runs /usr/sbin/sshd in the foreground for the test. It needs
// root (sshd refuses otherwise); CI runs as root.
// extraHostKeys names further host key types (ssh-keygen -t) the server
// offers besides the ed25519 one in known_hosts.
func startSSHD(t *testing.T, extraHostKeys ...string) *sshd {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("sshd tests need root: sshd must run as root to log users in; CI runs them as root")
	}
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		t.Skip("sshd tests need /usr/sbin/sshd (Debian openssh-server)")
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := &sshd{dir: dir, port: freeport.Get(t), clientKey: filepath.Join(dir, "id_ed25519")}
	keygen(t, filepath.Join(dir, "host_key"))
	keygen(t, s.clientKey)
	hostKeys := "HostKey " + filepath.Join(dir, "host_key")
	for _, typ := range extraHostKeys {
		path := filepath.Join(dir, "host_key_"+typ)
		keygen(t, path, typ)
		// Listed first: sshd offers its keys in this order.
		hostKeys = "HostKey " + path + "\n" + hostKeys
	}
	s.hostKey = readPub(t, filepath.Join(dir, "host_key.pub"))
	pub, err := os.ReadFile(s.clientKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "authorized_keys"), string(pub))
	s.knownHosts = filepath.Join(dir, "known_hosts")
	writeFile(t, s.knownHosts, knownhosts.Line([]string{"127.0.0.1:" + strconv.Itoa(s.port)}, s.hostKey)+"\n")
	cfg := filepath.Join(dir, "sshd_config")
	writeFile(t, cfg, fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
%s
AuthorizedKeysFile %s
PidFile %s
StrictModes no
UsePAM no
PermitRootLogin yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
LogLevel VERBOSE
`, s.port, hostKeys, filepath.Join(dir, "authorized_keys"), filepath.Join(dir, "sshd.pid")))

	var logs lockedBuffer
	cmd := exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", cfg)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("sshd log:\n%s", logs.String())
		}
	})
	for i := 0; ; i++ {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("sshd exited: %v\n%s", err, logs.String())
		default:
		}
		if c, err := net.Dial("tcp", s.addr()); err == nil {
			c.Close()
			return s
		}
		if i == 200 {
			t.Fatalf("sshd did not listen on %s\n%s", s.addr(), logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *sshd) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// config returns an ssh method config for this server.
func (s *sshd) config(command string) *SSHConfig {
	return &SSHConfig{User: "root", Port: s.port, KeyFile: s.clientKey, KnownHostsFile: s.knownHosts, Command: command}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func keygen(t *testing.T, path string, typ ...string) {
	t.Helper()
	keyType := "ed25519"
	if len(typ) > 0 {
		keyType = typ[0]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ssh-keygen", "-q", "-t", keyType, "-N", "", "-C", "zkfc-test", "-f", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
}

func readPub(t *testing.T, path string) ssh.PublicKey {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// victim is a separate process listening on a port: the "service" that
// fencing must kill.
type victim struct {
	port   int
	pid    int
	exited chan error
}

func startVictim(t *testing.T) *victim {
	t.Helper()
	port := freeport.Get(t)
	cmd := exec.Command("/usr/bin/python3", "-c", `
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
time.sleep(600)
`, strconv.Itoa(port))
	if err := cmd.Start(); err != nil {
		t.Fatalf("start victim: %v", err)
	}
	v := &victim{port: port, pid: cmd.Process.Pid, exited: make(chan error, 1)}
	go func() { v.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-v.exited
	})
	for i := 0; ; i++ {
		// The probe connection is closed at once: nothing of this test
		// process may hold the port, or the fence would kill the test.
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			c.Close()
			return v
		}
		if i == 200 {
			t.Fatalf("victim did not listen on port %d", port)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dead waits (bounded) for the victim to exit and returns how it ended.
func (v *victim) dead(t *testing.T) error {
	t.Helper()
	select {
	case err := <-v.exited:
		v.exited <- err // for the cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("victim (pid %d) still alive", v.pid)
		return nil
	}
}

func (v *victim) alive() bool {
	select {
	case err := <-v.exited:
		v.exited <- err
		return false
	default:
		return true
	}
}

func sshTarget(port int) Target {
	return Target{NodeID: "nn1", Host: "127.0.0.1", Port: port, ControlURL: "http://127.0.0.1:1", Token: 7}
}

func TestSSHFenceKillsListener(t *testing.T) {
	s := startSSHD(t)
	v := startVictim(t)
	f := mustNew(t, []MethodConfig{{Type: "ssh", SSH: s.config("")}}, nil)
	rep, err := f.Fence(context.Background(), sshTarget(v.port))
	if err != nil {
		t.Fatalf("Fence() = %v", err)
	}
	if rep.FencedBy != "ssh" {
		t.Fatalf("report %s", rep)
	}
	t.Logf("%s", rep)
	if err := v.dead(t); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("victim ended with %v, want killed", err)
	}
	// The port is free again: a new service could bind it.
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(v.port))
	if err != nil {
		t.Fatalf("port %d still taken after the fence: %v", v.port, err)
	}
	ln.Close()
}

// Check logs in and finds the tools but kills nothing.
func TestSSHCheck(t *testing.T) {
	s := startSSHD(t)
	v := startVictim(t)
	f := mustNew(t, []MethodConfig{{Type: "ssh", SSH: s.config("")}}, nil)
	rep := f.Check(context.Background(), sshTarget(v.port))
	if len(rep.Attempts) != 1 || rep.Attempts[0].Err != nil {
		t.Fatalf("Check report %s", rep)
	}
	if !v.alive() {
		t.Fatal("Check killed the service")
	}
}

// The server also offers an ECDSA key, which Go's client prefers to
// ed25519; known_hosts holds only the ed25519 one, so the client must ask
// for that type or read the ECDSA key as a mismatch.
func TestSSHNegotiatesKnownHostKeyType(t *testing.T) {
	s := startSSHD(t, "ecdsa")
	m, err := newSSHMethod("k", *s.config(""), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Check(ctx, sshTarget(8020)); err != nil {
		t.Fatalf("Check() = %v", err)
	}
}

// With use_agent and no key file, the key comes from a real ssh-agent.
func TestSSHAgent(t *testing.T) {
	s := startSSHD(t)
	sock := filepath.Join(t.TempDir(), "agent.sock")
	agentCmd := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agentCmd.Start(); err != nil {
		t.Skipf("ssh-agent unavailable: %v", err)
	}
	t.Cleanup(func() { _ = agentCmd.Process.Kill(); _ = agentCmd.Wait() })
	for i := 0; ; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if i == 200 {
			t.Fatal("ssh-agent did not create its socket")
		}
		time.Sleep(50 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	add := exec.CommandContext(ctx, "ssh-add", s.clientKey)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v: %s", err, out)
	}
	t.Setenv("SSH_AUTH_SOCK", sock)
	cfg := s.config("true")
	cfg.KeyFile, cfg.UseAgent = "", true
	m, err := newSSHMethod("k", *cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Fence(ctx, sshTarget(8020)); err != nil {
		t.Fatalf("Fence() with the agent's key = %v", err)
	}
	// Without the agent there is no key: authentication must fail.
	t.Setenv("SSH_AUTH_SOCK", filepath.Join(t.TempDir(), "no-agent"))
	if err := m.Fence(ctx, sshTarget(8020)); err == nil {
		t.Fatal("Fence() without any key succeeded")
	}
}

// A node id full of shell syntax reaches the remote command verbatim.
func TestSSHTargetValuesQuoted(t *testing.T) {
	s := startSSHD(t)
	dir := t.TempDir()
	out, pwned := filepath.Join(dir, "node"), filepath.Join(dir, "pwned")
	cmd := fmt.Sprintf(`printf '%%s|%%s|%%s' "$ZKFC_TARGET_NODE" "$ZKFC_FENCING_TOKEN" "$target_address" > %s`, shQuote(out))
	m, err := newSSHMethod("k", *s.config(cmd), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	node := strings.ReplaceAll(hostile, `"$PWNED"`, shQuote(pwned))
	tg := Target{NodeID: node, Host: "127.0.0.1", Port: 8020, Token: 99}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Fence(ctx, tg); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := node + "|99|127.0.0.1:8020"; string(got) != want {
		t.Errorf("remote saw %q, want %q", got, want)
	}
	if exists(pwned) {
		t.Error("the node id was interpreted by the remote shell")
	}
}

// Host keys are verified; the command never runs on an unverified host.
func TestSSHHostKeyRefused(t *testing.T) {
	s := startSSHD(t)
	otherKey := filepath.Join(t.TempDir(), "other")
	keygen(t, otherKey)
	wrong := filepath.Join(t.TempDir(), "known_hosts_wrong")
	writeFile(t, wrong, knownhosts.Line([]string{s.addr()}, readPub(t, otherKey+".pub"))+"\n")
	empty := filepath.Join(t.TempDir(), "known_hosts_empty")
	writeFile(t, empty, "")
	cases := []struct {
		name   string
		file   string
		want   error
		errHas []string
	}{
		{"unknown host", empty, ErrHostKeyUnknown, []string{empty, "ssh-keyscan -p " + strconv.Itoa(s.port) + " 127.0.0.1", ssh.FingerprintSHA256(s.hostKey)}},
		{"wrong key", wrong, ErrHostKeyMismatch, []string{wrong + ":1", "ssh-keygen -R"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ran := filepath.Join(t.TempDir(), "ran")
			cfg := s.config("touch " + shQuote(ran))
			cfg.KnownHostsFile = tc.file
			m, err := newSSHMethod("k", *cfg, zaptest.NewLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for name, call := range map[string]func(context.Context, Target) error{"Fence": m.Fence, "Check": m.Check} {
				err := call(ctx, sshTarget(1))
				if !errors.Is(err, tc.want) {
					t.Fatalf("%s() = %v, want %v", name, err, tc.want)
				}
				for _, w := range tc.errHas {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%s() error %q lacks %q", name, err, w)
					}
				}
			}
			if exists(ran) {
				t.Fatal("the fence command ran on a host whose key was not verified")
			}
		})
	}
}

func TestSSHCommandFailures(t *testing.T) {
	s := startSSHD(t)
	cases := []struct {
		name    string
		command string
		errHas  string
	}{
		// Hadoop's sshfence read a missing nc as success.
		{"missing tool", "zkfc-no-such-tool -k 8020", "exit status 127"},
		{"non-zero exit", "echo still serving >&2; exit 1", "still serving"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := mustNew(t, []MethodConfig{{Type: "ssh", SSH: s.config(tc.command)}}, nil)
			rep, err := f.Fence(context.Background(), sshTarget(8020))
			if !errors.Is(err, ErrNotFenced) || !strings.Contains(rep.Attempts[0].Error, tc.errHas) {
				t.Fatalf("Fence() = %v; report %s; want failure with %q", err, rep, tc.errHas)
			}
		})
	}
}

// The default command fails when its tools are missing on the target.
func TestSSHDefaultCommandNeedsTools(t *testing.T) {
	s := startSSHD(t)
	// PATH without fuser and ss, set inside the remote command itself.
	cmd := "PATH=/nonexistent; export PATH; " + DefaultSSHCommand
	m, err := newSSHMethod("k", *s.config(cmd), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = m.Fence(ctx, sshTarget(8020))
	if err == nil || !strings.Contains(err.Error(), "fuser not found") {
		t.Fatalf("Fence() = %v, want fuser not found", err)
	}
}

// A remote command that hangs is cut off at the method's timeout, and it
// does not live on on the target. The command may start only after the
// local side has given up (the remote login shell's rc files can be slow),
// so the test waits for it to start before checking that it ends.
func TestSSHCommandTimeout(t *testing.T) {
	s := startSSHD(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	// The pid file appears only once the sleep runs.
	cmd := "sleep 61 & echo $! > " + shQuote(pidFile) + "; wait"
	f := mustNew(t, []MethodConfig{{Type: "ssh", Timeout: 1500 * time.Millisecond, SSH: s.config(cmd)}}, nil)
	rep, err := f.Fence(context.Background(), sshTarget(8020))
	if !errors.Is(err, ErrNotFenced) || rep.FencedBy != "" {
		t.Fatalf("Fence() = %v; report %s", err, rep)
	}
	for i := 0; ; i++ {
		if b, err := os.ReadFile(pidFile); err == nil && strings.HasSuffix(string(b), "\n") {
			break // complete line: the shell's echo is done
		}
		if i == 600 {
			t.Fatal("the remote command never started")
		}
		time.Sleep(50 * time.Millisecond)
	}
	proctest.WaitGone(t, proctest.ReadPID(t, pidFile))
}

// An unreachable SSH server fails the method and the next one runs,
// which is how an operator pairs ssh with a power-off shell method.
func TestSSHUnreachableFallsThrough(t *testing.T) {
	known := filepath.Join(t.TempDir(), "known_hosts")
	writeFile(t, known, "")
	key := filepath.Join(t.TempDir(), "id")
	keygen(t, key)
	win, winMark := marker(t, "power-off", "0")
	cfg := &SSHConfig{User: "root", Port: freeport.Get(t), KeyFile: key, KnownHostsFile: known}
	f := mustNew(t, []MethodConfig{{Type: "ssh", SSH: cfg}, win}, nil)
	rep, err := f.Fence(context.Background(), sshTarget(8020))
	if err != nil || rep.FencedBy != "shell" || !exists(winMark) {
		t.Fatalf("Fence() = %v; report %s", err, rep)
	}
	if a := rep.Attempts[0]; a.Method != "ssh" || !strings.Contains(a.Error, "connect") {
		t.Fatalf("ssh attempt = %+v, want a connect error", a)
	}
}

// A server that accepts TCP but never speaks SSH (an overloaded or wedged
// sshd) is given up on at connect_timeout, well before the method's own
// timeout, and the next method runs.
func TestSSHHandshakeTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	known := filepath.Join(t.TempDir(), "known_hosts")
	writeFile(t, known, "")
	key := filepath.Join(t.TempDir(), "id")
	keygen(t, key)
	win, winMark := marker(t, "power-off", "0")
	cfg := &SSHConfig{User: "root", Port: ln.Addr().(*net.TCPAddr).Port, KeyFile: key, KnownHostsFile: known,
		ConnectTimeout: 300 * time.Millisecond}
	f := mustNew(t, []MethodConfig{{Type: "ssh", Timeout: 10 * time.Minute, SSH: cfg}, win}, nil)
	rep, err := f.Fence(context.Background(), sshTarget(8020))
	if err != nil || rep.FencedBy != "shell" || !exists(winMark) {
		t.Fatalf("Fence() = %v; report %s", err, rep)
	}
	if a := rep.Attempts[0]; !strings.Contains(a.Error, "no SSH handshake within connect_timeout") {
		t.Fatalf("ssh attempt = %+v, want a handshake timeout", a)
	}
}

func TestRemoteLine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	line := remoteLine(ctx, Target{NodeID: "a'b", Host: "h", Port: 1, Token: 2}, "echo hi")
	for _, w := range []string{"exec /bin/sh -c ", "timeout -s KILL "} {
		if !strings.Contains(line, w) {
			t.Errorf("remote line %q lacks %q", line, w)
		}
	}
	// Run the line through a local shell, as sshd would, to check quoting
	// end to end without a server.
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	out, err := exec.CommandContext(sctx, "/bin/sh", "-c",
		remoteLine(ctx, Target{NodeID: "a'b $(x) `y`", Host: "h", Port: 1, Token: 2}, `printf %s "$ZKFC_TARGET_NODE"`)).CombinedOutput()
	if err != nil || string(out) != "a'b $(x) `y`" {
		t.Fatalf("local run: %v, output %q", err, out)
	}
}
