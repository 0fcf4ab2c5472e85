package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/quorum/freeport"
	zkfcconfig "github.com/zkfc-project/zkfc/zkfc/config"
)

// writeZooCfg writes a standalone zoo.cfg with its own dataDir and returns
// its path and data directory.
func writeZooCfg(t *testing.T, dir string, port int, extra string) (string, string) {
	t.Helper()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "zoo.cfg")
	text := fmt.Sprintf("tickTime=500\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n%s", data, port, extra)
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg, data
}

func envFunc(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestQuorumCommandErrors(t *testing.T) {
	dir := t.TempDir()
	good, _ := writeZooCfg(t, dir, 2181, "")
	bad := filepath.Join(dir, "bad.cfg")
	if err := os.WriteFile(bad, []byte("dataDir=/x\nclientPort=1\ntickTime=abc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		code     int
		stderr   string
		stdoutOK string
	}{
		{"no config", nil, nil, 2, "--zoo-cfg is required (or set ZOOCFGDIR", ""},
		{"stray argument", []string{good}, nil, 2, `unexpected argument "` + good + `"`, ""},
		{"bad key", []string{"--zoo-cfg", bad}, nil, 1, bad + `: tickTime "abc": not a number of milliseconds`, ""},
		{"missing file", []string{"--zoo-cfg", filepath.Join(dir, "nope.cfg")}, nil, 1, "nope.cfg: no such file", ""},
		{"bad -D in SERVER_JVMFLAGS", []string{"--zoo-cfg", good}, map[string]string{"SERVER_JVMFLAGS": "-Xmx1g -Dzookeeper.extendedTypesEnabled=maybe"},
			1, `-Dzookeeper.extendedTypesEnabled "maybe": must be true or false`, ""},
		{"bad -D in JVMFLAGS", []string{"--zoo-cfg", good}, map[string]string{"JVMFLAGS": "-Dzookeeper.snapCount=x"},
			1, `-Dzookeeper.snapCount "x": not a number`, ""},
		{"bad log level", []string{"--zoo-cfg", good, "--log-level", "loud"}, nil, 2, `--log-level "loud": use debug, info, warn or error`, ""},
		{"bad log format", []string{"--zoo-cfg", good, "--log-format", "xml"}, nil, 2, `--log-format "xml": use json or console`, ""},
		{"check via ZOOCFGDIR", []string{"--check"}, map[string]string{"ZOOCFGDIR": dir}, 0, "", "mode=standalone\nmyid=0\ndataDir=" + dir + "/data\n"},
		{"check via ZOOCFGDIR and ZOOCFG", []string{"--check"}, map[string]string{"ZOOCFGDIR": dir, "ZOOCFG": "bad.cfg"}, 1, bad + ": tickTime", ""},
		{"check prints client address", []string{"--check", "--zoo-cfg", good}, nil, 0, "", "clientHost=127.0.0.1\nclientPort=2181\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := quorumMain(context.Background(), tt.args, envFunc(tt.env), &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr %q", code, tt.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tt.stderr)
			}
			if !strings.Contains(stdout.String(), tt.stdoutOK) {
				t.Errorf("stdout %q lacks %q", stdout.String(), tt.stdoutOK)
			}
		})
	}
}

// askSrvr sends srvr and returns the answer, or "" if the port is not
// answering yet.
func askSrvr(addr string) string {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return ""
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("srvr")); err != nil {
		return ""
	}
	b, _ := io.ReadAll(c)
	return string(b)
}

// waitFor polls cond, bounded: a slow machine gets many tries, a broken
// feature still ends the test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 600; i++ {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}

// TestQuorumServesAndStopsCleanly runs the subcommand in-process against
// the real server: it must answer on the configured port and return 0
// when its context (SIGTERM in the binary) ends.
func TestQuorumServesAndStopsCleanly(t *testing.T) {
	port := freeport.Get(t)
	cfg, _ := writeZooCfg(t, t.TempDir(), port, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- quorumMain(ctx, []string{"--zoo-cfg", cfg, "--log-level", "warn"}, envFunc(nil), io.Discard, &stderr)
	}()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitFor(t, "the member to answer srvr", func() bool {
		select {
		case code := <-done:
			t.Fatalf("quorum exited early with %d: %s", code, stderr.String())
		default:
		}
		return strings.Contains(askSrvr(addr), "Mode: standalone")
	})
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d after cancel; stderr %s", code, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("quorum did not stop after its context ended")
	}
}

// script is the zkServer.sh under test.
func script(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../../../quorum/bin/zkServer.sh")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// runScript runs zkServer.sh with env added to a minimal environment.
func runScript(t *testing.T, path string, env []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{path}, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "USER=test"}, env...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %s %v: %v", path, args, err)
	}
	return string(out), code
}

