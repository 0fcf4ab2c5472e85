package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/integration/harness"
	"github.com/zkfc-project/zkfc/integration/zkfcenv"
)

// make demo's script, run as a newcomer would: it must succeed, show the
// takeover step by step, and leave no process or directory behind.
func TestDemoScript(t *testing.T) {
	zkfcBin, demoBin := zkfcenv.Binaries(t)
	tmp := t.TempDir()
	// Measured: about 15 s on a 2-core machine. The bound only catches a
	// hang; the assertions are about success and cleanup.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(zkfcenv.ExamplesDir(), "..", "demo", "demo.sh"))
	cmd.Env = append(os.Environ(), "ZKFC_BIN="+zkfcBin, "DEMO_BIN="+demoBin, "TMPDIR="+tmp)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	text := out.String()
	t.Logf("demo output:\n%s", text)
	if err != nil {
		t.Fatalf("demo.sh: %v", err)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`\+0\.000s\s+trigger\s+ran: kill -9 \d+`),
		regexp.MustCompile(`\+\d+\.\d{3}s\s+unhealthy\s+nn[12]'s zkfc found its service SERVICE_\w+`),
		regexp.MustCompile(`\+\d+\.\d{3}s\s+demoted\s+nn[12] left the election and is standby \(service SERVICE_\w+\)`),
		regexp.MustCompile(`\+\d+\.\d{3}s\s+lock\s+nn[12] acquired the election lock`),
		regexp.MustCompile(`\+\d+\.\d{3}s\s+fenced\s+nn[12] fenced nn[12] \(its token \d+\)`),
		regexp.MustCompile(`\+\d+\.\d{3}s\s+promoted\s+nn[12] is active with fencing token (\d+) \(was (\d+)\)`),
		regexp.MustCompile(`PASS: nn[12] took over from nn[12]`),
		regexp.MustCompile(`Cleaning up: stopping 5 processes`),
	} {
		if !want.MatchString(text) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	// Nothing left: no process mentions the demo's directory (every
	// config and roles file lives there), the services' pids are gone,
	// and the directory itself was removed.
	dir := regexp.MustCompile(`Working directory \(configs and logs\): (\S+)`).FindStringSubmatch(text)
	if dir == nil || !strings.HasPrefix(dir[1], tmp) {
		t.Fatalf("demo did not print its working directory under %s", tmp)
	}
	if pids := processesMentioning(t, dir[1]); len(pids) > 0 {
		t.Errorf("processes left behind by the demo: %v", pids)
	}
	for _, m := range regexp.MustCompile(`demo-service on \S+\s+pid (\d+)`).FindAllStringSubmatch(text, -1) {
		pid, _ := strconv.Atoi(m[1])
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("demo-service pid %d still runs", pid)
		}
	}
	if _, err := os.Stat(dir[1]); !os.IsNotExist(err) {
		t.Errorf("demo directory %s not removed: %v", dir[1], err)
	}
}

// Interrupted half-way (SIGTERM to its process group, as Ctrl-C sends
// SIGINT; a test run from a background shell may have SIGINT ignored), the
// demo still stops everything it started and removes its directory.
func TestDemoScriptInterrupted(t *testing.T) {
	zkfcBin, demoBin := zkfcenv.Binaries(t)
	tmp := t.TempDir()
	outPath := filepath.Join(t.TempDir(), "demo.out")
	outf, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer outf.Close()
	cmd := exec.Command("bash", filepath.Join(zkfcenv.ExamplesDir(), "..", "demo", "demo.sh"))
	cmd.Env = append(os.Environ(), "ZKFC_BIN="+zkfcBin, "DEMO_BIN="+demoBin, "TMPDIR="+tmp)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdout, cmd.Stderr = outf, outf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
	})
	read := func() string { b, _ := os.ReadFile(outPath); return string(b) }
	harness.WaitFor(t, 60*time.Second, "the demo to start its zkfc processes", func() bool {
		return strings.Contains(read(), "witness  zkfc, quorum member on")
	})
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("demo still running 60s after SIGTERM:\n%s", read())
	}
	text := read()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 || !strings.Contains(text, "Cleaning up: stopping 5 processes") {
		t.Fatalf("interrupted demo: %v, want exit 130 after its cleanup\n%s", err, text)
	}
	dir := regexp.MustCompile(`Working directory \(configs and logs\): (\S+)`).FindStringSubmatch(text)
	if dir == nil {
		t.Fatalf("no working directory printed:\n%s", text)
	}
	if pids := processesMentioning(t, dir[1]); len(pids) > 0 {
		t.Errorf("processes left behind by the interrupted demo: %v", pids)
	}
	if _, err := os.Stat(dir[1]); !os.IsNotExist(err) {
		t.Errorf("demo directory %s not removed: %v", dir[1], err)
	}
}

