package action

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

func TestEnvAndRole(t *testing.T) {
	out := filepath.Join(t.TempDir(), "env")
	sh := []string{"/bin/sh", "-c", `echo "$ZKFC_NODE_ID $ZKFC_FENCING_TOKEN $ZKFC_ROLE $EXTRA" > ` + out}
	r := New("nn1", Command{Argv: sh, Env: []string{"EXTRA=x"}}, Command{Argv: sh}, Command{Argv: []string{"/bin/echo", "ACTIVE", "since 3s"}}, zap.NewNop())
	if err := r.DoPromote(context.Background(), 42); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	if got := strings.TrimSpace(string(b)); got != "nn1 42 active x" {
		t.Fatalf("promote env = %q", got)
	}
	if err := r.DoDemote(context.Background(), 42); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(out)
	if got := strings.TrimSpace(string(b)); got != "nn1 42 standby" {
		t.Fatalf("demote env = %q", got)
	}
	role, err := r.QueryRole(context.Background())
	if err != nil || role != "active" {
		t.Fatalf("role = %q, %v", role, err)
	}
}

func TestFailureAndDeadline(t *testing.T) {
	r := New("nn1",
		Command{Argv: []string{"/bin/sh", "-c", "echo boom >&2; exit 3"}},
		// The child sleep must die with its parent shell at the deadline.
		Command{Argv: []string{"/bin/sh", "-c", "sleep 30; true"}, Timeout: 200 * time.Millisecond},
		Command{}, zap.NewNop())
	err := r.DoPromote(context.Background(), 1)
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("promote error %v does not carry stderr", err)
	}
	err = r.DoDemote(context.Background(), 1)
	if err == nil || !strings.Contains(err.Error(), "did not finish") {
		t.Fatalf("demote error %v, want deadline", err)
	}
	if _, err := r.QueryRole(context.Background()); err != ErrNoRoleCommand {
		t.Fatalf("role without command: %v", err)
	}
}

// A script that floods its output costs zkfc at most maxOutput per stream:
// the role is still read from the start of stdout, and an error carries
// stderr's last lines of what was kept.
func TestFloodedOutputIsCapped(t *testing.T) {
	flood := "head -c 4000000 /dev/zero | tr '\\0' x"
	r := New("nn1",
		Command{Argv: []string{"/bin/sh", "-c", flood + " >&2; exit 3"}},
		Command{},
		Command{Argv: []string{"/bin/sh", "-c", "echo standby; " + flood}}, zap.NewNop())
	err := r.DoPromote(context.Background(), 1)
	if err == nil {
		t.Fatal("promote succeeded, want exit status 3")
	}
	if len(err.Error()) > 1024 {
		t.Fatalf("promote error of %d bytes, want a bounded message", len(err.Error()))
	}
	out, err := r.run(context.Background(), r.Role, "", 0)
	if err != nil || len(out) != maxOutput || !strings.HasPrefix(out, "standby\n") {
		t.Fatalf("role output %d bytes (err %v), want the first %d", len(out), err, maxOutput)
	}
	if role, err := r.QueryRole(context.Background()); err != nil || role != "standby" {
		t.Fatalf("role = %q, %v", role, err)
	}
}