// stubZkfc writes a fake zkfc that records its arguments and the JVM flag
// variables to record, then exits 7.
func stubZkfc(t *testing.T, path, record string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("#!/bin/sh\nprintf 'args=%%s\\nserver=%%s\\njvm=%%s\\n' \"$*\" \"$SERVER_JVMFLAGS\" \"$JVMFLAGS\" > %q\nexit 7\n", record)
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestZkServerScriptResolves checks, with a stub binary, where zkServer.sh
// finds its configuration and its binary, and that it hands both JVM flag
// variables and the exit status through on start-foreground.
func TestZkServerScriptResolves(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("zkServer.sh targets Linux")
	}
	src, err := os.ReadFile(script(t))
	if err != nil {
		t.Fatal(err)
	}
	// A tree shaped like the repository: <root>/quorum/bin/zkServer.sh,
	// <root>/quorum/conf/zoo.cfg, <root>/bin/zkfc.
	root := t.TempDir()
	sh := filepath.Join(root, "quorum", "bin", "zkServer.sh")
	if err := os.MkdirAll(filepath.Dir(sh), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sh, src, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(root, "elsewhere", "zkServer.sh")
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(sh, link); err != nil {
		t.Fatal(err)
	}
	record := filepath.Join(root, "record")
	stubZkfc(t, filepath.Join(root, "bin", "zkfc"), record)
	explicit := filepath.Join(root, "explicit-zkfc")
	stubZkfc(t, explicit, record)
	onPath := filepath.Join(root, "path", "zkfc")
	stubZkfc(t, onPath, record)
	confDir := filepath.Join(root, "myconf")

	tests := []struct {
		name     string
		script   string
		env      []string
		args     []string
		wantArgs string
	}{
		{"default ../conf/zoo.cfg next to the real script", link, nil, []string{"start-foreground"},
			"quorum --zoo-cfg " + filepath.Join(root, "quorum", "bin", "..", "conf", "zoo.cfg")},
		{"argument with a path", sh, nil, []string{"start-foreground", "/etc/x/my.cfg"}, "quorum --zoo-cfg /etc/x/my.cfg"},
		{"bare argument is in the config dir", sh, []string{"ZOOCFGDIR=" + confDir}, []string{"start-foreground", "other.cfg"},
			"quorum --zoo-cfg " + confDir + "/other.cfg"},
		{"--config dir", sh, nil, []string{"--config", confDir, "start-foreground"}, "quorum --zoo-cfg " + confDir + "/zoo.cfg"},
		{"ZOOCFGDIR and ZOOCFG", sh, []string{"ZOOCFGDIR=" + confDir, "ZOOCFG=z.cfg"}, []string{"start-foreground"},
			"quorum --zoo-cfg " + confDir + "/z.cfg"},
		{"ZKFC_BIN wins", sh, []string{"ZKFC_BIN=" + explicit}, []string{"start-foreground", "/c.cfg"}, "quorum --zoo-cfg /c.cfg"},
	}
	jvm := []string{"SERVER_JVMFLAGS=-Dzookeeper.extendedTypesEnabled=true -Dx=\"a b\"", "JVMFLAGS=-Xmx1g"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_ = os.Remove(record)
			out, code := runScript(t, tt.script, append(tt.env, jvm...), tt.args...)
			if code != 7 {
				t.Fatalf("exit %d, want the stub's 7; output %q", code, out)
			}
			got, err := os.ReadFile(record)
			if err != nil {
				t.Fatal(err)
			}
			want := "args=" + tt.wantArgs + "\nserver=-Dzookeeper.extendedTypesEnabled=true -Dx=\"a b\"\njvm=-Xmx1g\n"
			if string(got) != want {
				t.Errorf("stub saw\n%s\nwant\n%s", got, want)
			}
		})
	}

	t.Run("zkfc on PATH when no bin/zkfc", func(t *testing.T) {
		if err := os.Remove(filepath.Join(root, "bin", "zkfc")); err != nil {
			t.Fatal(err)
		}
		_ = os.Remove(record)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", sh, "start-foreground", "/p.cfg")
		cmd.Env = []string{"PATH=" + filepath.Dir(onPath) + ":/usr/bin:/bin"}
		if err := cmd.Run(); err == nil {
			t.Fatal("stub exit status lost")
		}
		got, _ := os.ReadFile(record)
		if !strings.HasPrefix(string(got), "args=quorum --zoo-cfg /p.cfg\n") {
			t.Errorf("stub on PATH saw %q", got)
		}
	})
	t.Run("print-cmd", func(t *testing.T) {
		out, code := runScript(t, sh, []string{"ZKFC_BIN=" + explicit, "SERVER_JVMFLAGS=-Da=1"}, "print-cmd", "/q.cfg")
		if code != 0 || !strings.Contains(out, "SERVER_JVMFLAGS=-Da=1") || !strings.Contains(out, explicit+" quorum --zoo-cfg /q.cfg") {
			t.Errorf("print-cmd: exit %d, %q", code, out)
		}
	})
	t.Run("no binary", func(t *testing.T) {
		out, code := runScript(t, sh, []string{"ZKFC_BIN=" + filepath.Join(root, "missing")}, "start-foreground")
		if code != 1 || !strings.Contains(out, "zkfc binary not found") {
			t.Errorf("exit %d, %q", code, out)
		}
	})
	t.Run("unknown command", func(t *testing.T) {
		out, code := runScript(t, sh, []string{"ZKFC_BIN=" + explicit}, "explode")
		if code != 2 || !strings.Contains(out, "Usage:") {
			t.Errorf("exit %d, %q", code, out)
		}
	})
}

