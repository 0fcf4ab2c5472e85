package pgenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/integration/harness"
	"github.com/zkfc-project/zkfc/integration/zkfcenv"
	"github.com/zkfc-project/zkfc/zkfc/controller"
)

// Options shape a Cluster. The zero value is the example's loopback
// configuration as shipped.
type Options struct {
	// Env is added to every zkfc's environment: ZKFC_* overrides of the
	// template's keys (e.g. ZKFC_ZOOKEEPER_SESSION_TIMEOUT=10s).
	Env []string
	// Edit rewrites a guarding node's rendered configuration (e.g. to put
	// lease_expired first in its fencing list); nil leaves it as is.
	Edit func(node, yaml string) string
	// IPs and NS place pg1, pg2 and the witness: address and network
	// namespace ("" for the host's). Zero: everything on 127.0.0.1.
	IPs [3]string
	NS  [3]string
	// Bound stops a node's PostgreSQL when its zkfc exits, as systemd's
	// BindsTo does in the deployment lease_expired requires (a zkfc whose
	// self-fencing demote failed exits so that its service goes with it).
	Bound bool
}

// NamespaceOptions place pg1 (its zkfc and PostgreSQL) in network
// namespace ns at inner, pg2 and the witness on the host at host, with
// lease_expired first in the fencing lists (a host that dies or is cut off
// answers nothing), zookeeper.session_timeout session and
// self_fence_margin margin; the margin must cover the demote (1.9 s,
// PostgreSQL stopped in immediate mode) + session/5 + tickTime/2 + 100 ms.
// Fencing runs fence.sh inside the target's namespace, as ssh would run
// on its host.
func NamespaceOptions(ns, inner, host, session, margin string) Options {
	return Options{IPs: [3]string{inner, host, host}, NS: [3]string{ns, "", ""}, Bound: true,
		Edit: func(node, y string) string {
			y = strings.Replace(y, "session_timeout: 4s", "session_timeout: "+session, 1)
			y = strings.Replace(y, "self_fence_margin: 2s", "self_fence_margin: "+margin, 1)
			y = regexp.MustCompile(`(demote: \{[^}]*timeout: )15s`).ReplaceAllString(y, "${1}1900ms")
			// A fast shutdown waits for the WAL senders, which a cut-off
			// standby never answers: immediate, to fit the margin.
			y = strings.Replace(y, `"PGCONNECT_TIMEOUT=2"]`, `"PGCONNECT_TIMEOUT=2", "PG_STOP_TIMEOUT=0"]`, 1)
			if node == "pg2" {
				y = regexp.MustCompile(`shell: \{command: \["([^"]+)"\]\}`).ReplaceAllString(y,
					`shell: {command: ["ip", "netns", "exec", "`+ns+`", "${1}"]}`)
			}
			return strings.Replace(y, "  methods:\n", "  methods:\n    - {type: lease_expired, timeout: 3s}\n", 1)
		}}
}

// Node is one machine of the cluster: a zkfc hosting a quorum member and,
// but for the witness, guarding a PostgreSQL server.
type Node struct {
	Name   string
	IP     string
	NS     string
	URL    string // control API
	Config string
	ZKFC   *harness.Proc
	PG     *Server // nil for the witness
}

// Cluster is examples/postgresql's topology on one machine: pg1 and pg2,
// each a PostgreSQL 15 server guarded by a zkfc, and a witness; the three
// zkfc host the embedded 3-member quorum.
type Cluster struct {
	Nodes [3]*Node // pg1, pg2, witness
	Base  string
	opts  Options
}

