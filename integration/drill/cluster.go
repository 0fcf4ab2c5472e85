package drill

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/integration/harness"
	"github.com/zkfc-project/zkfc/integration/zkfcenv"
	"github.com/zkfc-project/zkfc/zkfc/control"
	"github.com/zkfc-project/zkfc/zkfc/controller"
)

// Settings are the drill timings: short, but of the shape production uses.
type Settings struct {
	HealthInterval time.Duration // health.interval
	HealthTimeout  time.Duration // health.timeout
	Rise, Fall     int           // health.rise / fall
	SessionTimeout time.Duration // zookeeper.session_timeout
	Margin         time.Duration // zookeeper.self_fence_margin
	TickTime       time.Duration // the quorum's tickTime
	// Fencing is the YAML list under fencing.methods for nn1 and nn2; ""
	// means DefaultFencing.
	Fencing string
	// Lease puts lease_expired first in fencing.methods, ahead of Fencing.
	Lease bool
	// ActionTimeout bounds the promote, demote and role actions (2s when
	// zero); lease_expired needs the demote to fit in the margin.
	ActionTimeout time.Duration
	// Failsafe turns failover.failsafe on for nn1 and nn2, each listing
	// the other, behind a control token (failsafe.go; it sets Token if
	// that is empty).
	Failsafe bool
	// External: nn1 and nn2 use this ensemble instead of hosting an
	// embedded quorum with a witness (Nodes[2] stays nil).
	External *harness.Ensemble
	// NoRoleAction leaves actions.role out: no drift check, and a zkfc
	// starting while paused cannot ask its service's role.
	NoRoleAction bool
	// Token, if set, is every node's control.token_file content: the
	// control API then refuses callers without it (the helpers send it).
	Token string
	// Super, "user:password", enables reconfig on the quorum
	// (reconfigEnabled=true) with that super user.
	Super string
}

// LeaseSettings are DefaultSettings with lease_expired first: the demote
// action bounded by 750ms and a 2s margin, which covers it plus a ping
// interval (800ms), half a tickTime (250ms) and the loop's 100ms tick.
func LeaseSettings() Settings {
	s := DefaultSettings()
	s.Lease = true
	s.Margin = 2 * time.Second
	s.ActionTimeout = 750 * time.Millisecond
	return s
}

// FailsafeSettings are LeaseSettings with failover.failsafe, a 6s session
// and a 2.5s margin: the active's deadline (3.5s after its last ack)
// leaves a peer that lost the quorum at the same moment time to stop
// answering "quorum reachable" (3/10 of the session) and a round to
// complete; the margin covers lease_expired's terms (750ms demote +
// 1.2s ping interval + 250ms forwarding + 100ms).
func FailsafeSettings() Settings {
	s := LeaseSettings()
	s.Failsafe = true
	s.SessionTimeout, s.Margin = 6*time.Second, 2500*time.Millisecond
	return s
}

// DefaultSettings: health every 500ms (probe timeout 400ms), a session of
// 4s, quorum tickTime 500ms, actions bounded by 2s.
func DefaultSettings() Settings {
	return Settings{HealthInterval: 500 * time.Millisecond, HealthTimeout: 400 * time.Millisecond, Rise: 1, Fall: 1,
		SessionTimeout: 4 * time.Second, Margin: 1500 * time.Millisecond, TickTime: 500 * time.Millisecond}
}

// DefaultFencing is graceful (the peer's zkfc demotes its service), then a
// shell method standing in for sshfence on one machine: demote the service
// over HTTP, else kill whatever listens on its port (fuser -k, as sshfence
// does) and note when, else succeed only if the service no longer answers.
// killsFile receives "<node> <unix ns>" for every kill so the observer can
// close the killed service's interval.
func DefaultFencing(killsFile string) string {
	return fmt.Sprintf(`    - type: graceful
      timeout: 2s
    - type: shell
      timeout: 10s
      shell:
        command: ["/bin/sh", "-c", "curl -fsS --max-time 1 -X POST http://$ZKFC_TARGET_ADDRESS/demote || { fuser -s -k -KILL -n tcp $ZKFC_TARGET_PORT && echo \"$ZKFC_TARGET_NODE $(date +%%s%%N)\" >> %s; sleep 0.3; ! curl -sS --max-time 1 http://$ZKFC_TARGET_ADDRESS/role; }"]
`, killsFile)
}