// TestZkServerScriptLifecycle drives start, status, stop with the real
// binary built from this package.
func TestZkServerScriptLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the zkfc binary")
	}
	if runtime.GOOS != "linux" {
		t.Skip("zkServer.sh targets Linux")
	}
	bin := filepath.Join(t.TempDir(), "zkfc")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	port := freeport.Get(t)
	cfg, data := writeZooCfg(t, dir, port, "")
	env := []string{"ZKFC_BIN=" + bin, "ZOO_LOG_DIR=" + filepath.Join(dir, "logs")}
	pidFile := filepath.Join(data, "zookeeper_server.pid")
	sh := script(t)

	out, code := runScript(t, sh, env, "start", cfg)
	if code != 0 || !strings.Contains(out, "Starting zookeeper ... STARTED") {
		t.Fatalf("start: exit %d\n%s", code, out)
	}
	// Whatever happens next, do not leave the daemon behind.
	t.Cleanup(func() { runScript(t, sh, env, "stop", cfg) })
	if _, err := os.Stat(pidFile); err != nil {
		t.Fatalf("pid file: %v", err)
	}
	if !strings.Contains(askSrvr(fmt.Sprintf("127.0.0.1:%d", port)), "Zookeeper version: ") {
		t.Error("port does not answer srvr after STARTED")
	}
	out, code = runScript(t, sh, env, "status", cfg)
	if code != 0 || !strings.Contains(out, "Mode: standalone") || !strings.Contains(out, fmt.Sprintf("Client port found: %d.", port)) {
		t.Errorf("status: exit %d\n%s", code, out)
	}
	out, code = runScript(t, sh, env, "start", cfg)
	if code != 1 || !strings.Contains(out, "already running as process") {
		t.Errorf("second start: exit %d\n%s", code, out)
	}
	out, code = runScript(t, sh, env, "stop", cfg)
	if code != 0 || !strings.Contains(out, "STOPPED") {
		t.Fatalf("stop: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("pid file left behind: %v", err)
	}
	out, code = runScript(t, sh, env, "status", cfg)
	if code != 1 || !strings.Contains(out, "Error contacting service. It is probably not running.") {
		t.Errorf("status after stop: exit %d\n%s", code, out)
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "logs", "zookeeper-test-server-*.out"))
	if len(logs) != 1 {
		t.Fatalf("daemon output files: %v", logs)
	}
	// stop sent SIGTERM: the member must have shut down cleanly.
	if b, _ := os.ReadFile(logs[0]); !strings.Contains(string(b), "quorum member stopped cleanly") {
		t.Errorf("daemon output lacks the clean-stop line:\n%s", b)
	}
	out, code = runScript(t, sh, env, "version")
	if code != 0 || !strings.Contains(out, "zkfc ") {
		t.Errorf("version: exit %d, %q", code, out)
	}
}

