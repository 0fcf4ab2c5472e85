// Package config reads the configuration of a quorum member from the files
// Apache ZooKeeper 3.8 users already have: zoo.cfg (a Java properties
// file), dataDir/myid, and ZooKeeper system properties passed as -D flags
// in SERVER_JVMFLAGS / JVMFLAGS. Its result is one validated Config value.
//
// Defaults and precedence follow ZooKeeper's QuorumPeerConfig so that an
// existing zoo.cfg means the same thing here. Every error names the file
// and the key and says what to change.
//
// This package must never open sockets, create or write files, or log:
// it only reads, and returns warnings for the caller to report.
package config

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Server is one server.N line: a member of the ensemble.
type Server struct {
	ID           uint64
	Host         string // peer and election host, without IPv6 brackets
	PeerPort     int    // followers connect to the leader here (2888 by convention)
	ElectionPort int    // leader election (3888 by convention)
	Observer     bool   // ":observer" suffix: a non-voting member
	ClientHost   string // from ";[clientHost:]clientPort"; "" means all addresses
	ClientPort   int    // 0 when the line has no client part
}

// Config is the validated configuration of one quorum member.
type Config struct {
	Source string // the zoo.cfg path, for error messages

	TickTime             time.Duration // tickTime (ms); ZooKeeper's default is 3000 ms
	InitLimit, SyncLimit int           // in ticks; default 10, 5

	DataDir, DataLogDir string // dataLogDir defaults to dataDir

	ClientPort        int    // the port clients connect to
	ClientPortAddress string // bind address; "" = all addresses

	SecureClientPort        int    // parsed only (TLS is a later issue)
	SecureClientPortAddress string // parsed only

	MaxClientCnxns int // per client IP; default 60; 0 = unlimited

	// Negotiated session timeouts are clamped to this range; defaults 2 and
	// 20 ticks, and -1 in the file means the default.
	MinSessionTimeout, MaxSessionTimeout time.Duration

	// FourLetterWhitelist holds the enabled four-letter words. "srvr" is
	// always present (ZooKeeper's own zkServer.sh status needs it); the key
	// "*" means every command.
	FourLetterWhitelist map[string]bool

	AutopurgeSnapRetainCount int           // default 3; smaller values become 3
	AutopurgePurgeInterval   time.Duration // hours in the file; 0 = disabled

	ExtendedTypesEnabled bool   // zookeeper.extendedTypesEnabled: TTL nodes
	Emulate353TTLNodes   bool   // zookeeper.emulate353TTLNodes
	SuperDigest          string // zookeeper.DigestAuthenticationProvider.superDigest, "super:base64"

	MaxBuffer              int           // jute.maxbuffer, default 0xfffff
	ContainerCheckInterval time.Duration // znode.container.checkIntervalMs, default 60 s
	SnapCount              int           // zookeeper.snapCount, default 100000
	// MaxResponseBytes bounds one reply (a listing of very many children):
	// larger ones get MarshallingError. Not a ZooKeeper key (ZooKeeper
	// sends any size); default 64 MiB.
	MaxResponseBytes       int
	GlobalOutstandingLimit int // zookeeper.globalOutstandingLimit, default 1000

	// Admin server (zookeeper.admin.*): where /metrics is served.
	AdminEnabled bool   // default true
	AdminAddress string // default 0.0.0.0
	AdminPort    int    // default 8080

	StandaloneEnabled bool // standaloneEnabled, default true
	// ReconfigEnabled (reconfigEnabled, default false) lets clients change
	// the membership with the reconfig request.
	ReconfigEnabled bool
	// SkipACL (skipACL=yes or -Dzookeeper.skipACL=yes) lets any client
	// reconfig; it has no other effect here.
	SkipACL bool
	// ReadOnlyMode (-Dreadonlymode.enabled=true, a plain Java property)
	// lets a member that lost its majority serve read-only clients.
	ReadOnlyMode bool
	// LocalSessionsEnabled (localSessionsEnabled, default false): only
	// read-only mode uses it, for the sessions it creates.
	LocalSessionsEnabled bool

	// DynamicConfigFile (dynamicConfigFile) holds the server.N lines,
	// written by the member after each reconfig as ZooKeeper's
	// <zoo.cfg>.dynamic.<version>; it replaces the static file's server
	// lines. ConfigVersion is its version (the file name's hex suffix or
	// its version= line): 0 for a membership never reconfigured.
	DynamicConfigFile string
	ConfigVersion     uint64

	// MyID is this member's id, read from DataDir/myid by Load when the
	// file has server.N lines. 0 when standalone without a myid file.
	MyID    uint64
	Servers []Server // server.N lines, sorted by ID

	// Standalone is ZooKeeper's decision: no server.N lines, or
	// standaloneEnabled with at most one voting member.
	Standalone bool

	// Raw holds every key as read from the file (the last value of a
	// repeated key), for the conf four-letter word and for keys this
	// package does not interpret.
	Raw map[string]string

	// Props are the Java system properties given as -D flags, for keys this
	// package does not interpret (TLS stores, the JAAS file).
	Props map[string]string

	// PreferredLeader (zoo.cfg preferredLeader=N, an extension of ours; 0:
	// none) is the participant that should lead whenever it is up and
	// caught up: typically the witness of an active/standby pair, so that
	// losing a data node's host never also costs a leader election.
	PreferredLeader uint64

	// MemoryLimit is the heap size an operator gave the JVM with -Xmx in
	// SERVER_JVMFLAGS/JVMFLAGS (0: none). The server uses it as the Go
	// runtime's soft memory limit, so a ZooKeeper heap setting carries over.
	MemoryLimit int64

	// Warnings are things ZooKeeper would log and carry on with: unknown
	// keys, values it corrects. The caller should log them.
	Warnings []string
}