// Node is one host of the drill cluster: a zkfc hosting a quorum member
// and, unless it is the witness, guarding a demo-service.
type Node struct {
	Name     string
	IP       string // every listener of the node binds here
	NS       string // network namespace the node runs in, "" for the host's
	Client   string // quorum client address
	Peer     string // quorum peer address
	DemoAddr string // "" for the witness
	URL      string // control API
	Token    []byte // the control API's bearer token, nil when open
	Config   string
	Demo     *harness.Proc
	ZKFC     *harness.Proc
}

// Cluster is the drill topology: nn1 and nn2 guarding a demo-service each,
// and a witness, the three zkfc processes hosting a 3-member embedded
// quorum; or, with Settings.External, nn1 and nn2 on an external ensemble.
type Cluster struct {
	Nodes     [3]*Node // nn1, nn2, witness (nil with an external ensemble)
	Roles     string   // the shared roles file of both services
	Kills     string   // the fencer's kill notes (see DefaultFencing)
	Settings  Settings
	Connect   string
	Observer  *Observer
	startedAt time.Time
}

// Layout places the nodes: IP and namespace of nn1, nn2 and the witness.
type Layout struct {
	IPs [3]string
	NS  [3]string
}

// Loopback is the layout of every drill but the partition.
var Loopback = Layout{IPs: [3]string{"127.0.0.1", "127.0.0.1", "127.0.0.1"}}

