package zkfcenv

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/integration/harness"
	"github.com/zkfc-project/zkfc/zkfc/control"
	"github.com/zkfc-project/zkfc/zkfc/controller"

	"github.com/zkfc-project/zkfc/integration/jsonlog"
)

var (
	buildOnce sync.Once
	buildErr  error
	zkfcBin   string
	demoBin   string
)

// Binaries returns the zkfc and demo-service binaries: $ZKFC_BIN and
// $DEMO_BIN (or demo-service beside $ZKFC_BIN) when set, else freshly
// built into a temporary directory.
func Binaries(t testing.TB) (zkfc, demo string) {
	t.Helper()
	buildOnce.Do(func() {
		zkfcBin, demoBin = os.Getenv("ZKFC_BIN"), os.Getenv("DEMO_BIN")
		if demoBin == "" && zkfcBin != "" {
			if p := filepath.Join(filepath.Dir(zkfcBin), "demo-service"); fileExists(p) {
				demoBin = p
			}
		}
		dir, err := os.MkdirTemp("", "zkfc-bin-")
		if err != nil {
			buildErr = err
			return
		}
		for _, b := range []struct {
			dst *string
			pkg string
		}{{&zkfcBin, "./zkfc/cmd/zkfc"}, {&demoBin, "./examples/demo-service"}} {
			if *b.dst != "" {
				continue
			}
			out := filepath.Join(dir, filepath.Base(b.pkg))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			cmd := exec.CommandContext(ctx, "go", "build", "-o", out, b.pkg)
			cmd.Dir = harness.RepoRoot()
			msg, err := cmd.CombinedOutput()
			cancel()
			if err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", b.pkg, err, msg)
				return
			}
			*b.dst = out
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return zkfcBin, demoBin
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// ExamplesDir is the directory of the demo service's action scripts.
func ExamplesDir() string { return filepath.Join(harness.RepoRoot(), "examples", "demo-service") }

// Demo is a running demo-service.
type Demo struct {
	Name string
	Addr string
	proc *harness.Proc
}

// StartDemo starts a demo-service on a free port, logging roles to rolesFile.
func StartDemo(t testing.TB, name, rolesFile string) *Demo {
	t.Helper()
	_, bin := Binaries(t)
	addr := fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
	d := &Demo{Name: name, Addr: addr, proc: harness.StartProc(t, "demo-service "+name, filepath.Join(t.TempDir(), name+".log"),
		bin, "--listen", addr, "--roles-file", rolesFile, "--name", name)}
	harness.WaitFor(t, 20*time.Second, "demo-service "+name+" up", func() bool { _, err := d.Role(); return err == nil })
	return d
}

func (d *Demo) post(t testing.TB, path string) {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Post("http://"+d.Addr+path, "text/plain", nil)
	must(t, err)
	resp.Body.Close()
}

// Demote demotes the service behind zkfc's back (role drift drills).
func (d *Demo) Demote(t testing.TB) { d.post(t, "/demote") }

// Fail makes the health check answer 503.
func (d *Demo) Fail(t testing.TB) { d.post(t, "/admin/fail") }

// Hang makes the health check never answer (SERVICE_NOT_RESPONDING).
func (d *Demo) Hang(t testing.TB) { d.post(t, "/admin/hang") }

// Recover makes the health check pass again.
func (d *Demo) Recover(t testing.TB) { d.post(t, "/admin/recover") }

// Role asks the service its role.
func (d *Demo) Role() (string, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + d.Addr + "/role")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b)), err
}

// Kill ends the service with SIGKILL and returns a time by which it was
// certainly dead (for intervals it could not close itself).
func (d *Demo) Kill() time.Time { return d.proc.Kill() }