// Defaults, as ZooKeeper 3.8 applies them when a key is absent.
const (
	DefaultTickTime               = 3000 * time.Millisecond
	DefaultInitLimit              = 10
	DefaultSyncLimit              = 5
	DefaultMaxClientCnxns         = 60
	DefaultMaxBuffer              = 0xfffff
	DefaultContainerCheckInterval = 60 * time.Second
	DefaultSnapCount              = 100000
	DefaultMaxResponseBytes       = 64 << 20
	DefaultGlobalOutstandingLimit = 1000
	DefaultAdminPort              = 8080
	MinSnapRetainCount            = 3
)

// knownKeys are the zoo.cfg keys this package interprets or that ZooKeeper
// accepts and we deliberately ignore; any other key earns a warning.
var knownKeys = map[string]bool{
	"tickTime": true, "initLimit": true, "syncLimit": true, "dataDir": true,
	"dataLogDir": true, "clientPort": true, "clientPortAddress": true,
	"secureClientPort": true, "secureClientPortAddress": true,
	"maxClientCnxns": true, "minSessionTimeout": true, "maxSessionTimeout": true,
	"4lw.commands.whitelist": true, "autopurge.snapRetainCount": true,
	"autopurge.purgeInterval": true, "extendedTypesEnabled": true,
	"emulate353TTLNodes": true, "snapCount": true, "globalOutstandingLimit": true,
	"admin.enableServer": true, "admin.serverAddress": true, "admin.serverPort": true,
	"standaloneEnabled": true, "reconfigEnabled": true, "peerType": true,
	"jute.maxbuffer": true, "maxResponseBytes": true, "znode.container.checkIntervalMs": true,
	"DigestAuthenticationProvider.superDigest": true, "preferredLeader": true,
	"localSessionsEnabled": true, // read-only mode only (config.LocalSessionsEnabled)
	// Accepted by ZooKeeper, no effect here.
	"electionAlg": true, "quorumListenOnAllIPs": true, "maxCnxns": true,
	"clientPortListenBacklog": true, "syncEnabled": true,
	"localSessionsUpgradingEnabled": true, "forceSync": true, "preAllocSize": true,
	"metricsProvider.className": true, "admin.idleTimeout": true,
	"skipACL": true, "serverCnxnFactory": true, "connectToLearnerMasterLimit": true,
	"dynamicConfigFile": true,
}

