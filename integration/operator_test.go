package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/examples/demo-service/roles"
	"github.com/zkfc-project/zkfc/integration/drill"
	"github.com/zkfc-project/zkfc/integration/harness"
	"github.com/zkfc-project/zkfc/integration/zkfcenv"
	"github.com/zkfc-project/zkfc/zkfc/budget"
	"github.com/zkfc-project/zkfc/zkfc/control"
	"github.com/zkfc-project/zkfc/zkfc/history"
)

// readHistory asks base for the whole history.
func readHistory(t *testing.T, base string) []history.Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	es, err := control.NewClient().History(ctx, base, time.Time{})
	if err != nil {
		t.Fatalf("history from %s: %v", base, err)
	}
	return es
}

// tryHistory is readHistory for a wait: nil while base does not answer.
func tryHistory(base string) []history.Entry {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	es, err := control.NewClient().History(ctx, base, time.Time{})
	if err != nil {
		return nil
	}
	return es
}

func fullStatus(t *testing.T, base string) control.StatusReply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := control.NewClient().FullStatus(ctx, base)
	if err != nil {
		t.Fatalf("status of %s: %v", base, err)
	}
	return st
}

// find returns the entries matching f.
func find(es []history.Entry, f func(history.Entry) bool) []history.Entry {
	var out []history.Entry
	for _, e := range es {
		if f(e) {
			out = append(out, e)
		}
	}
	return out
}

func kindBy(kind, node string) func(history.Entry) bool {
	return func(e history.Entry) bool { return e.Kind == kind && (node == "" || e.Node == node) }
}

// restartAll kills every zkfc of the cluster (each hosts a quorum member,
// the witness's included) and starts them again, then waits for an active.
func restartAll(t *testing.T, c *drill.Cluster, nodes ...*drill.Node) {
	t.Helper()
	if len(nodes) == 0 {
		nodes = c.Nodes[:]
	}
	for _, n := range nodes {
		n.ZKFC.Kill()
	}
	for _, n := range nodes {
		if err := n.ZKFC.Start(); err != nil {
			t.Fatalf("restart %s: %v", n.Name, err)
		}
	}
	harness.WaitFor(t, 90*time.Second, "an active after the restart", func() bool { return c.Active() != nil })
	harness.WaitFor(t, 30*time.Second, "the standby in the election", func() bool {
		st, err := c.Standby().Status()
		return err == nil && st.InElection
	})
}

