package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zkfc-project/zkfc/zkfc/config"
)

func TestImportHadoopWritesLoadableFiles(t *testing.T) {
	out := t.TempDir()
	conf := filepath.Join("..", "..", "hadoopconf", "testdata", "secure")
	args := []string{"--conf-dir", conf, "--out", out, "--check", "haadmin", "--auth-file", "/etc/zkfc/zookeeper-auth"}
	if code := cmdImportHadoop(args); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, nn := range []string{"nn1", "nn2"} {
		c, err := config.Load(filepath.Join(out, nn, "zkfc.yaml"), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.Node.ID != nn || c.ZooKeeper.AuthFile != "/etc/zkfc/zookeeper-auth" {
			t.Errorf("%s: node %q auth_file %q", nn, c.Node.ID, c.ZooKeeper.AuthFile)
		}
		fi, err := os.Stat(filepath.Join(out, nn, "zookeeper-auth"))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: zookeeper-auth %v %v, want mode 0600", nn, fi, err)
		}
	}
	// A second run must not replace what an operator may have edited.
	if code := cmdImportHadoop(args); code != 1 {
		t.Fatalf("second run without --force: exit %d, want 1", code)
	}
	if code := cmdImportHadoop(append(args, "--force")); code != 0 {
		t.Fatalf("--force: exit %d", code)
	}
}

func TestImportHadoopRefusalWritesNothing(t *testing.T) {
	out := t.TempDir()
	conf := filepath.Join("..", "..", "hadoopconf", "testdata", "unknown")
	if code := cmdImportHadoop([]string{"--conf-dir", conf, "--out", out}); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("wrote %s despite the refusal", strings.Join(names, ", "))
	}
}