// StartCluster starts the three zkfc processes and both services, formats
// the cluster and waits until one node is active and the other standby.
func StartCluster(t testing.TB, s Settings, lay Layout) *Cluster {
	t.Helper()
	zkfcBin, demoBin := zkfcenv.Binaries(t)
	dir := t.TempDir()
	c := &Cluster{Roles: filepath.Join(dir, "roles.jsonl"), Kills: filepath.Join(dir, "kills.txt"), Settings: s}
	if s.Fencing == "" {
		c.Settings.Fencing = DefaultFencing(c.Kills)
	}
	if s.Failsafe && s.Token == "" {
		c.Settings.Token = "drill-control-token-0123456789abcdef"
	}
	var token []byte
	if c.Settings.Token != "" {
		token = []byte(c.Settings.Token)
	}
	names := [3]string{"nn1", "nn2", "witness"}
	count := len(c.Nodes)
	if s.External != nil {
		count = 2
	}
	for i := range count {
		ip := lay.IPs[i]
		n := &Node{Name: names[i], IP: ip, NS: lay.NS[i],
			Client: net.JoinHostPort(ip, fmt.Sprint(harness.FreePort(t))),
			Peer:   net.JoinHostPort(ip, fmt.Sprint(harness.FreePort(t))),
			URL:    "http://" + net.JoinHostPort(ip, fmt.Sprint(harness.FreePort(t))), Token: token}
		if i < 2 {
			n.DemoAddr = net.JoinHostPort(ip, fmt.Sprint(harness.FreePort(t)))
		}
		c.Nodes[i] = n
	}
	var clients []string
	for _, n := range c.Nodes[:count] {
		clients = append(clients, n.Client)
	}
	c.Connect = strings.Join(clients, ",")
	if s.External != nil {
		c.Connect = s.External.ConnectString()
	}
	format := func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return exec.CommandContext(ctx, zkfcBin, "format", "--config", c.Nodes[count-1].Config, "--non-interactive").Run() == nil
	}
	for i, n := range c.Nodes[:count] {
		n.Config = filepath.Join(dir, n.Name+".yaml")
		zooCfg := "" // an external ensemble: no embedded member
		if s.External == nil {
			zooCfg = c.zooCfg(t, n, i, filepath.Join(dir, n.Name+"-data"))
		}
		if err := os.WriteFile(n.Config, []byte(c.config(t, n, i, dir, zooCfg)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if s.External != nil {
		// Against an external ensemble zkfc refuses to start unformatted.
		harness.WaitFor(t, 60*time.Second, "format on the external ensemble", format)
	}
	for _, n := range c.Nodes[:count] {
		if n.DemoAddr != "" {
			n.Demo = harness.StartProc(t, n.Name+"-demo", filepath.Join(dir, n.Name+"-demo.log"),
				harness.InNetns(n.NS, demoBin, "--listen", n.DemoAddr, "--roles-file", c.Roles, "--name", n.Name)...)
		}
		n.ZKFC = harness.StartProc(t, n.Name+"-zkfc", filepath.Join(dir, n.Name+"-zkfc.log"),
			harness.InNetns(n.NS, zkfcBin, "run", "--config", n.Config)...)
	}
	t.Cleanup(func() {
		c.keepLogs(t, dir)
		if t.Failed() {
			for _, n := range c.Nodes[:count] {
				t.Logf("--- %s zkfc log (last 25 non-debug lines):\n%s", n.Name, n.ZKFC.LogTail(25, `"level":"debug"`))
			}
		}
	})
	if s.External == nil {
		harness.WaitFor(t, 90*time.Second, "format through the embedded quorum", func() bool {
			c.mustRun(t)
			return format()
		})
	}
	harness.WaitFor(t, 60*time.Second, "one active and one standby", func() bool {
		c.mustRun(t)
		a, b := c.Nodes[0].Role(), c.Nodes[1].Role()
		return (a == "active" && b == "standby") || (a == "standby" && b == "active")
	})
	// Both services must be registered candidates, not merely up.
	harness.WaitFor(t, 30*time.Second, "the standby in the election", func() bool {
		st, err := c.Standby().Status()
		return err == nil && st.InElection
	})
	c.Observer = Watch(t, map[string]string{"nn1": c.Nodes[0].DemoAddr, "nn2": c.Nodes[1].DemoAddr})
	c.startedAt = time.Now()
	return c
}

// config is node n (the i-th)'s zkfc.yaml, its quorum member configured
// by zooCfg ("": none, an external ensemble), its token file in dir.
func (c *Cluster) config(t testing.TB, n *Node, i int, dir, zooCfg string) string {
	s := c.Settings
	var b strings.Builder
	host, port, _ := net.SplitHostPort(n.DemoAddr)
	if host == "" {
		host, port = n.IP, "0"
	}
	fmt.Fprintf(&b, "node:\n  id: %s\n  host: %s\n  port: %s\n", n.Name, host, port)
	fmt.Fprintf(&b, "cluster:\n  name: drill\n  parent_znode: /zkfc\n")
	fmt.Fprintf(&b, "zookeeper:\n  connect: %q\n  session_timeout: %s\n  self_fence_margin: %s\n  allow_world_writable: true # a test cluster on loopback\n", c.Connect, s.SessionTimeout, s.Margin)
	fmt.Fprintf(&b, "control:\n  listen: %q\n", strings.TrimPrefix(n.URL, "http://"))
	if s.Token != "" {
		tf := filepath.Join(dir, n.Name+".token")
		if err := os.WriteFile(tf, []byte(s.Token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "  token_file: %s\n", tf)
	}
	fmt.Fprintf(&b, "log:\n  level: debug\n  format: json\n")
	if zooCfg != "" {
		fmt.Fprintf(&b, "quorum:\n  enabled: true\n  witness: %v\n  config_file: %s\n", n.DemoAddr == "", zooCfg)
	}
	if n.DemoAddr == "" {
		// The witness guards nothing; it still needs a valid fencing list.
		b.WriteString("fencing:\n  methods:\n    - type: graceful\n")
		return b.String()
	}
	ex := zkfcenv.ExamplesDir()
	fmt.Fprintf(&b, "health:\n  interval: %s\n  timeout: %s\n  rise: %d\n  fall: %d\n  http:\n    url: \"http://%s/health\"\n",
		s.HealthInterval, s.HealthTimeout, s.Rise, s.Fall, n.DemoAddr)
	fmt.Fprintf(&b, "actions:\n")
	at := s.ActionTimeout
	if at <= 0 {
		at = 2 * time.Second
	}
	for _, a := range []string{"promote", "demote", "role"} {
		if a == "role" && s.NoRoleAction {
			continue
		}
		fmt.Fprintf(&b, "  %s: {command: [\"%s/%s.sh\"], env: [\"DEMO_ADDR=%s\"], timeout: %s}\n", a, ex, a, n.DemoAddr, at)
	}
	fmt.Fprintf(&b, "  role_interval: 1s\nfencing:\n  methods:\n")
	if s.Lease {
		b.WriteString("    - type: lease_expired\n      timeout: 2s\n")
	}
	b.WriteString(s.Fencing)
	fmt.Fprintf(&b, "failover:\n  cede_period: 5s\n  backoff_initial: 500ms\n  backoff_max: 4s\n  priority_delay: 1s\n")
	if s.Failsafe {
		peer := c.Nodes[1-i]
		fmt.Fprintf(&b, "  failsafe: true\n  failsafe_peers:\n    - {id: %s, url: %q}\n", peer.Name, peer.URL)
	}
	return b.String()
}

// keepLogs copies every process log of the drill into $DRILL_LOGS/<test>/
// when that is set, for reading a drill's full story afterwards (the
// temporary directory goes with the test).
func (c *Cluster) keepLogs(t testing.TB, dir string) {
	root := os.Getenv("DRILL_LOGS")
	if root == "" {
		return
	}
	dst := filepath.Join(root, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+"-"+c.startedAt.Format("150405.000"))
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	logs = append(logs, c.Roles, c.Kills)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Logf("DRILL_LOGS: %v", err)
		return
	}
	for _, f := range logs {
		if b, err := os.ReadFile(f); err == nil {
			_ = os.WriteFile(filepath.Join(dst, filepath.Base(f)), b, 0o644)
		}
	}
	t.Logf("DRILL_LOGS: logs kept in %s", dst)
}

// mustRun fails the test at once if a process of the cluster has exited
// (a bad config or a port taken meanwhile), rather than at a timeout.
func (c *Cluster) mustRun(t testing.TB) {
	t.Helper()
	for _, n := range c.Nodes {
		if n == nil {
			continue
		}
		for _, p := range []*harness.Proc{n.ZKFC, n.Demo} {
			if p != nil && p.Exited() {
				t.Fatalf("%s exited while the cluster started:\n%s", p.Name, p.LogTail(10, `"level":"debug"`))
			}
		}
	}
}

// zooCfg writes the member's zoo.cfg: the embedded quorum's own settings
// have tickTime 2s, which would make session expiry (rounded up to a tick)
// dominate every drill; 500ms is the drill setting.
func (c *Cluster) zooCfg(t testing.TB, n *Node, i int, dataDir string) string {
	t.Helper()
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "myid"), []byte(fmt.Sprintf("%d\n", i+1)), 0o644); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(n.Client)
	var b strings.Builder
	fmt.Fprintf(&b, "tickTime=%d\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%s\nclientPortAddress=%s\nadmin.enableServer=false\n4lw.commands.whitelist=*\n",
		c.Settings.TickTime.Milliseconds(), dataDir, port, host)
	c.reconfigKeys(&b)
	for j, m := range c.Nodes {
		_, pp, _ := net.SplitHostPort(m.Peer)
		fmt.Fprintf(&b, "server.%d=%s:%s;%s\n", j+1, m.Peer, pp, m.Client)
	}
	// The witness leads the quorum, as configs/ recommends: a data node's
	// host lost (the partition drill) does not also cost an election.
	fmt.Fprintf(&b, "preferredLeader=%d\n", len(c.Nodes))
	p := filepath.Join(filepath.Dir(dataDir), n.Name+"-zoo.cfg")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// reconfigKeys enables reconfig with the super user, when Settings.Super
// says so.
func (c *Cluster) reconfigKeys(b *strings.Builder) {
	if c.Settings.Super == "" {
		return
	}
	user, _, _ := strings.Cut(c.Settings.Super, ":")
	sum := sha1.Sum([]byte(c.Settings.Super))
	fmt.Fprintf(b, "reconfigEnabled=true\nDigestAuthenticationProvider.superDigest=%s:%s\n", user, base64.StdEncoding.EncodeToString(sum[:]))
}

// StartWitness starts a new witness, member id of the quorum, joining it
// as README's "Replacing a dead witness" says: its member's dynamic config
// file holds current (the server lines of /zookeeper/config, whose version
// is version) plus its own line. It is not a member until added.
func (c *Cluster) StartWitness(t testing.TB, id int, current string, version uint64) *Node {
	t.Helper()
	zkfcBin, _ := zkfcenv.Binaries(t)
	dir := t.TempDir()
	ip := c.Nodes[2].IP
	n := &Node{Name: fmt.Sprintf("witness%d", id), IP: ip,
		Client: net.JoinHostPort(ip, fmt.Sprint(harness.FreePort(t))),
		Peer:   net.JoinHostPort(ip, fmt.Sprint(harness.FreePort(t))),
		URL:    "http://" + net.JoinHostPort(ip, fmt.Sprint(harness.FreePort(t))), Token: c.Nodes[2].Token}
	dataDir := filepath.Join(dir, "data")
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(dataDir, 0o755))
	must(os.WriteFile(filepath.Join(dataDir, "myid"), []byte(fmt.Sprintf("%d\n", id)), 0o644))
	_, pp, _ := net.SplitHostPort(n.Peer)
	dyn := filepath.Join(dir, fmt.Sprintf("zoo.cfg.dynamic.%x", version))
	must(os.WriteFile(dyn, []byte(current+fmt.Sprintf("server.%d=%s:%s:participant;%s\n", id, n.Peer, pp, n.Client)), 0o644))
	var b strings.Builder
	fmt.Fprintf(&b, "tickTime=%d\ndataDir=%s\nadmin.enableServer=false\n4lw.commands.whitelist=*\ndynamicConfigFile=%s\n",
		c.Settings.TickTime.Milliseconds(), dataDir, dyn)
	c.reconfigKeys(&b)
	zooCfg := filepath.Join(dir, "zoo.cfg")
	must(os.WriteFile(zooCfg, []byte(b.String()), 0o644))
	n.Config = filepath.Join(dir, n.Name+".yaml")
	must(os.WriteFile(n.Config, []byte(c.config(t, n, 2, dir, zooCfg)), 0o644))
	n.ZKFC = harness.StartProc(t, n.Name+"-zkfc", filepath.Join(dir, n.Name+"-zkfc.log"), zkfcBin, "run", "--config", n.Config)
	return n
}