// The history records a failover with its phases beside its budget, the
// fencing, pause and resume, and each node's configuration; after every
// process of the cluster (both zkfc and the witness, the whole quorum) is
// killed and started again, it reads back the same, and only a changed
// configuration adds a config entry.
func TestHistorySurvivesRestartOfEveryProcess(t *testing.T) {
	c := drill.StartCluster(t, drill.DefaultSettings(), drill.Loopback)
	old := c.Active()
	nw := c.Other(old)
	harness.WaitFor(t, 30*time.Second, "a config entry of each node", func() bool {
		es := tryHistory(nw.URL)
		return len(find(es, kindBy(history.Config, "nn1"))) == 1 && len(find(es, kindBy(history.Config, "nn2"))) == 1
	})

	old.PostDemo(t, "/admin/fail")
	harness.WaitFor(t, 30*time.Second, nw.Name+" active", func() bool { return nw.Role() == "active" })
	old.PostDemo(t, "/admin/recover")
	for _, cmd := range []string{"pause", "resume"} {
		if out, code := zkfcenv.RunCLI(t, cmd, "--url", nw.URL); code != 0 {
			t.Fatalf("zkfc %s: exit %d\n%s", cmd, code, out)
		}
	}
	var before []history.Entry
	harness.WaitFor(t, 30*time.Second, "the failover, pause and resume in the history", func() bool {
		before = tryHistory(old.URL)
		return len(find(before, kindBy(history.Promotion, nw.Name))) == 1 && len(find(before, kindBy(history.Resume, ""))) == 1
	})

	b := fullStatus(t, nw.URL).Budget
	if b == nil || len(b.Kinds) != 5 {
		t.Fatalf("status budget %+v: want five kinds", b)
	}
	// From the drill's configuration: health 500ms × fall 1, fencing
	// graceful 2s + shell 10s, actions 2s, session 4s on the embedded
	// quorum through a zoo.cfg (tickTime unknown to zkfc: at most 2s).
	s := drill.DefaultSettings()
	fencing, act, tick := 12*time.Second, 2*time.Second, 100*time.Millisecond
	for kind, worst := range map[string]time.Duration{
		budget.ServiceUnhealthy: s.HealthInterval*time.Duration(s.Fall) + tick + fencing + act,
		budget.ServiceHung:      s.HealthInterval*time.Duration(s.Fall) + s.HealthTimeout + tick + fencing + act,
		budget.ZKFCKilled:       s.SessionTimeout + s.SessionTimeout/4 + tick + fencing + act,
		budget.Switchover:       act + tick + act,
	} {
		if k, _ := b.Of(kind); k.WorstMs != worst.Milliseconds() {
			t.Errorf("budget of %s: %dms (%s), want %dms from the configuration", kind, k.WorstMs, k.Terms, worst.Milliseconds())
		}
	}
	prom := find(before, kindBy(history.Promotion, nw.Name))[0]
	want, _ := b.Of(budget.ServiceUnhealthy)
	if prom.Failure != budget.ServiceUnhealthy || prom.BudgetMs != want.WorstMs {
		t.Errorf("promotion of %s: failure %q budget %d, want %q %d", nw.Name, prom.Failure, prom.BudgetMs, budget.ServiceUnhealthy, want.WorstMs)
	}
	if p := prom.Phases; p == nil || p.Detection == nil || p.Lock == nil || p.Fence == nil || p.Promote == nil {
		t.Errorf("promotion of %s: phases %+v, want detection, lock, fence and promote", nw.Name, p)
	} else {
		total := *p.Detection + *p.Lock + *p.Fence + *p.Promote
		t.Logf("measured phases: detection %dms lock %dms fence %dms promote %dms (total %dms, budget %dms: %s)",
			*p.Detection, *p.Lock, *p.Fence, *p.Promote, total, want.WorstMs, want.Terms)
	}
	if prom.Token == 0 || prom.Token <= find(before, kindBy(history.Promotion, old.Name))[0].Token {
		t.Errorf("promotion tokens do not increase: %+v", find(before, kindBy(history.Promotion, "")))
	}
	dem := find(before, kindBy(history.Demotion, old.Name))
	if len(dem) != 1 || !strings.HasPrefix(dem[0].Reason, "service SERVICE_UNHEALTHY") {
		t.Errorf("demotion of %s: %+v", old.Name, dem)
	}
	fence := find(before, kindBy(history.Fence, nw.Name))
	if len(fence) != 1 || fence[0].Fence == nil || fence[0].Fence.Target != old.Name || fence[0].Fence.Outcome != "ok" || fence[0].Fence.Method != "graceful" {
		t.Errorf("fencing by %s: %+v", nw.Name, fence)
	}
	// The old active's demotion runs while it is fenced (graceful fencing
	// joins it), so its entry may come after the fence's, never after the
	// promotion.
	if fence[0].Seq > prom.Seq || dem[0].Time.After(prom.Time) {
		t.Errorf("out of order: demotion %d at %s, fence %d, promotion %d at %s", dem[0].Seq, dem[0].Time, fence[0].Seq, prom.Seq, prom.Time)
	}

	restartAll(t, c)
	after := readHistory(t, c.Nodes[0].URL)
	bySeq := map[int64]history.Entry{}
	for _, e := range after {
		bySeq[e.Seq] = e
	}
	for _, e := range before {
		a, ok := bySeq[e.Seq]
		wa, _ := json.Marshal(e)
		ga, _ := json.Marshal(a)
		if !ok || string(wa) != string(ga) {
			t.Errorf("entry %d after the restart of every process:\n got %s\nwant %s", e.Seq, ga, wa)
		}
	}
	if n := len(find(after, kindBy(history.Config, ""))); n != 2 {
		t.Errorf("%d config entries after a restart with the same configuration, want 2", n)
	}

	// A changed configuration is recorded once, at its start.
	n2 := c.Nodes[1]
	raw, err := os.ReadFile(n2.Config)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(raw), "priority_delay: 1s", "priority_delay: 1100ms", 1)
	if changed == string(raw) {
		t.Fatal("the drill config has no priority_delay: 1s to change")
	}
	if err := os.WriteFile(n2.Config, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	restartAll(t, c, n2)
	harness.WaitFor(t, 30*time.Second, "nn2's changed configuration recorded", func() bool {
		cs := find(tryHistory(c.Nodes[0].URL), kindBy(history.Config, "nn2"))
		return len(cs) == 2 && strings.Contains(cs[1].Reason, "changed since "+cs[0].ConfigHash)
	})

	// The CLI: a table with the failover's phases beside its budget, JSON,
	// and --since.
	out, code := zkfcenv.RunCLI(t, "history", "--url", c.Nodes[0].URL)
	t.Logf("zkfc history:\n%s", out)
	if code != 0 || !strings.Contains(out, "failover after: service unhealthy") || !strings.Contains(out, fmt.Sprintf("budget %dms", want.WorstMs)) {
		t.Errorf("zkfc history: exit %d\n%s", code, out)
	}
	cut := time.Now()
	time.Sleep(50 * time.Millisecond)
	if out, code := zkfcenv.RunCLI(t, "pause", "--url", nw.URL); code != 0 {
		t.Fatalf("zkfc pause: %d %s", code, out)
	}
	zkfcenv.RunCLI(t, "resume", "--url", nw.URL)
	harness.WaitFor(t, 30*time.Second, "the second pause in the history", func() bool {
		return len(find(tryHistory(nw.URL), kindBy(history.Resume, ""))) == 2
	})
	out, code = zkfcenv.RunCLI(t, "history", "--url", nw.URL, "--json", "--since", cut.UTC().Format(time.RFC3339Nano))
	var got struct{ Entries []history.Entry }
	if code != 0 || json.Unmarshal([]byte(out), &got) != nil {
		t.Fatalf("zkfc history --json --since: exit %d\n%s", code, out)
	}
	for _, e := range got.Entries {
		if e.Time.Before(cut.Truncate(time.Second)) {
			t.Errorf("--since %s returned an entry of %s", cut, e.Time)
		}
	}
	if len(find(got.Entries, kindBy(history.Pause, ""))) != 1 {
		t.Errorf("--since: %+v, want the one pause since", got.Entries)
	}
	noTwoActives(t, c)
}

