package integration

// Apache Curator 5 (Debian's libcurator-*-java) in the differential suite:
// testdata/curator/CuratorScenarios.java, compiled here with javac, runs
// Curator's recipes (caches, locks, semaphore, leader latch and selector,
// queue, shared count, barrier, protected ephemeral sequential node, a
// failing transaction, a session expiry seen by another client) in one
// JVM per server, against Apache ZooKeeper 3.8 and against ours,
// standalone and through all 3 members of an ensemble, and the two
// transcripts must be equal.

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/integration/harness"
)

// curatorClasspath are the Debian jars Curator and the ZooKeeper client need.
var curatorClasspath = []string{
	"/usr/share/java/curator-framework.jar", "/usr/share/java/curator-client.jar",
	"/usr/share/java/curator-recipes.jar", "/usr/share/java/zookeeper.jar",
	"/usr/share/java/zookeeper-jute.jar", "/usr/share/java/guava.jar",
	"/usr/share/java/slf4j-api.jar", "/usr/share/java/slf4j-nop.jar",
}

func TestCuratorDifferential(t *testing.T) {
	cp := buildCurator(t)
	t.Run("standalone", func(t *testing.T) {
		a := harness.StartApache(t, cfgExtended.options())
		b := harness.StartOurs(t, cfgExtended.options())
		runCuratorPair(t, cp, a.Addr(), b.Addr())
	})
	t.Run("ensemble", func(t *testing.T) {
		a := harness.StartEnsemble(t, harness.Apache, 3, cfgExtended.options())
		b := harness.StartEnsemble(t, harness.Ours, 3, cfgExtended.options())
		runCuratorPair(t, cp, a.ConnectString(), b.ConnectString())
	})
}

// buildCurator compiles the scenarios and returns the classpath to run them.
func buildCurator(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cp := strings.Join(curatorClasspath, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "javac", "-nowarn", "-d", dir, "-cp", cp,
		filepath.Join("testdata", "curator", "CuratorScenarios.java")).CombinedOutput()
	if err != nil {
		t.Fatalf("javac testdata/curator/CuratorScenarios.java (needs Debian's default-jdk-headless, libcurator-framework-java, libcurator-recipes-java, libslf4j-java): %v\n%s", err, out)
	}
	return dir + ":" + cp
}

func runCuratorPair(t *testing.T, cp, apache, ours string) {
	outA := compareToolTranscripts(t, "Curator", func(connect string) (string, error) {
		return runTool(4*time.Minute, "java", "-Xmx128m", "-XX:+UseSerialGC", "-cp", cp, "CuratorScenarios", connect, "/curator")
	}, apache, ours)
	// The transcript must show the scenarios ran, not only agree.
	for _, want := range []string{"get / data=''", "NODE_CREATED R/cc/a data='a'", "b sees NodeDeleted R/expiry/eph", "== end"} {
		if !strings.Contains(outA, want) {
			t.Errorf("apache transcript lacks %q: a scenario did not run as written", want)
		}
	}
	if strings.Contains(outA, "timeout") || strings.Contains(outA, "scenario failed") {
		t.Errorf("apache transcript has a timeout or a failed scenario: the harness, not the server, is wrong")
	}
}
