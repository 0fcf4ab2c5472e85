package pgenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/integration/harness"
)

// PatroniSettings are the detection budget the bench gives Patroni (the
// issue's: ttl 10 s, loop_wait 2 s, retry_timeout 3 s).
type PatroniSettings struct {
	TTL, LoopWait, RetryTimeout int // seconds
}

// PatroniNode is one Patroni agent and the PostgreSQL server it runs.
type PatroniNode struct {
	Name    string
	API     string // REST API base URL
	Proc    *harness.Proc
	PG      *Server
	Config  string
	LogPath string
}

// Patroni is a two-member Patroni 3 cluster (Debian's `patroni`) on a
// ZooKeeper ensemble given by its connect string.
type Patroni struct {
	Nodes [2]*PatroniNode
	Scope string
}

// RequirePatroni skips the test when Patroni is not installed.
func RequirePatroni(t testing.TB) {
	t.Helper()
	Require(t)
	if _, err := exec.LookPath("patroni"); err != nil {
		t.Skip("needs Patroni (apt-get install -y patroni)")
	}
}

// PatroniPlace puts pat1 and pat2: address, network namespace ("" for the
// host's) and the ZooKeeper addresses each reaches the ensemble at. The
// zero value is both on 127.0.0.1 with the hosts StartPatroni was given.
type PatroniPlace struct {
	IPs   [2]string
	NS    [2]string
	Hosts [2][]string
}

// StartPatroni starts pat1 and pat2 on the ZooKeeper ensemble at hosts in
// synchronous mode (every acknowledged commit on the standby, as zkfc's
// durable mode), with pg_rewind, and waits until pat1 leads and pat2
// streams as its synchronous standby.
func StartPatroni(t testing.TB, hosts []string, s PatroniSettings) *Patroni {
	t.Helper()
	return StartPatroniAt(t, PatroniPlace{Hosts: [2][]string{hosts, hosts}}, s)
}

// StartPatroniAt is StartPatroni with the nodes placed by pl.
func StartPatroniAt(t testing.TB, pl PatroniPlace, s PatroniSettings) *Patroni {
	t.Helper()
	RequirePatroni(t)
	base := BaseDir(t)
	p := &Patroni{Scope: "bench"}
	for i := range p.Nodes {
		ip := pl.IPs[i]
		if ip == "" {
			ip = "127.0.0.1"
		}
		var quoted []string
		for _, h := range pl.Hosts[i] {
			quoted = append(quoted, fmt.Sprintf("'%s'", h))
		}
		name := fmt.Sprintf("pat%d", i+1)
		pg := NewServer(t, base, name, ip, harness.FreePort(t))
		pg.NS = pl.NS[i]
		api := fmt.Sprintf("%s:%d", ip, harness.FreePort(t))
		dir := filepath.Dir(pg.Data)
		cfg := fmt.Sprintf(`scope: %s
namespace: /service/
name: %s
restapi:
  listen: %s
  connect_address: %s
zookeeper:
  hosts: [%s]
bootstrap:
  dcs:
    ttl: %d
    loop_wait: %d
    retry_timeout: %d
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    postgresql:
      use_pg_rewind: true
      parameters:
        wal_level: replica
        wal_log_hints: 'on'
        hot_standby: 'on'
        max_wal_senders: 10
        wal_keep_size: 512MB
        max_connections: 60
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
  pg_hba:
    - host replication all 127.0.0.1/32 trust
    - host all all 127.0.0.1/32 trust
    - host replication all 10.0.0.0/8 trust
    - host all all 10.0.0.0/8 trust
postgresql:
  listen: %s:%d
  connect_address: %s:%d
  data_dir: %s
  bin_dir: %s
  pgpass: %s/pgpass
  authentication:
    replication: {username: postgres}
    superuser: {username: postgres}
    rewind: {username: postgres}
  parameters:
    unix_socket_directories: '%s'
tags: {nofailover: false, noloadbalance: false, clonefrom: false, nosync: false}
`, p.Scope, name, api, api, strings.Join(quoted, ", "), s.TTL, s.LoopWait, s.RetryTimeout,
			ip, pg.Port, ip, pg.Port, pg.Data, Bin, dir, dir)
		cfgPath := filepath.Join(dir, "patroni.yml")
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		n := &PatroniNode{Name: name, API: "http://" + api, PG: pg, Config: cfgPath, LogPath: filepath.Join(dir, "patroni.log")}
		argv := []string{"patroni", cfgPath}
		if os.Geteuid() == 0 {
			// Patroni runs PostgreSQL itself, so it must run as its account.
			argv = append([]string{"runuser", "-u", OSUser, "--"}, argv...)
		}
		n.Proc = harness.NewProc(t, name, n.LogPath, harness.InNetns(pg.NS, argv...)...)
		p.Nodes[i] = n
	}
	t.Cleanup(func() {
		for _, n := range p.Nodes {
			n.Proc.Kill()
			n.PG.Kill()
			if t.Failed() {
				t.Logf("--- %s log (last 25 lines):\n%s", n.Name, n.Proc.LogTail(25, ""))
			}
		}
	})
	// pat1 first, so it bootstraps and leads; pat2 then clones it.
	if err := p.Nodes[0].Proc.Start(); err != nil {
		t.Fatal(err)
	}
	harness.WaitFor(t, 120*time.Second, "pat1 the Patroni leader, taking writes", func() bool {
		p.mustRun(t)
		return p.Nodes[0].Role() == "primary" && CreateRowsTable(p.Nodes[0].PG.DSN()) == nil
	})
	if err := p.Nodes[1].Proc.Start(); err != nil {
		t.Fatal(err)
	}
	harness.WaitFor(t, 120*time.Second, "pat2 the synchronous standby of pat1", func() bool {
		p.mustRun(t)
		return SyncState(p.Nodes[0].PG, "pat2") == "sync" && p.Nodes[1].IsSyncStandby()
	})
	return p
}

func (p *Patroni) mustRun(t testing.TB) {
	t.Helper()
	for _, n := range p.Nodes {
		if n.Proc.Exited() {
			t.Fatalf("%s exited:\n%s", n.Name, n.Proc.LogTail(20, ""))
		}
	}
}

// Role is the role Patroni's REST API reports ("primary", "replica", ...),
// "" when it does not answer.
func (n *PatroniNode) Role() string {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(n.API + "/patroni")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var st struct {
		Role  string `json:"role"`
		State string `json:"state"`
	}
	if json.NewDecoder(resp.Body).Decode(&st) != nil {
		return ""
	}
	if st.Role == "master" {
		return "primary" // Patroni 3.0 still says master in places
	}
	return st.Role
}

// IsSyncStandby: Patroni itself names this node the synchronous standby
// (GET /sync is 200), which a switchover to it requires.
func (n *PatroniNode) IsSyncStandby() bool {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(n.API + "/sync")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Switchover asks Patroni's REST API to switch the leader to candidate.
func (p *Patroni) Switchover(t testing.TB, leader, candidate string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"leader": leader, "candidate": candidate})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.Nodes[0].API+"/switchover", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("patroni switchover: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		t.Fatalf("patroni switchover: %s: %s", resp.Status, b.String())
	}
}

// Targets are the writer's targets: both servers, without fencing tokens.
func (p *Patroni) Targets() []Target {
	return []Target{{Name: "pat1", DSN: p.Nodes[0].PG.DSN(), NoToken: true}, {Name: "pat2", DSN: p.Nodes[1].PG.DSN(), NoToken: true}}
}
