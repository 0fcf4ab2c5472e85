package drill

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/integration/harness"
)

// MemberMode asks the node's quorum member `srvr` and returns its mode
// (leader, follower), "" when it does not answer or serves no quorum.
func (n *Node) MemberMode() string {
	conn, err := net.DialTimeout("tcp", n.Client, time.Second)
	if err != nil {
		return ""
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	_, _ = conn.Write([]byte("srvr"))
	sc := bufio.NewScanner(conn)
	for i := 0; i < 50 && sc.Scan(); i++ {
		if mode, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "Mode: "); ok {
			return mode
		}
	}
	return ""
}

// QuorumFull reports whether every member serves, led by the witness,
// the preferred leader of the drill's zoo.cfg: the shape the quorum had
// before a restart, in which restarting a data node costs no election.
func (c *Cluster) QuorumFull() bool {
	followers := 0
	for i, n := range c.Nodes {
		switch mode := n.MemberMode(); {
		case i == len(c.Nodes)-1 && mode != "leader":
			return false
		case mode == "follower":
			followers++
		}
	}
	return followers == len(c.Nodes)-1
}

// RestartStep is one zkfc restart of a rolling restart, offsets from the
// SIGTERM.
type RestartStep struct {
	Node string `json:"node"`
	// Role is what the node's zkfc reported before the restart ("" for
	// the witness).
	Role string `json:"role"`
	// Exited: SIGTERM -> the process ended (exit status 0).
	Exited time.Duration `json:"exited_ns"`
	// QuorumFull: SIGTERM -> the quorum full again (all three members
	// serving, the witness leading), first seen.
	QuorumFull time.Duration `json:"quorum_full_ns"`
	// Recovered: SIGTERM -> the quorum full and the restarted zkfc
	// reporting a role again.
	Recovered time.Duration `json:"recovered_ns"`
}

// RestartZKFC stops n's zkfc (and the quorum member it hosts) with
// SIGTERM, starts it again, and waits until the quorum is full and the
// zkfc answers with a role that ready accepts (any answer when nil).
// Every wait is bounded.
func (c *Cluster) RestartZKFC(t testing.TB, n *Node, ready func(role string) bool) RestartStep {
	t.Helper()
	step := RestartStep{Node: n.Name}
	if n.DemoAddr != "" {
		step.Role = n.Role()
	}
	term := time.Now()
	if !n.ZKFC.Terminate(30 * time.Second) {
		t.Fatalf("%s's zkfc still runs 30s after SIGTERM", n.Name)
	}
	step.Exited = time.Since(term)
	if code, _ := n.ZKFC.ExitCode(0); code != 0 {
		t.Fatalf("%s's zkfc exited with status %d after SIGTERM:\n%s", n.Name, code, n.ZKFC.LogTail(15, `"level":"debug"`))
	}
	if err := n.ZKFC.Start(); err != nil {
		t.Fatal(err)
	}
	harness.WaitFor(t, 60*time.Second, n.Name+"'s zkfc back with the quorum full", func() bool {
		if n.ZKFC.Exited() {
			t.Fatalf("%s's zkfc exited after its restart:\n%s", n.Name, n.ZKFC.LogTail(15, `"level":"debug"`))
		}
		if !c.QuorumFull() {
			return false
		}
		if step.QuorumFull == 0 {
			step.QuorumFull = time.Since(term)
		}
		if _, err := n.Status(); err != nil {
			return false
		}
		return n.DemoAddr == "" || ready == nil || ready(n.Role())
	})
	step.Recovered = time.Since(term)
	return step
}

// RollingRestart is one run of a rolling-restart drill, as the bench
// reports it: one JSON line per run in $DRILL_RESTARTS (AppendJSONLine).
type RollingRestart struct {
	Drill  string    `json:"drill"` // "paused" or "unpaused"
	Start  time.Time `json:"start"`
	Steps  []RestartStep
	Outage time.Duration `json:"outage_ns"` // time without an active service during the drill
	// Switchovers: active intervals that started during the drill.
	Switchovers int `json:"switchovers"`
}
