// Package config loads and validates the zkfc daemon's configuration: one
// YAML file, overridden by ZKFC_* environment variables, overridden by
// command-line flags (koanf does the layering).
//
// It must never start anything or touch the network: it turns text into a
// validated Config, and every error it returns names the offending key and
// the file it came from, so an operator knows what to edit.
package config

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	envprov "github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"

	"github.com/zkfc-project/zkfc/fencing"
	"github.com/zkfc-project/zkfc/healthcheck"
	qconfig "github.com/zkfc-project/zkfc/quorum/config"
)

// Defaults. They follow Hadoop's ZKFC where it has one (session timeout 10 s,
// health interval 1 s) and are documented in configs/README.md.
const (
	DefaultSessionTimeout  = 10 * time.Second
	DefaultSelfFenceMargin = 2 * time.Second
	DefaultHealthInterval  = 1 * time.Second
	DefaultHealthTimeout   = 2 * time.Second
	DefaultCedePeriod      = 10 * time.Second
	DefaultActionTimeout   = 30 * time.Second
	DefaultBackoffInitial  = 1 * time.Second
	DefaultBackoffMax      = 30 * time.Second
	DefaultPriorityDelay   = 2 * time.Second
	DefaultRoleInterval    = 5 * time.Second
	DefaultHealthRise      = 2
	DefaultHealthFall      = 2
	DefaultParentZnode     = "/zkfc"
	DefaultControlListen   = "127.0.0.1:8019"
	// DefaultQuorumTickTime is the embedded quorum's tickTime when the YAML
	// sets none: ZooKeeper's sample zoo.cfg value, which grants sessions of
	// 4s to 40s. (A zoo.cfg without tickTime gets ZooKeeper's 3s, through
	// quorum.config_file or `zkfc quorum`.)
	DefaultQuorumTickTime = 2 * time.Second
)

// EnvPrefix is the prefix of environment overrides: ZKFC_NODE_ID sets node.id.
const EnvPrefix = "ZKFC_"

// Config is the whole daemon configuration.
type Config struct {
	Node      Node      `koanf:"node"`
	Cluster   Cluster   `koanf:"cluster"`
	ZooKeeper ZooKeeper `koanf:"zookeeper"`
	Control   Control   `koanf:"control"`
	Health    Health    `koanf:"health"`
	Actions   Actions   `koanf:"actions"`
	Fencing   Fencing   `koanf:"fencing"`
	Failover  Failover  `koanf:"failover"`
	Quorum    Quorum    `koanf:"quorum"`
	Log       Log       `koanf:"log"`

	// Replication and Restart drive the optional actions of a replicated
	// service (see replication.go).
	Replication Replication `koanf:"replication"`
	Restart     Restart     `koanf:"restart"`

	// Source is the file the configuration was read from, for messages.
	Source string `koanf:"-"`
}

// Node describes this zkfc and the service it guards.
type Node struct {
	ID string `koanf:"id"`
	// Host and Port locate the guarded service; fencing methods use them
	// when this node is the one being fenced.
	Host string `koanf:"host"`
	Port int    `koanf:"port"`
	// Priority: among healthy candidates the highest wins a free lock.
	Priority int `koanf:"priority"`
	// NoFailover: this node never becomes active automatically.
	NoFailover bool `koanf:"no_failover"`
}

// Cluster names the znodes: <parent_znode>/<name>/...
type Cluster struct {
	Name        string `koanf:"name"`
	ParentZnode string `koanf:"parent_znode"`
}

