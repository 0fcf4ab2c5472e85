package fencing

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"

	"github.com/zkfc-project/zkfc/zkfc/proc"
)

// shellMethod runs a local command (a PDU or IPMI power-off, a cloud API
// call). The target is described in its environment, never spliced into
// its argv, so no value can change what runs. Exit 0 means fenced.
type shellMethod struct {
	argv []string
	env  []string
}

func (s *shellMethod) Name() string { return "shell" }

// targetEnv is the environment describing t: zkfc's own names plus the
// ones Hadoop's shell fencer sets, so existing scripts keep working.
func targetEnv(t Target) []string {
	port := strconv.Itoa(t.Port)
	return []string{
		"ZKFC_TARGET_NODE=" + t.NodeID,
		"ZKFC_TARGET_HOST=" + t.Host,
		"ZKFC_TARGET_PORT=" + port,
		"ZKFC_TARGET_ADDRESS=" + t.Address(),
		"ZKFC_TARGET_CONTROL_URL=" + t.ControlURL,
		"ZKFC_FENCING_TOKEN=" + strconv.FormatUint(t.Token, 10),
		"target_host=" + t.Host,
		"target_port=" + port,
		"target_address=" + t.Address(),
	}
}

func (s *shellMethod) Fence(ctx context.Context, t Target) error {
	cmd := exec.Command(s.argv[0], s.argv[1:]...)
	// Later entries win, so the target's values cannot be overridden by
	// an inherited variable of the same name.
	cmd.Env = append(append(os.Environ(), s.env...), targetEnv(t)...)
	out, err := proc.Combined(ctx, cmd, maxOutput)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("shell fence %s: killed (process group) when the method timed out: %w; output: %s",
			s.argv[0], ctx.Err(), snippet(out))
	default:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("shell fence %s: %v; output: %s", s.argv[0], err, snippet(out))
		}
		return fmt.Errorf("shell fence %s: %w", s.argv[0], err)
	}
}

// Check only confirms the command can be started: running it would fence.
func (s *shellMethod) Check(_ context.Context, _ Target) error {
	if _, err := exec.LookPath(s.argv[0]); err != nil {
		return fmt.Errorf("shell fence command: %w", err)
	}
	return nil
}