func TestEmbeddedConfig(t *testing.T) {
	three := []zkfcconfig.QuorumMember{
		{ID: 1, Peer: "10.0.0.1:2888", Client: "10.0.0.1:2181"},
		{ID: 2, Peer: "[fd00::2]:2888", Client: "[fd00::2]:2181"},
		{ID: 3, Peer: "10.0.0.3:2888"},
	}
	tests := []struct {
		name       string
		q          zkfcconfig.Quorum
		wantErr    string
		wantDial   string
		standalone bool
		servers    int
	}{
		{"single member", zkfcconfig.Quorum{ID: 1, DataDir: "/d", ClientListen: "127.0.0.1:2181",
			Members: []zkfcconfig.QuorumMember{{ID: 1, Peer: "127.0.0.1:2888"}}}, "", "127.0.0.1:2181", true, 1},
		{"three members, listening on all addresses", zkfcconfig.Quorum{ID: 2, DataDir: "/d", ClientListen: ":2181", Members: three},
			"", "127.0.0.1:2181", false, 3},
		{"bound client address", zkfcconfig.Quorum{ID: 3, DataDir: "/d", ClientListen: "10.0.0.3:2182", Members: three},
			"", "10.0.0.3:2182", false, 3},
		{"not a member", zkfcconfig.Quorum{ID: 4, DataDir: "/d", ClientListen: ":2181", Members: three},
			"id 4 is not among the server.N lines of quorum section (1, 2, 3)", "", false, 0},
		{"bad client_listen", zkfcconfig.Quorum{ID: 1, DataDir: "/d", ClientListen: "2181", Members: three},
			`quorum.client_listen "2181"`, "", false, 0},
		{"bad peer", zkfcconfig.Quorum{ID: 1, DataDir: "/d", ClientListen: ":2181",
			Members: []zkfcconfig.QuorumMember{{ID: 1, Peer: "nohost"}}}, `quorum.members[0].peer "nohost"`, "", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := embeddedConfig(tt.q, "-Dzookeeper.snapCount=500")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := dialAddr(cfg); got != tt.wantDial {
				t.Errorf("dial %q, want %q", got, tt.wantDial)
			}
			if cfg.Standalone != tt.standalone || len(cfg.Servers) != tt.servers || cfg.MyID != tt.q.ID || cfg.SnapCount != 500 || cfg.AdminEnabled {
				t.Errorf("standalone %v servers %d myid %d snapCount %d admin %v", cfg.Standalone, len(cfg.Servers), cfg.MyID, cfg.SnapCount, cfg.AdminEnabled)
			}
		})
	}
	t.Run("tick_time", func(t *testing.T) {
		for _, tc := range []struct{ set, want time.Duration }{{0, zkfcconfig.DefaultQuorumTickTime}, {500 * time.Millisecond, 500 * time.Millisecond}} {
			cfg, err := embeddedConfig(zkfcconfig.Quorum{ID: 1, DataDir: "/d", ClientListen: ":2181", Members: three, TickTime: tc.set}, "")
			if err != nil || cfg.TickTime != tc.want || cfg.MinSessionTimeout != 2*tc.want {
				t.Errorf("quorum.tick_time %s: tickTime %s, minSessionTimeout %s, err %v; want %s", tc.set, cfg.TickTime, cfg.MinSessionTimeout, err, tc.want)
			}
		}
	})
	t.Run("preferred_leader", func(t *testing.T) {
		cfg, err := embeddedConfig(zkfcconfig.Quorum{ID: 1, DataDir: "/d", ClientListen: ":2181", Members: three, PreferredLeader: 3}, "-Xmx64m")
		if err != nil || cfg.PreferredLeader != 3 || cfg.MemoryLimit != 64<<20 {
			t.Errorf("PreferredLeader %d, MemoryLimit %d, err %v; want 3, 64 MiB", cfg.PreferredLeader, cfg.MemoryLimit, err)
		}
	})
	t.Run("config_file", func(t *testing.T) {
		path, _ := writeZooCfg(t, t.TempDir(), 2999, "")
		cfg, err := embeddedConfig(zkfcconfig.Quorum{ConfigFile: path}, "")
		if err != nil || cfg.ClientPort != 2999 || cfg.Source != path {
			t.Errorf("cfg %+v, err %v", cfg, err)
		}
	})
}

// TestEmbeddedQuorumRuns starts the member zkfc run would host and stops
// it through its context.
func TestEmbeddedQuorumRuns(t *testing.T) {
	port := freeport.Get(t)
	peer := freeport.Get(t)
	q := zkfcconfig.Quorum{Enabled: true, ID: 1, DataDir: t.TempDir(), ClientListen: fmt.Sprintf("127.0.0.1:%d", port),
		Members: []zkfcconfig.QuorumMember{{ID: 1, Peer: fmt.Sprintf("127.0.0.1:%d", peer)}}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, addr, done, err := EmbeddedQuorum(ctx, q, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if addr != q.ClientListen {
		t.Errorf("client address %q, want %q", addr, q.ClientListen)
	}
	waitFor(t, "the embedded member to answer srvr", func() bool { return strings.Contains(askSrvr(addr), "Mode: standalone") })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("member stopped with %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("member did not stop after its context ended")
	}
}