// roundTrip sends req with c and returns the answer's status and body; a
// request that gets no answer fails the test.
func roundTrip(t *testing.T, c *http.Client, req *http.Request) (int, []byte) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", req.Method, req.URL, err)
	}
	return resp.StatusCode, b
}

// post sends a control API request and returns its status and error text.
func post(t *testing.T, base, path string, q url.Values) (int, string) {
	t.Helper()
	u := base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	// No body: a text/plain POST is a form's, refused as cross-site (415).
	req, _ := http.NewRequest(http.MethodPost, u, nil)
	code, b := roundTrip(t, http.DefaultClient, req)
	var body struct{ Error string }
	_ = json.Unmarshal(b, &body)
	return code, body.Error
}

// Every refused schedule leaves no record and no history entry behind.
func checkNothingScheduled(t *testing.T, c *drill.Cluster, what string) {
	t.Helper()
	for _, n := range c.Nodes[:2] {
		if sw := fullStatus(t, n.URL).Scheduled; sw != nil {
			t.Errorf("after %s: %s shows a scheduled switchover %+v", what, n.Name, sw)
		}
	}
	if es := find(tryHistory(c.Nodes[0].URL), kindBy(history.SwitchoverScheduled, "")); len(es) != 0 {
		t.Errorf("after %s: history has %+v", what, es)
	}
}