// ZooKeeper is how zkfc reaches the quorum.
type ZooKeeper struct {
	// Connect is a ZooKeeper connect string, "host:port,host:port". Empty
	// when quorum.enabled: zkfc then uses the embedded member's client address.
	Connect         string        `koanf:"connect"`
	SessionTimeout  time.Duration `koanf:"session_timeout"`
	SelfFenceMargin time.Duration `koanf:"self_fence_margin"`
	// AuthFile holds digest credentials "user:password" (mode 0600), sent
	// with addAuth on every session so that the ACLs below can name zkfc.
	AuthFile string `koanf:"auth_file"`
	// ACL of every znode zkfc creates, ZooKeeper's notation with
	// permission letters: "digest:zkfc:<base64 sha1>:cdrwa",
	// "ip:10.0.0.0/8:r", "world:anyone:r", or "auth" (all permissions for
	// the identity of auth_file). Empty means world:anyone:cdrwa, which is
	// refused unless AllowWorldWritable.
	ACL []string `koanf:"acl"`
	// AllowWorldWritable: run with election znodes anyone may change
	// (a test rig, or a network where ZooKeeper is otherwise unreachable).
	AllowWorldWritable bool `koanf:"allow_world_writable"`
	// TLS to the quorum's secure client port.
	TLS ZooKeeperTLS `koanf:"tls"`
}

// ZooKeeperTLS is zkfc's TLS client towards ZooKeeper (PEM files).
type ZooKeeperTLS struct {
	Enabled bool `koanf:"enabled"`
	// CAFile verifies the servers' certificates (empty: the system's CAs).
	CAFile string `koanf:"ca_file"`
	// CertFile and KeyFile are zkfc's client certificate, for servers that
	// require one (ssl.clientAuth=need, ZooKeeper's default).
	CertFile string `koanf:"cert_file"`
	KeyFile  string `koanf:"key_file"`
	// ServerName is checked against the certificates; default the host of
	// each connect-string entry.
	ServerName string `koanf:"server_name"`
}

// Control is the HTTP control API.
type Control struct {
	Listen string `koanf:"listen"`
	// AdvertiseURL is how peers and the CLI reach this API; defaults to
	// http://<listen>, or https:// with tls.cert_file.
	AdvertiseURL string `koanf:"advertise_url"`
	// TokenFile holds the bearer token (mode 0600) the API demands and
	// that the CLI and peer zkfcs present.
	TokenFile string     `koanf:"token_file"`
	TLS       ControlTLS `koanf:"tls"`
	// LBDrain: how long an active answers 503 on /active before its
	// service is demoted, so that load balancers stop routing to it first;
	// 0 (default): no wait. Set it above the load balancer's detection time
	// (HAProxy: inter × fall).
	LBDrain time.Duration `koanf:"lb_drain"`
}

// ControlTLS secures the control API. The same file serves the daemon
// (server side) and the CLI and peer zkfcs (client side).
type ControlTLS struct {
	// CertFile and KeyFile: the API's certificate; setting them serves HTTPS.
	CertFile string `koanf:"cert_file"`
	KeyFile  string `koanf:"key_file"`
	// ClientCAFile: client certificates signed by this CA authenticate a
	// caller (without token_file, a certificate is required).
	ClientCAFile string `koanf:"client_ca_file"`
	// CAFile verifies the API's certificate when calling it (the CLI, the
	// peers, graceful fencing); empty: the system's CAs.
	CAFile string `koanf:"ca_file"`
	// ClientCertFile and ClientKeyFile: the certificate presented when
	// calling an API that wants one.
	ClientCertFile string `koanf:"client_cert_file"`
	ClientKeyFile  string `koanf:"client_key_file"`
}

// Health configures the health monitor of the local service.
type Health struct {
	Interval time.Duration `koanf:"interval"`
	Timeout  time.Duration `koanf:"timeout"`
	Rise     int           `koanf:"rise"`
	Fall     int           `koanf:"fall"`
	HTTP     *HTTPCheck    `koanf:"http"`
	TCP      *TCPCheck     `koanf:"tcp"`
	Exec     *ExecCheck    `koanf:"exec"`
}

// HTTPCheck: GET URL, healthy when the status is expected.
type HTTPCheck struct {
	URL          string `koanf:"url"`
	ExpectStatus []int  `koanf:"expect_status"`
	BodyContains string `koanf:"body_contains"`
}

// TCPCheck: healthy when Address accepts a connection.
type TCPCheck struct {
	Address string `koanf:"address"`
}