// ZKFCOptions shape one zkfc's configuration.
type ZKFCOptions struct {
	NodeID         string
	Cluster        string
	Connect        string
	Demo           *Demo
	SessionTimeout time.Duration
	Margin         time.Duration
	HealthInterval time.Duration
	// HealthRise is health.rise (default 1: back in the election on the
	// first passing probe).
	HealthRise int
	// Fencing is the YAML list of fencing methods; default graceful then a
	// shell method that kills the target's listener via demo /demote.
	Fencing    string
	Priority   int
	NoFailover bool
	Extra      string // appended YAML
	// Actions is YAML appended to the actions section ("  rejoin: {...}\n").
	Actions string
	Env     []string // extra environment of the daemon
}

// FencingDemoteOrGone (ZKFCOptions.Fencing) fences through the peer's
// zkfc, else through the service itself: demote it, or confirm it is gone
// (a killed demo service cannot demote).
const FencingDemoteOrGone = `    - type: graceful
      timeout: 2s
    - type: shell
      timeout: 10s
      shell:
        command: ["/bin/sh", "-c", "curl -fsS --max-time 2 -X POST http://$ZKFC_TARGET_ADDRESS/demote || ! curl -sS --max-time 2 http://$ZKFC_TARGET_ADDRESS/role"]
`

// ZKFC is a running zkfc daemon.
type ZKFC struct {
	Opts    ZKFCOptions
	URL     string
	Config  string
	LogPath string
	proc    *harness.Proc
}

// WriteConfig writes a zkfc.yaml for opts and returns its path and control URL.
func WriteConfig(t testing.TB, o ZKFCOptions) (string, string) {
	t.Helper()
	if o.Cluster == "" {
		o.Cluster = "demo"
	}
	if o.SessionTimeout == 0 {
		o.SessionTimeout = 4 * time.Second
	}
	if o.Margin == 0 {
		o.Margin = time.Second
	}
	if o.HealthInterval == 0 {
		o.HealthInterval = 200 * time.Millisecond
	}
	if o.HealthRise == 0 {
		o.HealthRise = 1
	}
	if o.Fencing == "" {
		o.Fencing = "    - type: graceful\n      timeout: 3s\n"
	}
	listen := fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
	ex := ExamplesDir()
	host, port := "127.0.0.1", 0
	demoAddr := ""
	if o.Demo != nil {
		demoAddr = o.Demo.Addr
		fmt.Sscanf(o.Demo.Addr[strings.LastIndex(o.Demo.Addr, ":")+1:], "%d", &port)
	}
	y := fmt.Sprintf(`node:
  id: %s
  host: %s
  port: %d
  priority: %d
  no_failover: %v
cluster:
  name: %s
  parent_znode: /zkfc
zookeeper:
  connect: "%s"
  session_timeout: %s
  self_fence_margin: %s
  allow_world_writable: true
control:
  listen: "%s"
health:
  interval: %s
  timeout: 1s
  rise: %d
  fall: 1
  http:
    url: "http://%s/health"
actions:
  promote: {command: ["%s/promote.sh"], env: ["DEMO_ADDR=%s"], timeout: 10s}
  demote: {command: ["%s/demote.sh"], env: ["DEMO_ADDR=%s"], timeout: 10s}
  role: {command: ["%s/role.sh"], env: ["DEMO_ADDR=%s"], timeout: 5s}
  role_interval: 1s
%sfencing:
  methods:
%s
failover:
  cede_period: 5s
  backoff_initial: 500ms
  backoff_max: 4s
  priority_delay: 1s
log:
  level: debug
  format: json
%s`, o.NodeID, host, port, o.Priority, o.NoFailover, o.Cluster, o.Connect, o.SessionTimeout, o.Margin, listen,
		o.HealthInterval, o.HealthRise, demoAddr, ex, demoAddr, ex, demoAddr, ex, demoAddr, o.Actions, o.Fencing, o.Extra)
	p := filepath.Join(t.TempDir(), o.NodeID+".yaml")
	must(t, os.WriteFile(p, []byte(y), 0o644))
	return p, "http://" + listen
}

// Format runs `zkfc format --force --non-interactive` with cfg.
func Format(t testing.TB, cfg string) {
	t.Helper()
	out, code := RunCLI(t, "format", "--config", cfg, "--force", "--non-interactive")
	if code != 0 {
		t.Fatalf("zkfc format: exit %d\n%s", code, out)
	}
}

