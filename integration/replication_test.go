package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkfc-project/zkfc/integration/harness"
	"github.com/zkfc-project/zkfc/integration/zkfcenv"
	"github.com/zkfc-project/zkfc/zkfc/elector"
)

// The replication mechanisms of issue 15 on the demo service, with real
// zkfc daemons, real scripts and Apache ZooKeeper. The demo service has
// no replication: the tests' scripts stand in for it (a position file per
// node, a rejoin that records its environment, a restart that starts a
// new demo-service process).

// script writes an executable shell script into dir.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\nset -eu\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readZnode decodes the JSON znode <parent>/demo/<name> into v, read with
// a plain client; false if it is missing or cannot be read now.
func readZnode(t *testing.T, addr, name string, v any) bool {
	t.Helper()
	conn, _, err := zk.Connect([]string{addr}, 5*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	raw, _, err := conn.Get("/zkfc/demo/" + name)
	if err != nil {
		if err != zk.ErrNoNode {
			t.Logf("read %s: %v", name, err)
		}
		return false
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("znode %s %q: %v", name, raw, err)
	}
	return true
}

// positions writes the nodes' position files (POS_FILE) and the position
// action that prints them.
func positions(t *testing.T, dir, nn1, nn2 string) (action string, files [2]string) {
	files = [2]string{filepath.Join(dir, "nn1.pos"), filepath.Join(dir, "nn2.pos")}
	writeFile(t, files[0], nn1+"\n")
	writeFile(t, files[1], nn2+"\n")
	return script(t, dir, "position.sh", `exec cat "$POS_FILE"`+"\n"), files
}

// refusesToPromote waits until z's status gives want as the reason it
// does not promote, then checks for 3 s that it stays so (it retries with
// a backoff); z must never become active meanwhile.
func refusesToPromote(t *testing.T, z *zkfcenv.ZKFC, want string) {
	t.Helper()
	check := func() bool {
		st, err := z.Status()
		if err == nil && st.Role == "active" {
			t.Fatalf("%s was promoted: %s", z.Opts.NodeID, st.Reason)
		}
		return err == nil && strings.Contains(st.Reason, want)
	}
	harness.WaitFor(t, 30*time.Second, z.Opts.NodeID+" refusing to promote", check)
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		check()
	}
}

// With replication.max_lag, a standby whose position is too far behind
// the old active's last recorded one wins the lock but does not fence or
// promote, and says why; once caught up it takes over.
func TestLaggingStandbyIsNotPromoted(t *testing.T) {
	dir := t.TempDir()
	position, pos := positions(t, dir, "1000", "10")
	p := startPair(t, func(i int, o *zkfcenv.ZKFCOptions) {
		o.Actions = fmt.Sprintf("  position: {command: [%q], env: [\"POS_FILE=%s\"], timeout: 5s}\n", position, pos[i])
		o.Extra = "replication: {position_interval: 200ms, max_lag: 100}\n"
	})
	a, b := p.zkfcs[0], p.zkfcs[1]
	harness.WaitFor(t, 20*time.Second, "nn1's position recorded in the Position znode", func() bool {
		var r elector.Position
		return readZnode(t, p.zk.Addr(), elector.PositionName, &r) && r.Node == "nn1" && r.Position == 1000 && r.Token > 0
	})
	harness.WaitFor(t, 20*time.Second, "nn2's position in its status", func() bool {
		st, err := b.Status()
		return err == nil && st.Replication != nil && st.Replication.Position != nil && *st.Replication.Position == 10
	})
	stA, _ := a.Status()

	p.demos[0].Fail(t)
	want := "not eligible: position 10 behind the old active's 1000 by 990 > replication.max_lag 100"
	refusesToPromote(t, b, want)
	if r := demoRole(t, p.demos[1]); r != "standby" {
		t.Fatalf("nn2's service is %s", r)
	}
	if got := metric(t, b, `zkfc_fence_attempts_total{result="success"}`); got != 0 {
		t.Fatalf("the ineligible nn2 fenced nn1 %v times", got)
	}
	out, code := zkfcenv.RunCLI(t, "status", "--url", b.URL)
	if code != 0 || !strings.Contains(out, "eligibility:  "+" "+want) {
		t.Fatalf("zkfc status of nn2 (exit %d) does not say %q:\n%s", code, want, out)
	}

	// Caught up within the lag: nn2 fences nn1 and takes over.
	writeFile(t, pos[1], "950\n")
	harness.WaitFor(t, 30*time.Second, "nn2 active", func() bool { return b.Role() == "active" })
	stB, _ := b.Status()
	if stB.FencingToken <= stA.FencingToken {
		t.Fatalf("token did not grow: %d then %d", stA.FencingToken, stB.FencingToken)
	}
	p.checkObserver(t)
}

