package integration

// ZooKeeper's C client (Debian's libzookeeper-mt) in the differential
// suite: testdata/cclient/session.c, compiled here with gcc, runs one
// scripted session (create, get, set with versions, delete, ephemeral,
// sequential, watches) against Apache ZooKeeper 3.8 and against ours,
// standalone and through a follower of a 3-member ensemble, and the two
// transcripts must be equal.

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/integration/harness"
	"github.com/zkfc-project/zkfc/integration/zkenv"
)

func TestCClientDifferential(t *testing.T) {
	bin := buildCClient(t)
	t.Run("standalone", func(t *testing.T) {
		runCClientPair(t, bin, harness.StartApache(t, cfgExtended.options()), harness.StartOurs(t, cfgExtended.options()))
	})
	t.Run("ensemble", func(t *testing.T) {
		runCClientPair(t, bin, followerOf(harness.Apache)(t, cfgExtended.options()),
			followerOf(harness.Ours)(t, cfgExtended.options()))
	})
}

// buildCClient compiles the C program against libzookeeper_mt.
func buildCClient(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "cclient-session")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "gcc", "-Wall", "-Werror", "-O1", "-o", bin,
		"testdata/cclient/session.c", "-lzookeeper_mt").CombinedOutput()
	if err != nil {
		t.Fatalf("gcc testdata/cclient/session.c (needs Debian's gcc and libzookeeper-mt-dev): %v\n%s", err, out)
	}
	return bin
}

func runCClientPair(t *testing.T, bin string, apache, ours *harness.Server) {
	outA := compareToolTranscripts(t, "C client", func(addr string) (string, error) {
		return runTool(90*time.Second, bin, addr, "/cclient")
	}, apache.Addr(), ours.Addr())
	if !strings.Contains(outA, "get /: rc=0 data=''") {
		t.Errorf("apache transcript lacks the root's empty data: the scenario did not run as written")
	}
}

// compareToolTranscripts runs a client program against Apache (addrA) and
// ours (addrB) at the same time and fails t when the transcripts differ.
// It returns Apache's, for the caller's checks that the scenario ran.
func compareToolTranscripts(t *testing.T, what string, run func(addr string) (string, error), addrA, addrB string) string {
	t.Helper()
	var outA, outB string
	var errA, errB error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); outA, errA = run(addrA) }()
	go func() { defer wg.Done(); outB, errB = run(addrB) }()
	wg.Wait()
	if errA != nil {
		t.Fatalf("%s against apache: %v\n%s", what, errA, outA)
	}
	if errB != nil {
		t.Fatalf("%s against ours: %v\n%s", what, errB, outB)
	}
	if d := zkenv.UnifiedDiff("apache", "ours", strings.Split(outA, "\n"), strings.Split(outB, "\n")); d != "" {
		t.Errorf("%s transcripts differ:\n%s", what, d)
	}
	if testing.Verbose() || t.Failed() {
		t.Logf("%s against apache:\n%s", what, outA)
	}
	return outA
}

// runTool runs a program with a deadline and returns its trimmed stdout;
// on failure the output includes stderr.
func runTool(timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String() + stderr.String(), err
	}
	return strings.TrimSpace(stdout.String()), nil
}