// ExecCheck: healthy when Command exits 0.
type ExecCheck struct {
	Command []string `koanf:"command"`
	Env     []string `koanf:"env"`
}

// Actions are the commands that change or read the local service's role.
type Actions struct {
	Promote      Command       `koanf:"promote"`
	Demote       Command       `koanf:"demote"`
	Role         Command       `koanf:"role"`
	RoleInterval time.Duration `koanf:"role_interval"`
	// The optional actions of a replicated service (replication.go).
	Rejoin   Command `koanf:"rejoin"`
	Position Command `koanf:"position"`
	SyncOn   Command `koanf:"sync_on"`
	SyncOff  Command `koanf:"sync_off"`
	Restart  Command `koanf:"restart"`
}

// Command is an external command with a deadline.
type Command struct {
	Command []string      `koanf:"command"`
	Env     []string      `koanf:"env"`
	Timeout time.Duration `koanf:"timeout"`
}

// Fencing lists the methods tried, in order, against an old active.
type Fencing struct {
	Methods []FenceMethod `koanf:"methods"`
}

// FenceMethod is one fencing method: lease_expired, graceful, ssh or shell.
type FenceMethod struct {
	Type    string        `koanf:"type"`
	Timeout time.Duration `koanf:"timeout"`
	SSH     *SSHFence     `koanf:"ssh"`
	Shell   *ShellFence   `koanf:"shell"`
}

// SSHFence kills the old active's listener over SSH.
type SSHFence struct {
	User                  string        `koanf:"user"`
	Port                  int           `koanf:"port"`
	KeyFile               string        `koanf:"key_file"`
	UseAgent              bool          `koanf:"use_agent"`
	KnownHostsFile        string        `koanf:"known_hosts_file"`
	InsecureIgnoreHostKey bool          `koanf:"insecure_ignore_host_key"`
	ConnectTimeout        time.Duration `koanf:"connect_timeout"`
	Command               string        `koanf:"command"`
}

// ShellFence runs a local command that fences the target.
type ShellFence struct {
	Command []string `koanf:"command"`
	Env     []string `koanf:"env"`
}

// Failover tunes election and graceful failover.
type Failover struct {
	CedePeriod     time.Duration `koanf:"cede_period"`
	BackoffInitial time.Duration `koanf:"backoff_initial"`
	BackoffMax     time.Duration `koanf:"backoff_max"`
	// PriorityDelay is how long a candidate waits before taking a free lock
	// while a healthy candidate of higher priority is registered.
	PriorityDelay time.Duration `koanf:"priority_delay"`
	// Failsafe keeps an active service active through a quorum outage
	// while every peer in FailsafePeers answers that it is not active and
	// cannot reach the quorum either (configs/README.md, "Failsafe mode").
	Failsafe      bool           `koanf:"failsafe"`
	FailsafePeers []FailsafePeer `koanf:"failsafe_peers"`
}

// FailsafePeer is another candidate's zkfc, asked in failsafe mode.
type FailsafePeer struct {
	ID string `koanf:"id"`
	// URL of its control API (its control.advertise_url).
	URL string `koanf:"url"`
}

// Quorum is the embedded quorum member zkfc can host in-process.
type Quorum struct {
	Enabled bool `koanf:"enabled"`
	// ID of this member, unique in Members.
	ID uint64 `koanf:"id"`
	// DataDir holds the member's log and snapshots.
	DataDir string `koanf:"data_dir"`
	// ClientListen is the ZooKeeper-protocol address clients (and this zkfc)
	// connect to.
	ClientListen string `koanf:"client_listen"`
	// PeerListen is the replication address.
	PeerListen string `koanf:"peer_listen"`
	// Members is the whole ensemble, this member included.
	Members []QuorumMember `koanf:"members"`
	// Witness: this member votes but zkfc on it guards no service (the third
	// vote of a two-node pair).
	Witness bool `koanf:"witness"`
	// TickTime is the quorum's time unit: the quorum grants session
	// timeouts from 2 to 20 ticks, expires sessions no later than half a
	// tick after their timeout, and its followers forward session pings to
	// the leader every half tick.
	TickTime time.Duration `koanf:"tick_time"`
	// PreferredLeader is the member id that should lead the quorum while
	// it is up (0: any). Name the witness: then losing a data node's host
	// never also costs the quorum an election, which renews every session
	// and delays the failover by the election time. Give every member the
	// same value.
	PreferredLeader uint64 `koanf:"preferred_leader"`
	// ReconfigEnabled lets clients with the super user's credentials
	// change the membership (ZooKeeper's reconfigEnabled; zkfc quorum add
	// and remove need it). Give every member the same value.
	ReconfigEnabled bool `koanf:"reconfig_enabled"`
	// ConfigFile, if set, is handed to the quorum package as is instead of
	// the fields above.
	ConfigFile string `koanf:"config_file"`
}

