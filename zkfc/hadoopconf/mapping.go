package hadoopconf

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zkfc-project/zkfc/zkfc/config"
	"github.com/zkfc-project/zkfc/zkfc/elector"
)

// Options are the choices the Hadoop files do not make.
type Options struct {
	// Nameservice picks one of dfs.nameservices when it lists several.
	Nameservice string
	// Check is how zkfc checks the NameNode's health and role: "jmx"
	// (GET /jmx?qry=Hadoop:service=NameNode,name=NameNodeStatus on the
	// NameNode's HTTP address) or "haadmin" (hdfs haadmin -checkHealth and
	// -getServiceState, a JVM per probe). Promotion and demotion always go
	// through hdfs haadmin.
	Check string
	// HDFS is the hdfs command on the NameNode hosts.
	HDFS string
	// SSHUser is the user of an sshfence without one: Hadoop used the
	// ZKFC's own user, which the files do not say.
	SSHUser string
	// KnownHostsFile is where zkfc's ssh fencing finds the NameNodes' host
	// keys (Hadoop's sshfence did not check them).
	KnownHostsFile string
	// AuthFile is where zkfc reads ha.zookeeper.auth's credentials.
	AuthFile string
	// ReadFile and Exists default to the os package (tests replace them).
	ReadFile func(string) ([]byte, error)
	Exists   func(string) bool
}

// Defaults of Options.
const (
	CheckJMX              = "jmx"
	CheckHAAdmin          = "haadmin"
	DefaultHDFS           = "hdfs"
	DefaultSSHUser        = "hdfs"
	DefaultKnownHostsFile = "/etc/zkfc/known_hosts"
	DefaultAuthFile       = "/etc/zkfc/zookeeper-auth"
)

// Hadoop's defaults for what the files leave unset (core-default.xml,
// hdfs-default.xml).
const (
	hadoopParentZnode     = "/hadoop-ha"
	hadoopSessionTimeout  = 10 * time.Second
	hadoopCheckInterval   = 1 * time.Second
	hadoopRPCTimeout      = 45 * time.Second
	hadoopGracefulTimeout = 5 * time.Second
	hadoopNewActive       = 60 * time.Second
	hadoopSSHTimeout      = 30 * time.Second
	hadoopZKFCPort        = 8019
	hadoopHTTPPort        = 9870
	hadoopACL             = "world:anyone:rwcda"
)

// haadminStartup is added to an haadmin RPC timeout for the JVM that
// hdfs haadmin starts first: Hadoop's timeouts cover the RPC alone.
const haadminStartup = 10 * time.Second

// Finding is a warning or a note about one property.
type Finding struct {
	Property string
	Msg      string
}

func (f Finding) String() string { return f.Property + ": " + f.Msg }

// Node is the configuration of one NameNode's zkfc.
type Node struct {
	ID   string
	YAML []byte
}

// Result is what Map produces.
type Result struct {
	Nameservice string
	Nodes       []Node
	// Auth is the content of AuthFile ("user:password\n"), when
	// ha.zookeeper.auth is set; nil otherwise.
	Auth []byte
	// Warnings are what is mapped faithfully but unsafe, with the reason.
	Warnings []Finding
	// Notes say how a property without a one-to-one equivalent was taken.
	Notes []Finding
}

