package integration

// Taking over an Apache ZooKeeper server's data (zkfc quorum import):
// a live go-zookeeper session builds a tree on the real server, the
// server stops, its dataDir is imported, and our server starts on the
// same port; the same client must keep its session, its ephemerals and
// its watches, and the whole tree (data, ACLs, stats) must read as the
// Apache server showed it.
//
// Run: make build && ZKFC_BIN=$PWD/bin/zkfc go test -count=1 -run 'TestImport' -v ./integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkfc-project/zkfc/integration/harness"
	"github.com/zkfc-project/zkfc/integration/zkenv"
)

// importOptions: a super user to read every node for the comparison, and
// TTL nodes. snapCount decides what the import reads: with a large one
// every transaction is replayed from the log over the empty first
// snapshot; with a small one ZooKeeper rolls its log and writes fuzzy
// snapshots while the tree is built, and most of the tree comes from a
// snapshot with a log tail on top.
func importOptions(snapCount int) harness.Options {
	return harness.Options{
		JVMFlags: []string{
			"-Dzookeeper.extendedTypesEnabled=true",
			"-Dzookeeper.DigestAuthenticationProvider.superDigest=" + digestID(superUser, superPassword),
		},
		Extra: []string{fmt.Sprintf("snapCount=%d", snapCount)},
	}
}