// A node that is not active follows each new active once, with the
// active's identity in its environment, and is no candidate while its
// rejoin has not succeeded.
func TestRejoinFollowsTheNewActive(t *testing.T) {
	dir := t.TempDir()
	rejoin := script(t, dir, "rejoin.sh", `env | grep '^ZKFC_' | sort > "$REJOIN_DIR/$ZKFC_NODE_ID-$ZKFC_ACTIVE_TOKEN.env"
echo "$ZKFC_ACTIVE_TOKEN" >> "$REJOIN_DIR/$ZKFC_NODE_ID.runs"
if [ -e "$REJOIN_DIR/fail" ]; then echo "rejoin refused by the test" >&2; exit 1; fi
# Following the active brings the service back (PostgreSQL: pg_rewind, start).
exec curl -fsS --max-time 5 -X POST "http://$DEMO_ADDR/admin/recover"
`)
	p := startPair(t, func(i int, o *zkfcenv.ZKFCOptions) {
		o.Actions = fmt.Sprintf("  rejoin: {command: [%q], env: [\"REJOIN_DIR=%s\", \"DEMO_ADDR=%s\"], timeout: 10s}\n", rejoin, dir, o.Demo.Addr)
		o.Extra = "replication: {position_interval: 200ms}\n"
	})
	a, b := p.zkfcs[0], p.zkfcs[1]
	port := func(d *zkfcenv.Demo) string { return d.Addr[strings.LastIndex(d.Addr, ":")+1:] }
	checkEnv := func(file string, want map[string]string) {
		t.Helper()
		raw, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
			if k, v, ok := strings.Cut(l, "="); ok {
				got[k] = v
			}
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s=%q, want %q (environment: %v)", file, k, got[k], v, got)
			}
		}
	}
	harness.WaitFor(t, 20*time.Second, "nn2 rejoined nn1", func() bool {
		st, err := b.Status()
		return err == nil && st.Replication != nil && st.Replication.Rejoin == "done for token 1 (nn1)" && st.InElection
	})
	checkEnv("nn2-1.env", map[string]string{"ZKFC_NODE_ID": "nn2", "ZKFC_ACTIVE_NODE": "nn1", "ZKFC_ACTIVE_HOST": "127.0.0.1",
		"ZKFC_ACTIVE_PORT": port(p.demos[0]), "ZKFC_ACTIVE_TOKEN": "1", "ZKFC_FENCING_TOKEN": "1"})

	// Failover to nn2; nn1's rejoin of nn2 fails at first.
	writeFile(t, filepath.Join(dir, "fail"), "")
	p.demos[0].Fail(t)
	harness.WaitFor(t, 30*time.Second, "nn2 active", func() bool { return b.Role() == "active" })
	harness.WaitFor(t, 30*time.Second, "nn1's rejoin failing", func() bool {
		st, err := a.Status()
		return err == nil && st.Replication != nil && strings.HasPrefix(st.Replication.Rejoin, "failed: ")
	})
	// Its service recovers on its own: still no candidate while the
	// rejoin has not succeeded.
	p.demos[0].Recover(t)
	harness.WaitFor(t, 20*time.Second, "nn1's service healthy", func() bool {
		st, err := a.Status()
		return err == nil && st.Healthy
	})
	want := "not joining: rejoin of nn2 (token 2) " // failed, or running its retry
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		st, err := a.Status()
		if err != nil {
			continue
		}
		if st.InElection || !strings.HasPrefix(st.Reason, want) {
			t.Fatalf("nn1, healthy but not rejoined: in election %v, reason %q; want out, %q...", st.InElection, st.Reason, want)
		}
	}
	if err := os.Remove(filepath.Join(dir, "fail")); err != nil {
		t.Fatal(err)
	}
	harness.WaitFor(t, 30*time.Second, "nn1 rejoined nn2 and in the election", func() bool {
		st, err := a.Status()
		return err == nil && st.Replication != nil && st.Replication.Rejoin == "done for token 2 (nn2)" && st.InElection
	})
	checkEnv("nn1-2.env", map[string]string{"ZKFC_NODE_ID": "nn1", "ZKFC_ACTIVE_NODE": "nn2", "ZKFC_ACTIVE_HOST": "127.0.0.1",
		"ZKFC_ACTIVE_PORT": port(p.demos[1]), "ZKFC_ACTIVE_TOKEN": "2"})
	// Once per token: no more runs after success, none on the active.
	runs := func(n string) string {
		b, _ := os.ReadFile(filepath.Join(dir, n+".runs"))
		return strings.TrimSpace(string(b))
	}
	before := runs("nn1")
	time.Sleep(time.Second)
	if after := runs("nn1"); after != before {
		t.Fatalf("nn1 rejoined again after success: runs %q then %q", before, after)
	}
	if got := runs("nn2"); got != "1" {
		t.Fatalf("nn2's rejoin runs: %q, want one, for token 1", got)
	}
	p.checkObserver(t)
}