// RunCLI runs the zkfc binary with args under a deadline and returns its
// combined output and exit code.
func RunCLI(t testing.TB, args ...string) (string, int) {
	t.Helper()
	bin, _ := Binaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	jsonlog.CheckText(t, "of zkfc "+strings.Join(args, " "), string(out))
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		}
		t.Fatalf("zkfc %v: %v", args, err)
	}
	return string(out), 0
}

// StartZKFC writes a config for o and runs `zkfc run` with it.
func StartZKFC(t testing.TB, o ZKFCOptions) *ZKFC {
	t.Helper()
	cfg, url := WriteConfig(t, o)
	return StartZKFCWithConfig(t, o, cfg, url)
}

// StartZKFCWithConfig runs `zkfc run --config cfg`.
func StartZKFCWithConfig(t testing.TB, o ZKFCOptions, cfg, url string) *ZKFC {
	t.Helper()
	bin, _ := Binaries(t)
	z := &ZKFC{Opts: o, URL: url, Config: cfg, LogPath: filepath.Join(t.TempDir(), o.NodeID+"-zkfc.log")}
	z.proc = harness.NewProc(t, "zkfc "+o.NodeID, z.LogPath, bin, "run", "--config", cfg)
	z.proc.Env = append(os.Environ(), o.Env...)
	must(t, z.proc.Start())
	t.Cleanup(func() {
		z.Kill()
		jsonlog.CheckFile(t, z.LogPath)
		if t.Failed() {
			t.Logf("--- log of zkfc %s (last 40 non-debug lines):\n%s", o.NodeID, z.proc.LogTail(40, `"level":"debug"`))
		}
	})
	return z
}

// StatusAt asks the control API at url, waiting at most timeout.
func StatusAt(url string, timeout time.Duration) (controller.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return control.NewClient().Status(ctx, url)
}

// RoleAt is the role the control API at url reports, "" when it does not
// answer within timeout.
func RoleAt(url string, timeout time.Duration) string {
	st, err := StatusAt(url, timeout)
	if err != nil {
		return ""
	}
	return st.Role
}

// Status asks the daemon's control API.
func (z *ZKFC) Status() (controller.Status, error) { return StatusAt(z.URL, 3*time.Second) }

// Role is the daemon's role, or "" when it does not answer.
func (z *ZKFC) Role() string { return RoleAt(z.URL, 3*time.Second) }

// Terminate sends SIGTERM and waits (bounded) for the daemon to exit; a
// daemon still running after 30s fails the test and is killed.
func (z *ZKFC) Terminate(t testing.TB) {
	t.Helper()
	if !z.proc.Terminate(30 * time.Second) {
		t.Errorf("zkfc %s did not stop within 30s of SIGTERM", z.Opts.NodeID)
		z.Kill()
	}
}

// Restart stops the daemon with SIGTERM, requires a clean exit (status
// 0), and starts it again with the same config and log.
func (z *ZKFC) Restart(t testing.TB) {
	t.Helper()
	z.Terminate(t)
	if code := z.Wait(t, 0); code != 0 {
		t.Fatalf("zkfc %s exited with status %d after SIGTERM", z.Opts.NodeID, code)
	}
	must(t, z.proc.Start())
}

// Kill ends the daemon with SIGKILL and returns a time by which it was
// certainly dead; a daemon not reaped within a bounded wait fails the test
// that started it.
func (z *ZKFC) Kill() time.Time { return z.proc.Kill() }

// Exited reports whether the daemon has exited.
func (z *ZKFC) Exited() bool { return z.proc.Exited() }

// Wait waits up to d for the daemon to exit; it returns its exit code.
func (z *ZKFC) Wait(t testing.TB, d time.Duration) int {
	t.Helper()
	code, ok := z.proc.ExitCode(d)
	if !ok {
		t.Fatalf("zkfc %s still running after %s", z.Opts.NodeID, d)
	}
	return code
}

// Log returns the daemon's log.
func (z *ZKFC) Log() string { return z.proc.Log() }