// Load reads the zoo.cfg at path, applies the -D system properties found in
// jvmFlags (SERVER_JVMFLAGS + " " + JVMFLAGS), reads dataDir/myid when the
// file lists servers, and validates the result.
func Load(path string, jvmFlags string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such file; pass the path of an existing zoo.cfg", path)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: read: %w", path, err)
	}
	props := ParseJVMFlags(jvmFlags)
	var dyn *dynamicServers
	if list, err := readProperties(string(data)); err == nil {
		for _, kv := range list {
			if kv.key == "dynamicConfigFile" && kv.value != "" {
				if dyn, err = readDynamic(kv.value, path); err != nil {
					return nil, err
				}
			}
		}
	}
	cfg, err := parseData(data, path, props, dyn)
	if err != nil {
		return nil, err
	}
	if cfg.MemoryLimit, err = ParseJVMHeap(jvmFlags); err != nil {
		return nil, fmt.Errorf("SERVER_JVMFLAGS/JVMFLAGS: %w", err)
	}
	if err := cfg.resolveMember(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// maxConfigSize bounds what Parse reads: a zoo.cfg is a few KiB, so a
// larger input is a mistake (a wrong path, a binary), not a configuration.
const maxConfigSize = 4 << 20

// Parse reads zoo.cfg text from r. source names it in errors; props are
// Java system properties (see ParseJVMFlags), which the file overrides as
// in ZooKeeper. Parse touches no file: MyID stays 0 and the checks that
// depend on this member's identity are left to Load.
func Parse(r io.Reader, source string, props map[string]string) (*Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: read: %w", source, err)
	}
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("%s: larger than %d bytes; is this really a zoo.cfg?", source, maxConfigSize)
	}
	return parseData(data, source, props, nil)
}

// parseData is Parse with the server lines of a dynamic config file, which
// replace the file's own when dyn is not nil.
func parseData(data []byte, source string, props map[string]string, dyn *dynamicServers) (*Config, error) {
	list, err := readProperties(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	p := &parser{source: source, raw: map[string]string{}, props: props, dynamic: dyn}
	serverLines := map[uint64]int{}
	for _, kv := range list {
		if prev, dup := p.raw[kv.key]; dup && prev != kv.value && !strings.HasPrefix(kv.key, "server.") {
			p.warn(fmt.Sprintf("%s: line %d: %s is set again; the last value %q wins", source, kv.line, kv.key, kv.value))
		}
		p.raw[kv.key] = kv.value
		if strings.HasPrefix(kv.key, "server.") {
			s, err := parseServer(kv.key, kv.value)
			if err != nil {
				return nil, fmt.Errorf("%s: line %d: %w", source, kv.line, err)
			}
			if first, dup := serverLines[s.ID]; dup {
				return nil, fmt.Errorf("%s: line %d: server id %d is already defined on line %d; every server.N line needs its own N", source, kv.line, s.ID, first)
			}
			serverLines[s.ID] = kv.line
			p.servers = append(p.servers, s)
			continue
		}
		if !knownKeys[kv.key] && !strings.HasPrefix(kv.key, "zookeeper.") {
			p.warn(fmt.Sprintf("%s: line %d: unknown key %s is ignored", source, kv.line, kv.key))
		}
	}
	cfg, err := p.build()
	if err != nil {
		return nil, err
	}
	cfg.Props = map[string]string{}
	for k, v := range props {
		cfg.Props[k] = v
	}
	return cfg, nil
}

// Properties merges the -D properties and the file's keys, the file
// winning as in ZooKeeper, for packages that read ZooKeeper's keys
// themselves (TLS settings).
func (c *Config) Properties() map[string]string {
	out := map[string]string{}
	for k, v := range c.Props {
		out[k] = v
	}
	for k, v := range c.Raw {
		out[k] = v
	}
	return out
}

type parser struct {
	source   string
	raw      map[string]string
	props    map[string]string
	servers  []Server
	dynamic  *dynamicServers // the dynamic config file's lines, if any
	warnings []string
	err      error // the first error; later lookups are skipped
}

func (p *parser) warn(s string) { p.warnings = append(p.warnings, s) }

func (p *parser) fail(key, value, why string) {
	if p.err == nil {
		p.err = fmt.Errorf("%s: %s %q: %s", p.source, key, value, why)
	}
}

// file returns a zoo.cfg value.
func (p *parser) file(key string) (string, bool) {
	v, ok := p.raw[key]
	return v, ok
}

// sysprop returns the value of the ZooKeeper system property
// "zookeeper."+name. ZooKeeper copies every zoo.cfg key it does not know
// into a system property of that name, so the file (as name or as the full
// property name) overrides a -D flag. The returned key is what to name in
// an error.
func (p *parser) sysprop(name string) (value, key string, ok bool) {
	full := "zookeeper." + name
	if v, ok := p.raw[name]; ok {
		return v, name, true
	}
	if v, ok := p.raw[full]; ok {
		return v, full, true
	}
	if v, ok := p.props[full]; ok {
		return v, "-D" + full, true
	}
	return "", "", false
}

func (p *parser) intValue(key, v string, min int, unit string) int {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
	if err != nil {
		p.fail(key, v, "not a number"+unit)
		return 0
	}
	if int(n) < min {
		p.fail(key, v, fmt.Sprintf("must be at least %d", min))
		return 0
	}
	return int(n)
}

func (p *parser) fileInt(key string, def, min int, unit string) int {
	v, ok := p.file(key)
	if !ok || v == "" {
		return def
	}
	return p.intValue(key, v, min, unit)
}

func (p *parser) propInt(name string, def, min int, unit string) int {
	v, key, ok := p.sysprop(name)
	if !ok || v == "" {
		return def
	}
	return p.intValue(key, v, min, unit)
}

// boolValue is stricter than Java's Boolean.parseBoolean, which reads any
// typo as false: a misspelt "ture" should stop the server, not silently
// disable a feature.
func (p *parser) boolValue(key, v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true
	case "false":
		return false
	}
	p.fail(key, v, "must be true or false")
	return false
}