// Restart in place: a killed active service is started again by
// actions.restart while its zkfc keeps the lock and its token; once
// restart.max_attempts are spent, zkfc fails over.
func TestRestartInPlaceKeepsTheActive(t *testing.T) {
	dir := t.TempDir()
	_, demoBin := zkfcenv.Binaries(t)
	restart := script(t, dir, "restart.sh", `echo "$ZKFC_ROLE $ZKFC_FENCING_TOKEN" >> "$RESTART_DIR/runs"
if [ -e "$RESTART_DIR/fail" ]; then echo "restart refused by the test" >&2; exit 1; fi
setsid "$DEMO_BIN" --listen "$DEMO_ADDR" --roles-file "$(cat "$RESTART_DIR/roles-path")" --name "$ZKFC_NODE_ID" >>"$RESTART_DIR/demo.log" 2>&1 </dev/null &
echo $! >> "$RESTART_DIR/pids"
i=0
until curl -fsS --max-time 1 "http://$DEMO_ADDR/role" >/dev/null 2>&1; do
	i=$((i+1)); [ $i -lt 100 ] || { echo "demo-service did not start" >&2; exit 1; }
	sleep 0.1
done
exec curl -fsS --max-time 5 -X POST "http://$DEMO_ADDR/promote?token=$ZKFC_FENCING_TOKEN"
`)
	t.Cleanup(func() {
		b, _ := os.ReadFile(filepath.Join(dir, "pids"))
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	p := startPair(t, func(i int, o *zkfcenv.ZKFCOptions) {
		o.Actions = fmt.Sprintf("  restart: {command: [%q], env: [\"RESTART_DIR=%s\", \"DEMO_BIN=%s\", \"DEMO_ADDR=%s\"], timeout: 20s}\n",
			restart, dir, demoBin, o.Demo.Addr)
		o.Extra = "restart: {max_attempts: 2, window: 10m}\n"
		o.Fencing = zkfcenv.FencingDemoteOrGone
	})
	writeFile(t, filepath.Join(dir, "roles-path"), p.roles)
	a, b := p.zkfcs[0], p.zkfcs[1]
	stA, _ := a.Status()
	if stA.FencingToken != 1 {
		t.Fatalf("nn1 active under token %d, want 1", stA.FencingToken)
	}
	killed := map[string]time.Time{"nn1": p.demos[0].Kill()}
	harness.WaitFor(t, 30*time.Second, "nn1 restarted in place", func() bool {
		if b.Role() == "active" {
			t.Fatal("nn2 took over: the restart in place did not keep nn1 active")
		}
		st, err := a.Status()
		return err == nil && st.Healthy && st.Replication != nil && st.Replication.Restart == "restarted in place at attempt 1 of 2"
	})
	t.Logf("kill -9 of the active service to zkfc counting it restarted and healthy: %s (health.interval 200ms, rise 1)",
		time.Since(killed["nn1"]).Round(time.Millisecond))
	stA, _ = a.Status()
	stB, _ := b.Status()
	if stA.Role != "active" || stA.FencingToken != 1 || stA.ClusterToken != 1 || stB.Role != "standby" {
		t.Fatalf("after the restart: nn1 %s token %d (cluster token %d), nn2 %s; want nn1 still active under token 1, no new token",
			stA.Role, stA.FencingToken, stA.ClusterToken, stB.Role)
	}
	for _, tr := range stA.Transitions[1:] {
		t.Fatalf("nn1 changed role during the restart: %+v", tr)
	}
	if !strings.Contains(a.Log(), "restarting in place: attempt 1 of 2 in 10m") {
		t.Fatal("the log does not name the attempt")
	}

	// The next restart fails: with both attempts spent, nn2 takes over.
	writeFile(t, filepath.Join(dir, "fail"), "")
	pids, _ := os.ReadFile(filepath.Join(dir, "pids"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(pids)))
	if pid <= 0 {
		t.Fatalf("restart.sh recorded no pid: %q", pids)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed["nn1"] = time.Now()
	harness.WaitFor(t, 30*time.Second, "nn2 active", func() bool { return b.Role() == "active" })
	stA, _ = a.Status()
	stB, _ = b.Status()
	if stB.FencingToken != 2 || stA.Replication.Restart != "restart in place exhausted: 2 attempts in 10m; failing over" {
		t.Fatalf("nn2 token %d, nn1 restart %q", stB.FencingToken, stA.Replication.Restart)
	}
	runs, _ := os.ReadFile(filepath.Join(dir, "runs"))
	if got := strings.TrimSpace(string(runs)); got != "active 1\nactive 1" {
		t.Fatalf("restart runs %q, want two, as active under token 1", got)
	}
	zkfcenv.CheckNoOverlap(t, zkfcenv.ReadIntervalsKilled(t, p.roles, time.Now(), killed))
}

// Durable mode: a standby that was out while the active went on alone is
// never promoted, even once it is back and healthy, until it caught up;
// the old active, back, takes over again.
func TestDurableModeNeverPromotesAStaleStandby(t *testing.T) {
	dir := t.TempDir()
	position, pos := positions(t, dir, "1000", "1000")
	syncOn := script(t, dir, "sync-on.sh", `echo "on $ZKFC_SYNC_STANDBY $ZKFC_FENCING_TOKEN" >> "$SYNC_LOG"`+"\n")
	syncOff := script(t, dir, "sync-off.sh", `echo "off $ZKFC_FENCING_TOKEN" >> "$SYNC_LOG"`+"\n")
	log := filepath.Join(dir, "sync.log")
	p := startPair(t, func(i int, o *zkfcenv.ZKFCOptions) {
		o.Actions = fmt.Sprintf("  position: {command: [%q], env: [\"POS_FILE=%s\"], timeout: 5s}\n", position, pos[i]) +
			fmt.Sprintf("  sync_on: {command: [%q], env: [\"SYNC_LOG=%s\"], timeout: 5s}\n", syncOn, log) +
			fmt.Sprintf("  sync_off: {command: [%q], env: [\"SYNC_LOG=%s\"], timeout: 5s}\n", syncOff, log)
		o.Extra = "replication: {position_interval: 200ms, durable: true, when_alone: continue}\n"
	})
	a, b := p.zkfcs[0], p.zkfcs[1]
	syncIs := func(standby string) func() bool {
		return func() bool {
			var s elector.Sync
			return readZnode(t, p.zk.Addr(), elector.SyncName, &s) && s.Active == "nn1" && s.Standby == standby
		}
	}
	harness.WaitFor(t, 20*time.Second, "nn2 recorded in sync", syncIs("nn2"))
	harness.WaitFor(t, 20*time.Second, "nn2's status: in sync", func() bool {
		st, err := b.Status()
		return err == nil && st.Replication != nil && st.Replication.Sync == "in sync with nn1 (token 1) since position 1000"
	})

	// nn2 leaves: nn1 records nobody in sync and goes on alone.
	p.demos[1].Fail(t)
	harness.WaitFor(t, 20*time.Second, "nobody recorded in sync", syncIs(""))
	harness.WaitFor(t, 20*time.Second, "nn1's synchronous replication off", func() bool {
		st, err := a.Status()
		return err == nil && st.Replication != nil && strings.HasPrefix(st.Replication.Sync, "nobody in sync: synchronous replication off")
	})
	writeFile(t, pos[0], "2000\n") // commits acknowledged by nn1 alone
	// nn2 is back, healthy but behind: sync on, catching up, not in sync.
	p.demos[1].Recover(t)
	harness.WaitFor(t, 20*time.Second, "nn2 catching up", func() bool {
		st, err := a.Status()
		return err == nil && st.Replication != nil && st.Replication.Sync == "nn2 catching up: at 1000 of 2000"
	})
	if !syncIs("")() {
		t.Fatal("nn2 recorded in sync before it caught up")
	}

	// nn1's service fails: nn2 wins the lock but must not promote.
	p.demos[0].Fail(t)
	want := "not eligible: durable mode, and the Sync record names nobody, not nn2, as the synchronous standby of nn1 (token 1)"
	refusesToPromote(t, b, want)
	if got := metric(t, b, `zkfc_fence_attempts_total{result="success"}`); got != 0 {
		t.Fatalf("the ineligible nn2 fenced nn1 %v times", got)
	}
	// nn1 is back: it holds every acknowledged commit and takes over.
	p.demos[0].Recover(t)
	harness.WaitFor(t, 30*time.Second, "nn1 active again", func() bool {
		st, err := a.Status()
		return err == nil && st.Role == "active" && st.FencingToken > 1
	})
	raw, _ := os.ReadFile(log)
	t.Logf("sync actions:\n%s", raw)
	p.checkObserver(t)
}
