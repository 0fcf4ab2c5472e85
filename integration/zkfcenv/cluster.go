package zkfcenv

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/zkfc/control"
	"github.com/zkfc-project/zkfc/zkfc/controller"
)

var (
	buildOnce sync.Once
	buildErr  error
	zkfcBin   string
	demoBin   string
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

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
			cmd.Dir = repoRoot()
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
func ExamplesDir() string { return filepath.Join(repoRoot(), "examples", "demo-service") }

// Demo is a running demo-service.
type Demo struct {
	Name string
	Addr string
	cmd  *exec.Cmd
	done chan struct{}
}

// StartDemo starts a demo-service on a free port, logging roles to rolesFile.
func StartDemo(t testing.TB, name, rolesFile string) *Demo {
	t.Helper()
	_, bin := Binaries(t)
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	logf, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	must(t, err)
	cmd := exec.Command(bin, "--listen", addr, "--roles-file", rolesFile, "--name", name)
	cmd.Stdout, cmd.Stderr = logf, logf
	must(t, cmd.Start())
	d := &Demo{Name: name, Addr: addr, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-d.done
		logf.Close()
	})
	WaitFor(t, 20*time.Second, "demo-service "+name+" up", func() bool { _, err := d.Role(); return err == nil })
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
func (d *Demo) Kill() time.Time {
	_ = d.cmd.Process.Kill()
	<-d.done
	return time.Now()
}

// ZKFCOptions shape one zkfc's configuration.
type ZKFCOptions struct {
	NodeID         string
	Cluster        string
	Connect        string
	Demo           *Demo
	SessionTimeout time.Duration
	Margin         time.Duration
	HealthInterval time.Duration
	// Fencing is the YAML list of fencing methods; default graceful then a
	// shell method that kills the target's listener via demo /demote.
	Fencing    string
	Priority   int
	NoFailover bool
	Extra      string   // appended YAML
	Env        []string // extra environment of the daemon
}

// ZKFC is a running zkfc daemon.
type ZKFC struct {
	Opts    ZKFCOptions
	URL     string
	Config  string
	LogPath string
	cmd     *exec.Cmd
	done    chan struct{}
	t       testing.TB // the test that started it, for Kill's report
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
	if o.Fencing == "" {
		o.Fencing = "    - type: graceful\n      timeout: 3s\n"
	}
	listen := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
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
  rise: 1
  fall: 1
  http:
    url: "http://%s/health"
actions:
  promote: {command: ["%s/promote.sh"], env: ["DEMO_ADDR=%s"], timeout: 10s}
  demote: {command: ["%s/demote.sh"], env: ["DEMO_ADDR=%s"], timeout: 10s}
  role: {command: ["%s/role.sh"], env: ["DEMO_ADDR=%s"], timeout: 5s}
  role_interval: 1s
fencing:
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
		o.HealthInterval, demoAddr, ex, demoAddr, ex, demoAddr, ex, demoAddr, o.Fencing, o.Extra)
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
	z := &ZKFC{Opts: o, URL: url, Config: cfg, LogPath: filepath.Join(t.TempDir(), o.NodeID+"-zkfc.log"), done: make(chan struct{}), t: t}
	logf, err := os.Create(z.LogPath)
	must(t, err)
	z.cmd = exec.Command(bin, "run", "--config", cfg)
	z.cmd.Env = append(os.Environ(), o.Env...)
	z.cmd.Stdout, z.cmd.Stderr = logf, logf
	z.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	must(t, z.cmd.Start())
	go func() { _ = z.cmd.Wait(); close(z.done); logf.Close() }()
	t.Cleanup(func() {
		z.Kill()
		if t.Failed() {
			t.Logf("--- log of zkfc %s (last 40 non-debug lines):\n%s", o.NodeID, tailLines(z.LogPath, 40))
		}
	})
	return z
}

// Status asks the daemon's control API.
func (z *ZKFC) Status() (controller.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return control.NewClient().Status(ctx, z.URL)
}

// Role is the daemon's role, or "" when it does not answer.
func (z *ZKFC) Role() string {
	st, err := z.Status()
	if err != nil {
		return ""
	}
	return st.Role
}

// Stop sends SIGTERM and waits (bounded) for the daemon to exit.
func (z *ZKFC) Stop(t testing.TB) {
	_ = syscall.Kill(-z.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-z.done:
	case <-time.After(30 * time.Second):
		t.Errorf("zkfc %s did not stop within 30s of SIGTERM", z.Opts.NodeID)
		z.Kill()
	}
}