func (p *parser) fileBool(key string, def bool) bool {
	v, ok := p.file(key)
	if !ok || v == "" {
		return def
	}
	return p.boolValue(key, v)
}

func (p *parser) propBool(name string, def bool) bool {
	v, key, ok := p.sysprop(name)
	if !ok || v == "" {
		return def
	}
	return p.boolValue(key, v)
}

func (p *parser) build() (*Config, error) {
	c := &Config{Source: p.source, Raw: p.raw}
	const ms = " of milliseconds"
	tick := p.fileInt("tickTime", int(DefaultTickTime/time.Millisecond), 1, ms)
	c.TickTime = time.Duration(tick) * time.Millisecond
	c.InitLimit = p.fileInt("initLimit", DefaultInitLimit, 1, " of ticks")
	c.SyncLimit = p.fileInt("syncLimit", DefaultSyncLimit, 1, " of ticks")

	c.DataDir, _ = p.file("dataDir")
	c.DataLogDir, _ = p.file("dataLogDir")
	if c.DataLogDir == "" {
		c.DataLogDir = c.DataDir
	}

	c.ClientPort = p.fileInt("clientPort", 0, 0, " (a TCP port)")
	c.ClientPortAddress, _ = p.file("clientPortAddress")
	c.SecureClientPort = p.fileInt("secureClientPort", 0, 0, " (a TCP port)")
	c.SecureClientPortAddress, _ = p.file("secureClientPortAddress")
	c.MaxClientCnxns = p.fileInt("maxClientCnxns", DefaultMaxClientCnxns, 0, "")

	minTO := p.fileInt("minSessionTimeout", -1, -1, ms)
	maxTO := p.fileInt("maxSessionTimeout", -1, -1, ms)
	if minTO == -1 {
		minTO = 2 * tick
	}
	if maxTO == -1 {
		maxTO = 20 * tick
	}
	c.MinSessionTimeout = time.Duration(minTO) * time.Millisecond
	c.MaxSessionTimeout = time.Duration(maxTO) * time.Millisecond

	c.FourLetterWhitelist = map[string]bool{"srvr": true}
	if v, _, ok := p.sysprop("4lw.commands.whitelist"); ok {
		for _, cmd := range strings.Split(v, ",") {
			if cmd = strings.TrimSpace(cmd); cmd != "" {
				c.FourLetterWhitelist[cmd] = true
			}
		}
	}

	c.AutopurgeSnapRetainCount = p.fileInt("autopurge.snapRetainCount", MinSnapRetainCount, math.MinInt32, "")
	if c.AutopurgeSnapRetainCount < MinSnapRetainCount {
		p.warn(fmt.Sprintf("%s: autopurge.snapRetainCount %d is below the minimum; using %d", p.source, c.AutopurgeSnapRetainCount, MinSnapRetainCount))
		c.AutopurgeSnapRetainCount = MinSnapRetainCount
	}
	// ZooKeeper disables purging for any interval <= 0.
	c.AutopurgePurgeInterval = time.Duration(max(0, p.fileInt("autopurge.purgeInterval", 0, math.MinInt32, " of hours"))) * time.Hour

	c.ExtendedTypesEnabled = p.propBool("extendedTypesEnabled", false)
	c.Emulate353TTLNodes = p.propBool("emulate353TTLNodes", false)
	if v, key, ok := p.sysprop("DigestAuthenticationProvider.superDigest"); ok && v != "" {
		if user, digest, found := strings.Cut(v, ":"); !found || user == "" || digest == "" {
			p.fail(key, v, `must be "user:base64(sha1(user:password))"`)
		}
		c.SuperDigest = v
	}

	// jute.maxbuffer is a plain Java property (no "zookeeper." prefix);
	// ZooKeeper ignores it in zoo.cfg, we accept it there too.
	c.MaxBuffer = DefaultMaxBuffer
	if v, ok := p.file("jute.maxbuffer"); ok && v != "" {
		c.MaxBuffer = p.intValue("jute.maxbuffer", v, 1, " of bytes")
	} else if v, ok := p.props["jute.maxbuffer"]; ok && v != "" {
		c.MaxBuffer = p.intValue("-Djute.maxbuffer", v, 1, " of bytes")
	}
	c.ContainerCheckInterval = DefaultContainerCheckInterval
	// A plain system property (no "zookeeper." prefix) in ZooKeeper.
	if v, ok := p.props["znode.container.checkIntervalMs"]; ok && v != "" {
		c.ContainerCheckInterval = time.Duration(p.intValue("-Dznode.container.checkIntervalMs", v, 1, ms)) * time.Millisecond
	} else if v, ok := p.file("znode.container.checkIntervalMs"); ok && v != "" {
		c.ContainerCheckInterval = time.Duration(p.intValue("znode.container.checkIntervalMs", v, 1, ms)) * time.Millisecond
	}
	c.SnapCount = p.propInt("snapCount", DefaultSnapCount, 2, "")
	c.MaxResponseBytes = p.propInt("maxResponseBytes", DefaultMaxResponseBytes, 1024, " of bytes")
	c.GlobalOutstandingLimit = p.propInt("globalOutstandingLimit", DefaultGlobalOutstandingLimit, 1, "")

	c.AdminEnabled = p.propBool("admin.enableServer", true)
	c.AdminAddress = "0.0.0.0"
	if v, _, ok := p.sysprop("admin.serverAddress"); ok && v != "" {
		c.AdminAddress = v
	}
	c.AdminPort = p.propInt("admin.serverPort", DefaultAdminPort, 0, " (a TCP port)")

	c.StandaloneEnabled = p.fileBool("standaloneEnabled", true)
	c.ReconfigEnabled = p.fileBool("reconfigEnabled", false)
	if v, _, ok := p.sysprop("skipACL"); ok {
		// ZooKeeper: "yes" skips, anything else does not.
		c.SkipACL = strings.TrimSpace(v) == "yes"
	}
	c.DynamicConfigFile, _ = p.file("dynamicConfigFile")
	c.LocalSessionsEnabled = p.fileBool("localSessionsEnabled", false)
	if v, ok := p.props["readonlymode.enabled"]; ok {
		c.ReadOnlyMode = p.boolValue("-Dreadonlymode.enabled", v)
	}
	if v, ok := p.file("peerType"); ok && v != "observer" && v != "participant" {
		p.fail("peerType", v, "must be participant or observer")
	}

	if p.err != nil {
		return nil, p.err
	}

	// Checks across keys, in the order a user fixes them.
	if c.DataDir == "" {
		return nil, fmt.Errorf("%s: dataDir is required; set it to the directory that holds this member's snapshots and myid", p.source)
	}
	for _, port := range []struct {
		key string
		n   int
	}{{"clientPort", c.ClientPort}, {"secureClientPort", c.SecureClientPort}, {"admin.serverPort", c.AdminPort}} {
		if port.n > 65535 {
			return nil, fmt.Errorf("%s: %s %d: not a TCP port (1-65535)", p.source, port.key, port.n)
		}
	}
	if c.MinSessionTimeout > c.MaxSessionTimeout {
		return nil, fmt.Errorf("%s: minSessionTimeout %d ms is larger than maxSessionTimeout %d ms; lower minSessionTimeout or raise maxSessionTimeout",
			p.source, minTO, maxTO)
	}
	if c.ClientPortAddress != "" && c.ClientPort == 0 {
		return nil, fmt.Errorf("%s: clientPortAddress is set but clientPort is not; add clientPort", p.source)
	}
	if p.dynamic != nil {
		p.servers = p.dynamic.servers
		c.ConfigVersion = p.dynamic.version
	}
	sort.Slice(p.servers, func(i, j int) bool { return p.servers[i].ID < p.servers[j].ID })
	c.Servers = p.servers
	if c.ClientPort == 0 && c.SecureClientPort == 0 && !anyClientPort(c.Servers) {
		return nil, fmt.Errorf("%s: clientPort is required; set clientPort=2181 (or give each server.N line a client port: server.N=host:2888:3888;2181)", p.source)
	}
	participants := 0
	for _, s := range c.Servers {
		if !s.Observer {
			participants++
		}
	}
	if len(c.Servers) > 0 && participants == 0 {
		return nil, fmt.Errorf("%s: every server.N line is an observer; at least one member must be a participant", p.source)
	}
	pref := p.fileInt("preferredLeader", 0, 0, " (a server.N id)")
	if p.err != nil {
		return nil, p.err
	}
	if v := pref; v != 0 {
		c.PreferredLeader = uint64(v)
		ok := false
		for _, s := range c.Servers {
			ok = ok || (s.ID == c.PreferredLeader && !s.Observer)
		}
		if !ok {
			return nil, fmt.Errorf("%s: preferredLeader=%d is not a participant's server.N id; name a voting member or remove the key", p.source, v)
		}
	}
	// ZooKeeper's QuorumPeerConfig.isDistributed, negated.
	c.Standalone = len(c.Servers) == 0 || (c.StandaloneEnabled && participants <= 1)
	c.Warnings = p.warnings
	return c, nil
}