// QuorumMember is one voter of the embedded quorum.
type QuorumMember struct {
	ID     uint64 `koanf:"id"`
	Peer   string `koanf:"peer"`
	Client string `koanf:"client"`
}

// Log configures zap.
type Log struct {
	Level  string `koanf:"level"`
	Format string `koanf:"format"` // json | console
}

// ClusterPath is <parent_znode>/<cluster name>.
func (c *Config) ClusterPath() string {
	return strings.TrimRight(c.Cluster.ParentZnode, "/") + "/" + c.Cluster.Name
}

func defaults() map[string]any {
	m := map[string]any{
		"cluster.parent_znode":        DefaultParentZnode,
		"zookeeper.session_timeout":   DefaultSessionTimeout.String(),
		"zookeeper.self_fence_margin": DefaultSelfFenceMargin.String(),
		"control.listen":              DefaultControlListen,
		"health.interval":             DefaultHealthInterval.String(),
		"health.timeout":              DefaultHealthTimeout.String(),
		"health.rise":                 DefaultHealthRise,
		"health.fall":                 DefaultHealthFall,
		"actions.role_interval":       DefaultRoleInterval.String(),
		"failover.cede_period":        DefaultCedePeriod.String(),
		"failover.backoff_initial":    DefaultBackoffInitial.String(),
		"failover.backoff_max":        DefaultBackoffMax.String(),
		"failover.priority_delay":     DefaultPriorityDelay.String(),
		"quorum.tick_time":            DefaultQuorumTickTime.String(),
		"log.level":                   "info",
		"log.format":                  "json",
	}
	maps.Copy(m, replicationDefaults())
	return m
}

// Keys lists every scalar configuration key ("node.id", ...), the names
// environment variables and flags may override. A list of entries
// (fencing.methods) is one key.
func Keys() []string { return keys(false) }

// keys walks Config's koanf tags; with entries, the fields of list entries
// are keys of their own ("fencing.methods[].ssh.user"), as the docs list
// them.
func keys(entries bool) []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("koanf")
			if tag == "" || tag == "-" {
				continue
			}
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			switch {
			case entries && ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				walk(ft.Elem(), prefix+tag+"[].")
			case ft.Kind() == reflect.Struct && ft != reflect.TypeOf(time.Duration(0)):
				walk(ft, prefix+tag+".")
			default:
				out = append(out, prefix+tag)
			}
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	return out
}

