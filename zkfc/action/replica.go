package action

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Replica runs the optional commands of a replicated service: rejoin,
// position, sync_on, sync_off and restart. A command whose Argv is nil
// is not configured; the controller asks only for configured ones.
type Replica struct {
	r                                          *Runner
	Rejoin, Position, SyncOn, SyncOff, Restart Command
}

// NewReplica returns the replica commands of r's node.
func NewReplica(r *Runner, rejoin, position, syncOn, syncOff, restart Command) *Replica {
	return &Replica{r: r, Rejoin: rejoin, Position: position, SyncOn: syncOn, SyncOff: syncOff, Restart: restart}
}

func with(c Command, env ...string) Command {
	c.Env = append(append([]string(nil), c.Env...), env...)
	return c
}

// DoRejoin makes the local service follow the active node (ZKFC_ACTIVE_*);
// ZKFC_FENCING_TOKEN is the active's token too.
func (p *Replica) DoRejoin(ctx context.Context, node, host string, port int, token uint64) error {
	c := with(p.Rejoin, "ZKFC_ACTIVE_NODE="+node, "ZKFC_ACTIVE_HOST="+host,
		fmt.Sprintf("ZKFC_ACTIVE_PORT=%d", port), fmt.Sprintf("ZKFC_ACTIVE_TOKEN=%d", token))
	if _, err := p.r.run(ctx, c, "standby", token); err != nil {
		return fmt.Errorf("rejoin action: %w", err)
	}
	return nil
}

// QueryPosition runs the position command: its first output word must be
// a non-negative integer.
func (p *Replica) QueryPosition(ctx context.Context) (uint64, error) {
	out, err := p.r.run(ctx, p.Position, "", 0)
	if err != nil {
		return 0, fmt.Errorf("position action: %w", err)
	}
	f := strings.Fields(out)
	if len(f) == 0 {
		return 0, fmt.Errorf("position action %q printed nothing; it must print a non-negative integer", p.Position.Argv[0])
	}
	n, err := strconv.ParseUint(f[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("position action %q printed %q; it must print a non-negative integer", p.Position.Argv[0], f[0])
	}
	return n, nil
}

// DoSyncOn makes the active service wait for standby's acknowledgment
// before it acknowledges a commit (ZKFC_SYNC_STANDBY).
func (p *Replica) DoSyncOn(ctx context.Context, standby string, token uint64) error {
	if _, err := p.r.run(ctx, with(p.SyncOn, "ZKFC_SYNC_STANDBY="+standby), "active", token); err != nil {
		return fmt.Errorf("sync_on action: %w", err)
	}
	return nil
}

// DoSyncOff makes the active service stop waiting for any standby
// (ZKFC_SYNC_STANDBY is empty).
func (p *Replica) DoSyncOff(ctx context.Context, token uint64) error {
	if _, err := p.r.run(ctx, with(p.SyncOff, "ZKFC_SYNC_STANDBY="), "active", token); err != nil {
		return fmt.Errorf("sync_off action: %w", err)
	}
	return nil
}

// DoRestart restarts the local service in place, in role (ZKFC_ROLE)
// under token (ZKFC_FENCING_TOKEN, 0 for a standby).
func (p *Replica) DoRestart(ctx context.Context, role string, token uint64) error {
	if _, err := p.r.run(ctx, p.Restart, role, token); err != nil {
		return fmt.Errorf("restart action: %w", err)
	}
	return nil
}