func anyClientPort(servers []Server) bool {
	for _, s := range servers {
		if s.ClientPort != 0 {
			return true
		}
	}
	return false
}

// ParseServer reads one server.N line (key "server.N", value the spec), as
// in zoo.cfg and in a reconfig request.
func ParseServer(key, value string) (Server, error) { return parseServer(key, value) }

// parseServer reads "server.N" = "host:peerPort:electionPort[:participant|:observer][;[clientHost:]clientPort]".
func parseServer(key, value string) (Server, error) {
	form := "expected server.N=host:peerPort:electionPort[:participant|:observer][;[clientHost:]clientPort]"
	idText := strings.TrimPrefix(key, "server.")
	id, err := strconv.ParseUint(idText, 10, 64)
	if err != nil || id > math.MaxInt64 {
		return Server{}, fmt.Errorf("%s: %q is not a server id (a number 0..%d); %s", key, idText, int64(math.MaxInt64), form)
	}
	s := Server{ID: id}
	if strings.Contains(value, "|") {
		return Server{}, fmt.Errorf("%s=%s: multiple addresses per server are not supported; keep one host:peerPort:electionPort", key, value)
	}
	addr, client, hasClient := strings.Cut(value, ";")
	host, rest, err := splitHost(strings.TrimSpace(addr))
	if err != nil {
		return Server{}, fmt.Errorf("%s=%s: %v; %s", key, value, err, form)
	}
	parts := strings.Split(rest, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return Server{}, fmt.Errorf("%s=%s: %s", key, value, form)
	}
	s.Host = host
	if s.PeerPort, err = parsePort(parts[0]); err != nil {
		return Server{}, fmt.Errorf("%s=%s: peer port: %v", key, value, err)
	}
	if s.ElectionPort, err = parsePort(parts[1]); err != nil {
		return Server{}, fmt.Errorf("%s=%s: election port: %v", key, value, err)
	}
	if len(parts) == 3 {
		switch strings.ToLower(parts[2]) {
		case "observer":
			s.Observer = true
		case "participant":
		default:
			return Server{}, fmt.Errorf("%s=%s: %q is not a peer type; use participant or observer", key, value, parts[2])
		}
	}
	if hasClient {
		client = strings.TrimSpace(client)
		portText := client
		if strings.ContainsAny(client, ":]") {
			h, p, err := splitHost(client)
			if err != nil {
				return Server{}, fmt.Errorf("%s=%s: client address: %v", key, value, err)
			}
			s.ClientHost, portText = h, p
		}
		if s.ClientPort, err = parsePort(portText); err != nil {
			return Server{}, fmt.Errorf("%s=%s: client port: %v", key, value, err)
		}
	}
	return s, nil
}