// EnvName is the environment variable overriding key: node.id -> ZKFC_NODE_ID.
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Load reads path (may be empty: then only env and flags count), applies
// environ (os.Environ() in production; "K=V" strings) and the flags that
// were set on fs (flag names are keys, "node.id"; fs may be nil), and
// validates the result.
func Load(path string, environ []string, fs *pflag.FlagSet) (*Config, error) {
	k := koanf.New(".")
	if err := k.Load(confmapProvider(defaults()), nil); err != nil {
		return nil, fmt.Errorf("load defaults: %w", err)
	}
	if path != "" {
		if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
			return nil, fmt.Errorf("config file %s: %w (check the path and the YAML syntax)", path, err)
		}
	}
	byEnv := map[string]string{}
	for _, key := range Keys() {
		byEnv[EnvName(key)] = key
	}
	env := envprov.Provider(".", envprov.Opt{
		Prefix:      EnvPrefix,
		EnvironFunc: func() []string { return environ },
		TransformFunc: func(name, v string) (string, any) {
			key, ok := byEnv[name]
			if !ok {
				return "", nil
			}
			if isListKey(key) {
				return key, strings.Fields(v)
			}
			return key, v
		},
	})
	if err := k.Load(env, nil); err != nil {
		return nil, fmt.Errorf("environment overrides: %w", err)
	}
	if fs != nil {
		known := map[string]bool{}
		for _, key := range Keys() {
			known[key] = true
		}
		// Only changed flags named after a config key override: a command's
		// other flags (--json, --config) are not configuration.
		flags := posflag.ProviderWithFlag(fs, ".", nil, func(f *pflag.Flag) (string, any) {
			if !f.Changed || !known[f.Name] {
				return "", nil
			}
			return f.Name, posflag.FlagVal(fs, f)
		})
		if err := k.Load(flags, nil); err != nil {
			return nil, fmt.Errorf("flag overrides: %w", err)
		}
	}
	var c Config
	err := k.UnmarshalWithConf("", &c, koanf.UnmarshalConf{
		Tag: "koanf",
		DecoderConfig: &mapstructure.DecoderConfig{
			DecodeHook: mapstructure.ComposeDecodeHookFunc(
				mapstructure.StringToTimeDurationHookFunc(),
				mapstructure.StringToSliceHookFunc(","),
			),
			Metadata:         nil,
			Result:           &c,
			WeaklyTypedInput: true,
			ErrorUnused:      true,
		},
	})
	src := path
	if src == "" {
		src = "(environment and flags)"
	}
	if err != nil {
		return nil, fmt.Errorf("config %s: %w (see configs/ for a commented example)", src, err)
	}
	c.Source = src
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func isListKey(key string) bool {
	switch key {
	case "health.exec.command", "health.exec.env", "health.http.expect_status",
		"actions.promote.command", "actions.demote.command", "actions.role.command",
		"actions.promote.env", "actions.demote.env", "actions.role.env", "zookeeper.acl":
		return true
	}
	return isReplicationListKey(key)
}

// FieldError is a validation failure of one key.
type FieldError struct {
	Source string
	Key    string
	Msg    string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("config %s: %s: %s", e.Source, e.Key, e.Msg)
}

