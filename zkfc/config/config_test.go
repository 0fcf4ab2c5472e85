package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// baseYAML is a valid configuration but for the zookeeper section, which
// validYAML adds and the ZooKeeper security cases write themselves.
const baseYAML = `
node: {id: nn1, host: 127.0.0.1, port: 8080}
cluster: {name: c1}
health:
  http: {url: "http://127.0.0.1:8080/health"}
actions:
  promote: {command: [/bin/true]}
  demote: {command: [/bin/true]}
fencing:
  methods:
    - type: graceful
`

const validYAML = baseYAML + `zookeeper: {connect: "127.0.0.1:2181", allow_world_writable: true}
`

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "zkfc.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadDefaultsAndOverrides(t *testing.T) {
	p := write(t, validYAML)
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	fs.String("control.listen", "", "")
	fs.String("node.id", "", "")
	fs.Bool("json", false, "not a config key")
	if err := fs.Parse([]string{"--control.listen=127.0.0.1:9999", "--json"}); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p, []string{"ZKFC_NODE_ID=nn2", "ZKFC_ZOOKEEPER_SESSION_TIMEOUT=6s", "ZKFC_UNKNOWN=1", "OTHER=1"}, fs)
	if err != nil {
		t.Fatal(err)
	}
	if c.Node.ID != "nn2" {
		t.Errorf("env override: node.id = %q, want nn2", c.Node.ID)
	}
	if c.ZooKeeper.SessionTimeout != 6*time.Second {
		t.Errorf("env override: session_timeout = %s", c.ZooKeeper.SessionTimeout)
	}
	if c.Control.Listen != "127.0.0.1:9999" {
		t.Errorf("flag override: control.listen = %q", c.Control.Listen)
	}
	if c.ZooKeeper.SelfFenceMargin != DefaultSelfFenceMargin || c.Health.Interval != DefaultHealthInterval ||
		c.Failover.CedePeriod != DefaultCedePeriod || c.Actions.Promote.Timeout != DefaultActionTimeout ||
		c.Health.Rise != DefaultHealthRise {
		t.Errorf("defaults not applied: %+v", c)
	}
	if got := c.ClusterPath(); got != "/zkfc/c1" {
		t.Errorf("ClusterPath = %q", got)
	}
}

func TestValidationNamesTheKey(t *testing.T) {
	cases := []struct {
		name    string
		yaml    string // replaces validYAML's matching top-level block by appending (later keys win)
		env     []string
		wantKey string
	}{
		{"margin larger than session", "", []string{"ZKFC_ZOOKEEPER_SELF_FENCE_MARGIN=12s"}, "zookeeper.self_fence_margin"},
		{"margin equal to session", "", []string{"ZKFC_ZOOKEEPER_SELF_FENCE_MARGIN=10s"}, "zookeeper.self_fence_margin"},
		{"negative lb drain", "", []string{"ZKFC_CONTROL_LB_DRAIN=-1s"}, "control.lb_drain"},
		{"lb drain not below the graceful timeout", "fencing: {methods: [{type: graceful, timeout: 2s}]}\n", []string{"ZKFC_CONTROL_LB_DRAIN=2s"}, "control.lb_drain"},
		{"no fencing method", "fencing: {methods: []}\n", nil, "fencing.methods"},
		{"unknown fencing type", "fencing: {methods: [{type: stonith}]}\n", nil, "fencing.methods[0].type"},
		{"ssh without user", "fencing: {methods: [{type: ssh, ssh: {key_file: k}}]}\n", nil, "fencing.methods[0].ssh.user"},
		{"shell without command", "fencing: {methods: [{type: shell}]}\n", nil, "fencing.methods[0].shell.command"},
		{"missing node id", "", []string{"ZKFC_NODE_ID="}, "node.id"},
		{"no zookeeper", "", []string{"ZKFC_ZOOKEEPER_CONNECT="}, "zookeeper.connect"},
		{"no health check", "health: {interval: 1s}\n", nil, "health"},
		{"bad health url", "health: {http: {url: 'ftp://x/'}}\n", nil, "health.http.url"},
		{"ssh without known hosts", "fencing: {methods: [{type: ssh, ssh: {user: zkfc, key_file: k}}]}\n", nil, "fencing.methods[0].ssh.known_hosts_file"},
		{"no promote", "actions: {promote: {command: []}}\n", nil, "actions.promote.command"},
		{"bad parent", "cluster: {parent_znode: zkfc}\n", nil, "cluster.parent_znode"},
		{"quorum without id", "quorum: {enabled: true, data_dir: /x, client_listen: '127.0.0.1:1'}\n", nil, "quorum.id"},
		{"bad log level", "log: {level: loud}\n", nil, "log.level"},
		{"preferred leader not a member", "quorum: {enabled: true, id: 1, data_dir: /x, client_listen: '127.0.0.1:1', members: [{id: 1, peer: '127.0.0.1:2'}], preferred_leader: 5}\n", nil, "quorum.preferred_leader"},
		// lease_expired with the default demote timeout (30s) and margin (2s)
		{"lease margin below demote timeout", "fencing: {methods: [{type: lease_expired}, {type: graceful}]}\n", nil, "zookeeper.self_fence_margin"},
		// 2s margin < 1s demote + 10s/5 + 10s/4 + 100ms
		{"lease margin without ping slack", "fencing: {methods: [{type: lease_expired}]}\n", []string{"ZKFC_ACTIONS_DEMOTE_TIMEOUT=1s"}, "zookeeper.self_fence_margin"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := validYAML
			if tc.yaml != "" {
				body = mergeTop(validYAML, tc.yaml)
			}
			_, err := Load(write(t, body), tc.env, nil)
			if err == nil {
				t.Fatal("Load succeeded, want a validation error")
			}
			if !strings.Contains(err.Error(), tc.wantKey+":") {
				t.Fatalf("error %q does not name key %s", err, tc.wantKey)
			}
			if !strings.Contains(err.Error(), "zkfc.yaml") {
				t.Fatalf("error %q does not name the file", err)
			}
		})
	}
}

