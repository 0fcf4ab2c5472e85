package integration

// go-zookeeper/zk v1.0.4's own reconfig tests, run from the module cache
// through quorum/bin/zkServer.sh (its harness starts "ZooKeeper" with
// $ZOOKEEPER_BIN_PATH/zkServer.sh). Without ZK_VERSION they skip, so it is
// set. The rest of its suite runs the same way by hand (README).

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestGoZookeeperSuiteReconfig(t *testing.T) {
	bin := os.Getenv("ZKFC_BIN")
	if bin == "" {
		t.Fatal("ZKFC_BIN is unset: build with `make build` and run with ZKFC_BIN=$PWD/bin/zkfc")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/go-zookeeper/zk").Output()
	if err != nil {
		t.Fatalf("locate go-zookeeper/zk in the module cache: %v", err)
	}
	src := strings.TrimSpace(string(out))
	// The module cache is read-only and go test writes nothing there, but
	// the package is built as a main module of its own: copy it.
	dir := t.TempDir()
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-v", "-run", "^(TestIntegration_IncrementalReconfig|TestIntegration_Reconfig)$", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ZOOKEEPER_BIN_PATH="+filepath.Join(repo, "quorum", "bin"), "ZK_VERSION=3.8.0", "ZKFC_BIN="+bin, "GOFLAGS=-mod=mod")
	b, err := cmd.CombinedOutput()
	got := string(b)
	for _, name := range []string{"TestIntegration_IncrementalReconfig", "TestIntegration_Reconfig"} {
		if !strings.Contains(got, "--- PASS: "+name+" ") {
			t.Errorf("go-zookeeper/zk's %s did not pass", name)
		}
	}
	if err != nil || t.Failed() {
		t.Fatalf("go-zookeeper/zk's reconfig tests: %v\n%s", err, tail(got, 60))
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