// killWait bounds Kill's wait for the kernel to reap the daemon: a process
// SIGKILL does not end within it is stuck in the kernel, and the test says
// so instead of hanging until go test's own timeout.
const killWait = 10 * time.Second

// Kill ends the daemon's process group with SIGKILL (after SIGCONT, so a
// frozen daemon dies too) and waits, bounded, until it has exited; it
// fails the test that started the daemon if it has not.
func (z *ZKFC) Kill() {
	_ = syscall.Kill(-z.cmd.Process.Pid, syscall.SIGCONT)
	_ = syscall.Kill(-z.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-z.done:
	case <-time.After(killWait):
		z.t.Errorf("zkfc %s (pid %d) still running %s after SIGKILL", z.Opts.NodeID, z.cmd.Process.Pid, killWait)
	}
}

// Exited reports whether the daemon has exited.
func (z *ZKFC) Exited() bool {
	select {
	case <-z.done:
		return true
	default:
		return false
	}
}

// Wait waits up to d for the daemon to exit; it returns its exit code.
func (z *ZKFC) Wait(t testing.TB, d time.Duration) int {
	t.Helper()
	select {
	case <-z.done:
		return z.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		t.Fatalf("zkfc %s still running after %s", z.Opts.NodeID, d)
		return -1
	}
}

// Log returns the daemon's log.
func (z *ZKFC) Log() string { b, _ := os.ReadFile(z.LogPath); return string(b) }

func tailLines(p string, n int) string {
	b, _ := os.ReadFile(p)
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if !strings.Contains(l, `"level":"debug"`) {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// WaitFor polls cond every 50ms until it holds or d passes (then fails
// the test). d is a generous upper bound, never an assertion about speed.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Interval mirrors demo-service's roles-file line.
type Interval struct {
	Role  string     `json:"role"`
	Token uint64     `json:"token"`
	Start time.Time  `json:"start"`
	End   *time.Time `json:"end"`
	PID   int        `json:"pid"`
	Name  string     `json:"name"`
}

// ReadIntervals reads a roles file; an interval never closed ends at
// openEnd (now, for processes still running).
func ReadIntervals(t testing.TB, path string, openEnd time.Time) []Interval {
	return ReadIntervalsKilled(t, path, openEnd, nil)
}

// ReadIntervalsKilled is ReadIntervals where the open intervals of the
// instances named in killed end when they were killed.
func ReadIntervalsKilled(t testing.TB, path string, openEnd time.Time, killed map[string]time.Time) []Interval {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	byKey := map[string]*Interval{}
	var order []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var iv Interval
		if err := json.Unmarshal(sc.Bytes(), &iv); err != nil {
			t.Fatalf("roles file %s: bad line %q: %v", path, sc.Text(), err)
		}
		k := fmt.Sprintf("%s/%d/%d", iv.Name, iv.PID, iv.Start.UnixNano())
		if old, ok := byKey[k]; ok {
			old.End = iv.End
			continue
		}
		cp := iv
		byKey[k] = &cp
		order = append(order, k)
	}
	var out []Interval
	for _, k := range order {
		iv := *byKey[k]
		if iv.End == nil {
			e := openEnd
			if k, ok := killed[iv.Name]; ok {
				e = k
			}
			iv.End = &e
		}
		out = append(out, iv)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// CheckNoOverlap fails the test if two active intervals of different
// instances overlap, or if tokens do not grow with time.
func CheckNoOverlap(t testing.TB, ivs []Interval) {
	t.Helper()
	for i := 1; i < len(ivs); i++ {
		prev, cur := ivs[i-1], ivs[i]
		if cur.Start.Before(*prev.End) && cur.Name != prev.Name {
			t.Errorf("two actives overlap: %s token %d [%s, %s] and %s token %d from %s",
				prev.Name, prev.Token, prev.Start.Format(time.RFC3339Nano), prev.End.Format(time.RFC3339Nano),
				cur.Name, cur.Token, cur.Start.Format(time.RFC3339Nano))
		}
		if cur.Token <= prev.Token {
			t.Errorf("fencing token did not grow: %s token %d after %s token %d", cur.Name, cur.Token, prev.Name, prev.Token)
		}
	}
}