// Validate checks the configuration as a whole; it returns every problem
// found, joined, each a *FieldError naming its key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &FieldError{Source: c.Source, Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if c.Node.ID == "" {
		bad("node.id", "required: a name unique in the cluster, e.g. nn1 (or set ZKFC_NODE_ID)")
	} else if strings.ContainsAny(c.Node.ID, "/ \t\n") {
		bad("node.id", "%q must not contain '/' or spaces", c.Node.ID)
	}
	if c.Cluster.Name == "" {
		bad("cluster.name", "required: the name of the guarded pair, e.g. mycluster")
	} else if strings.Contains(c.Cluster.Name, "/") {
		bad("cluster.name", "%q must not contain '/'", c.Cluster.Name)
	}
	if !strings.HasPrefix(c.Cluster.ParentZnode, "/") || (len(c.Cluster.ParentZnode) > 1 && strings.HasSuffix(c.Cluster.ParentZnode, "/")) {
		bad("cluster.parent_znode", "%q must be an absolute znode path like /zkfc", c.Cluster.ParentZnode)
	}
	if c.ZooKeeper.Connect == "" && !c.Quorum.Enabled {
		bad("zookeeper.connect", "required unless quorum.enabled: a connect string like 127.0.0.1:2181,10.0.0.2:2181")
	}
	if c.ZooKeeper.SessionTimeout <= 0 {
		bad("zookeeper.session_timeout", "must be positive, e.g. 10s")
	}
	if c.ZooKeeper.SelfFenceMargin <= 0 {
		bad("zookeeper.self_fence_margin", "must be positive, e.g. 2s")
	} else if c.ZooKeeper.SelfFenceMargin >= c.ZooKeeper.SessionTimeout {
		bad("zookeeper.self_fence_margin", "%s must be smaller than zookeeper.session_timeout (%s): the active demotes itself at session timeout minus this margin",
			c.ZooKeeper.SelfFenceMargin, c.ZooKeeper.SessionTimeout)
	}
	c.validateSecurity(bad)
	if c.Control.Listen == "" {
		bad("control.listen", "required: host:port of the control API, e.g. 127.0.0.1:8019")
	}
	if c.Control.AdvertiseURL != "" {
		if u, err := url.Parse(c.Control.AdvertiseURL); err != nil || u.Scheme == "" || u.Host == "" {
			bad("control.advertise_url", "%q is not an absolute URL like http://10.0.0.1:8019", c.Control.AdvertiseURL)
		}
	}
	if c.Control.LBDrain < 0 {
		bad("control.lb_drain", "must not be negative, e.g. 2s (0: no wait)")
	}
	for i, m := range c.Fencing.Methods {
		if m.Type == "graceful" && m.Timeout > 0 && m.Timeout <= c.Control.LBDrain {
			bad("control.lb_drain", "%s must be shorter than fencing.methods[%d] (graceful) timeout %s: a peer's graceful fence waits for the drain and the demote",
				c.Control.LBDrain, i, m.Timeout)
		}
	}
	witness := c.Quorum.Enabled && c.Quorum.Witness
	if !witness {
		c.validateService(bad)
	}
	if c.Failover.CedePeriod <= 0 {
		bad("failover.cede_period", "must be positive, e.g. 10s")
	}
	if c.Failover.BackoffInitial <= 0 {
		bad("failover.backoff_initial", "must be positive, e.g. 1s")
	}
	if c.Failover.BackoffMax < c.Failover.BackoffInitial {
		bad("failover.backoff_max", "%s must be at least failover.backoff_initial (%s)", c.Failover.BackoffMax, c.Failover.BackoffInitial)
	}
	if c.Failover.PriorityDelay < 0 {
		bad("failover.priority_delay", "must not be negative")
	}
	if c.Quorum.Enabled {
		c.validateQuorum(bad)
	}
	if !witness {
		c.validateReplication(bad)
	}
	c.validateFailsafe(witness, bad)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "console":
	default:
		bad("log.format", "%q is not one of json, console", c.Log.Format)
	}
	return errors.Join(errs...)
}

func (c *Config) validateService(bad func(key, format string, args ...any)) {
	c.HealthCheck().Check("health", bad)
	for _, a := range []struct {
		key string
		cmd *Command
		req bool
	}{{"actions.promote", &c.Actions.Promote, true}, {"actions.demote", &c.Actions.Demote, true}, {"actions.role", &c.Actions.Role, false}} {
		if len(a.cmd.Command) == 0 {
			if a.req {
				bad(a.key+".command", "required: the command that makes the local service %s", strings.TrimPrefix(a.key, "actions."))
			}
			continue
		}
		if a.cmd.Timeout == 0 {
			a.cmd.Timeout = DefaultActionTimeout
		}
		if a.cmd.Timeout < 0 {
			bad(a.key+".timeout", "must be positive, e.g. 30s")
		}
	}
	if len(c.Actions.Role.Command) > 0 && c.Actions.RoleInterval <= 0 {
		bad("actions.role_interval", "must be positive when actions.role is set, e.g. 5s")
	}
	methods := c.FenceMethods()
	fencing.Validate("fencing.methods", methods, bad)
	lease := -1
	for i, m := range methods {
		if m.Type == "lease_expired" && lease < 0 {
			lease = i
		}
	}
	if lease >= 0 {
		c.validateLease(lease, bad)
	}
}