// splitHost cuts a leading host (possibly a bracketed IPv6 address) from
// "host:rest" and returns host and rest.
func splitHost(s string) (host, rest string, err error) {
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 {
			return "", "", errors.New("unterminated [ in IPv6 address")
		}
		host = s[1:end]
		if net.ParseIP(host) == nil {
			return "", "", fmt.Errorf("%q is not an IPv6 address", host)
		}
		if !strings.HasPrefix(s[end+1:], ":") {
			return "", "", errors.New("missing :port after ]")
		}
		return host, s[end+2:], nil
	}
	host, rest, ok := strings.Cut(s, ":")
	if !ok {
		return "", "", errors.New("missing :port")
	}
	if host == "" {
		return "", "", errors.New("missing host")
	}
	return host, rest, nil
}

func parsePort(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%q is not a TCP port (1-65535)", s)
	}
	return n, nil
}

// resolveMember reads dataDir/myid and settles what depends on which
// member this is: its id and its client address.
func (c *Config) resolveMember() error {
	if len(c.Servers) == 0 {
		return nil
	}
	myidPath := filepath.Join(c.DataDir, "myid")
	data, err := os.ReadFile(myidPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
		// ZooKeeper: "standalone server doesn't need myid file".
		if c.Standalone {
			return c.applyMemberClientPort()
		}
		return fmt.Errorf("%s: missing; write this member's id (the N of its server.N line in %s) into it", myidPath, c.Source)
	case err != nil:
		return fmt.Errorf("%s: %w", myidPath, err)
	}
	text := strings.TrimSpace(string(data))
	id, err := strconv.ParseUint(text, 10, 64)
	if err != nil {
		return fmt.Errorf("%s: %q is not a server id; write the N of this member's server.N line in %s", myidPath, text, c.Source)
	}
	c.MyID = id
	if c.member() == nil && !c.Standalone {
		return fmt.Errorf("%s: %w", myidPath, c.notMember(id))
	}
	return c.SetMember(id)
}

