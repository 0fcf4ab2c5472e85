package config

import (
	"strings"
	"time"
)

// Defaults of the replication and restart keys (configs/README.md).
const (
	DefaultPositionInterval = 1 * time.Second
	DefaultRestartWindow    = 10 * time.Minute
	WhenAloneContinue       = "continue"
	WhenAloneBlock          = "block"
)

// Replication configures what zkfc knows of a replicated service: where
// each node's replication position is, how far behind a candidate may be,
// and whether the active keeps one standby synchronous (durable mode).
type Replication struct {
	// PositionInterval: how often the active records its position in the
	// Position znode and each other node its own in its members/ entry.
	PositionInterval time.Duration `koanf:"position_interval"`
	// MaxLag: a candidate promotes only if its position is at least the
	// old active's last recorded one minus MaxLag; nil: no check.
	MaxLag *uint64 `koanf:"max_lag"`
	// Durable: a candidate promotes only if the Sync znode names it as
	// the old active's synchronous standby.
	Durable bool `koanf:"durable"`
	// WhenAlone (durable mode): with the standby gone, "continue" turns
	// synchronous replication off (after recording nobody in sync),
	// "block" keeps it on and writes wait for the standby.
	WhenAlone string `koanf:"when_alone"`
}

// Restart configures restarting a failed service in place before failing
// over (Pacemaker's migration-threshold).
type Restart struct {
	// MaxAttempts within Window; 0 (default): never restart, fail over.
	MaxAttempts int           `koanf:"max_attempts"`
	Window      time.Duration `koanf:"window"`
}

func replicationDefaults() map[string]any {
	return map[string]any{
		"replication.position_interval": DefaultPositionInterval.String(),
		"replication.when_alone":        WhenAloneContinue,
		"restart.window":                DefaultRestartWindow.String(),
	}
}

func isReplicationListKey(key string) bool {
	for _, a := range []string{"rejoin", "position", "sync_on", "sync_off", "restart"} {
		if key == "actions."+a+".command" || key == "actions."+a+".env" {
			return true
		}
	}
	return false
}

func (c *Config) validateReplication(bad func(key, format string, args ...any)) {
	a := &c.Actions
	for _, x := range []struct {
		key string
		cmd *Command
	}{{"actions.rejoin", &a.Rejoin}, {"actions.position", &a.Position}, {"actions.sync_on", &a.SyncOn},
		{"actions.sync_off", &a.SyncOff}, {"actions.restart", &a.Restart}} {
		if x.cmd.Timeout == 0 {
			x.cmd.Timeout = DefaultActionTimeout
		}
		if x.cmd.Timeout < 0 {
			bad(x.key+".timeout", "must be positive, e.g. 30s")
		}
		if len(x.cmd.Command) == 0 && (len(x.cmd.Env) > 0) {
			bad(x.key+".command", "required when %s.env is set", x.key)
		}
	}
	r := c.Replication
	if r.PositionInterval <= 0 {
		bad("replication.position_interval", "must be positive, e.g. 1s")
	}
	if r.MaxLag != nil && len(a.Position.Command) == 0 {
		bad("replication.max_lag", "needs actions.position.command: a candidate compares its position with the old active's")
	}
	switch r.WhenAlone {
	case WhenAloneContinue, WhenAloneBlock:
	default:
		bad("replication.when_alone", "%q is not one of %s, %s", r.WhenAlone, WhenAloneContinue, WhenAloneBlock)
	}
	if r.Durable {
		var missing []string
		for _, x := range []struct {
			key string
			cmd Command
		}{{"actions.position.command", a.Position}, {"actions.sync_on.command", a.SyncOn}, {"actions.sync_off.command", a.SyncOff}} {
			if len(x.cmd.Command) == 0 {
				missing = append(missing, x.key)
			}
		}
		if len(missing) > 0 {
			bad("replication.durable", "needs %s: the active turns synchronous replication on and off for one standby and waits for it to catch up",
				strings.Join(missing, ", "))
		}
	}
	if c.Restart.MaxAttempts < 0 {
		bad("restart.max_attempts", "must not be negative (0: never restart in place)")
	}
	if c.Restart.MaxAttempts > 0 {
		if len(a.Restart.Command) == 0 {
			bad("actions.restart.command", "required when restart.max_attempts is set: the command that restarts the service in place")
		}
		if c.Restart.Window <= 0 {
			bad("restart.window", "must be positive when restart.max_attempts is set, e.g. 10m")
		}
	}
}
