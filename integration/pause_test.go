package integration

// Issue 13's pause and graceful-fence guarantees, against the embedded
// quorum and Apache ZooKeeper 3.8: 'zkfc pause' holds from the moment it
// returns, 'zkfc resume' restores failover at once, and a graceful fence
// for an older token leaves the current active alone. The evidence is the
// services' roles file, not what zkfc says.

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/examples/demo-service/roles"
	"github.com/zkfc-project/zkfc/integration/drill"
	"github.com/zkfc-project/zkfc/integration/harness"
	"github.com/zkfc-project/zkfc/integration/zkfcenv"
	"github.com/zkfc-project/zkfc/zkfc/control"
	"github.com/zkfc-project/zkfc/zkfc/controller"
)

// guardedNode is one of the two service nodes, whichever harness started it.
type guardedNode struct {
	name string
	url  string // zkfc control API
	// breakHealth and fixHealth fail and restore the service's health
	// check (the demo service's /health answers 503, then 200).
	breakHealth, fixHealth func(t testing.TB)
}

func (n guardedNode) status(t testing.TB) controller.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	st, err := control.NewClient().Status(ctx, n.url)
	if err != nil {
		t.Fatalf("%s status: %v", n.name, err)
	}
	return st
}

// setHealth fails (or restores) the service's health as the node's
// controller sees it: even tries through the real health check, odd ones
// through the control API's drill override, which reaches the controller
// at once (the narrowest race with the pause).
func (n guardedNode) setHealth(t testing.TB, try int, failing bool) {
	t.Helper()
	if try%2 == 0 {
		map[bool]func(testing.TB){true: n.breakHealth, false: n.fixHealth}[failing](t)
		return
	}
	d := time.Duration(0) // ends the override
	if failing {
		d = time.Hour
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := control.NewClient().FailHealth(ctx, n.url, d); err != nil {
		t.Fatalf("%s fail-health %s: %v", n.name, d, err)
	}
}

const pauseTries = 20

// pauseHolds runs the tries on two nodes guarding a service each, one of
// them active. Each try: pause (through either node), fail the active's
// health at once, and see that nothing changes; restore its health,
// resume, fail it again at once, and see the other node take over.
func pauseHolds(t *testing.T, nodes [2]guardedNode, rolesFile string) {
	act := 0
	if nodes[1].status(t).Role == "active" {
		act = 1
	}
	for try := 0; try < pauseTries; try++ {
		a, b := nodes[act], nodes[1-act]
		via := nodes[try%2]
		if out, code := zkfcenv.RunCLI(t, "pause", "--url", via.url, "--timeout", "20s"); code != 0 {
			t.Fatalf("try %d: pause through %s: exit %d\n%s", try, via.name, code, out)
		}
		returned := time.Now()
		a.setHealth(t, try, true)
		harness.WaitFor(t, 30*time.Second, a.name+"'s controller sees its service unhealthy", func() bool {
			return !a.status(t).Healthy
		})
		// Longer than the failovers the unpaused pair makes (well under a
		// second here): a quit, a fence or a promotion would show.
		deadline := time.Now().Add(1500 * time.Millisecond)
		for time.Now().Before(deadline) {
			if ra, rb := a.status(t).Role, b.status(t).Role; ra != "active" || rb != "standby" {
				t.Fatalf("try %d: paused, yet %s is %s and %s is %s", try, a.name, ra, b.name, rb)
			}
			time.Sleep(100 * time.Millisecond)
		}
		ivs, err := roles.Read(rolesFile, time.Now(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if iv, ok := drill.FirstPromotionAfter(ivs, returned); ok {
			t.Fatalf("try %d: %s's service became active (token %d) while paused", try, iv.Name, iv.Token)
		}
		if last, ok := drill.LastBefore(ivs, returned); !ok || last.Name != a.name || !last.Open {
			t.Fatalf("try %d: %s's service is no longer active while paused (last interval %+v)", try, a.name, last)
		}

		a.setHealth(t, try, false)
		harness.WaitFor(t, 30*time.Second, a.name+" healthy again", func() bool { return a.status(t).Healthy })
		if out, code := zkfcenv.RunCLI(t, "resume", "--url", via.url, "--timeout", "20s"); code != 0 {
			t.Fatalf("try %d: resume through %s: exit %d\n%s", try, via.name, code, out)
		}
		resumed := time.Now()
		a.setHealth(t, try, true)
		harness.WaitFor(t, 60*time.Second, b.name+"'s service active after resume", func() bool {
			ivs, err := roles.Read(rolesFile, time.Now(), nil)
			if err != nil {
				t.Fatal(err)
			}
			iv, ok := drill.FirstPromotionAfter(ivs, resumed)
			return ok && iv.Name == b.name
		})
		a.setHealth(t, try, false)
		harness.WaitFor(t, 60*time.Second, a.name+" back in the election as standby", func() bool {
			st := a.status(t)
			return st.InElection && st.Role == "standby"
		})
		act = 1 - act
	}
	ivs, err := roles.Read(rolesFile, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if v := roles.Check(ivs); len(v) > 0 {
		t.Fatalf("roles file: %v", v)
	}
}

func TestPauseHoldsWhenItReturnsEmbedded(t *testing.T) {
	c := drill.StartCluster(t, drill.DefaultSettings(), drill.Loopback)
	var nodes [2]guardedNode
	for i, n := range c.Nodes[:2] {
		nodes[i] = guardedNode{name: n.Name, url: n.URL,
			breakHealth: func(t testing.TB) { n.PostDemo(t, "/admin/fail") },
			fixHealth:   func(t testing.TB) { n.PostDemo(t, "/admin/recover") }}
	}
	pauseHolds(t, nodes, c.Roles)
}

func TestPauseHoldsWhenItReturnsApache(t *testing.T) {
	p := startPair(t, nil)
	var nodes [2]guardedNode
	for i := range nodes {
		d := p.demos[i]
		nodes[i] = guardedNode{name: d.Name, url: p.zkfcs[i].URL, breakHealth: d.Fail, fixHealth: d.Recover}
	}
	pauseHolds(t, nodes, p.roles)
}

// A graceful fence that names an older token reaches the current active:
// it refuses (409, both tokens), stays active, and nothing is promoted. A
// malformed token is refused before the controller sees it.
func TestGracefulFenceForAnOlderTokenIsRefused(t *testing.T) {
	p := startPair(t, nil)
	if out, code := zkfcenv.RunCLI(t, "failover", "--url", p.zkfcs[0].URL, "--to", "nn2"); code != 0 {
		t.Fatalf("failover: exit %d: %s", code, out)
	}
	nn2 := p.zkfcs[1]
	before, err := nn2.Status()
	if err != nil || before.Role != "active" || before.FencingToken < 2 {
		t.Fatalf("nn2 after failover: %+v %v", before, err)
	}
	sent := time.Now()
	post := func(q string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, nn2.URL+"/demote"+q, nil)
		code, b := roundTrip(t, http.DefaultClient, req)
		var body map[string]any
		_ = json.Unmarshal(b, &body)
		return code, body
	}
	code, body := post("?token=1")
	if code != http.StatusConflict || body["requested_token"] != float64(1) || body["current_token"] != float64(before.FencingToken) {
		t.Fatalf("graceful fence for token 1 of an active under token %d: %d %v", before.FencingToken, code, body)
	}
	for _, q := range []string{"?token=abc", "?token=", ""} {
		if code, body := post(q); code != http.StatusBadRequest {
			t.Fatalf("graceful fence %q: %d %v, want 400", q, code, body)
		}
	}
	// Several health and role-check periods: no demote, no promotion.
	time.Sleep(2 * time.Second)
	after, err := nn2.Status()
	if err != nil || after.Role != "active" || after.FencingToken != before.FencingToken || len(after.Transitions) != len(before.Transitions) {
		t.Fatalf("nn2 after the refused fences: %+v %v", after, err)
	}
	if r := demoRole(t, p.demos[1]); r != "active" {
		t.Fatalf("nn2's service is %s", r)
	}
	ivs, err := roles.Read(p.roles, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if iv, ok := drill.FirstPromotionAfter(ivs, sent); ok {
		t.Fatalf("%s promoted (token %d) after the refused fence", iv.Name, iv.Token)
	}
	if last, ok := drill.LastBefore(ivs, sent); !ok || last.Name != "nn2" || !last.Open {
		t.Fatalf("nn2's service was demoted: last interval %+v", last)
	}
	p.checkObserver(t)
}