func TestLeaseExpiredAcceptedWithAMarginThatCoversTheDemote(t *testing.T) {
	body := mergeTop(mergeTop(validYAML, "fencing: {methods: [{type: lease_expired}, {type: graceful}]}\n"),
		"actions: {promote: {command: [/bin/true]}, demote: {command: [/bin/true], timeout: 1s}}\n")
	// External ensemble: 1s demote + 4s/5 ping + 4s/4 forwarding + 100ms = 2.9s
	c, err := Load(write(t, body), []string{"ZKFC_ZOOKEEPER_SESSION_TIMEOUT=4s", "ZKFC_ZOOKEEPER_SELF_FENCE_MARGIN=2900ms"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Fencing.Methods[0].Type != "lease_expired" {
		t.Fatalf("methods = %+v", c.Fencing.Methods)
	}
	_, err = Load(write(t, body), []string{"ZKFC_ZOOKEEPER_SESSION_TIMEOUT=4s", "ZKFC_ZOOKEEPER_SELF_FENCE_MARGIN=2899ms"}, nil)
	if err == nil || !strings.Contains(err.Error(), "actions.demote.timeout") {
		t.Fatalf("margin 1ms short of the demote budget: err = %v, want a refusal naming actions.demote.timeout", err)
	}
}

func TestUnknownKeyRejected(t *testing.T) {
	_, err := Load(write(t, validYAML+"failover: {cede_perod: 5s}\n"), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "cede_perod") {
		t.Fatalf("want an error naming the misspelt key, got %v", err)
	}
}

// mergeTop replaces the top-level block of extra's first key in base.
func mergeTop(base, extra string) string {
	key := strings.SplitN(extra, ":", 2)[0] + ":"
	var out []string
	skip := false
	for _, line := range strings.Split(base, "\n") {
		if strings.HasPrefix(line, key) {
			skip = true
			continue
		}
		if skip && (strings.HasPrefix(line, " ") || line == "") {
			continue
		}
		skip = false
		out = append(out, line)
	}
	return strings.Join(out, "\n") + "\n" + extra
}

// With the embedded quorum zkfc knows the forwarding period: tickTime/2 of
// its zoo.cfg, here 250ms instead of the external worst case of 1s.
func TestLeaseMarginUsesTheEmbeddedQuorumTick(t *testing.T) {
	dir := t.TempDir()
	zoo := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(zoo, []byte("tickTime=500\ndataDir="+dir+"\nclientPort=2181\nserver.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\nserver.3=127.0.0.1:2890:3890\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	body := mergeTop(mergeTop(mergeTop(validYAML, "fencing: {methods: [{type: lease_expired}, {type: graceful}]}\n"),
		"actions: {promote: {command: [/bin/true]}, demote: {command: [/bin/true], timeout: 1s}}\n"),
		"quorum: {enabled: true, config_file: "+zoo+"}\n")
	// 1s demote + 4s/5 ping + 500ms/2 forwarding + 100ms = 2.15s
	if _, err := Load(write(t, body), []string{"ZKFC_ZOOKEEPER_SESSION_TIMEOUT=4s", "ZKFC_ZOOKEEPER_SELF_FENCE_MARGIN=2150ms"}, nil); err != nil {
		t.Fatal(err)
	}
	_, err := Load(write(t, body), []string{"ZKFC_ZOOKEEPER_SESSION_TIMEOUT=4s", "ZKFC_ZOOKEEPER_SELF_FENCE_MARGIN=2149ms"}, nil)
	if err == nil || !strings.Contains(err.Error(), "tickTime/2 of quorum.config_file") {
		t.Fatalf("err = %v, want a refusal naming the quorum's tickTime", err)
	}
}

// Without a zoo.cfg the tickTime is quorum.tick_time (default 2s): the
// margin's forwarding term is half of it, and the session timeout must be
// one the quorum grants as asked (2 to 20 ticks).
func TestQuorumTickTime(t *testing.T) {
	body := mergeTop(mergeTop(validYAML, "fencing: {methods: [{type: lease_expired}, {type: graceful}]}\n"),
		"actions: {promote: {command: [/bin/true]}, demote: {command: [/bin/true], timeout: 1s}}\n")
	quorum := func(extra string) string {
		return mergeTop(body, "quorum: {enabled: true, id: 1, data_dir: /tmp/q, client_listen: 127.0.0.1:2181, peer_listen: 127.0.0.1:2888, members: [{id: 1, peer: 127.0.0.1:2888}]"+extra+"}\n")
	}
	env := func(session, margin string) []string {
		return []string{"ZKFC_ZOOKEEPER_SESSION_TIMEOUT=" + session, "ZKFC_ZOOKEEPER_SELF_FENCE_MARGIN=" + margin}
	}
	c, err := Load(write(t, quorum("")), env("10s", "4100ms"), nil) // 1s + 2s + 1s + 100ms
	if err != nil {
		t.Fatal(err)
	}
	if c.Quorum.TickTime != DefaultQuorumTickTime {
		t.Fatalf("quorum.tick_time = %s, want the default %s", c.Quorum.TickTime, DefaultQuorumTickTime)
	}
	for _, tc := range []struct {
		extra, session, margin, errHas string
	}{
		{"", "10s", "4099ms", "1s (quorum.tick_time/2"},
		{", tick_time: 500ms", "4s", "2150ms", ""}, // 1s + 800ms + 250ms + 100ms
		{", tick_time: 500ms", "4s", "2149ms", "250ms (quorum.tick_time/2"},
		{", tick_time: 3s", "4s", "3s", "zookeeper.session_timeout: 4s is outside what the embedded quorum grants with quorum.tick_time 3s (2 to 20 ticks: 6s to 1m0s)"},
		{", tick_time: 100ms", "4s", "3s", "2 to 20 ticks: 200ms to 2s"},
		{", tick_time: 0s", "4s", "3s", "quorum.tick_time: must be positive"},
	} {
		_, err := Load(write(t, quorum(tc.extra)), env(tc.session, tc.margin), nil)
		if tc.errHas == "" && err != nil {
			t.Errorf("%s session %s margin %s: %v", tc.extra, tc.session, tc.margin, err)
		}
		if tc.errHas != "" && (err == nil || !strings.Contains(err.Error(), tc.errHas)) {
			t.Errorf("%s session %s margin %s: err = %v, want %q", tc.extra, tc.session, tc.margin, err, tc.errHas)
		}
	}
}

// Health checks may be combined, as the healthcheck package runs them (a
// probe passes only when every check passes): all of them reach it.
func TestHealthChecksCombine(t *testing.T) {
	body := mergeTop(validYAML, "health: {tcp: {address: '127.0.0.1:1'}, http: {url: 'http://127.0.0.1:1/'}, exec: {command: [/bin/true]}}\n")
	c, err := Load(write(t, body), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := c.HealthCheck()
	if h.HTTP == nil || h.TCP == nil || h.Exec == nil || h.Interval != DefaultHealthInterval {
		t.Fatalf("health checks %+v, want all three with the default interval", h)
	}
}