// handled lists the properties of the ZKFC's namespaces that Map knows;
// any other property there is refused rather than silently dropped.
// The value is the note for those zkfc needs no setting for.
var handled = map[string]string{
	"ha.zookeeper.quorum":                                         "",
	"ha.zookeeper.session-timeout.ms":                             "",
	"ha.zookeeper.parent-znode":                                   "",
	"ha.zookeeper.acl":                                            "",
	"ha.zookeeper.auth":                                           "",
	"ha.health-monitor.check-interval.ms":                         "",
	"ha.health-monitor.rpc-timeout.ms":                            "",
	"ha.health-monitor.connect-retry-interval.ms":                 "not needed: zkfc probes every health.interval whether or not the last probe connected",
	"ha.health-monitor.sleep-after-disconnect.ms":                 "not needed: zkfc probes every health.interval whether or not the last probe connected",
	"ha.health-monitor.rpc.connect.max.retries":                   "not needed: each zkfc probe is one attempt; health.fall consecutive failures make the service unhealthy",
	"ha.failover-controller.graceful-fence.rpc-timeout.ms":        "",
	"ha.failover-controller.new-active.rpc-timeout.ms":            "",
	"ha.failover-controller.cli-check.rpc-timeout.ms":             "not a daemon setting: pass zkfc failover --timeout",
	"ha.failover-controller.graceful-fence.connection.retries":    "not needed: zkfc's graceful fencing is one call bounded by its timeout; the next method follows",
	"ha.failover-controller.active-standby-elector.zk.op.retries": "not needed: zkfc retries ZooKeeper operations until its session expires, then backs off (failover.backoff_*)",
	"dfs.ha.fencing.methods":                                      "",
	"dfs.ha.fencing.ssh.private-key-files":                        "",
	"dfs.ha.fencing.ssh.connect-timeout":                          "",
	"dfs.ha.zkfc.port":                                            "",
	"dfs.ha.zkfc.nn.http.timeout.ms":                              "not needed: zkfc does not fetch the NameNode's image over HTTP",
	"dfs.ha.automatic-failover.enabled":                           "",
}

// zkfcNamespace reports whether Hadoop's ZKFC (rather than the NameNode
// or clients) reads name: these are the properties an import must not drop.
func zkfcNamespace(name string) bool {
	return strings.HasPrefix(name, "ha.") || strings.HasPrefix(name, "dfs.ha.fencing.") ||
		strings.HasPrefix(name, "dfs.ha.zkfc.") || strings.HasPrefix(name, "dfs.ha.automatic-failover.")
}

type mapper struct {
	c    *Conf
	opt  Options
	ns   string
	nns  []string
	errs []error
	res  Result
}

func (m *mapper) refuse(prop, format string, args ...any) {
	m.errs = append(m.errs, &PropertyError{File: m.c.File(prop), Property: prop, Msg: fmt.Sprintf(format, args...)})
}

func (m *mapper) warn(prop, format string, args ...any) {
	m.res.Warnings = append(m.res.Warnings, Finding{Property: prop, Msg: fmt.Sprintf(format, args...)})
}

func (m *mapper) note(prop, format string, args ...any) {
	m.res.Notes = append(m.res.Notes, Finding{Property: prop, Msg: fmt.Sprintf(format, args...)})
}

// get returns the most specific of key.NS.NN, key.NS and key (Hadoop's
// per-nameservice and per-NameNode suffixes), the name that was set, and
// whether one was.
func (m *mapper) get(key, nn string) (string, string, bool) {
	names := []string{key}
	if m.ns != "" {
		names = []string{key + "." + m.ns, key}
		if nn != "" {
			names = []string{key + "." + m.ns + "." + nn, key + "." + m.ns, key}
		}
	}
	for _, n := range names {
		v, ok, err := m.c.Get(n)
		if err != nil {
			m.errs = append(m.errs, err)
			return "", n, false
		}
		if ok {
			return v, n, true
		}
	}
	return "", key, false
}

// millis reads a duration in milliseconds, def when unset.
func (m *mapper) millis(key, nn string, def time.Duration) time.Duration {
	v, name, ok := m.get(key, nn)
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		m.refuse(name, "%q is not a positive number of milliseconds", v)
		return def
	}
	return time.Duration(n) * time.Millisecond
}