// Start bootstraps pg1 as primary with pg2 streaming from it, starts the
// witness's and pg1's zkfc, formats the cluster, waits until pg1 is
// active, then starts pg2's zkfc and waits until it is a standby in the
// election.
func Start(t testing.TB, o Options) *Cluster {
	t.Helper()
	Require(t)
	zkfcBin, _ := zkfcenv.Binaries(t)
	c := &Cluster{Base: BaseDir(t), opts: o}
	names := [3]string{"pg1", "pg2", "witness"}
	type ports struct{ control, client, peer, service int }
	var ps [3]ports
	for i := range c.Nodes {
		ip := o.IPs[i]
		if ip == "" {
			ip = "127.0.0.1"
		}
		ps[i] = ports{harness.FreePort(t), harness.FreePort(t), harness.FreePort(t), harness.FreePort(t)}
		n := &Node{Name: names[i], IP: ip, NS: o.NS[i], URL: fmt.Sprintf("http://%s", net.JoinHostPort(ip, strconv.Itoa(ps[i].control)))}
		if i < 2 {
			n.PG = NewServer(t, c.Base, n.Name, ip, ps[i].service)
			n.PG.NS = n.NS
		}
		c.Nodes[i] = n
	}
	pg1, pg2 := c.Nodes[0].PG, c.Nodes[1].PG
	pg1.MustScript(t, "bootstrap", "primary")
	if err := CreateRowsTable(pg1.DSN()); err != nil {
		t.Fatal(err)
	}
	pg2.MustScript(t, "bootstrap", "standby", pg1.Host, strconv.Itoa(pg1.Port))

	var connect, members []string
	for i, n := range c.Nodes {
		connect = append(connect, net.JoinHostPort(n.IP, strconv.Itoa(ps[i].client)))
		members = append(members, fmt.Sprintf("    - {id: %d, peer: %q, client: %q}", i+1,
			net.JoinHostPort(n.IP, strconv.Itoa(ps[i].peer)), net.JoinHostPort(n.IP, strconv.Itoa(ps[i].client))))
	}
	confDir := t.TempDir()
	for i, n := range c.Nodes {
		tmpl := "node.yaml.tmpl"
		if n.PG == nil {
			tmpl = "witness.yaml.tmpl"
		}
		b, err := os.ReadFile(filepath.Join(ExampleDir(), tmpl))
		if err != nil {
			t.Fatal(err)
		}
		// The template is the loopback one: move this node onto its own
		// address first, then fill the placeholders.
		text := strings.ReplaceAll(string(b), "127.0.0.1", n.IP)
		text = strings.NewReplacer("@NODE@", n.Name, "@ID@", strconv.Itoa(i+1), "@DIR@", c.Base,
			"@EXAMPLES@", filepath.Dir(ExampleDir()), "@CONNECT@", strings.Join(connect, ","),
			"@CONTROL_PORT@", strconv.Itoa(ps[i].control), "@CLIENT_PORT@", strconv.Itoa(ps[i].client),
			"@PEER_PORT@", strconv.Itoa(ps[i].peer), "@SERVICE_PORT@", strconv.Itoa(ps[i].service),
			"@MEMBERS@", strings.Join(members, "\n")).Replace(text)
		if o.Edit != nil && n.PG != nil {
			text = o.Edit(n.Name, text)
		}
		text += "\n# the tests read debug lines (takeover steps)\n"
		text = strings.Replace(text, "log: {level: info, format: json}", "log: {level: debug, format: json}", 1)
		n.Config = filepath.Join(confDir, n.Name+".yaml")
		if err := os.WriteFile(n.Config, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		n.ZKFC = harness.NewProc(t, n.Name+"-zkfc", filepath.Join(c.Base, n.Name+"-zkfc.log"),
			harness.InNetns(n.NS, zkfcBin, "run", "--config", n.Config)...)
		n.ZKFC.Env = append(os.Environ(), o.Env...)
	}
	t.Cleanup(func() {
		for _, n := range c.Nodes {
			n.ZKFC.Kill()
		}
		if t.Failed() {
			for _, n := range c.Nodes {
				t.Logf("--- %s zkfc log (last 30 non-debug lines):\n%s", n.Name, n.ZKFC.LogTail(30, `"level":"debug"`))
				if n.PG != nil {
					t.Logf("--- %s PostgreSQL log (last 15 lines):\n%s", n.Name, harness.Tail(n.PG.Log(), 15, ""))
				}
			}
		}
	})
	if o.Bound {
		c.bind(t)
	}
	for _, n := range []*Node{c.Nodes[2], c.Nodes[0]} {
		if err := n.ZKFC.Start(); err != nil {
			t.Fatal(err)
		}
	}
	harness.WaitFor(t, 90*time.Second, "format through the embedded quorum", func() bool {
		c.mustRun(t)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return exec.CommandContext(ctx, zkfcBin, "format", "--config", c.Nodes[0].Config, "--non-interactive").Run() == nil
	})
	harness.WaitFor(t, 60*time.Second, "pg1 active", func() bool { c.mustRun(t); return c.Nodes[0].Role() == "active" })
	if err := c.Nodes[1].ZKFC.Start(); err != nil {
		t.Fatal(err)
	}
	harness.WaitFor(t, 60*time.Second, "pg2 a standby in the election", func() bool {
		c.mustRun(t)
		st, err := c.Nodes[1].Status()
		return err == nil && st.Role == "standby" && st.InElection
	})
	return c
}

// bind watches both guarding zkfc and kills a node's PostgreSQL as soon as
// its zkfc process has exited (Options.Bound), until the test ends; a zkfc
// that exited by itself is started again a second later.
func (c *Cluster) bind(t testing.TB) {
	done := make(chan struct{})
	stopped := make(chan struct{})
	t.Cleanup(func() { close(done); <-stopped })
	go func() {
		defer close(stopped)
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			for _, n := range c.Nodes[:2] {
				if !n.ZKFC.Exited() {
					continue
				}
				if n.PG.PostmasterPID() != 0 {
					n.PG.Kill()
					t.Logf("%s's zkfc exited: its PostgreSQL stopped with it (bound, as systemd BindsTo would)", n.Name)
				}
				// An exit of its own (not a kill by the test) is restarted,
				// as systemd's Restart=on-failure does.
				if code, _ := n.ZKFC.ExitCode(0); code > 0 {
					time.Sleep(time.Second)
					if err := n.ZKFC.Start(); err == nil {
						t.Logf("%s's zkfc exited with %d: started again", n.Name, code)
					}
				}
			}
		}
	}()
}