// processesMentioning lists the pids whose command line contains s.
func processesMentioning(t *testing.T, s string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte(s)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// zkfc drill against a running pair: --dry-run changes nothing, graceful
// and fail-health drills succeed and print their steps, a drill whose
// target cannot win fails with the reason.
func TestDrillCommand(t *testing.T) {
	p := startPair(t, nil)
	a, b := p.zkfcs[0], p.zkfcs[1]
	before := func() (string, string, uint64) {
		sa, _ := a.Status()
		sb, _ := b.Status()
		return sa.Role, sb.Role, sa.FencingToken + sb.FencingToken
	}

	t.Run("dry-run", func(t *testing.T) {
		ra, rb, tok := before()
		out, code := zkfcenv.RunCLI(t, "drill", "--config", a.Config, "--dry-run")
		t.Logf("%s", out)
		if code != 0 || !strings.Contains(out, "PASS: every fencing method can reach every node") {
			t.Fatalf("dry-run: exit %d", code)
		}
		for _, n := range []string{"nn1", "nn2"} {
			if !regexp.MustCompile(n + `\s+\[0\] graceful .* ok`).MatchString(out) {
				t.Errorf("dry-run does not report the graceful check of %s", n)
			}
		}
		if ra2, rb2, tok2 := before(); ra2 != ra || rb2 != rb || tok2 != tok || demoRole(t, p.demos[0]) != "active" {
			t.Fatalf("dry-run changed roles: before %s/%s tokens %d, after %s/%s tokens %d", ra, rb, tok, ra2, rb2, tok2)
		}
	})

	t.Run("graceful", func(t *testing.T) {
		out, code := zkfcenv.RunCLI(t, "drill", "--url", a.URL, "--mode", "graceful", "--to", "nn2", "--timeout", "30s")
		t.Logf("%s", out)
		if code != 0 {
			t.Fatalf("graceful drill: exit %d", code)
		}
		for _, want := range []string{"trigger    graceful failover nn1 -> nn2 requested", "demoted    nn1 left the election and is standby (ceding for",
			"lock       nn2 acquired the election lock", "promoted   nn2 is active with fencing token 2 (was 1)",
			"no fencing needed", "PASS: nn2 took over from nn1"} {
			if !strings.Contains(out, want) {
				t.Errorf("graceful drill output lacks %q", want)
			}
		}
		if demoRole(t, p.demos[1]) != "active" || demoRole(t, p.demos[0]) != "standby" {
			t.Fatal("services' roles do not match the drill's verdict")
		}
	})

	t.Run("fail-health", func(t *testing.T) {
		// nn1 ceded in the graceful drill; it is a candidate again after
		// the cede period.
		harness.WaitFor(t, 30*time.Second, "nn1 back in the election", func() bool {
			st, err := a.Status()
			return err == nil && st.InElection
		})
		out, code := zkfcenv.RunCLI(t, "drill", "--url", a.URL, "--mode", "fail-health", "--timeout", "30s")
		t.Logf("%s", out)
		if code != 0 {
			t.Fatalf("fail-health drill: exit %d", code)
		}
		for _, want := range []*regexp.Regexp{
			regexp.MustCompile(`demoted\s+nn2 left the election and is standby \(service SERVICE_UNHEALTHY \(drill\)\)`),
			regexp.MustCompile(`fenced\s+nn1 fenced nn2 \(its token 2\)`),
			regexp.MustCompile(`promoted\s+nn1 is active with fencing token 3 \(was 2\)`),
			regexp.MustCompile(`cleanup: nn2's health override ended`),
		} {
			if !want.MatchString(out) {
				t.Errorf("fail-health drill output lacks %q", want)
			}
		}
		// The override ended: nn2 reports its real health and rejoins.
		harness.WaitFor(t, 30*time.Second, "nn2 healthy and a candidate again", func() bool {
			st, err := b.Status()
			return err == nil && st.Health == "SERVICE_HEALTHY" && st.InElection && st.HealthDrillUntil.IsZero()
		})
	})

	t.Run("target cannot win", func(t *testing.T) {
		d3 := zkfcenv.StartDemo(t, "nn3", p.roles)
		z3 := zkfcenv.StartZKFC(t, zkfcenv.ZKFCOptions{NodeID: "nn3", Connect: p.zk.Addr(), Demo: d3, SessionTimeout: p.sessionTO,
			Margin: p.margin, NoFailover: true})
		harness.WaitFor(t, 30*time.Second, "nn3 standby", func() bool { return z3.Role() == "standby" })
		out, code := zkfcenv.RunCLI(t, "drill", "--url", a.URL, "--mode", "graceful", "--to", "nn3", "--timeout", "15s")
		t.Logf("%s", out)
		if code == 0 {
			t.Fatal("a drill to a no-failover node succeeded")
		}
		if !strings.Contains(out, "FAIL: trigger:") || !strings.Contains(out, "nn3 carries the no-failover tag") {
			t.Errorf("the failure does not give the reason")
		}
		if a.Role() != "active" || demoRole(t, p.demos[0]) != "active" {
			t.Errorf("the active changed after a refused drill: nn1 zkfc %s", a.Role())
		}
	})
	p.checkObserver(t)
}