// SetMember makes this configuration that of member id (what Load does
// with the content of dataDir/myid): it checks that id has a server.N line
// and takes the member's client address from it when clientPort is absent.
// For callers that know the id without a myid file.
func (c *Config) SetMember(id uint64) error {
	c.MyID = id
	if c.member() == nil && !c.Standalone {
		return c.notMember(id)
	}
	if m := c.member(); m != nil {
		if pt, ok := c.Raw["peerType"]; ok && (pt == "observer") != m.Observer {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s: peerType=%s disagrees with server.%d; the server line wins", c.Source, pt, m.ID))
		}
	}
	return c.applyMemberClientPort()
}

func (c *Config) notMember(id uint64) error {
	ids := make([]string, len(c.Servers))
	for i, s := range c.Servers {
		ids[i] = strconv.FormatUint(s.ID, 10)
	}
	return fmt.Errorf("id %d is not among the server.N lines of %s (%s); fix myid or add server.%d", id, c.Source, strings.Join(ids, ", "), id)
}

// member returns this member's server line, or nil.
func (c *Config) member() *Server {
	for i := range c.Servers {
		if c.Servers[i].ID == c.MyID {
			return &c.Servers[i]
		}
	}
	return nil
}

// applyMemberClientPort lets the member's own server line supply the
// client address when clientPort is absent, as ZooKeeper 3.5+ does, and
// rejects the two disagreeing.
func (c *Config) applyMemberClientPort() error {
	m := c.member()
	if m == nil || m.ClientPort == 0 {
		if c.ClientPort == 0 && c.SecureClientPort == 0 {
			return fmt.Errorf("%s: clientPort is required; set clientPort=2181 or add ;2181 to server.%d", c.Source, c.MyID)
		}
		return nil
	}
	if c.ClientPort == 0 {
		c.ClientPort, c.ClientPortAddress = m.ClientPort, m.ClientHost
		return nil
	}
	if c.ClientPort != m.ClientPort || (m.ClientHost != "" && c.ClientPortAddress != "" && m.ClientHost != c.ClientPortAddress) {
		return fmt.Errorf("%s: clientPort %d disagrees with the client address %s:%d of server.%d; make them equal or drop one",
			c.Source, c.ClientPort, m.ClientHost, m.ClientPort, m.ID)
	}
	if c.ClientPortAddress == "" {
		c.ClientPortAddress = m.ClientHost
	}
	return nil
}