// WaitInSync waits until the active's zkfc has recorded standby as its
// synchronous standby (durable mode's Sync record; PostgreSQL's own
// sync_state turns to sync a little earlier, before zkfc saw it catch up).
func (c *Cluster) WaitInSync(t testing.TB, active, standby *Node) {
	t.Helper()
	harness.WaitFor(t, 90*time.Second, standby.Name+" recorded in sync by "+active.Name, func() bool {
		st, err := active.Status()
		if err != nil || st.Replication == nil {
			return false
		}
		return strings.HasPrefix(st.Replication.Sync, "in sync with "+standby.Name)
	})
}

// mustRun fails at once when a zkfc exited (a refused config, a port
// taken meanwhile) rather than at a timeout.
func (c *Cluster) mustRun(t testing.TB) {
	t.Helper()
	for _, n := range c.Nodes {
		if n.ZKFC.Exited() {
			t.Fatalf("%s exited:\n%s", n.ZKFC.Name, n.ZKFC.LogTail(15, `"level":"debug"`))
		}
	}
}

// Status asks the node's zkfc.
func (n *Node) Status() (controller.Status, error) { return zkfcenv.StatusAt(n.URL, 2*time.Second) }

// Role is the zkfc's role, "" when it does not answer.
func (n *Node) Role() string { return zkfcenv.RoleAt(n.URL, 2*time.Second) }

// Active is the guarding node whose zkfc reports active, nil if none.
func (c *Cluster) Active() *Node {
	for _, n := range c.Nodes[:2] {
		if n.Role() == "active" {
			return n
		}
	}
	return nil
}

// Other is the other guarding node.
func (c *Cluster) Other(n *Node) *Node {
	if n == c.Nodes[0] {
		return c.Nodes[1]
	}
	return c.Nodes[0]
}

// Targets are the writer's targets: both servers.
func (c *Cluster) Targets() []Target {
	return []Target{{Name: "pg1", DSN: c.Nodes[0].PG.DSN()}, {Name: "pg2", DSN: c.Nodes[1].PG.DSN()}}
}

// StreamingFrom reports whether standby is in recovery and streaming from
// primary (primary's pg_stat_replication lists it as streaming).
func StreamingFrom(standby, primary *Server) bool {
	if standby.Role() != "standby" {
		return false
	}
	out, err := primary.Script("role", nil)
	if err != nil || out != "active" {
		return false
	}
	return ReplicationState(primary, standby.Name) == "streaming"
}

// ReplicationState is primary's pg_stat_replication state for the standby
// named app ("" when it is not connected).
func ReplicationState(primary *Server, app string) string {
	st, _ := Query(primary, "SELECT state || '/' || sync_state FROM pg_stat_replication WHERE application_name = '"+app+"'")
	st, _, _ = strings.Cut(st, "/")
	return st
}

// SyncState is primary's sync_state for the standby named app.
func SyncState(primary *Server, app string) string {
	st, _ := Query(primary, "SELECT sync_state FROM pg_stat_replication WHERE application_name = '"+app+"'")
	return st
}

// Query runs one SQL query on s through psql and returns its output.
func Query(s *Server, sql string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	argv := harness.InNetns(s.NS, filepath.Join(Bin, "psql"), "-h", s.Host, "-p", strconv.Itoa(s.Port), "-U", "postgres", "-d", "postgres", "-XAtq", "-c", sql)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=2")
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}

// Failover runs `zkfc failover --to node` against the cluster.
func (c *Cluster) Failover(t testing.TB, to string) {
	t.Helper()
	out, code := zkfcenv.RunCLI(t, "failover", "--config", c.Nodes[0].Config, "--to", to)
	if code != 0 {
		t.Fatalf("zkfc failover --to %s: exit %d\n%s", to, code, out)
	}
}
