package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	zkfcconfig "github.com/zkfc-project/zkfc/zkfc/config"
)

// repo is the repository root, from this package's directory.
const repo = "../../.."

// exampleMembers is what demo.sh puts for @MEMBERS@.
const exampleMembers = `    - {id: 1, peer: "127.0.0.1:2891", client: "127.0.0.1:2181"}
    - {id: 2, peer: "127.0.0.1:2892", client: "127.0.0.1:2182"}
    - {id: 3, peer: "127.0.0.1:2893", client: "127.0.0.1:2183"}`

// renderTemplate fills an examples/demo template as demo.sh does.
func renderTemplate(t *testing.T, tmpl, node, id string) string {
	t.Helper()
	b, err := os.ReadFile(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	examples, err := filepath.Abs(filepath.Join(repo, "examples"))
	if err != nil {
		t.Fatal(err)
	}
	out := strings.NewReplacer("@NODE@", node, "@ID@", id, "@DIR@", t.TempDir(), "@EXAMPLES@", examples,
		"@CONNECT@", "127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183", "@CONTROL_PORT@", "8019",
		"@CLIENT_PORT@", "218"+id, "@PEER_PORT@", "289"+id, "@SERVICE_PORT@", "808"+id,
		"@MEMBERS@", exampleMembers).Replace(string(b))
	for _, line := range strings.Split(out, "\n") {
		if ph := regexp.MustCompile(`@[A-Z_]+@`).FindString(line); ph != "" && !strings.HasPrefix(strings.TrimSpace(line), "#") {
			t.Fatalf("%s: placeholder %s is not one demo.sh fills", tmpl, ph)
		}
	}
	p := filepath.Join(t.TempDir(), node+".yaml")
	if err := os.WriteFile(p, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkAccepted loads path as `zkfc run` does and builds what it builds
// from the configuration before reaching any host: the health monitor's
// configuration and the embedded member's.
func checkAccepted(t *testing.T, path string, env []string) {
	t.Helper()
	cfg, err := zkfcconfig.Load(path, env, nil)
	if err != nil {
		t.Fatalf("%s is refused: %v", path, err)
	}
	if !(cfg.Quorum.Enabled && cfg.Quorum.Witness) {
		hc := cfg.HealthCheck()
		if err := hc.Validate(); err != nil {
			t.Errorf("%s: health monitor: %v", path, err)
		}
	}
	if cfg.Quorum.Enabled {
		if _, err := embeddedConfig(cfg.Quorum, ""); err != nil {
			t.Errorf("%s: quorum section: %v", path, err)
		}
	}
}

// Every example configuration under configs/ and examples/ is one the
// binary accepts, so that no example can again be refused by the binary it
// documents (issue 13: configs/pair-nn1.yaml's lease_expired margin was).
func TestExampleConfigsAreAccepted(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repo, "configs", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example configs found: %v", err)
	}
	// Complete configurations shipped with an example (e.g.
	// examples/postgresql's three machines).
	more, _ := filepath.Glob(filepath.Join(repo, "examples", "*", "*.yaml"))
	files = append(files, more...)
	tmpls, _ := filepath.Glob(filepath.Join(repo, "examples", "*", "*.yaml.tmpl"))
	if len(tmpls) == 0 {
		t.Fatal("no example templates found under examples/")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { checkAccepted(t, f, nil) })
	}
	for _, f := range tmpls {
		t.Run(filepath.Base(f), func(t *testing.T) {
			node, id := "nn1", "1"
			if strings.HasPrefix(filepath.Base(f), "witness") {
				node, id = "witness", "3"
			}
			checkAccepted(t, renderTemplate(t, f, node, id), nil)
		})
	}
}

// configs/pair-nn1.yaml tells how to turn on lease_expired, with a margin
// and a demote timeout worked out in its comment: that configuration is
// accepted too.
func TestPairExampleLeaseVariantIsAccepted(t *testing.T) {
	src := filepath.Join(repo, "configs", "pair-nn1.yaml")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	m := regexp.MustCompile(`margin ([0-9.]+m?s) with actions\.demote\.timeout ([0-9.]+m?s)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("%s no longer states the margin and demote timeout for lease_expired", src)
	}
	const off, on = "    # - type: lease_expired\n", "    - type: lease_expired\n"
	if !strings.Contains(text, off) {
		t.Fatalf("%s: the commented lease_expired method is gone", src)
	}
	p := filepath.Join(t.TempDir(), "pair-nn1-lease.yaml")
	if err := os.WriteFile(p, []byte(strings.Replace(text, off, on, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	checkAccepted(t, p, []string{"ZKFC_ZOOKEEPER_SELF_FENCE_MARGIN=" + m[1], "ZKFC_ACTIONS_DEMOTE_TIMEOUT=" + m[2]})
}
