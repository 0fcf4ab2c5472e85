// Package action runs the commands that promote, demote and query the local
// service: external programs, each under a deadline, with the fencing token,
// node id and target role in their environment (ZKFC_FENCING_TOKEN,
// ZKFC_NODE_ID, ZKFC_ROLE).
//
// It must never decide when to run them; that is the controller's job.
package action

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/zkfc/proc"
)

// Command is one external command.
type Command struct {
	Argv    []string
	Env     []string // extra "K=V" entries
	Timeout time.Duration
}

// Runner runs the promote, demote and role commands of one node.
type Runner struct {
	NodeID  string
	Promote Command
	Demote  Command
	Role    Command // optional; Argv nil means "not configured"
	lg      *zap.Logger
}

// New returns a Runner.
func New(nodeID string, promote, demote, role Command, lg *zap.Logger) *Runner {
	return &Runner{NodeID: nodeID, Promote: promote, Demote: demote, Role: role, lg: lg}
}

// DoPromote makes the local service active under token.
func (r *Runner) DoPromote(ctx context.Context, token uint64) error {
	_, err := r.run(ctx, r.Promote, "active", token)
	if err != nil {
		return fmt.Errorf("promote action: %w", err)
	}
	return nil
}

// DoDemote makes the local service standby.
func (r *Runner) DoDemote(ctx context.Context, token uint64) error {
	_, err := r.run(ctx, r.Demote, "standby", token)
	if err != nil {
		return fmt.Errorf("demote action: %w", err)
	}
	return nil
}

// ErrNoRoleCommand means actions.role is not configured.
var ErrNoRoleCommand = errors.New("no role command configured")

// QueryRole runs the role command and returns its first output word,
// lower-cased ("active", "standby", ...).
func (r *Runner) QueryRole(ctx context.Context) (string, error) {
	if len(r.Role.Argv) == 0 {
		return "", ErrNoRoleCommand
	}
	out, err := r.run(ctx, r.Role, "", 0)
	if err != nil {
		return "", fmt.Errorf("role action: %w", err)
	}
	f := strings.Fields(out)
	if len(f) == 0 {
		return "", fmt.Errorf("role action %q printed nothing; it must print active or standby", r.Role.Argv[0])
	}
	return strings.ToLower(f[0]), nil
}

func (r *Runner) run(ctx context.Context, c Command, role string, token uint64) (string, error) {
	if len(c.Argv) == 0 {
		return "", errors.New("no command configured")
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.Command(c.Argv[0], c.Argv[1:]...)
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Env = append(cmd.Env, "ZKFC_NODE_ID="+r.NodeID, fmt.Sprintf("ZKFC_FENCING_TOKEN=%d", token))
	if role != "" {
		cmd.Env = append(cmd.Env, "ZKFC_ROLE="+role)
	}
	// Each stream has its own bound: a role answer or an error's last
	// lines need far less, and a flood must not grow the daemon.
	stdout, stderr := proc.NewBuffer(maxOutput), proc.NewBuffer(maxOutput)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	start := time.Now()
	err := proc.Run(ctx, cmd)
	r.lg.Debug("action ran", zap.Strings("argv", c.Argv), zap.String("role", role), zap.Uint64("token", token),
		zap.Duration("took", time.Since(start)), zap.Error(err))
	if ctx.Err() == context.DeadlineExceeded {
		return "", fmt.Errorf("%q did not finish within %s (killed)", c.Argv[0], timeout)
	}
	if err != nil {
		return "", fmt.Errorf("%q: %w: %s", c.Argv[0], err, strings.TrimSpace(tail(stderr.String(), 512)))
	}
	return stdout.String(), nil
}

// maxOutput bounds what an action's stdout and stderr may each hold in
// zkfc's memory.
const maxOutput = 64 << 10

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