// runZkfc runs $ZKFC_BIN with args, bounded in time.
func runZkfc(t testing.TB, timeout time.Duration, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	bin := os.Getenv("ZKFC_BIN")
	if bin == "" {
		t.Fatal("ZKFC_BIN is unset: build with `make build` and run with ZKFC_BIN=$PWD/bin/zkfc")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var o, e bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// znodeView is what a client sees of one znode.
type znodeView struct {
	Data string
	ACL  string
	Stat zk.Stat
}

// dumpTree reads every znode through a super-user session.
func dumpTree(t *testing.T, servers []string) map[string]znodeView {
	t.Helper()
	c := connectZK(t, 20*time.Second, servers...)
	defer c.Close()
	if err := c.AddAuth("digest", []byte(superUser+":"+superPassword)); err != nil {
		t.Fatalf("add super auth: %v", err)
	}
	out := map[string]znodeView{}
	stack := []string{"/"}
	for len(stack) > 0 && len(out) < 100000 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		data, st, err := c.Get(p)
		if err != nil {
			t.Fatalf("get %s: %v", p, err)
		}
		acl, _, err := c.GetACL(p)
		if err != nil {
			t.Fatalf("getACL %s: %v", p, err)
		}
		out[p] = znodeView{Data: string(data), ACL: fmt.Sprint(acl), Stat: *st}
		kids, _, err := c.Children(p)
		if err != nil {
			t.Fatalf("children %s: %v", p, err)
		}
		for _, k := range kids {
			stack = append(stack, strings.TrimSuffix(p, "/")+"/"+k)
		}
	}
	return out
}

// diffTrees lists every difference between two dumps, skipping paths in skip.
func diffTrees(want, got map[string]znodeView, skip map[string]bool) []string {
	var diffs []string
	for p, w := range want {
		if skip[p] {
			continue
		}
		g, ok := got[p]
		if !ok {
			diffs = append(diffs, "missing "+p)
			continue
		}
		if !reflect.DeepEqual(w, g) {
			diffs = append(diffs, fmt.Sprintf("%s:\n  apache %+v\n  ours   %+v", p, w, g))
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok && !skip[p] {
			diffs = append(diffs, "extra "+p)
		}
	}
	sort.Strings(diffs)
	return diffs
}

// holder is the live client that must survive the migration.
type holder struct {
	c       *zk.Conn
	ev      <-chan zk.Event
	session int64
	expired atomic.Bool
	eph     []string
	dataW   <-chan zk.Event // data watch on /app/config
	childW  <-chan zk.Event // child watch on /app
}

// buildTree writes a tree exercising every kind of znode and stat change
// through servers, and returns the live holder session with two
// ephemerals and two watches.
func buildTree(t *testing.T, servers []string) *holder {
	t.Helper()
	h := &holder{}
	var err error
	// go-zookeeper drops events its channel has no room for, and a client
	// cycling through stopped servers sends many: the callback sees all.
	h.c, h.ev, err = zk.Connect(servers, 20*time.Second, zk.WithLogger(zkenv.Quiet), zk.WithLogInfo(false),
		zk.WithEventCallback(func(e zk.Event) {
			if e.State == zk.StateExpired {
				h.expired.Store(true)
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.c.Close)
	if err := zkenv.WaitSession(h.ev, zkenv.SessionWait); err != nil {
		t.Fatal(err)
	}
	h.session = h.c.SessionID()
	c := h.c
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	open := zk.WorldACL(zk.PermAll)
	_, err = c.Create("/app", []byte("root of the app"), 0, open)
	must("create /app", err)
	_, err = c.Create("/app/config", []byte("v0"), 0, open)
	must("create /app/config", err)
	for i := 1; i <= 3; i++ {
		_, err = c.Set("/app/config", []byte(fmt.Sprintf("v%d", i)), -1)
		must("set /app/config", err)
	}
	// Sequential children, some deleted: the parent's cversion and pzxid
	// move on both.
	for i := 0; i < 6; i++ {
		p, err := c.Create("/app/item-", []byte(strconv.Itoa(i)), zk.FlagSequence, open)
		must("create sequential", err)
		if i%2 == 0 {
			must("delete "+p, c.Delete(p, -1))
		}
	}
	// An ACL only alice (and super) may use, changed once (aversion 1).
	must("auth alice", c.AddAuth("digest", []byte("alice:pw-a")))
	_, err = c.Create("/secret", []byte("alice's"), 0, zk.DigestACL(zk.PermAll, "alice", "pw-a"))
	must("create /secret", err)
	_, err = c.SetACL("/secret", append(zk.DigestACL(zk.PermAll, "alice", "pw-a"), zk.WorldACL(zk.PermRead)...), 0)
	must("setACL /secret", err)
	// A container with a child, a TTL node, a multi.
	_, err = c.CreateContainer("/box", nil, zk.FlagContainer, open)
	must("create container", err)
	_, err = c.Create("/box/in", []byte("x"), 0, open)
	must("create /box/in", err)
	_, err = c.CreateTTL("/ttl", []byte("t"), zk.FlagTTL, open, time.Hour)
	must("create ttl", err)
	_, err = c.Multi(
		&zk.CreateRequest{Path: "/multi", Data: []byte("m"), Acl: open},
		&zk.SetDataRequest{Path: "/app", Data: []byte("changed in a multi"), Version: -1},
	)
	must("multi", err)
	// A multi that fails changes nothing (ZooKeeper logs it as an error txn).
	_, err = c.Multi(
		&zk.CreateRequest{Path: "/never", Acl: open},
		&zk.CheckVersionRequest{Path: "/app", Version: 99},
	)
	if err == nil {
		t.Fatal("a multi with a failing check succeeded")
	}
	// Enough nodes to roll ZooKeeper's log past snapCount.
	_, err = c.Create("/bulk", nil, 0, open)
	must("create /bulk", err)
	for i := 0; i < 120; i++ {
		_, err = c.Create(fmt.Sprintf("/bulk/n%03d", i), bytes.Repeat([]byte{byte(i)}, i), 0, open)
		must("create bulk", err)
	}
	// Another session's ephemeral goes with its session.
	other := connectZK(t, 10*time.Second, servers...)
	_, err = other.Create("/gone", nil, zk.FlagEphemeral, open)
	must("create /gone", err)
	other.Close()

	for _, p := range []string{"/app/holder-a", "/app/holder-b"} {
		_, err = c.Create(p, []byte(p), zk.FlagEphemeral, open)
		must("create "+p, err)
		h.eph = append(h.eph, p)
	}
	_, _, h.dataW, err = c.GetW("/app/config")
	must("watch /app/config", err)
	_, _, h.childW, err = c.ChildrenW("/app")
	must("watch /app children", err)
	return h
}

// importMember runs zkfc quorum import for one stopped server into a
// new directory and returns the directory and the zxid it resumes at.
func importMember(t *testing.T, s *harness.Server) (string, string) {
	t.Helper()
	to := filepath.Join(t.TempDir(), "zkfc-data")
	start := time.Now()
	out, errOut, err := runZkfc(t, 2*time.Minute, "quorum", "import", "--from", s.DataDir, "--to", to)
	if err != nil {
		t.Fatalf("import member %d: %v\n%s%s", s.ID, err, out, errOut)
	}
	t.Logf("import member %d (%v):\n%s", s.ID, time.Since(start).Round(time.Millisecond), out)
	m := regexp.MustCompile(`resumes at zxid (0x[0-9a-f]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("import output names no zxid:\n%s", out)
	}
	return to, m[1]
}

// waitHolder waits for the holder's session to come back, not expired.
// Tests call it before any other client writes to the new server, whose
// zxid then stands where the import left it: a client that saw a newer
// zxid would be refused.
func waitHolder(t *testing.T, h *holder) {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	for h.c.State() != zk.StateHasSession {
		if h.expired.Load() {
			t.Fatal("the holder's session expired: the new server did not take it over")
		}
		if time.Now().After(deadline) {
			t.Fatalf("the holder did not reconnect within 40s (state %v)", h.c.State())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := h.c.SessionID(); got != h.session {
		t.Fatalf("holder reconnected with session %#x, want its old session %#x", got, h.session)
	}
}

// checkHolder verifies that the reconnected holder still owns its
// ephemerals, that both its watches fire, and that it can write.
func checkHolder(t *testing.T, h *holder, servers []string) {
	t.Helper()
	for _, p := range h.eph {
		_, st, err := h.c.Get(p)
		if err != nil {
			t.Fatalf("the holder's ephemeral %s: %v", p, err)
		}
		if st.EphemeralOwner != h.session {
			t.Fatalf("%s is owned by %#x, want the holder %#x", p, st.EphemeralOwner, h.session)
		}
	}
	// Another client changes what the holder watches.
	w := connectZK(t, 10*time.Second, servers...)
	defer w.Close()
	if _, err := w.Set("/app/config", []byte("after the migration"), -1); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Create("/app/new-child", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	for name, ch := range map[string]<-chan zk.Event{"data watch on /app/config": h.dataW, "child watch on /app": h.childW} {
		select {
		case e := <-ch:
			if e.Type != zk.EventNodeDataChanged && e.Type != zk.EventNodeChildrenChanged {
				t.Fatalf("%s delivered %v", name, e)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("%s did not fire after the migration", name)
		}
	}
	// The holder's session is still a working session: it can write.
	if _, err := h.c.Create("/app/holder-c", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("the holder cannot write after the migration: %v", err)
	}
}

func TestImportFromApacheStandalone(t *testing.T) {
	apache := harness.StartApache(t, importOptions(100000))
	h := buildTree(t, []string{apache.Addr()})
	want := dumpTree(t, []string{apache.Addr()})
	lastZxid := srvrZxid(t, apache.Addr())

	stopped := time.Now()
	apache.Terminate()
	to, resume := importMember(t, apache)
	if err := apache.Reseat(harness.Ours, to); err != nil {
		t.Fatal(err)
	}
	if err := harness.StartAll(90*time.Second, apache); err != nil {
		t.Fatal(err)
	}
	t.Logf("downtime (stop, import, start serving): %v", time.Since(stopped).Round(time.Millisecond))
	waitHolder(t, h)

	got := dumpTree(t, []string{apache.Addr()})
	if d := diffTrees(want, got, nil); len(d) > 0 {
		t.Fatalf("the imported tree differs from Apache's (%d differences):\n%s", len(d), strings.Join(d, "\n"))
	}
	checkHolder(t, h, []string{apache.Addr()})
	// New writes continue the zxid sequence.
	_, st, err := h.c.Get("/app/config")
	if err != nil {
		t.Fatal(err)
	}
	if st.Mzxid <= lastZxid {
		t.Fatalf("a write after the import got zxid %#x, not after Apache's last %#x (import said it resumes at %s)", st.Mzxid, lastZxid, resume)
	}
}

// srvrZxid is the last zxid a server reports in srvr.
func srvrZxid(t *testing.T, addr string) int64 {
	t.Helper()
	out, err := harness.FourLetterWord(addr, "srvr", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`Zxid: 0x([0-9a-f]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("srvr names no zxid:\n%s", out)
	}
	z, _ := strconv.ParseInt(m[1], 16, 64)
	return z
}

func TestImportFromApacheEnsemble(t *testing.T) {
	ens := harness.StartEnsemble(t, harness.Apache, 3, importOptions(40))
	servers := ens.Addrs()
	h := buildTree(t, servers)
	// Every member has applied everything before it stops.
	for _, m := range ens.Members {
		c := connectZK(t, 10*time.Second, m.Addr())
		if _, err := c.Sync("/"); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	want := dumpTree(t, servers)

	stopped := time.Now()
	for _, m := range ens.Members {
		m.Terminate()
	}
	dirs := make([]string, len(ens.Members))
	var resume []string
	for i, m := range ens.Members {
		var z string
		dirs[i], z = importMember(t, m)
		resume = append(resume, z)
	}
	for _, z := range resume[1:] {
		if z != resume[0] {
			t.Fatalf("members resume at different zxids %v: the guide says to import the most advanced member's data on each", resume)
		}
	}
	for i, m := range ens.Members {
		if err := m.Reseat(harness.Ours, dirs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := harness.StartAll(90*time.Second, ens.Members...); err != nil {
		t.Fatal(err)
	}
	t.Logf("downtime (stop, import on each member, start serving): %v", time.Since(stopped).Round(time.Millisecond))
	waitHolder(t, h)

	// /zookeeper/config holds each ensemble's own membership text (README).
	skip := map[string]bool{"/zookeeper/config": true}
	for _, m := range ens.Members {
		got := dumpTree(t, []string{m.Addr()})
		if d := diffTrees(want, got, skip); len(d) > 0 {
			t.Fatalf("member %d's imported tree differs from Apache's (%d differences):\n%s", m.ID, len(d), strings.Join(d, "\n"))
		}
	}
	checkHolder(t, h, servers)
}

// TestImportRefusesDamagedInput damages a real ZooKeeper dataDir in the
// ways a disk or an interrupted copy does; each import must stop naming
// the file and the offset, and write nothing.
func TestImportRefusesDamagedInput(t *testing.T) {
	apache := harness.StartApache(t, harness.Options{})
	c := connectZK(t, 10*time.Second, apache.Addr())
	for i := 0; i < 20; i++ {
		if _, err := c.Create(fmt.Sprintf("/n%d", i), []byte("data"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	apache.Terminate()
	v2 := filepath.Join(apache.DataDir, "version-2")
	logPath, snapPath := onlyFile(t, v2, "log."), onlyFile(t, v2, "snapshot.")
	logImg, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	snapImg, err := os.ReadFile(snapPath)
	if err != nil {
		t.Fatal(err)
	}
	// Record boundaries of the log: a 16-byte file header, then
	// (checksum 8, length 4, payload, 'B') until a zero length.
	var recs []int
	for off := 16; off+12 <= len(logImg); {
		n := int(uint32(logImg[off+8])<<24 | uint32(logImg[off+9])<<16 | uint32(logImg[off+10])<<8 | uint32(logImg[off+11]))
		if n == 0 {
			break
		}
		recs = append(recs, off)
		off += 12 + n + 1
	}
	if len(recs) < 10 {
		t.Fatalf("the log holds %d records, want at least 10", len(recs))
	}
	r := recs[5]
	flipped := bytes.Clone(logImg)
	flipped[r+12+20] ^= 0x40 // inside the sixth record's payload
	truncLog := logImg[:recs[7]+15]

	for _, tc := range []struct {
		name       string
		file       string
		img        []byte
		wantOffset int
	}{
		{"flipped byte in a log record", logPath, flipped, r},
		{"log cut inside a record", logPath, truncLog, len(truncLog)},
		{"snapshot cut short", snapPath, snapImg[:len(snapImg)-7], len(snapImg) - 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from := filepath.Join(t.TempDir(), "zk")
			if err := os.MkdirAll(filepath.Join(from, "version-2"), 0o755); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{logPath, snapPath} {
				img := logImg
				if f == snapPath {
					img = snapImg
				}
				if f == tc.file {
					img = tc.img
				}
				if err := os.WriteFile(filepath.Join(from, "version-2", filepath.Base(f)), img, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			to := filepath.Join(t.TempDir(), "zkfc-data")
			out, errOut, err := runZkfc(t, time.Minute, "quorum", "import", "--from", from, "--to", to)
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("import of damaged input did not fail (err %v):\n%s", err, out)
			}
			wantMsg := fmt.Sprintf("%s: offset %d:", filepath.Join(from, "version-2", filepath.Base(tc.file)), tc.wantOffset)
			if !strings.Contains(errOut, wantMsg) {
				t.Fatalf("error does not name %q:\n%s", wantMsg, errOut)
			}
			if _, err := os.Stat(to); !os.IsNotExist(err) {
				t.Fatalf("a failed import left %s behind (stat: %v)", to, err)
			}
			t.Logf("refused: %s", strings.TrimSpace(errOut))
		})
	}
}

func onlyFile(t *testing.T, dir, prefix string) string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, de := range des {
		if strings.HasPrefix(de.Name(), prefix) {
			found = append(found, filepath.Join(dir, de.Name()))
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %s* in %s, found %v", prefix, dir, found)
	}
	return found[0]
}