// A scheduled switchover: refused with a clear reason (and nothing
// changed) for bad input, an ineligible target or a pause; stored in the
// quorum across restarts of processes; run at its time by the active as
// a graceful failover; cancelled on request, or when the active changed
// before its time.
func TestScheduledSwitchover(t *testing.T) {
	c := drill.StartCluster(t, drill.DefaultSettings(), drill.Loopback)
	act := c.Active()
	stb := c.Other(act)
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)

	for _, bad := range []struct {
		args []string
		says string
	}{
		{[]string{"--to", "nn9", "--at", future}, "nn9 is not a registered node"},
		{[]string{"--to", stb.Name, "--at", time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)}, "in the past"},
		{[]string{"--to", stb.Name, "--at", "tomorrow"}, "want RFC 3339"},
		{[]string{"--to", stb.Name, "--at", ""}, "missing time"},
		{[]string{"--to", act.Name, "--at", future}, act.Name + " is already active"},
		{[]string{"--at", future}, "--at needs --to"},
		{[]string{"--cancel", "--to", stb.Name}, "--cancel takes neither"},
		{[]string{"--cancel"}, "no switchover is scheduled"},
	} {
		out, code := zkfcenv.RunCLI(t, append([]string{"failover", "--url", act.URL}, bad.args...)...)
		if code == 0 || !strings.Contains(out, bad.says) {
			t.Errorf("zkfc failover %v: exit %d, want an error saying %q:\n%s", bad.args, code, bad.says, out)
		}
	}
	// The endpoint itself checks what the CLI checks.
	for _, bad := range []struct {
		q    url.Values
		code int
		says string
	}{
		{url.Values{"to": {stb.Name}, "at": {"garbage"}}, 400, "want RFC 3339"},
		{url.Values{"to": {stb.Name}, "at": {"2020-01-01T00:00:00Z"}}, 400, "in the past"},
		{url.Values{"to": {"nn9"}, "at": {future}}, 404, "not a registered node"},
		{url.Values{"at": {future}}, 400, "missing ?to=NODE"},
	} {
		code, msg := post(t, act.URL, "/failover", bad.q)
		if code != bad.code || !strings.Contains(msg, bad.says) {
			t.Errorf("POST /failover?%s: %d %q, want %d saying %q", bad.q.Encode(), code, msg, bad.code, bad.says)
		}
	}
	if resp, err := http.Get(act.URL + "/history?since=yesterday"); err != nil || resp.StatusCode != 400 {
		t.Errorf("GET /history?since=yesterday: %v %v, want 400", resp, err)
	} else {
		resp.Body.Close()
	}
	if out, code := zkfcenv.RunCLI(t, "history", "--url", act.URL, "--since", "yesterday"); code == 0 || !strings.Contains(out, "want a duration") {
		t.Errorf("zkfc history --since yesterday: exit %d\n%s", code, out)
	}
	// Paused, and an unhealthy target.
	zkfcenv.RunCLI(t, "pause", "--url", act.URL)
	if out, code := zkfcenv.RunCLI(t, "failover", "--url", act.URL, "--to", stb.Name, "--at", future); code == 0 || !strings.Contains(out, "paused") {
		t.Errorf("schedule while paused: exit %d\n%s", code, out)
	}
	zkfcenv.RunCLI(t, "resume", "--url", act.URL)
	stb.PostDemo(t, "/admin/fail")
	harness.WaitFor(t, 30*time.Second, stb.Name+" out of the election", func() bool {
		st, err := stb.Status()
		return err == nil && !st.InElection
	})
	if out, code := zkfcenv.RunCLI(t, "failover", "--url", act.URL, "--to", stb.Name, "--at", future); code == 0 || !strings.Contains(out, "not eligible") {
		t.Errorf("schedule to an unhealthy node: exit %d\n%s", code, out)
	}
	stb.PostDemo(t, "/admin/recover")
	harness.WaitFor(t, 30*time.Second, stb.Name+" back in the election", func() bool {
		st, err := stb.Status()
		return err == nil && st.InElection
	})
	checkNothingScheduled(t, c, "the refused requests")

	// Scheduled, it survives a restart of every process of the cluster.
	out, code := zkfcenv.RunCLI(t, "failover", "--url", stb.URL, "--to", stb.Name, "--at", future)
	if code != 0 || !strings.Contains(out, "scheduled: switchover "+act.Name+" -> "+stb.Name) {
		t.Fatalf("schedule: exit %d\n%s", code, out)
	}
	// Entries are written after the request returns: a kill -9 right
	// after it could lose this one.
	harness.WaitFor(t, 30*time.Second, "the schedule in the history", func() bool {
		return len(find(tryHistory(stb.URL), kindBy(history.SwitchoverScheduled, ""))) == 1
	})
	restartAll(t, c)
	for _, n := range c.Nodes[:2] {
		sw := fullStatus(t, n.URL).Scheduled
		if sw == nil || sw.To != stb.Name || sw.At.Format(time.RFC3339) != future {
			t.Errorf("%s after the restart of every process: scheduled %+v, want to %s at %s", n.Name, sw, stb.Name, future)
		}
	}
	if out, code := zkfcenv.RunCLI(t, "status", "--url", c.Nodes[0].URL); code != 0 || !strings.Contains(out, "scheduled:     switchover") || !strings.Contains(out, "failover budget") {
		t.Errorf("zkfc status: exit %d\n%s", code, out)
	}
	// The restart may have changed the active: ask for the standby now.
	if out, code := zkfcenv.RunCLI(t, "failover", "--url", act.URL, "--to", c.Standby().Name, "--at", future); code == 0 || !strings.Contains(out, "already scheduled") {
		t.Errorf("a second schedule: exit %d\n%s", code, out)
	}
	out, code = zkfcenv.RunCLI(t, "failover", "--url", act.URL, "--cancel")
	if code != 0 || !strings.Contains(out, "cancelled") {
		t.Fatalf("cancel: exit %d\n%s", code, out)
	}
	if sw := fullStatus(t, act.URL).Scheduled; sw != nil {
		t.Fatalf("still scheduled after the cancel: %+v", sw)
	}

	// At its time, the active runs it.
	act, stb = c.Active(), c.Standby()
	waitCandidate(t, stb)
	at := time.Now().Add(6 * time.Second).UTC().Truncate(time.Second).Add(time.Second)
	if out, code := zkfcenv.RunCLI(t, "failover", "--url", stb.URL, "--to", stb.Name, "--at", at.Format(time.RFC3339)); code != 0 {
		t.Fatalf("schedule: exit %d\n%s", code, out)
	}
	harness.WaitFor(t, 60*time.Second, stb.Name+" active by the scheduled switchover", func() bool { return stb.Role() == "active" })
	if now := time.Now(); now.Before(at) {
		t.Errorf("%s active at %s, before the scheduled time %s", stb.Name, now, at)
	}
	var es []history.Entry
	harness.WaitFor(t, 30*time.Second, "the switchover in the history", func() bool {
		es = tryHistory(stb.URL)
		ps := find(es, kindBy(history.Promotion, stb.Name))
		return len(ps) > 0 && ps[len(ps)-1].Failure == budget.Switchover
	})
	if runs := find(es, func(e history.Entry) bool {
		return e.Kind == history.FailoverRequest && e.Node == act.Name && strings.Contains(e.Reason, "scheduled switchover to "+stb.Name) && strings.Contains(e.Reason, "running")
	}); len(runs) != 1 {
		t.Errorf("the run by %s in the history: %+v", act.Name, runs)
	}
	if n := len(find(es, kindBy(history.SwitchoverScheduled, ""))); n != 2 {
		t.Errorf("%d switchover-scheduled entries, want 2", n)
	}
	if n := len(find(es, kindBy(history.SwitchoverCancelled, ""))); n != 1 {
		t.Errorf("%d switchover-cancelled entries, want 1 (the cancel)", n)
	}

	// The active changes before the time: the switchover is cancelled.
	act, stb = c.Active(), c.Standby()
	waitCandidate(t, stb)
	at = time.Now().Add(8 * time.Second).UTC().Truncate(time.Second).Add(time.Second)
	if out, code := zkfcenv.RunCLI(t, "failover", "--url", act.URL, "--to", stb.Name, "--at", at.Format(time.RFC3339)); code != 0 {
		t.Fatalf("schedule: exit %d\n%s", code, out)
	}
	act.PostDemo(t, "/admin/fail")
	harness.WaitFor(t, 30*time.Second, stb.Name+" active after the failure", func() bool { return stb.Role() == "active" })
	act.PostDemo(t, "/admin/recover")
	deadline := time.Now().Add(30 * time.Second)
	for {
		es := tryHistory(stb.URL)
		cs := find(es, func(e history.Entry) bool {
			return e.Kind == history.SwitchoverCancelled && e.Node == stb.Name && strings.Contains(e.Reason, "the active changed from "+act.Name+" to "+stb.Name)
		})
		if len(cs) == 1 {
			break
		}
		if time.Now().After(deadline) {
			b, _ := json.MarshalIndent(es, "", " ")
			t.Fatalf("no cancellation by the new active %s within 30s; history:\n%s", stb.Name, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if sw := fullStatus(t, stb.URL).Scheduled; sw != nil {
		t.Errorf("still scheduled: %+v", sw)
	}
	noTwoActives(t, c)
}

// waitCandidate waits until n is a standby in the election (not backing
// off after a lost race, not ceded).
func waitCandidate(t *testing.T, n *drill.Node) {
	t.Helper()
	harness.WaitFor(t, 30*time.Second, n.Name+" a standby in the election", func() bool {
		st, err := n.Status()
		return err == nil && st.InElection && st.Role == "standby"
	})
}

// noTwoActives checks the independent observer's record of the services:
// never two active at once.
func noTwoActives(t *testing.T, c *drill.Cluster) {
	t.Helper()
	c.Observer.Stop()
	kills, err := roles.ReadKills(c.Kills)
	if err != nil {
		t.Fatal(err)
	}
	ivs, err := roles.Read(c.Roles, time.Now(), kills)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range drill.Check(ivs, c.Observer.Samples()).Violations {
		t.Error("observer: " + x)
	}
}