// Member returns this member's server.N line, if the file has one for
// MyID.
func (c *Config) Member() (Server, bool) {
	if m := c.member(); m != nil {
		return *m, true
	}
	return Server{}, false
}

// Whitelisted reports whether the four-letter word cmd is enabled.
func (c *Config) Whitelisted(cmd string) bool {
	return c.FourLetterWhitelist["*"] || c.FourLetterWhitelist[cmd]
}

// ClientAddr is the host:port to listen on for clients.
func (c *Config) ClientAddr() string {
	return net.JoinHostPort(c.ClientPortAddress, strconv.Itoa(c.ClientPort))
}

// ParseJVMFlags extracts -Dkey=value system properties from a JVM command
// line such as SERVER_JVMFLAGS. Tokens are split on whitespace with shell
// quoting ('...', "...", backslash) respected; other tokens (-Xmx1g, ...)
// are ignored. "-Dkey" alone sets key to "", as the JVM does.
func ParseJVMFlags(s string) map[string]string {
	props := map[string]string{}
	for _, tok := range splitShellWords(s) {
		rest, ok := strings.CutPrefix(tok, "-D")
		if !ok || rest == "" {
			continue
		}
		k, v, _ := strings.Cut(rest, "=")
		if k != "" {
			props[k] = v
		}
	}
	return props
}

// ParseJVMHeap returns the bytes of the last -Xmx<size> option in a JVM
// command line (the JVM takes the last one), 0 if there is none. Sizes are
// a number of bytes with an optional k, m, g or t suffix, as java reads
// them.
func ParseJVMHeap(s string) (int64, error) {
	var limit int64
	for _, tok := range splitShellWords(s) {
		v, ok := strings.CutPrefix(tok, "-Xmx")
		if !ok {
			continue
		}
		mult := int64(1)
		if v != "" {
			switch v[len(v)-1] {
			case 'k', 'K':
				mult = 1 << 10
			case 'm', 'M':
				mult = 1 << 20
			case 'g', 'G':
				mult = 1 << 30
			case 't', 'T':
				mult = 1 << 40
			}
			if mult != 1 {
				v = v[:len(v)-1]
			}
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 || n > (1<<62)/mult {
			return 0, fmt.Errorf("%s: not a heap size (write it as java does, e.g. -Xmx512m or -Xmx2g)", tok)
		}
		limit = n * mult
	}
	return limit, nil
}

// splitShellWords splits s as a POSIX shell would split an unexpanded
// word list. An unterminated quote runs to the end of the string.
func splitShellWords(s string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			inWord = true
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				cur.WriteString(s[i+1:])
				i = len(s)
			} else {
				cur.WriteString(s[i+1 : i+1+end])
				i += end + 1
			}
		case c == '"':
			inWord = true
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`"\$`+"`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
		case c == '\\':
			inWord = true
			if i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			}
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			inWord = true
			cur.WriteByte(c)
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}