// Active is the node whose zkfc reports active (nil if none answers so).
func (c *Cluster) Active() *Node {
	for _, n := range c.Nodes[:2] {
		if n.Role() == "active" {
			return n
		}
	}
	return nil
}

// Standby is the guarding node that is not active.
func (c *Cluster) Standby() *Node {
	if c.Nodes[0].Role() == "active" {
		return c.Nodes[1]
	}
	return c.Nodes[0]
}

// Other is the other guarding node.
func (c *Cluster) Other(n *Node) *Node {
	if n == c.Nodes[0] {
		return c.Nodes[1]
	}
	return c.Nodes[0]
}

// Status asks the node's zkfc.
func (n *Node) Status() (controller.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return n.API().Status(ctx, n.URL)
}

// Role is the zkfc's role, "" when it does not answer.
func (n *Node) Role() string {
	st, err := n.Status()
	if err != nil {
		return ""
	}
	return st.Role
}

// API is a control API client with the node's token.
func (n *Node) API() *control.Client {
	cl := control.NewClient()
	cl.Token = n.Token
	return cl
}

// PostDemo sends an admin request (fail, hang, recover) to the node's service.
func (n *Node) PostDemo(t testing.TB, path string) {
	t.Helper()
	hc := http.Client{Timeout: 3 * time.Second}
	resp, err := hc.Post("http://"+n.DemoAddr+path, "text/plain", nil)
	if err != nil {
		t.Fatalf("%s demo %s: %v", n.Name, path, err)
	}
	resp.Body.Close()
}