// indirect resolves Hadoop's @file values (ha.zookeeper.acl and
// ha.zookeeper.auth), relative to the file that set the property.
func (m *mapper) indirect(name, v string) (string, bool) {
	if !strings.HasPrefix(v, "@") {
		return v, true
	}
	path := strings.TrimPrefix(v, "@")
	if !filepath.IsAbs(path) && m.c.File(name) != "" {
		path = filepath.Join(filepath.Dir(m.c.File(name)), path)
	}
	b, err := m.opt.ReadFile(path)
	if err != nil {
		m.refuse(name, "reads %s: %v", path, err)
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}

// Map turns the Hadoop configuration into one zkfc configuration per
// NameNode of the nameservice. The error joins a *PropertyError for
// every property that cannot be mapped.
func Map(c *Conf, opt Options) (*Result, error) {
	if opt.Check == "" {
		opt.Check = CheckJMX
	}
	if opt.HDFS == "" {
		opt.HDFS = DefaultHDFS
	}
	if opt.SSHUser == "" {
		opt.SSHUser = DefaultSSHUser
	}
	if opt.KnownHostsFile == "" {
		opt.KnownHostsFile = DefaultKnownHostsFile
	}
	if opt.AuthFile == "" {
		opt.AuthFile = DefaultAuthFile
	}
	if opt.ReadFile == nil {
		opt.ReadFile = os.ReadFile
	}
	if opt.Exists == nil {
		opt.Exists = func(p string) bool { _, err := os.Stat(p); return err == nil }
	}
	if opt.Check != CheckJMX && opt.Check != CheckHAAdmin {
		return nil, fmt.Errorf("check %q: want %s or %s", opt.Check, CheckJMX, CheckHAAdmin)
	}
	m := &mapper{c: c, opt: opt}
	if !m.nameservice() {
		return nil, errors.Join(m.errs...)
	}
	m.res.Nameservice = m.ns
	m.unknown()
	common := m.common()
	bodies := map[string]string{}
	for _, nn := range m.nns {
		if body, ok := m.node(nn, common); ok {
			bodies[nn] = body
		}
	}
	if len(m.errs) > 0 {
		return nil, errors.Join(m.errs...)
	}
	// The header carries every warning, known only once all nodes are mapped.
	for _, nn := range m.nns {
		m.res.Nodes = append(m.res.Nodes, Node{ID: nn, YAML: []byte(m.header(nn) + bodies[nn])})
	}
	return &m.res, nil
}

func (m *mapper) header(nn string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# zkfc configuration for NameNode %s of nameservice %s, generated by\n", nn, m.ns)
	fmt.Fprintf(&b, "# zkfc import-hadoop from %s.\n", strings.Join(m.c.files, ", "))
	fmt.Fprintf(&b, "# Install it as /etc/zkfc/zkfc.yaml on that NameNode's host; configs/README.md\n# describes every key.\n")
	for _, f := range m.res.Warnings {
		fmt.Fprintf(&b, "#\n# WARNING %s:\n", f.Property)
		for _, l := range wrap(f.Msg, 72) {
			fmt.Fprintf(&b, "#   %s\n", l)
		}
	}
	return b.String()
}

func (m *mapper) nameservice() bool {
	v, _, ok := m.get("dfs.nameservices", "")
	if !ok || v == "" {
		m.refuse("dfs.nameservices", "not set: an HA configuration names its nameservice here (and its NameNodes in dfs.ha.namenodes.<nameservice>)")
		return false
	}
	all := splitList(v)
	switch {
	case m.opt.Nameservice != "":
		found := false
		for _, n := range all {
			found = found || n == m.opt.Nameservice
		}
		if !found {
			m.refuse("dfs.nameservices", "lists %s, not %q", strings.Join(all, ", "), m.opt.Nameservice)
			return false
		}
		m.ns = m.opt.Nameservice
	case len(all) > 1:
		m.refuse("dfs.nameservices", "lists %s: choose the one to import with --nameservice (zkfc guards one pair per configuration)", strings.Join(all, ", "))
		return false
	default:
		m.ns = all[0]
	}
	key := "dfs.ha.namenodes." + m.ns
	nns, _, ok := m.get(key, "")
	if !ok || len(splitList(nns)) < 2 {
		m.refuse(key, "must list at least two NameNode ids (found %q)", nns)
		return false
	}
	m.nns = splitList(nns)
	for _, nn := range m.nns {
		if strings.ContainsAny(nn, "/ \t") {
			m.refuse(key, "NameNode id %q contains '/' or a space, which zkfc's node.id may not", nn)
			return false
		}
	}
	return true
}

// unknown refuses the properties of the ZKFC's namespaces Map does not
// know, so that none of the old controller's behaviour is dropped unseen.
func (m *mapper) unknown() {
	var names []string
	for _, n := range m.c.Names() {
		if zkfcNamespace(n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		base := n
		for _, nn := range m.nns {
			base = strings.TrimSuffix(base, "."+m.ns+"."+nn)
		}
		base = strings.TrimSuffix(base, "."+m.ns)
		note, ok := handled[base]
		if !ok {
			m.refuse(n, "zkfc import-hadoop does not know this ZKFC property and will not drop it silently; remove it from the files you import if zkfc needs no equivalent, or configure the equivalent in the generated zkfc.yaml by hand")
			continue
		}
		if note != "" {
			m.note(n, "%s", note)
		}
	}
}

// common is what every NameNode's file shares.
type common struct {
	connect         string
	sessionTimeout  time.Duration
	selfFenceMargin time.Duration
	parent          string
	acl             []string
	worldWritable   bool
	authFile        string
}

func (m *mapper) common() common {
	var c common
	q, _, ok := m.get("ha.zookeeper.quorum", "")
	switch {
	case !ok || q == "":
		m.refuse("ha.zookeeper.quorum", "not set: the ZooKeeper ensemble's connect string, e.g. zk1:2181,zk2:2181,zk3:2181")
	case strings.Contains(q, "/"):
		m.refuse("ha.zookeeper.quorum", "%q has a chroot path; zkfc's zookeeper.connect takes host:port pairs only: move the path into ha.zookeeper.parent-znode", q)
	default:
		var hosts []string
		for _, h := range splitList(q) {
			if _, _, err := net.SplitHostPort(h); err != nil {
				h = net.JoinHostPort(h, "2181") // ZooKeeper's client port, as Hadoop assumes
			}
			hosts = append(hosts, h)
		}
		c.connect = strings.Join(hosts, ",")
	}
	c.sessionTimeout = m.millis("ha.zookeeper.session-timeout.ms", "", hadoopSessionTimeout)
	c.selfFenceMargin = config.DefaultSelfFenceMargin
	if c.sessionTimeout <= 2*c.selfFenceMargin {
		c.selfFenceMargin = c.sessionTimeout / 2
	}
	c.parent = hadoopParentZnode
	if v, name, ok := m.get("ha.zookeeper.parent-znode", ""); ok {
		c.parent = strings.TrimRight(v, "/")
		if !strings.HasPrefix(c.parent, "/") {
			m.refuse(name, "%q is not an absolute znode path", v)
		}
	}
	m.warn("ha.zookeeper.parent-znode", "Hadoop's ZKFC keeps its lock and its breadcrumb (in its own format) under %s/%s, where zkfc keeps its own: stop every Hadoop ZKFC before starting zkfc (two controllers would each promote), then run 'zkfc format --force' once to replace Hadoop's znodes", c.parent, m.ns)

	aclName, aclValue := "ha.zookeeper.acl", hadoopACL
	if v, name, ok := m.get("ha.zookeeper.acl", ""); ok {
		aclName = name
		if v, ok = m.indirect(name, v); ok {
			aclValue = v
		}
	}
	c.acl = splitList(aclValue)
	if acl, err := config.ParseACL(c.acl); err != nil {
		m.refuse(aclName, "%v", err)
	} else if elector.WorldWritable(acl) {
		c.worldWritable = true
		why := fmt.Sprintf("%s lets world:anyone write", aclValue)
		if aclValue == hadoopACL && m.c.File(aclName) == "" {
			why = "unset, so Hadoop's default " + hadoopACL + " applies: anyone may write"
		}
		m.warn(aclName, "%s: any ZooKeeper client can delete or take the election lock and the breadcrumb. The generated file sets zookeeper.allow_world_writable: true to keep Hadoop's behaviour; give zkfc an identity (ha.zookeeper.auth) and an ACL naming it (e.g. digest:USER:HASH:rwcda, see zkfc digest) instead", why)
	}

	if v, name, ok := m.get("ha.zookeeper.auth", ""); ok && v != "" {
		if v, ok = m.indirect(name, v); ok {
			auths := splitList(v)
			scheme, cred, _ := strings.Cut(auths[0], ":")
			switch {
			case len(auths) > 1:
				m.refuse(name, "lists %d credentials; zkfc authenticates with one (zookeeper.auth_file)", len(auths))
			case scheme != "digest":
				m.refuse(name, "scheme %q: zkfc authenticates with digest credentials only (digest:user:password)", scheme)
			case !strings.Contains(cred, ":"):
				m.refuse(name, "digest credentials must be user:password")
			default:
				m.res.Auth = []byte(cred + "\n")
				c.authFile = m.opt.AuthFile
			}
		}
	}
	return c
}

// address reads a host:port property and refuses one without a usable
// host (zkfc must know where the NameNode is).
func (m *mapper) address(key, nn string) (string, int, bool) {
	v, name, ok := m.get(key, nn)
	if !ok {
		return "", 0, false
	}
	host, p, err := net.SplitHostPort(v)
	port, perr := strconv.Atoi(p)
	switch {
	case err != nil || perr != nil || port < 1 || port > 65535:
		m.refuse(name, "%q is not host:port", v)
		return "", 0, false
	case host == "" || host == "0.0.0.0" || host == "::":
		m.refuse(name, "%q names no host (a wildcard bind address): zkfc must know the NameNode's host; write its name", v)
		return "", 0, false
	}
	return host, port, true
}

func (m *mapper) node(nn string, c common) (string, bool) {
	ns := m.ns
	host, rpcPort, ok := m.address("dfs.namenode.rpc-address", nn)
	if !ok {
		if _, _, set := m.get("dfs.namenode.rpc-address", nn); !set {
			m.refuse("dfs.namenode.rpc-address."+ns+"."+nn, "not set: the NameNode's RPC address host:port")
		}
		return "", false
	}
	// Hadoop's ZKFC checks and fences the service RPC address when there is one.
	port := rpcPort
	if h, p, ok := m.address("dfs.namenode.servicerpc-address", nn); ok {
		host, port = h, p
	}
	zkfcPort := hadoopZKFCPort
	if v, name, ok := m.get("dfs.ha.zkfc.port", nn); ok {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 65535 {
			m.refuse(name, "%q is not a port number", v)
			return "", false
		}
		zkfcPort = p
	}
	if v, name, ok := m.get("dfs.ha.automatic-failover.enabled", nn); ok && strings.EqualFold(v, "true") && nn == m.nns[0] {
		m.warn(name, "true: Hadoop's own ZKFC does the failover. zkfc replaces it: stop the Hadoop ZKFCs and set this to false in hdfs-site.xml on the NameNodes (and where hdfs haadmin runs), or 'hdfs haadmin -transitionToActive', zkfc's promote action, refuses to act while automatic failover is on")
	}

	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("node:\n  id: %s\n  host: %s\n  port: %d   # the NameNode's (service) RPC port: fencing kills its listener\n", q(nn), q(host), port)
	w("cluster:\n  name: %s          # dfs.nameservices\n  parent_znode: %s  # ha.zookeeper.parent-znode\n", q(ns), q(c.parent))
	w("zookeeper:\n  connect: %s   # ha.zookeeper.quorum\n", q(c.connect))
	w("  session_timeout: %s   # ha.zookeeper.session-timeout.ms\n", c.sessionTimeout)
	w("  self_fence_margin: %s   # the active demotes itself this long before its session can expire\n", c.selfFenceMargin)
	if c.authFile != "" {
		w("  auth_file: %s   # ha.zookeeper.auth (user:password, chmod 600, owned by zkfc)\n", q(c.authFile))
	}
	w("  acl: [%s]   # ha.zookeeper.acl\n", joinQ(c.acl))
	if c.worldWritable {
		w("  allow_world_writable: true   # Hadoop's ACL lets anyone write: see the WARNING above\n")
	}
	w("control:\n  listen: %s   # dfs.ha.zkfc.port\n", q(net.JoinHostPort(host, strconv.Itoa(zkfcPort))))

	interval := m.millis("ha.health-monitor.check-interval.ms", nn, hadoopCheckInterval)
	rpcTimeout := m.millis("ha.health-monitor.rpc-timeout.ms", nn, hadoopRPCTimeout)
	haadmin := func(args ...string) string {
		return joinQ(append([]string{m.opt.HDFS, "haadmin", "-ns", ns}, args...))
	}
	w("health:\n  interval: %s   # ha.health-monitor.check-interval.ms\n", interval)
	var role string
	switch m.opt.Check {
	case CheckJMX:
		if v, name, ok := m.get("dfs.http.policy", ""); ok && strings.EqualFold(v, "HTTPS_ONLY") {
			m.refuse(name, "HTTPS_ONLY: the NameNode serves no plain HTTP for the JMX check; import with --check haadmin")
			return "", false
		}
		httpHost, httpPort, ok := m.address("dfs.namenode.http-address", nn)
		if !ok {
			if _, name, set := m.get("dfs.namenode.http-address", nn); set {
				return "", false
			} else if nn == m.nns[0] {
				m.note(name+"."+ns+".*", "not set: the JMX check uses Hadoop 3's default HTTP port %d on the RPC host", hadoopHTTPPort)
			}
			httpHost, httpPort = host, hadoopHTTPPort
		}
		jmx := "http://" + net.JoinHostPort(httpHost, strconv.Itoa(httpPort)) + "/jmx?qry=Hadoop:service=NameNode,name=NameNodeStatus"
		w("  timeout: %s   # ha.health-monitor.rpc-timeout.ms\n", rpcTimeout)
		w("  # Healthy while the NameNode's HTTP server answers with its HA status bean.\n")
		w("  http:\n    url: %s\n    expect_status: [200]\n    body_contains: \"NameNodeStatus\"\n", q(jmx))
		// The bean's "State" is active, standby, observer, initializing or stopping.
		role = joinQ([]string{"sh", "-c", "curl -fsS --max-time 5 '" + jmx + "' | sed -n 's/.*\"State\" *: *\"\\([a-z]*\\)\".*/\\1/p'"})
	case CheckHAAdmin:
		w("  timeout: %s   # ha.health-monitor.rpc-timeout.ms + %s for hdfs haadmin's JVM\n", rpcTimeout+haadminStartup, haadminStartup)
		w("  exec:\n    command: [%s]\n", haadmin("-checkHealth", nn))
		role = haadmin("-getServiceState", nn)
	}
	newActive := m.millis("ha.failover-controller.new-active.rpc-timeout.ms", nn, hadoopNewActive)
	graceful := m.millis("ha.failover-controller.graceful-fence.rpc-timeout.ms", nn, hadoopGracefulTimeout)
	w("actions:\n")
	w("  # --forceactive: zkfc has fenced the old active before it promotes.\n")
	w("  promote: {command: [%s], timeout: %s}   # ha.failover-controller.new-active.rpc-timeout.ms + JVM\n", haadmin("-transitionToActive", "--forceactive", nn), newActive+haadminStartup)
	w("  demote: {command: [%s], timeout: %s}   # ha.failover-controller.graceful-fence.rpc-timeout.ms + JVM\n", haadmin("-transitionToStandby", nn), graceful+haadminStartup)
	w("  role: {command: [%s]}\n", role)
	w("fencing:\n  methods:\n")
	w("    # Hadoop's ZKFC first asks the old active to step down; zkfc's graceful\n    # method asks the old active's zkfc.\n")
	w("    - {type: graceful, timeout: %s}   # ha.failover-controller.graceful-fence.rpc-timeout.ms\n", graceful)
	if !m.fencing(&b, nn) {
		return "", false
	}
	return b.String(), true
}

// fencing writes the methods of dfs.ha.fencing.methods.
func (m *mapper) fencing(b *strings.Builder, nn string) bool {
	first := nn == m.nns[0] // warnings and notes once, not per NameNode
	v, name, ok := m.get("dfs.ha.fencing.methods", nn)
	if !ok {
		m.refuse("dfs.ha.fencing.methods", "not set: Hadoop's ZKFC refuses to start without fencing, and so does zkfc")
		return false
	}
	methods, err := parseFencing(v)
	if err != nil {
		m.refuse(name, "%v", err)
		return false
	}
	if last := methods[len(methods)-1]; last.alwaysSucceeds() && first {
		m.warn(name, "ends with %s, which always succeeds: when the methods before it fail (the old active's host is down or cut off), the new NameNode becomes active without the old one being fenced, and both may serve. Bind the NameNode to zkfc.service (systemd/zkfc-bound-service.conf) and use zkfc's lease_expired method instead, which fences an unreachable host from the quorum's records (README, Fencing)", last.text)
	}
	timeout := m.millis("dfs.ha.fencing.ssh.connect-timeout", nn, hadoopSSHTimeout)
	for _, f := range methods {
		fmt.Fprintf(b, "    # dfs.ha.fencing.methods line %d: %s\n", f.line, f.text)
		switch f.kind {
		case "ssh":
			keys, keyName, ok := m.get("dfs.ha.fencing.ssh.private-key-files", nn)
			list := splitList(keys)
			switch {
			case !ok || len(list) == 0:
				m.refuse("dfs.ha.fencing.ssh.private-key-files", "not set, but dfs.ha.fencing.methods uses sshfence: name the private key")
				return false
			case len(list) > 1:
				m.refuse(keyName, "lists %d keys; zkfc's ssh fencing takes one key_file: keep the one the NameNode hosts accept", len(list))
				return false
			}
			user := f.user
			if user == "" {
				user = m.opt.SSHUser
				if first {
					m.note(name, "%s names no user: Hadoop used the ZKFC's own user; the generated file uses %q (--ssh-user)", f.text, user)
				}
			}
			fmt.Fprintf(b, "    - type: ssh\n      ssh:\n        user: %s\n", q(user))
			if f.port != 0 {
				fmt.Fprintf(b, "        port: %d\n", f.port)
			}
			fmt.Fprintf(b, "        key_file: %s   # dfs.ha.fencing.ssh.private-key-files\n", q(list[0]))
			fmt.Fprintf(b, "        known_hosts_file: %s   # Hadoop's sshfence did not check host keys; zkfc does\n", q(m.opt.KnownHostsFile))
			fmt.Fprintf(b, "        connect_timeout: %s   # dfs.ha.fencing.ssh.connect-timeout\n", timeout)
			if first && !m.opt.Exists(m.opt.KnownHostsFile) {
				m.warn(name, "sshfence: %s does not exist. Hadoop's sshfence skipped host key checks (so anyone answering on the old active's address could fake a successful fence); zkfc verifies them and its ssh fencing fails until this file holds every NameNode's host key, e.g. ssh-keyscan %s > %s", m.opt.KnownHostsFile, strings.Join(m.hosts(), " "), m.opt.KnownHostsFile)
			}
		case "shell":
			// Hadoop ran bash -e -c with target_* set; zkfc sets
			// target_host, target_port and target_address itself.
			script := "target_namenodeid=\"$ZKFC_TARGET_NODE\"; export target_namenodeid\n" + f.command
			fmt.Fprintf(b, "    - type: shell\n      shell:\n        command: [%s]\n        env: [%s]\n", joinQ([]string{"bash", "-e", "-c", script}), q("target_nameserviceid="+m.ns))
			if first {
				m.note(name, "%s: runs under zkfc's shell timeout (30s; Hadoop had none) with target_host, target_port, target_address, target_nameserviceid and target_namenodeid set; Hadoop's copies of every configuration key as environment variables are not set", f.text)
			}
		}
	}
	return true
}

// hosts are the NameNodes' RPC hosts, for messages.
func (m *mapper) hosts() []string {
	var out []string
	for _, nn := range m.nns {
		if v, _, ok := m.get("dfs.namenode.rpc-address", nn); ok {
			if h, _, err := net.SplitHostPort(v); err == nil {
				out = append(out, h)
			}
		}
	}
	return out
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// q quotes s as a YAML double-quoted scalar (JSON's string syntax is a
// subset of it).
func q(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

func joinQ(list []string) string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = q(s)
	}
	return strings.Join(out, ", ")
}

// wrap breaks text into lines of at most width runes at spaces.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}