// HealthCheck is the health section as the healthcheck package takes it.
func (c *Config) HealthCheck() healthcheck.Config {
	h := c.Health
	out := healthcheck.Config{Interval: h.Interval, Timeout: h.Timeout, Rise: h.Rise, Fall: h.Fall}
	if h.HTTP != nil {
		out.HTTP = &healthcheck.HTTPCheck{URL: h.HTTP.URL, ExpectStatus: h.HTTP.ExpectStatus, BodyContains: h.HTTP.BodyContains}
	}
	if h.TCP != nil {
		out.TCP = &healthcheck.TCPCheck{Address: h.TCP.Address}
	}
	if h.Exec != nil {
		out.Exec = &healthcheck.ExecCheck{Command: h.Exec.Command, Env: h.Exec.Env}
	}
	return out
}

// FenceMethods is fencing.methods as the fencing package takes it.
func (c *Config) FenceMethods() []fencing.MethodConfig {
	var out []fencing.MethodConfig
	for _, m := range c.Fencing.Methods {
		mc := fencing.MethodConfig{Type: m.Type, Timeout: m.Timeout}
		if m.SSH != nil {
			mc.SSH = &fencing.SSHConfig{User: m.SSH.User, Port: m.SSH.Port, KeyFile: m.SSH.KeyFile, UseAgent: m.SSH.UseAgent,
				KnownHostsFile: m.SSH.KnownHostsFile, InsecureIgnoreHostKey: m.SSH.InsecureIgnoreHostKey,
				ConnectTimeout: m.SSH.ConnectTimeout, Command: m.SSH.Command}
		}
		if m.Shell != nil {
			mc.Shell = &fencing.ShellConfig{Command: m.Shell.Command, Env: m.Shell.Env}
		}
		out = append(out, mc)
	}
	return out
}

// LeaseSlack is what the self-fencing margin must cover besides the demote
// action when lease_expired is configured: the controller checks its
// deadline once per 100ms tick.
const LeaseSlack = 100 * time.Millisecond

// validateLease refuses a margin too small for lease_expired's argument:
// the old active must have finished demoting before the quorum can expire
// its session. The leader, which alone expires sessions, hears of a
// session's pings from the member the client uses, in batches: its record
// may trail the send time of the last acknowledged ping by one ping
// interval (a fifth of the session timeout) plus the member's forwarding
// period. The demote runs under actions.demote.timeout, checked once per
// tick.
func (c *Config) validateLease(i int, bad func(key, format string, args ...any)) {
	z := c.ZooKeeper
	if z.SessionTimeout <= 0 || z.SelfFenceMargin <= 0 {
		return // reported already
	}
	ping := z.SessionTimeout / 5
	forward, forwardWhat := c.leaseForwardPeriod()
	need := c.Actions.Demote.Timeout + ping + forward + LeaseSlack
	if z.SelfFenceMargin < need {
		bad("zookeeper.self_fence_margin", "%s is too small for fencing.methods[%d] (lease_expired), which trusts the old active to have demoted itself before its session can expire: "+
			"it must be at least actions.demote.timeout (%s) + zookeeper.session_timeout/5 (%s, zkfc's ping interval) + %s (%s, how long a member may hold pings before forwarding them to the leader) + %s; "+
			"lower actions.demote.timeout or raise zookeeper.self_fence_margin to %s or more",
			z.SelfFenceMargin, i, c.Actions.Demote.Timeout, ping, forward, forwardWhat, LeaseSlack, need)
	}
}

// leaseForwardPeriod is how long a quorum member may hold the pings it
// received before forwarding them to the leader: tickTime/2, on ZooKeeper
// and on the embedded quorum. The embedded quorum's tickTime is known; an
// external ensemble's is not, but it granted a session of session_timeout,
// and ZooKeeper grants none shorter than two ticks (minSessionTimeout's
// default), so session_timeout/4 bounds it.
func (c *Config) leaseForwardPeriod() (time.Duration, string) {
	if tick, key, ok := c.quorumTick(); ok {
		if c.Quorum.ConfigFile != "" {
			return tick / 2, "tickTime/2 of quorum.config_file"
		}
		return tick / 2, key + "/2"
	}
	return c.ZooKeeper.SessionTimeout / 4, "session_timeout/4, the longest tickTime/2 of an ensemble that grants this session"
}

