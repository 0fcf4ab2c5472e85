package config

import (
	"strings"
	"testing"
	"time"
)

func TestReplicationKeys(t *testing.T) {
	y := strings.Replace(validYAML, "  demote: {command: [/bin/true]}\n", "  demote: {command: [/bin/true]}\n"+
		"  position: {command: [/bin/echo, '1']}\n  sync_on: {command: [/bin/true]}\n  sync_off: {command: [/bin/true]}\n"+
		"  restart: {command: [/bin/true], timeout: 20s}\n  rejoin: {command: [/bin/true], env: [A=b]}\n", 1)
	c, err := Load(write(t, y+"replication: {max_lag: 0, durable: true, when_alone: block}\nrestart: {max_attempts: 3}\n"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := c.Replication
	if r.MaxLag == nil || *r.MaxLag != 0 || !r.Durable || r.WhenAlone != WhenAloneBlock || r.PositionInterval != time.Second {
		t.Fatalf("replication %+v", r)
	}
	if c.Restart.MaxAttempts != 3 || c.Restart.Window != 10*time.Minute || c.Actions.Restart.Timeout != 20*time.Second || c.Actions.Rejoin.Timeout != DefaultActionTimeout {
		t.Fatalf("restart %+v, actions %+v", c.Restart, c.Actions)
	}
	c, err = Load(write(t, validYAML), nil, nil)
	if err != nil || c.Replication.MaxLag != nil || c.Replication.Durable || c.Restart.MaxAttempts != 0 {
		t.Fatalf("defaults: %+v %+v %v", c.Replication, c.Restart, err)
	}
}

func TestReplicationValidation(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"replication: {durable: true}\n", "replication.durable: needs actions.position.command, actions.sync_on.command, actions.sync_off.command"},
		{"replication: {max_lag: 10}\n", "replication.max_lag: needs actions.position.command"},
		{"replication: {when_alone: maybe}\n", `replication.when_alone: "maybe" is not one of continue, block`},
		{"replication: {position_interval: 0s}\n", "replication.position_interval: must be positive"},
		{"restart: {max_attempts: 2}\n", "actions.restart.command: required when restart.max_attempts is set"},
		{"restart: {max_attempts: -1}\n", "restart.max_attempts: must not be negative"},
	} {
		_, err := Load(write(t, validYAML+tc.yaml), nil, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.yaml, err, tc.want)
		}
	}
}