// quorumTick is the embedded quorum's tickTime and where it comes from;
// false for an external ensemble or an unreadable quorum.config_file.
func (c *Config) quorumTick() (time.Duration, string, bool) {
	if !c.Quorum.Enabled {
		return 0, "", false
	}
	if c.Quorum.ConfigFile == "" {
		return c.Quorum.TickTime, "quorum.tick_time", c.Quorum.TickTime > 0
	}
	f, err := os.Open(c.Quorum.ConfigFile)
	if err != nil {
		return 0, "", false
	}
	defer f.Close()
	qc, err := qconfig.Parse(f, c.Quorum.ConfigFile, nil)
	if err != nil {
		return 0, "", false
	}
	return qc.TickTime, "tickTime of quorum.config_file", true
}

func (c *Config) validateQuorum(bad func(key, format string, args ...any)) {
	q := c.Quorum
	if q.ConfigFile == "" && q.TickTime <= 0 {
		bad("quorum.tick_time", "must be positive, e.g. 2s")
	}
	// The quorum would silently grant another timeout than the one asked
	// for, and every figure derived from it (the self-fencing deadline,
	// the failover time) would be off.
	if tick, key, ok := c.quorumTick(); ok && tick > 0 && c.ZooKeeper.SessionTimeout > 0 {
		if st := c.ZooKeeper.SessionTimeout; st < 2*tick || st > 20*tick {
			bad("zookeeper.session_timeout", "%s is outside what the embedded quorum grants with %s %s (2 to 20 ticks: %s to %s); "+
				"set a session timeout in that range or change %s", st, key, tick, 2*tick, 20*tick, key)
		}
	}
	if q.ConfigFile != "" {
		return
	}
	if q.ID == 0 {
		bad("quorum.id", "required when quorum.enabled: a positive member id, unique in quorum.members")
	}
	if q.DataDir == "" {
		bad("quorum.data_dir", "required when quorum.enabled, e.g. /var/lib/zkfc/quorum")
	}
	if q.ClientListen == "" {
		bad("quorum.client_listen", "required when quorum.enabled, e.g. 127.0.0.1:2181")
	}
	found := false
	seen := map[uint64]bool{}
	for i, m := range q.Members {
		if seen[m.ID] {
			bad(fmt.Sprintf("quorum.members[%d].id", i), "duplicate id %d", m.ID)
		}
		seen[m.ID] = true
		if m.ID == q.ID {
			found = true
		}
		if m.Peer == "" {
			bad(fmt.Sprintf("quorum.members[%d].peer", i), "required: host:port of the member's replication address")
		}
	}
	if !found {
		bad("quorum.members", "must include this member (quorum.id %d)", q.ID)
	}
	if q.PreferredLeader != 0 && !seen[q.PreferredLeader] {
		bad("quorum.preferred_leader", "%d is not the id of one of quorum.members (use the witness's id, or 0 for none)", q.PreferredLeader)
	}
}

// confmapProvider is a minimal koanf provider for an in-memory map (the
// confmap provider would be one more module for ten lines).
type confmapProvider map[string]any

func (p confmapProvider) ReadBytes() ([]byte, error) { return nil, errors.New("not supported") }
func (p confmapProvider) Read() (map[string]any, error) {
	out := map[string]any{}
	for k, v := range p {
		parts := strings.Split(k, ".")
		m := out
		for _, part := range parts[:len(parts)-1] {
			next, ok := m[part].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[part] = next
			}
			m = next
		}
		m[parts[len(parts)-1]] = v
	}
	return out, nil
}

// AdvertisedControlURL is control.advertise_url, or http(s)://<control.listen>.
func (c *Config) AdvertisedControlURL() string {
	if c.Control.AdvertiseURL != "" {
		return strings.TrimRight(c.Control.AdvertiseURL, "/")
	}
	if c.Control.TLS.CertFile != "" {
		return "https://" + c.Control.Listen
	}
	return "http://" + c.Control.Listen
}
