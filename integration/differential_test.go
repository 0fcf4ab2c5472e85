package integration

// Differential tests: every scenario drives a server through a client
// library, the raw wire protocol, kazoo or zkCli.sh and writes what the client
// observed into a transcript. The same scenario runs against two servers and
// the normalized transcripts must be equal. TestDifferentialApacheSelfCheck
// runs Apache against Apache (it proves the scenarios are deterministic after
// normalization); TestDifferentialOurs runs Apache against `zkfc quorum`.
//
// The Ensemble variants run the same scenarios through a follower of a
// 3-member ensemble of each backend.
//
// Reading a transcript: "label -> Err" is a reply; indented "event ..."
// lines just above it are notifications that arrived before that reply on
// the same connection. zxids (Z1...) are ranks, sessions (S1...) orders of
// first appearance, times only "set"/"=ctime"/">=ctime" (zkenv.Normalize,
// zkenv.FormatStat). Run: go test ./integration/ -run Differential -v
// (with ZKFC_BIN=$PWD/bin/zkfc for the ours side).
//
// Deliberate differences between Apache and ours are encoded in the scenario
// itself, with a comment, by writing the same line on both sides when each
// backend behaves as documented (see scenarioFourLetterWords).

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkfc-project/zkfc/integration/harness"
	"github.com/zkfc-project/zkfc/integration/zkenv"
	"github.com/zkfc-project/zkfc/quorum/proto"
)

// Credentials of the super user, passed to both servers as
// zookeeper.DigestAuthenticationProvider.superDigest.
const (
	superUser     = "super"
	superPassword = "differential-secret"
)

// digestID is the id the digest scheme stores for user:password.
func digestID(user, password string) string {
	sum := sha1.Sum([]byte(user + ":" + password))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

// A serverConfig names one zoo.cfg/flags shape; scenarios pick one and share
// its servers with every other scenario of the same shape.
type serverConfig string

const (
	// cfgExtended has TTL nodes enabled and a super user; most scenarios use it.
	cfgExtended serverConfig = "extended"
	// cfgPlain has no TTL nodes, explicit session bounds and a 4lw whitelist.
	cfgPlain serverConfig = "plain"
)

func (c serverConfig) options() harness.Options {
	// tickTime 500ms: sessions negotiate within [1s, 10s], so expiry
	// scenarios take about a second rather than the stock four.
	o := harness.Options{TickTime: 500 * time.Millisecond}
	if c == cfgPlain {
		o.Extra = []string{
			"minSessionTimeout=1500",
			"maxSessionTimeout=3000",
			// Overrides the harness's "*": in a Java properties file the last
			// occurrence of a key wins.
			"4lw.commands.whitelist=srvr, ruok,conf",
		}
	}
	if c == cfgExtended {
		o.JVMFlags = []string{
			"-Dzookeeper.extendedTypesEnabled=true",
			"-Dzookeeper.DigestAuthenticationProvider.superDigest=" + digestID(superUser, superPassword),
			// Reap empty containers and expired TTL nodes every 100ms
			// rather than every minute, for scenarioReaper.
			"-Dznode.container.checkIntervalMs=100",
		}
	}
	return o
}

// env is what a scenario runs against: one server and a root path of its own.
type env struct {
	srv  *harness.Server
	root string
}

func (e env) addr() string { return e.srv.Addr() }

// path joins the scenario's root and a relative name.
func (e env) path(rel string) string {
	if rel == "" {
		return e.root
	}
	return e.root + "/" + rel
}

type scenario struct {
	name string
	cfg  serverConfig
	// run writes the transcript. A returned error is a harness failure (could
	// not connect, a deadline passed): the scenario fails on that side.
	run func(e env, tr *zkenv.Transcript) error
}

func scenarios() []scenario {
	return []scenario{
		{"create_modes", cfgExtended, scenarioCreateModes},
		{"ttl_disabled", cfgPlain, scenarioTTLDisabled},
		{"reaper", cfgExtended, scenarioReaper},
		{"plain_config", cfgPlain, scenarioPlainConfig},
		{"errors", cfgExtended, scenarioErrors},
		{"data_stats", cfgExtended, scenarioDataStats},
		{"acl", cfgExtended, scenarioACL},
		{"multi", cfgExtended, scenarioMulti},
		{"watches_oneshot", cfgExtended, scenarioWatchesOneShot},
		{"watches_persistent", cfgExtended, scenarioWatchesPersistent},
		{"watches_reconnect", cfgExtended, scenarioWatchesReconnect},
		{"gozk_reconnect", cfgExtended, scenarioGoZKReconnect},
		{"gozk_expiry", cfgExtended, scenarioGoZKExpiry},
		{"sessions", cfgExtended, scenarioSessions},
		{"reply_zxids", cfgExtended, scenarioReplyZxids},
		{"system_nodes", cfgExtended, scenarioSystemNodes},
		{"four_letter_words", cfgExtended, scenarioFourLetterWords},
		{"robustness", cfgExtended, scenarioRobustness},
		{"kazoo", cfgExtended, scenarioKazoo},
		{"zkcli", cfgExtended, scenarioZkCli},
	}
}

type starter func(t testing.TB, opts harness.Options) *harness.Server

// TestDifferentialApacheSelfCheck runs every scenario against two Apache
// servers. It must always pass: a difference here is a harness bug (a value
// that normalization misses, or a timing dependency), not a server bug.
func TestDifferentialApacheSelfCheck(t *testing.T) {
	runDifferential(t, "apache-a", harness.StartApache, "apache-b", harness.StartApache, nil)
}

// TestDifferentialOurs runs every scenario against Apache and against our
// server ($ZKFC_BIN quorum). It fails, never skips, while ours is missing.
func TestDifferentialOurs(t *testing.T) {
	runDifferential(t, "apache", harness.StartApache, "ours", harness.StartOurs, nil)
}

// TestDifferentialEnsembleApacheSelfCheck and TestDifferentialEnsembleOurs
// run the scenarios of the extended configuration through a follower of a
// 3-member ensemble, where every write travels through the leader.
func TestDifferentialEnsembleApacheSelfCheck(t *testing.T) {
	runDifferential(t, "apache-a-follower", followerOf(harness.Apache),
		"apache-b-follower", followerOf(harness.Apache), onlyConfig(cfgExtended))
}

func TestDifferentialEnsembleOurs(t *testing.T) {
	runDifferential(t, "apache-follower", followerOf(harness.Apache),
		"ours-follower", followerOf(harness.Ours), onlyConfig(cfgExtended))
}

// followerOf starts a 3-member ensemble and hands out one of its followers.
func followerOf(b harness.Backend) starter {
	return func(t testing.TB, o harness.Options) *harness.Server {
		t.Helper()
		e := harness.StartEnsemble(t, b, 3, o)
		l, err := e.WaitLeader(60 * time.Second)
		if err != nil {
			t.Fatalf("ensemble: %v", err)
		}
		return e.Members[(l+1)%len(e.Members)]
	}
}

func onlyConfig(c serverConfig) func(scenario) bool {
	return func(sc scenario) bool { return sc.cfg == c }
}

func runDifferential(t *testing.T, nameA string, startA starter, nameB string, startB starter, include func(scenario) bool) {
	var selected []scenario
	for _, sc := range scenarios() {
		if include == nil || include(sc) {
			selected = append(selected, sc)
		}
	}
	type pair struct{ a, b *harness.Server }
	// Started here, on the parent test's goroutine (a failed start must stop
	// the parent), and shared by the subtests; the parent's cleanup kills
	// them after the last scenario.
	servers := map[serverConfig]*pair{}
	for _, sc := range selected {
		if servers[sc.cfg] == nil {
			servers[sc.cfg] = &pair{a: startA(t, sc.cfg.options()), b: startB(t, sc.cfg.options())}
		}
	}
	for _, sc := range selected {
		t.Run(sc.name, func(t *testing.T) {
			p := servers[sc.cfg]
			root := "/" + sc.name
			var trA, trB zkenv.Transcript
			var errA, errB error
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); errA = sc.run(env{p.a, root}, &trA) }()
			go func() { defer wg.Done(); errB = sc.run(env{p.b, root}, &trB) }()
			wg.Wait()
			if errA != nil {
				t.Errorf("%s: scenario did not complete: %v", nameA, errA)
			}
			if errB != nil {
				t.Errorf("%s: scenario did not complete: %v", nameB, errB)
			}
			a, b := zkenv.Normalize(trA.Lines()), zkenv.Normalize(trB.Lines())
			if d := zkenv.UnifiedDiff(nameA, nameB, a, b); d != "" {
				t.Errorf("transcripts differ (normalized):\n%s", d)
			}
			if testing.Verbose() || t.Failed() {
				t.Logf("%s transcript (normalized):\n%s", nameA, strings.Join(a, "\n"))
			}
			if len(a) == 0 && errA == nil {
				t.Errorf("%s: empty transcript: the scenario observed nothing", nameA)
			}
		})
	}
}

// errText renders an error for a transcript; nil is "ok".
func errText(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// statText renders a go-zookeeper Stat.
func statText(s *zk.Stat) string { return zkenv.FormatStat(zkenv.ZKStat(s)) }

// aclText renders an ACL list in server order (ZooKeeper keeps the order
// it was given, so a compatible server must too).
func aclText(acl []zk.ACL) string {
	parts := make([]string, len(acl))
	for i, a := range acl {
		parts[i] = fmt.Sprintf("%s:%s:%d", a.Scheme, a.ID, a.Perms)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// seqSuffix is the sequence part a server appended to prefix.
func seqSuffix(path, prefix string) string { return strings.TrimPrefix(path, prefix) }

// dump writes the Stat, data and children of each node (missing ones too).
func dump(c *zk.Conn, tr *zkenv.Transcript, paths ...string) {
	for _, p := range paths {
		data, st, err := c.Get(p)
		if err != nil {
			tr.Printf("get %s: %s", p, errText(err))
			continue
		}
		kids, _, err := c.Children(p)
		tr.Printf("node %s data=%q %s children=%s %s", p, data, statText(st), zkenv.SortedList(kids), errText(err))
	}
}

var openACL = zk.WorldACL(zk.PermAll)

func scenarioCreateModes(e env, tr *zkenv.Transcript) error {
	c, _, err := zkenv.DialZK(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	tr.Printf("session %s", zkenv.SessionID(c.SessionID()))
	p, err := c.Create(e.root, []byte("root"), zk.FlagPersistent, openACL)
	tr.Printf("create root -> %s %s", p, errText(err))
	creates := []struct {
		name  string
		flags int32
	}{
		{"persistent", zk.FlagPersistent},
		{"ephemeral", zk.FlagEphemeral},
		{"pseq-", zk.FlagSequence},
		{"pseq-", zk.FlagSequence},
		{"eseq-", zk.FlagEphemeralSequential},
		{"eseq-", zk.FlagEphemeralSequential},
	}
	var made []string
	for _, cr := range creates {
		p, err := c.Create(e.path(cr.name), []byte(cr.name), cr.flags, openACL)
		tr.Printf("create %s flags=%d -> suffix=%q %s", cr.name, cr.flags, seqSuffix(p, e.path(cr.name)), errText(err))
		made = append(made, p)
	}
	p, err = c.CreateContainer(e.path("container"), []byte("c"), zk.FlagContainer, openACL)
	tr.Printf("create container -> %s %s", strings.TrimPrefix(p, e.root), errText(err))
	made = append(made, p)
	p, err = c.CreateTTL(e.path("ttl"), []byte("t"), zk.FlagTTL, openACL, time.Hour)
	tr.Printf("create ttl -> %s %s", strings.TrimPrefix(p, e.root), errText(err))
	made = append(made, p)
	p, err = c.CreateTTL(e.path("tseq-"), []byte("t"), zk.FlagPersistentSequentialWithTTL, openACL, time.Hour)
	tr.Printf("create ttl sequential -> suffix=%q %s", seqSuffix(p, e.path("tseq-")), errText(err))
	made = append(made, p)
	// A container child, so the container has had one (and is then reapable).
	p, err = c.Create(e.path("container/child"), nil, zk.FlagPersistent, openACL)
	tr.Printf("create container child -> %s %s", strings.TrimPrefix(p, e.root), errText(err))
	dump(c, tr, append([]string{e.root}, made...)...)

	// Sequential suffixes after deletes: the counter is the parent's
	// cversion-based child counter, and deletions do not reset it.
	seqParent := e.path("seq")
	_, err = c.Create(seqParent, nil, zk.FlagPersistent, openACL)
	tr.Printf("create seq parent %s", errText(err))
	var seqs []string
	for i := 0; i < 3; i++ {
		p, err := c.Create(seqParent+"/n-", nil, zk.FlagSequence, openACL)
		tr.Printf("create seq %d -> suffix=%q %s", i, seqSuffix(p, seqParent+"/n-"), errText(err))
		seqs = append(seqs, p)
	}
	tr.Printf("delete first seq %s", errText(c.Delete(seqs[0], -1)))
	tr.Printf("delete last seq %s", errText(c.Delete(seqs[2], -1)))
	for i := 0; i < 2; i++ {
		p, err := c.Create(seqParent+"/n-", nil, zk.FlagSequence, openACL)
		tr.Printf("create seq after deletes -> suffix=%q %s", seqSuffix(p, seqParent+"/n-"), errText(err))
	}
	p, err = c.Create(seqParent+"/other-", nil, zk.FlagEphemeralSequential, openACL)
	tr.Printf("create other prefix -> suffix=%q %s", seqSuffix(p, seqParent+"/other-"), errText(err))
	dump(c, tr, seqParent)

	return nil
}

// scenarioPlainConfig: zoo.cfg's minSessionTimeout/maxSessionTimeout bound
// the negotiation, and words outside 4lw.commands.whitelist are refused.
func scenarioPlainConfig(e env, tr *zkenv.Transcript) error {
	for _, ask := range []time.Duration{time.Millisecond, 2 * time.Second, time.Hour} {
		r, err := zkenv.ConnectRaw(e.addr(), ask)
		if err != nil {
			return err
		}
		tr.Printf("ask timeout %v -> negotiated %dms", ask, r.Session.TimeOut)
		r.CloseSession()
	}
	for _, w := range []string{"ruok", "stat", "mntr", "envi", "isro"} {
		out, err := e.srv.FourLetterWord(w)
		tr.Printf("%s -> %q %s", w, out, errText(err))
	}
	out, err := e.srv.FourLetterWord("conf")
	if err != nil {
		return err
	}
	for _, l := range strings.Split(out, "\n") {
		if k, v, _ := strings.Cut(l, "="); k == "minSessionTimeout" || k == "maxSessionTimeout" {
			tr.Printf("conf %s=%s", k, v)
		}
	}
	return nil
}

// waitEvents collects up to n notifications on r, pinging between reads so
// that the session stays alive; it gives up after about 60s (a loaded
// 2-core machine has been seen to take Apache over 20s to expire a 1s
// session on a follower).
func waitEvents(r *zkenv.RawConn, n int) ([]string, error) {
	var got []string
	for i := 0; i < 120 && len(got) < n; i++ {
		ev, ok, err := r.NextEvent(500 * time.Millisecond)
		if err != nil {
			return got, err
		}
		if ok {
			got = append(got, evText(ev))
			continue
		}
		rep, err := r.Ping()
		if err != nil {
			return got, err
		}
		for _, ev := range rep.Events {
			got = append(got, evText(ev))
		}
	}
	return got, nil
}

// scenarioReaper: empty containers that once had a child and childless TTL
// nodes past their TTL are deleted by the server (checkIntervalMs=100).
func scenarioReaper(e env, tr *zkenv.Transcript) error {
	w, err := zkenv.ConnectRaw(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer w.CloseSession()
	container := func(p string) func() error {
		return func() error {
			_, err := rcall(tr, w, "createContainer "+p, proto.OpCreateContainer,
				&proto.CreateRequest{Path: p, ACL: proto.OpenACL, Flags: proto.ModeContainer}, &proto.Create2Response{})
			return err
		}
	}
	ttl := func(p string, ms int64) func() error {
		return func() error {
			_, err := rcall(tr, w, fmt.Sprintf("createTTL %s %dms", p, ms), proto.OpCreateTTL,
				&proto.CreateTTLRequest{Path: p, ACL: proto.OpenACL, Flags: proto.ModeTTL, TTL: ms}, &proto.Create2Response{})
			return err
		}
	}
	watch := func(p string) func() error {
		return func() error {
			_, err := rcall(tr, w, "exists with watch "+p, proto.OpExists, &proto.PathWatchRequest{Path: p, Watch: true}, &proto.StatResponse{})
			return err
		}
	}
	// The deletes that make nodes reapable go through a second session, so
	// the reaper's notifications (on w) never interleave with their
	// replies, however fast the reaper is.
	wr, err := zkenv.ConnectRaw(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer wr.CloseSession()
	// Every node to be reaped gets a child first, so that the watch is set
	// before the node becomes reapable: no race with the reaper.
	c, never, t, tk := e.path("c"), e.path("never"), e.path("t"), e.path("tk")
	err = steps(
		func() error { return rawCreate(tr, w, e.root, "", proto.ModePersistent) },
		container(c),
		func() error { return rawCreate(tr, w, c+"/k", "", proto.ModePersistent) },
		container(never),
		ttl(t, 200),
		func() error { return rawCreate(tr, w, t+"/k", "", proto.ModePersistent) },
		ttl(tk, 200),
		func() error { return rawCreate(tr, w, tk+"/k", "", proto.ModePersistent) },
		watch(c), watch(t), watch(never), watch(tk),
		func() error { return rawDelete(tr, wr, c+"/k") },
		func() error { return rawDelete(tr, wr, t+"/k") },
	)
	if err != nil {
		return err
	}
	got, err := waitEvents(w, 2)
	if err != nil {
		return err
	}
	sort.Strings(got) // the two deletions may come in one pass or two
	tr.Printf("reaped: %v", got)
	// Never reaped: a container that never had a child, a TTL node with one.
	for _, p := range []string{never, tk} {
		var sr proto.StatResponse
		if _, err := rcall(tr, w, "exists "+p, proto.OpExists, &proto.PathWatchRequest{Path: p}, &sr); err != nil {
			return err
		}
	}
	return nil
}

func scenarioTTLDisabled(e env, tr *zkenv.Transcript) error {
	c, _, err := zkenv.DialZK(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Create(e.root, nil, zk.FlagPersistent, openACL)
	tr.Printf("create root %s", errText(err))
	_, err = c.CreateTTL(e.path("ttl"), nil, zk.FlagTTL, openACL, time.Hour)
	tr.Printf("create ttl without extendedTypesEnabled: %s", errText(err))
	_, err = c.CreateTTL(e.path("tseq-"), nil, zk.FlagPersistentSequentialWithTTL, openACL, time.Hour)
	tr.Printf("create ttl sequential without extendedTypesEnabled: %s", errText(err))
	p, err := c.CreateContainer(e.path("container"), nil, zk.FlagContainer, openACL)
	tr.Printf("create container (needs no extended types) -> %s %s", strings.TrimPrefix(p, e.root), errText(err))
	dump(c, tr, e.root)
	return nil
}

func scenarioErrors(e env, tr *zkenv.Transcript) error {
	c, _, err := zkenv.DialZK(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Create(e.root, nil, zk.FlagPersistent, openACL)
	tr.Printf("create root %s", errText(err))
	_, err = c.Create(e.path("a"), []byte("x"), zk.FlagPersistent, openACL)
	tr.Printf("create a %s", errText(err))
	_, err = c.Create(e.path("a"), []byte("y"), zk.FlagPersistent, openACL)
	tr.Printf("create a again (NodeExists): %s", errText(err))
	_, err = c.Create(e.path("missing/child"), nil, zk.FlagPersistent, openACL)
	tr.Printf("create under missing parent (NoNode): %s", errText(err))
	_, _, err = c.Get(e.path("missing"))
	tr.Printf("get missing: %s", errText(err))
	_, err = c.Set(e.path("missing"), nil, -1)
	tr.Printf("set missing: %s", errText(err))
	tr.Printf("delete missing: %s", errText(c.Delete(e.path("missing"), -1)))
	_, _, err = c.Children(e.path("missing"))
	tr.Printf("children missing: %s", errText(err))
	ok, st, err := c.Exists(e.path("missing"))
	tr.Printf("exists missing: %v %s %s", ok, statText(st), errText(err))
	_, _, err = c.GetACL(e.path("missing"))
	tr.Printf("getACL missing: %s", errText(err))
	_, err = c.SetACL(e.path("missing"), openACL, -1)
	tr.Printf("setACL missing: %s", errText(err))
	_, err = c.Create(e.path("a/kid"), nil, zk.FlagPersistent, openACL)
	tr.Printf("create a/kid %s", errText(err))
	tr.Printf("delete non-empty a (NotEmpty): %s", errText(c.Delete(e.path("a"), -1)))
	_, err = c.Set(e.path("a"), []byte("z"), 7)
	tr.Printf("set a version 7 (BadVersion): %s", errText(err))
	tr.Printf("delete a/kid version 3 (BadVersion): %s", errText(c.Delete(e.path("a/kid"), 3)))
	_, err = c.SetACL(e.path("a"), openACL, 5)
	tr.Printf("setACL a version 5 (BadVersion): %s", errText(err))
	_, err = c.Create(e.path("eph"), nil, zk.FlagEphemeral, openACL)
	tr.Printf("create eph %s", errText(err))
	_, err = c.Create(e.path("eph/kid"), nil, zk.FlagPersistent, openACL)
	tr.Printf("create under ephemeral (NoChildrenForEphemerals): %s", errText(err))
	_, err = c.Create(e.path("eph/kid"), nil, zk.FlagEphemeral, openACL)
	tr.Printf("create ephemeral under ephemeral: %s", errText(err))
	_, err = c.CreateTTL(e.path("ttl0"), nil, zk.FlagTTL, openACL, 0)
	tr.Printf("create ttl 0: %s", errText(err))
	_, err = c.Create(e.path("noacl"), nil, zk.FlagPersistent, nil)
	tr.Printf("create with empty ACL: %s", errText(err))
	_, err = c.Create(e.path("badperm"), nil, zk.FlagPersistent, []zk.ACL{{Perms: zk.PermAll, Scheme: "nosuch", ID: "x"}})
	tr.Printf("create with unknown ACL scheme: %s", errText(err))
	_, err = c.Create("/zookeeper/x", nil, zk.FlagPersistent, openACL)
	tr.Printf("create under /zookeeper: %s", errText(err))
	tr.Printf("delete /zookeeper: %s", errText(c.Delete("/zookeeper", -1)))
	_, err = c.Set("/zookeeper", []byte("x"), -1)
	tr.Printf("set /zookeeper: %s", errText(err))

	// Invalid paths: go-zookeeper validates them client-side, so send them raw.
	r, err := zkenv.ConnectRaw(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer r.CloseSession()
	for _, bad := range []string{"", "a", "/a/", "//", "/a//b", "/a/./b", "/a/../b", "/a\x00b", "/."} {
		p := bad
		if strings.HasPrefix(bad, "/") && bad != "/" {
			p = e.root + bad
		}
		if _, err := rcall(tr, r, fmt.Sprintf("raw create %q", bad), proto.OpCreate,
			&proto.CreateRequest{Path: p, ACL: proto.OpenACL}, &proto.PathResponse{}); err != nil {
			return err
		}
		if _, err := rcall(tr, r, fmt.Sprintf("raw getData %q", bad), proto.OpGetData,
			&proto.PathWatchRequest{Path: p}, &proto.GetDataResponse{}); err != nil {
			return err
		}
	}
	// Sequential create of a path ending in "/" is legal: the suffix is the name.
	var pr proto.PathResponse
	if _, err := rcall(tr, r, "raw create sequential \"a/\"", proto.OpCreate,
		&proto.CreateRequest{Path: e.path("a/"), ACL: proto.OpenACL, Flags: proto.ModePersistentSequential}, &pr); err != nil {
		return err
	}
	tr.Printf("  path suffix %q", strings.TrimPrefix(pr.Path, e.root))
	for _, mode := range []int32{7, -1, 100} {
		if _, err := rcall(tr, r, fmt.Sprintf("raw create with mode %d", mode), proto.OpCreate,
			&proto.CreateRequest{Path: e.path(fmt.Sprintf("mode%d", mode)), ACL: proto.OpenACL, Flags: mode}, &proto.PathResponse{}); err != nil {
			return err
		}
	}
	if _, err := rcall(tr, r, "raw createContainer with persistent mode", proto.OpCreateContainer,
		&proto.CreateRequest{Path: e.path("cont-bad"), ACL: proto.OpenACL, Flags: proto.ModePersistent}, &proto.Create2Response{}); err != nil {
		return err
	}
	if _, err := rcall(tr, r, "raw createTTL with ttl above max", proto.OpCreateTTL,
		&proto.CreateTTLRequest{Path: e.path("ttl-big"), ACL: proto.OpenACL, Flags: proto.ModeTTL, TTL: proto.MaxTTL + 1}, &proto.Create2Response{}); err != nil {
		return err
	}
	// reconfigEnabled defaults to false.
	if _, err := rcall(tr, r, "raw reconfig", proto.OpReconfig,
		&proto.ReconfigRequest{JoiningServers: "server.9=127.0.0.1:1:2", CurConfigID: -1}, &proto.GetDataResponse{}); err != nil {
		return err
	}
	if _, err := rcall(tr, r, "raw createTTL with persistent mode", proto.OpCreateTTL,
		&proto.CreateTTLRequest{Path: e.path("ttl-mode"), ACL: proto.OpenACL, Flags: proto.ModePersistent, TTL: 1000}, &proto.Create2Response{}); err != nil {
		return err
	}
	return nil
}

func scenarioDataStats(e env, tr *zkenv.Transcript) error {
	c, _, err := zkenv.DialZK(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Create(e.root, nil, zk.FlagPersistent, openACL)
	tr.Printf("create root %s", errText(err))
	n := e.path("n")
	_, err = c.Create(n, []byte("v0"), zk.FlagPersistent, openACL)
	tr.Printf("create n %s", errText(err))
	for i := 1; i <= 3; i++ {
		st, err := c.Set(n, []byte(fmt.Sprintf("value-%d", i)), -1)
		tr.Printf("set n #%d -> %s %s", i, statText(st), errText(err))
	}
	st, err := c.Set(n, []byte("v-versioned"), 3)
	tr.Printf("set n version 3 -> %s %s", statText(st), errText(err))
	st, err = c.Set(n, nil, -1)
	tr.Printf("set n to empty -> %s %s", statText(st), errText(err))
	big := []byte(strings.Repeat("x", 100000))
	st, err = c.Set(n, big, -1)
	tr.Printf("set n to 100000 bytes -> %s %s", statText(st), errText(err))
	data, st, err := c.Get(n)
	tr.Printf("get n -> len=%d %s %s", len(data), statText(st), errText(err))
	for _, k := range []string{"k1", "k2", "k3"} {
		_, err = c.Create(n+"/"+k, []byte(k), zk.FlagPersistent, openACL)
		tr.Printf("create n/%s %s", k, errText(err))
	}
	tr.Printf("delete n/k2 %s", errText(c.Delete(n+"/k2", -1)))
	ok, st, err := c.Exists(n)
	tr.Printf("exists n -> %v %s %s", ok, statText(st), errText(err))
	kids, st, err := c.Children(n)
	tr.Printf("getChildren2 n -> %s %s %s", zkenv.SortedList(kids), statText(st), errText(err))
	st, err = c.Set(n+"/k1", []byte("changed"), 0)
	tr.Printf("set n/k1 version 0 -> %s %s", statText(st), errText(err))
	ok, st, err = c.Exists(n)
	tr.Printf("exists n after child set (pzxid unchanged) -> %v %s %s", ok, statText(st), errText(err))

	// The raw getChildren (8) has no stat; getData of a null-data node.
	r, err := zkenv.ConnectRaw(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer r.CloseSession()
	var gc proto.GetChildrenResponse
	if _, err := rcall(tr, r, "raw getChildren n", proto.OpGetChildren, &proto.PathWatchRequest{Path: n}, &gc); err != nil {
		return err
	}
	tr.Printf("  children %s", zkenv.SortedList(gc.Children))
	var c2 proto.Create2Response
	if _, err := rcall(tr, r, "raw create2 null data", proto.OpCreate2,
		&proto.CreateRequest{Path: e.path("null"), Data: nil, ACL: proto.OpenACL}, &c2); err != nil {
		return err
	}
	tr.Printf("  path %s %s", strings.TrimPrefix(c2.Path, e.root), zkenv.FormatStat(c2.Stat))
	var gd proto.GetDataResponse
	if _, err := rcall(tr, r, "raw getData null", proto.OpGetData, &proto.PathWatchRequest{Path: e.path("null")}, &gd); err != nil {
		return err
	}
	tr.Printf("  data nil=%v len=%d %s", gd.Data == nil, len(gd.Data), zkenv.FormatStat(gd.Stat))
	var sr proto.StatResponse
	if _, err := rcall(tr, r, "raw exists root", proto.OpExists, &proto.PathWatchRequest{Path: e.root}, &sr); err != nil {
		return err
	}
	tr.Printf("  %s", zkenv.FormatStat(sr.Stat))
	return nil
}

func scenarioACL(e env, tr *zkenv.Transcript) error {
	admin, _, err := zkenv.DialZK(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer admin.Close()
	other, _, err := zkenv.DialZK(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer other.Close()
	_, err = admin.Create(e.root, nil, zk.FlagPersistent, openACL)
	tr.Printf("create root %s", errText(err))

	// world: read-only node.
	ro := e.path("readonly")
	_, err = admin.Create(ro, []byte("r"), zk.FlagPersistent, zk.WorldACL(zk.PermRead))
	tr.Printf("create readonly %s", errText(err))
	_, err = other.Set(ro, []byte("w"), -1)
	tr.Printf("set readonly (NoAuth): %s", errText(err))
	_, err = other.Create(ro+"/kid", nil, zk.FlagPersistent, openACL)
	tr.Printf("create under readonly (NoAuth): %s", errText(err))
	acl, st, err := other.GetACL(ro)
	tr.Printf("getACL readonly -> %s %s %s", aclText(acl), statText(st), errText(err))
	_, err = other.SetACL(ro, openACL, -1)
	tr.Printf("setACL readonly without ADMIN (NoAuth): %s", errText(err))

	// setACL/getACL with aversion.
	av := e.path("aversion")
	_, err = admin.Create(av, []byte("a"), zk.FlagPersistent, openACL)
	tr.Printf("create aversion %s", errText(err))
	st, err = admin.SetACL(av, zk.WorldACL(zk.PermRead|zk.PermWrite|zk.PermAdmin), 0)
	tr.Printf("setACL aversion v0 -> %s %s", statText(st), errText(err))
	st, err = admin.SetACL(av, zk.WorldACL(zk.PermAll), 0)
	tr.Printf("setACL aversion v0 again (BadVersion) -> %s", errText(err))
	st, err = admin.SetACL(av, zk.WorldACL(zk.PermAll), 1)
	tr.Printf("setACL aversion v1 -> %s %s", statText(st), errText(err))
	acl, st, err = admin.GetACL(av)
	tr.Printf("getACL aversion -> %s %s %s", aclText(acl), statText(st), errText(err))

	// digest: a node only alice can use.
	alice := digestID("alice", "pw-a")
	dn := e.path("digest")
	_, err = admin.Create(dn, []byte("d"), zk.FlagPersistent, []zk.ACL{{Perms: zk.PermAll, Scheme: "digest", ID: alice}})
	tr.Printf("create digest node %s", errText(err))
	_, _, err = other.Get(dn)
	tr.Printf("get digest node unauthenticated (NoAuth): %s", errText(err))
	_, _, err = other.GetACL(dn)
	tr.Printf("getACL digest node unauthenticated: %s", errText(err))
	ok, st, err := other.Exists(dn)
	tr.Printf("exists digest node unauthenticated (no check): %v %s %s", ok, statText(st), errText(err))
	kids, _, err := other.Children(e.root)
	tr.Printf("children of root: %s %s", zkenv.SortedList(kids), errText(err))
	tr.Printf("addAuth digest bob: %s", errText(other.AddAuth("digest", []byte("bob:pw-b"))))
	_, _, err = other.Get(dn)
	tr.Printf("get digest node as bob (NoAuth): %s", errText(err))
	tr.Printf("addAuth digest alice: %s", errText(other.AddAuth("digest", []byte("alice:pw-a"))))
	data, st, err := other.Get(dn)
	tr.Printf("get digest node as alice -> %q %s %s", data, statText(st), errText(err))
	acl, _, err = other.GetACL(dn)
	tr.Printf("getACL digest node as alice -> %s %s", aclText(acl), errText(err))

	// auth: expands to every id of the session (other has bob and alice).
	an := e.path("auth")
	_, err = admin.Create(an, nil, zk.FlagPersistent, zk.AuthACL(zk.PermAll))
	tr.Printf("create auth-ACL node without any auth (InvalidACL): %s", errText(err))
	_, err = other.Create(an, nil, zk.FlagPersistent, zk.AuthACL(zk.PermAll))
	tr.Printf("create auth-ACL node as bob+alice: %s", errText(err))
	acl, _, err = other.GetACL(an)
	tr.Printf("getACL auth node -> %s %s", aclText(acl), errText(err))
	_, err = other.SetACL(an, []zk.ACL{{Perms: zk.PermRead, Scheme: "auth", ID: ""}}, -1)
	tr.Printf("setACL auth scheme read-only: %s", errText(err))
	acl, _, err = other.GetACL(an)
	tr.Printf("getACL auth node -> %s %s", aclText(acl), errText(err))

	// ip: loopback allowed, another network refused.
	ipOK, ipNo := e.path("ip-ok"), e.path("ip-no")
	_, err = admin.Create(ipOK, []byte("i"), zk.FlagPersistent, []zk.ACL{{Perms: zk.PermAll, Scheme: "ip", ID: "127.0.0.1"}})
	tr.Printf("create ip 127.0.0.1 node %s", errText(err))
	_, err = admin.Create(ipNo, []byte("i"), zk.FlagPersistent, []zk.ACL{{Perms: zk.PermAll, Scheme: "ip", ID: "10.0.0.0/8"}})
	tr.Printf("create ip 10.0.0.0/8 node %s", errText(err))
	_, err = admin.Create(e.path("ip-bad"), nil, zk.FlagPersistent, []zk.ACL{{Perms: zk.PermAll, Scheme: "ip", ID: "not-an-ip"}})
	tr.Printf("create ip not-an-ip (InvalidACL): %s", errText(err))
	_, err = admin.Create(e.path("digest-bad"), nil, zk.FlagPersistent, []zk.ACL{{Perms: zk.PermAll, Scheme: "digest", ID: "nocolon"}})
	tr.Printf("create digest without colon (InvalidACL): %s", errText(err))
	data, _, err = other.Get(ipOK)
	tr.Printf("get ip 127.0.0.1 node -> %q %s", data, errText(err))
	_, _, err = other.Get(ipNo)
	tr.Printf("get ip 10.0.0.0/8 node (NoAuth): %s", errText(err))

	// super: sees and changes everything.
	su, _, err := zkenv.DialZK(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer su.Close()
	tr.Printf("addAuth digest super: %s", errText(su.AddAuth("digest", []byte(superUser+":"+superPassword))))
	for _, p := range []string{dn, ipNo, ro} {
		data, _, err := su.Get(p)
		tr.Printf("super get %s -> %q %s", strings.TrimPrefix(p, e.root), data, errText(err))
		_, err = su.Set(p, []byte("by-super"), -1)
		tr.Printf("super set %s -> %s", strings.TrimPrefix(p, e.root), errText(err))
	}
	tr.Printf("super delete digest node: %s", errText(su.Delete(dn, -1)))
	tr.Printf("addAuth with a wrong super password: %s", errText(other.AddAuth("digest", []byte(superUser+":wrong"))))
	_, _, err = other.Get(ipNo)
	tr.Printf("get ip 10.0.0.0/8 node after wrong super password: %s", errText(err))

	// An unknown scheme in addAuth fails the session (AuthFailed) in Apache.
	bad, err := zkenv.ConnectRaw(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer bad.Close()
	if _, err := rcallXid(tr, bad, "raw auth scheme nosuch", proto.XidAuth, proto.OpAuth,
		&proto.AuthPacket{Scheme: "nosuch", Auth: []byte("x")}, nil); err != nil {
		tr.Printf("  connection: %v", closedText(err))
	}
	tr.Printf("  connection closed after AuthFailed: %v", bad.WaitClosed(5*time.Second))
	return nil
}

// closedText reduces a read error to whether the connection was closed.
func closedText(err error) string {
	if err == nil {
		return "open"
	}
	if strings.Contains(err.Error(), "EOF") || strings.Contains(err.Error(), "reset") {
		return "closed"
	}
	return "error: " + err.Error()
}

var eventNames = map[int32]string{
	proto.EventNone: "None", proto.EventNodeCreated: "NodeCreated", proto.EventNodeDeleted: "NodeDeleted",
	proto.EventNodeDataChanged: "NodeDataChanged", proto.EventNodeChildrenChanged: "NodeChildrenChanged",
	proto.EventDataWatchRemoved: "DataWatchRemoved", proto.EventChildWatchRemoved: "ChildWatchRemoved",
	proto.EventPersistentWatchRemoved: "PersistentWatchRemoved",
}

func evText(ev proto.WatcherEvent) string {
	name, ok := eventNames[ev.Type]
	if !ok {
		name = fmt.Sprintf("type%d", ev.Type)
	}
	return fmt.Sprintf("event %s state=%d path=%s", name, ev.State, ev.Path)
}

// rcall makes a raw call and writes the notifications that preceded the
// reply, then "label -> ErrName". The returned error is a harness failure.
func rcall(tr *zkenv.Transcript, r *zkenv.RawConn, label string, op int32, req, resp proto.Record) (proto.Err, error) {
	rep, err := r.Call(op, req, resp)
	return recordReply(tr, label, rep, err)
}

func rcallXid(tr *zkenv.Transcript, r *zkenv.RawConn, label string, xid, op int32, req, resp proto.Record) (proto.Err, error) {
	rep, err := r.CallXid(xid, op, req, resp)
	return recordReply(tr, label, rep, err)
}

func recordReply(tr *zkenv.Transcript, label string, rep zkenv.Reply, err error) (proto.Err, error) {
	for _, ev := range rep.Events {
		tr.Printf("  %s", evText(ev))
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", label, err)
	}
	tr.Printf("%s -> %s", label, rep.Header.Err)
	return rep.Header.Err, nil
}

// barrier pings on r and records the notifications that arrived before the
// ping's reply. A change made by another session whose reply that session
// already has is notified to r before any later reply on r (ZooKeeper
// queues the notification before answering the writer), so this is a
// deterministic way to collect "the events caused so far".
func barrier(tr *zkenv.Transcript, r *zkenv.RawConn, label string) error {
	rep, err := r.Ping()
	if err != nil {
		return fmt.Errorf("barrier %s: %w", label, err)
	}
	tr.Printf("%s: %d events", label, len(rep.Events))
	for _, ev := range rep.Events {
		tr.Printf("  %s", evText(ev))
	}
	return nil
}

func rawCreate(tr *zkenv.Transcript, r *zkenv.RawConn, path string, data string, mode int32) error {
	_, err := rcall(tr, r, "create "+path, proto.OpCreate,
		&proto.CreateRequest{Path: path, Data: []byte(data), ACL: proto.OpenACL, Flags: mode}, &proto.PathResponse{})
	return err
}

func rawSet(tr *zkenv.Transcript, r *zkenv.RawConn, path string, data string) error {
	_, err := rcall(tr, r, "setData "+path, proto.OpSetData,
		&proto.SetDataRequest{Path: path, Data: []byte(data), Version: -1}, &proto.StatResponse{})
	return err
}

func rawDelete(tr *zkenv.Transcript, r *zkenv.RawConn, path string) error {
	_, err := rcall(tr, r, "delete "+path, proto.OpDelete, &proto.PathVersionRequest{Path: path, Version: -1}, nil)
	return err
}

// steps runs fs in order and stops at the first harness error.
func steps(fs ...func() error) error {
	for _, f := range fs {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

func multiResultText(res proto.MultiResult) string {
	switch b := res.Body.(type) {
	case *proto.PathResponse:
		return fmt.Sprintf("op=%d path=%s", res.Type, b.Path)
	case *proto.Create2Response:
		return fmt.Sprintf("op=%d path=%s %s", res.Type, b.Path, zkenv.FormatStat(b.Stat))
	case *proto.StatResponse:
		return fmt.Sprintf("op=%d %s", res.Type, zkenv.FormatStat(b.Stat))
	case *proto.GetDataResponse:
		return fmt.Sprintf("op=%d data=%q %s", res.Type, b.Data, zkenv.FormatStat(b.Stat))
	case *proto.GetChildrenResponse:
		return fmt.Sprintf("op=%d children=%s", res.Type, zkenv.SortedList(b.Children))
	}
	if res.Type == proto.OpError {
		return fmt.Sprintf("error %s", res.Err)
	}
	return fmt.Sprintf("op=%d", res.Type)
}

func rawMulti(tr *zkenv.Transcript, r *zkenv.RawConn, label string, op int32, ops ...proto.MultiOp) error {
	var resp proto.MultiResponse
	if _, err := rcall(tr, r, label, op, &proto.MultiRequest{Ops: ops}, &resp); err != nil {
		return err
	}
	for i, res := range resp.Results {
		tr.Printf("  result %d: %s", i, multiResultText(res))
	}
	return nil
}

func scenarioMulti(e env, tr *zkenv.Transcript) error {
	r, err := zkenv.ConnectRaw(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer r.CloseSession()
	mk := func(t int32, rec proto.Record) proto.MultiOp { return proto.MultiOp{Type: t, Op: rec} }
	create := func(p, d string) *proto.CreateRequest {
		return &proto.CreateRequest{Path: p, Data: []byte(d), ACL: proto.OpenACL}
	}
	a, b, missing := e.path("a"), e.path("b"), e.path("missing")
	if err := rawCreate(tr, r, e.root, "", proto.ModePersistent); err != nil {
		return err
	}
	err = steps(
		func() error {
			return rawMulti(tr, r, "multi success", proto.OpMulti,
				mk(proto.OpCreate, create(a, "a0")),
				mk(proto.OpCreate2, create(b, "b0")),
				mk(proto.OpSetData, &proto.SetDataRequest{Path: a, Data: []byte("a1"), Version: 0}),
				mk(proto.OpCheck, &proto.PathVersionRequest{Path: a, Version: 1}),
				mk(proto.OpCreate, &proto.CreateRequest{Path: a + "/s-", ACL: proto.OpenACL, Flags: proto.ModePersistentSequential}),
				mk(proto.OpDelete, &proto.PathVersionRequest{Path: b, Version: 0}))
		},
		func() error {
			return rawMulti(tr, r, "multi failing in the middle", proto.OpMulti,
				mk(proto.OpCreate, create(e.path("x"), "")),
				mk(proto.OpSetData, &proto.SetDataRequest{Path: a, Data: []byte("a2"), Version: -1}),
				mk(proto.OpCheck, &proto.PathVersionRequest{Path: a, Version: 0}),
				mk(proto.OpCreate, create(e.path("y"), "")),
				mk(proto.OpDelete, &proto.PathVersionRequest{Path: missing, Version: -1}))
		},
		func() error {
			return rawMulti(tr, r, "multi failing on its first op", proto.OpMulti,
				mk(proto.OpDelete, &proto.PathVersionRequest{Path: missing, Version: -1}),
				mk(proto.OpCreate, create(e.path("z"), "")))
		},
		func() error {
			return rawMulti(tr, r, "multi creating a child of a node it creates", proto.OpMulti,
				mk(proto.OpCreate, create(e.path("p"), "")),
				mk(proto.OpCreate, create(e.path("p/c"), "")),
				mk(proto.OpCreate, create(e.path("p"), "")))
		},
		func() error { return rawMulti(tr, r, "multi with no ops", proto.OpMulti) },
		func() error {
			return rawMulti(tr, r, "multiRead", proto.OpMultiRead,
				mk(proto.OpGetData, &proto.PathWatchRequest{Path: a}),
				mk(proto.OpGetChildren, &proto.PathWatchRequest{Path: a}),
				mk(proto.OpGetData, &proto.PathWatchRequest{Path: missing}),
				mk(proto.OpGetChildren, &proto.PathWatchRequest{Path: e.root}))
		},
	)
	if err != nil {
		return err
	}
	// What the failed multis left behind: nothing.
	var gc proto.GetChildren2Response
	if _, err := rcall(tr, r, "getChildren2 root", proto.OpGetChildren2, &proto.PathWatchRequest{Path: e.root}, &gc); err != nil {
		return err
	}
	tr.Printf("  children %s %s", zkenv.SortedList(gc.Children), zkenv.FormatStat(gc.Stat))

	// The same through go-zookeeper, which reports per-op errors its own way.
	c, _, err := zkenv.DialZK(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	res, err := c.Multi(
		&zk.CreateRequest{Path: e.path("g1"), Data: []byte("g"), Acl: openACL},
		&zk.CheckVersionRequest{Path: a, Version: 1},
		&zk.SetDataRequest{Path: e.path("g1"), Data: []byte("g2"), Version: 0},
	)
	tr.Printf("go multi success: %s", errText(err))
	for i, r := range res {
		tr.Printf("  result %d: %q %s %s", i, r.String, statText(r.Stat), errText(r.Error))
	}
	res, err = c.Multi(
		&zk.CreateRequest{Path: e.path("g2"), Acl: openACL},
		&zk.CheckVersionRequest{Path: a, Version: 9},
	)
	tr.Printf("go multi failure: %s", errText(err))
	for i, r := range res {
		tr.Printf("  result %d: %q %s", i, r.String, errText(r.Error))
	}
	return nil
}

func scenarioWatchesOneShot(e env, tr *zkenv.Transcript) error {
	w, err := zkenv.ConnectRaw(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer w.CloseSession()
	m, err := zkenv.ConnectRaw(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer m.CloseSession()
	n, missing, kid := e.path("n"), e.path("missing"), e.path("kid")
	watch := func(label string, op int32, path string, resp proto.Record) func() error {
		return func() error {
			_, err := rcall(tr, w, label, op, &proto.PathWatchRequest{Path: path, Watch: true}, resp)
			return err
		}
	}
	return steps(
		func() error { return rawCreate(tr, m, e.root, "", proto.ModePersistent) },
		func() error { return rawCreate(tr, m, n, "v0", proto.ModePersistent) },
		watch("watcher getData n", proto.OpGetData, n, &proto.GetDataResponse{}),
		watch("watcher exists missing", proto.OpExists, missing, &proto.StatResponse{}),
		watch("watcher getChildren root", proto.OpGetChildren, e.root, &proto.GetChildrenResponse{}),
		watch("watcher getData missing (no watch set on NoNode)", proto.OpGetData, kid, &proto.GetDataResponse{}),
		func() error { return rawSet(tr, m, n, "v1") },
		func() error { return barrier(tr, w, "after setData n") },
		func() error { return rawSet(tr, m, n, "v2") },
		func() error { return barrier(tr, w, "after a second setData n (watch was one-shot)") },
		func() error { return rawCreate(tr, m, missing, "", proto.ModePersistent) },
		func() error { return barrier(tr, w, "after create missing") },
		func() error { return rawCreate(tr, m, kid, "", proto.ModePersistent) },
		func() error { return barrier(tr, w, "after create kid") },
		// The watcher's own write: its notification precedes its reply.
		watch("watcher getData n again", proto.OpGetData, n, &proto.GetDataResponse{}),
		watch("watcher exists n", proto.OpExists, n, &proto.StatResponse{}),
		watch("watcher getChildren root again", proto.OpGetChildren, e.root, &proto.GetChildrenResponse{}),
		func() error { return rawSet(tr, w, n, "own") },
		func() error { return barrier(tr, w, "after own setData") },
		watch("watcher getData n for delete", proto.OpGetData, n, &proto.GetDataResponse{}),
		watch("watcher getChildren n", proto.OpGetChildren, n, &proto.GetChildrenResponse{}),
		func() error { return rawDelete(tr, m, n) },
		func() error { return barrier(tr, w, "after delete n") },
		// The same path watched twice by one session fires once.
		watch("watcher getData kid", proto.OpGetData, kid, &proto.GetDataResponse{}),
		watch("watcher exists kid", proto.OpExists, kid, &proto.StatResponse{}),
		func() error { return rawSet(tr, m, kid, "x") },
		func() error { return barrier(tr, w, "after setData kid watched twice") },
		func() error { return rawDelete(tr, m, kid) },
		func() error { return rawDelete(tr, m, missing) },
		func() error { return barrier(tr, w, "after deletes") },
	)
}

func scenarioWatchesPersistent(e env, tr *zkenv.Transcript) error {
	w, err := zkenv.ConnectRaw(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer w.CloseSession()
	m, err := zkenv.ConnectRaw(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer m.CloseSession()
	p, q := e.path("p"), e.path("q")
	addWatch := func(path string, mode int32) func() error {
		return func() error {
			_, err := rcall(tr, w, fmt.Sprintf("addWatch %s mode %d", path, mode), proto.OpAddWatch,
				&proto.AddWatchRequest{Path: path, Mode: mode}, nil)
			return err
		}
	}
	watches := func(label string, op int32, path string, typ int32) func() error {
		return func() error {
			_, err := rcall(tr, w, fmt.Sprintf("%s %s type %d", label, path, typ), op,
				&proto.WatchesRequest{Path: path, Type: typ}, nil)
			return err
		}
	}
	return steps(
		func() error { return rawCreate(tr, m, e.root, "", proto.ModePersistent) },
		addWatch(p, proto.AddWatchPersistent),
		addWatch(q, proto.AddWatchPersistentRecursive),
		func() error { return rawCreate(tr, m, p, "", proto.ModePersistent) },
		func() error { return rawSet(tr, m, p, "1") },
		func() error { return rawSet(tr, m, p, "2") },
		func() error { return rawCreate(tr, m, p+"/c", "", proto.ModePersistent) },
		func() error { return rawSet(tr, m, p+"/c", "x") },
		func() error { return rawDelete(tr, m, p+"/c") },
		func() error { return barrier(tr, w, "persistent watch on p") },
		func() error { return rawCreate(tr, m, q, "", proto.ModePersistent) },
		func() error { return rawCreate(tr, m, q+"/a", "", proto.ModePersistent) },
		func() error { return rawCreate(tr, m, q+"/a/b", "", proto.ModePersistent) },
		func() error { return rawSet(tr, m, q+"/a/b", "x") },
		func() error { return rawDelete(tr, m, q+"/a/b") },
		func() error { return rawSet(tr, m, q, "y") },
		func() error { return barrier(tr, w, "persistent recursive watch on q") },
		watches("checkWatches", proto.OpCheckWatches, p, proto.WatcherAny),
		watches("checkWatches", proto.OpCheckWatches, e.path("none"), proto.WatcherAny),
		watches("checkWatches", proto.OpCheckWatches, p, proto.WatcherData),
		// One-shot watches to remove by type.
		func() error {
			_, err := rcall(tr, w, "getData q/a with watch", proto.OpGetData, &proto.PathWatchRequest{Path: q + "/a", Watch: true}, &proto.GetDataResponse{})
			return err
		},
		func() error {
			_, err := rcall(tr, w, "getChildren q/a with watch", proto.OpGetChildren, &proto.PathWatchRequest{Path: q + "/a", Watch: true}, &proto.GetChildrenResponse{})
			return err
		},
		watches("checkWatches", proto.OpCheckWatches, q+"/a", proto.WatcherChildren),
		watches("removeWatches", proto.OpRemoveWatches, q+"/a", proto.WatcherChildren),
		watches("removeWatches again", proto.OpRemoveWatches, q+"/a", proto.WatcherChildren),
		watches("checkWatches", proto.OpCheckWatches, q+"/a", proto.WatcherData),
		watches("removeWatches", proto.OpRemoveWatches, p, proto.WatcherAny),
		watches("removeWatches", proto.OpRemoveWatches, e.path("none"), proto.WatcherAny),
		func() error { return rawSet(tr, m, p, "3") },
		func() error { return rawCreate(tr, m, q+"/a/z", "", proto.ModePersistent) },
		func() error { return barrier(tr, w, "after removals (q/a data watch and q recursive remain)") },
	)
}

func scenarioWatchesReconnect(e env, tr *zkenv.Transcript) error {
	m, err := zkenv.ConnectRaw(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer m.CloseSession()
	w, err := zkenv.ConnectRaw(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	d, gone, born, cp, same := e.path("d"), e.path("gone"), e.path("born"), e.path("cp"), e.path("same")
	err = steps(
		func() error { return rawCreate(tr, m, e.root, "", proto.ModePersistent) },
		func() error { return rawCreate(tr, m, d, "", proto.ModePersistent) },
		func() error { return rawCreate(tr, m, gone, "", proto.ModePersistent) },
		func() error { return rawCreate(tr, m, cp, "", proto.ModePersistent) },
		func() error { return rawCreate(tr, m, same, "", proto.ModePersistent) },
	)
	if err != nil {
		return err
	}
	// Read through w so that its last seen zxid covers the setup.
	for _, p := range []string{d, gone, same} {
		if _, err := rcall(tr, w, "watcher getData "+p, proto.OpGetData, &proto.PathWatchRequest{Path: p, Watch: true}, &proto.GetDataResponse{}); err != nil {
			return err
		}
	}
	if _, err := rcall(tr, w, "watcher exists born", proto.OpExists, &proto.PathWatchRequest{Path: born, Watch: true}, &proto.StatResponse{}); err != nil {
		return err
	}
	if _, err := rcall(tr, w, "watcher getChildren cp", proto.OpGetChildren, &proto.PathWatchRequest{Path: cp, Watch: true}, &proto.GetChildrenResponse{}); err != nil {
		return err
	}
	sess, last := w.Session, w.LastZxid
	w.Close() // the TCP connection only; the session lives on
	err = steps(
		func() error { return rawSet(tr, m, d, "changed") },
		func() error { return rawDelete(tr, m, gone) },
		func() error { return rawCreate(tr, m, born, "", proto.ModePersistent) },
		func() error { return rawCreate(tr, m, cp+"/kid", "", proto.ModePersistent) },
	)
	if err != nil {
		return err
	}
	w2, err := zkenv.DialRaw(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer w2.Close()
	resp, err := w2.Handshake(proto.ConnectRequest{TimeOut: 10000, LastZxidSeen: last, SessionID: sess.SessionID, Passwd: sess.Passwd})
	if err != nil {
		return fmt.Errorf("reconnect: %w", err)
	}
	tr.Printf("reconnect: same session %v, timeout %d", resp.SessionID == sess.SessionID, resp.TimeOut)
	if _, err := rcallXid(tr, w2, "setWatches", proto.XidSetWatches, proto.OpSetWatches, &proto.SetWatchesRequest{
		RelativeZxid: last,
		DataWatches:  []string{d, gone, same},
		ExistWatches: []string{born},
		ChildWatches: []string{cp},
	}, nil); err != nil {
		return err
	}
	if err := barrier(tr, w2, "after setWatches"); err != nil {
		return err
	}
	// The unchanged node's watch was re-registered and still works.
	pp, rr := e.path("pp"), e.path("rr")
	err = steps(
		func() error { return rawSet(tr, m, same, "now") },
		func() error { return barrier(tr, w2, "after setData same") },
		// Second round: persistent watches travel in setWatches2 (105).
		func() error { return rawCreate(tr, m, rr, "", proto.ModePersistent) },
		func() error {
			_, err := rcall(tr, w2, "addWatch pp persistent", proto.OpAddWatch, &proto.AddWatchRequest{Path: pp, Mode: proto.AddWatchPersistent}, nil)
			return err
		},
		func() error {
			_, err := rcall(tr, w2, "addWatch rr recursive", proto.OpAddWatch, &proto.AddWatchRequest{Path: rr, Mode: proto.AddWatchPersistentRecursive}, nil)
			return err
		},
		func() error {
			_, err := rcall(tr, w2, "watcher getData same", proto.OpGetData, &proto.PathWatchRequest{Path: same, Watch: true}, &proto.GetDataResponse{})
			return err
		},
	)
	if err != nil {
		return err
	}
	last = w2.LastZxid
	w2.Close()
	err = steps(
		func() error { return rawCreate(tr, m, pp, "", proto.ModePersistent) },
		func() error { return rawCreate(tr, m, rr+"/x", "", proto.ModePersistent) },
		func() error { return rawSet(tr, m, same, "again") },
	)
	if err != nil {
		return err
	}
	w3, err := zkenv.DialRaw(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer w3.CloseSession()
	resp, err = w3.Handshake(proto.ConnectRequest{TimeOut: 10000, LastZxidSeen: last, SessionID: sess.SessionID, Passwd: sess.Passwd})
	if err != nil {
		return fmt.Errorf("second reconnect: %w", err)
	}
	tr.Printf("second reconnect: same session %v", resp.SessionID == sess.SessionID)
	if _, err := rcallXid(tr, w3, "setWatches2", proto.XidSetWatches, proto.OpSetWatches2, &proto.SetWatches2Request{
		// Empty, not nil: nil encodes as a null vector (-1), which Apache
		// answers with MarshallingError; clients send empty vectors.
		RelativeZxid:               last,
		DataWatches:                []string{same},
		ExistWatches:               []string{},
		ChildWatches:               []string{},
		PersistentWatches:          []string{pp},
		PersistentRecursiveWatches: []string{rr},
	}, nil); err != nil {
		return err
	}
	return steps(
		func() error { return barrier(tr, w3, "after setWatches2") },
		func() error { return rawSet(tr, m, pp, "p") },
		func() error { return rawCreate(tr, m, rr+"/x/y", "", proto.ModePersistent) },
		func() error { return rawSet(tr, m, same, "once more") },
		func() error {
			return barrier(tr, w3, "after changes (persistent watches survive, data watch was used)")
		},
	)
}

// scenarioReplyZxids checks the zxid in reply headers, which clients keep
// as lastZxidSeen for reconnects: a successful write's reply carries its
// own zxid, later replies never go back, and a read after a write is not
// behind it. Whether a failed write consumes a zxid (Apache: yes) is left
// out: the numbering may differ as long as it is monotonic.
func scenarioReplyZxids(e env, tr *zkenv.Transcript) error {
	r, err := zkenv.ConnectRaw(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer r.CloseSession()
	var prev int64
	step := func(label string, op int32, req, resp proto.Record, own func() int64) func() error {
		return func() error {
			rep, err := r.Call(op, req, resp)
			if err != nil {
				return fmt.Errorf("%s: %w", label, err)
			}
			z := rep.Header.Zxid
			rel := "equal to"
			switch {
			case z > prev:
				rel = "later than"
			case z < prev:
				rel = "EARLIER (went backwards) than"
			}
			line := fmt.Sprintf("%s -> %s, reply zxid %s the previous reply", label, rep.Header.Err, rel)
			if own != nil && rep.Header.Err == proto.ErrOK {
				line += fmt.Sprintf(", equal to its own zxid: %v", z == own())
			}
			// Failed writes may or may not consume a zxid: for them
			// only "not behind" is compared.
			if proto.IsWrite(op) && rep.Header.Err != proto.ErrOK && z >= prev {
				line = fmt.Sprintf("%s -> %s, reply zxid not behind the previous reply", label, rep.Header.Err)
			}
			tr.Printf("%s", line)
			prev = max(prev, z)
			return nil
		}
	}
	var c2 proto.Create2Response
	var st proto.StatResponse
	var gd proto.GetDataResponse
	var mr proto.MultiResponse
	a := e.path("a")
	return steps(
		step("create root", proto.OpCreate, &proto.CreateRequest{Path: e.root, ACL: proto.OpenACL}, &proto.PathResponse{}, nil),
		step("create2 a", proto.OpCreate2, &proto.CreateRequest{Path: a, ACL: proto.OpenACL}, &c2, func() int64 { return c2.Stat.Czxid }),
		step("getData a", proto.OpGetData, &proto.PathWatchRequest{Path: a}, &gd, nil),
		step("setData a", proto.OpSetData, &proto.SetDataRequest{Path: a, Data: []byte("x"), Version: -1}, &st, func() int64 { return st.Stat.Mzxid }),
		step("exists a", proto.OpExists, &proto.PathWatchRequest{Path: a}, &proto.StatResponse{}, nil),
		step("delete missing", proto.OpDelete, &proto.PathVersionRequest{Path: e.path("missing"), Version: -1}, nil, nil),
		step("setData a bad version", proto.OpSetData, &proto.SetDataRequest{Path: a, Data: []byte("y"), Version: 99}, &proto.StatResponse{}, nil),
		step("getData a", proto.OpGetData, &proto.PathWatchRequest{Path: a}, &gd, nil),
		step("multi setData a", proto.OpMulti, &proto.MultiRequest{Ops: []proto.MultiOp{
			{Type: proto.OpSetData, Op: &proto.SetDataRequest{Path: a, Data: []byte("z"), Version: -1}},
		}}, &mr, func() int64 {
			if len(mr.Results) == 1 {
				if b, ok := mr.Results[0].Body.(*proto.StatResponse); ok {
					return b.Stat.Mzxid
				}
			}
			return -1
		}),
		step("getChildren root", proto.OpGetChildren, &proto.PathWatchRequest{Path: e.root}, &proto.GetChildrenResponse{}, nil),
		step("delete a", proto.OpDelete, &proto.PathVersionRequest{Path: a, Version: -1}, nil, nil),
		step("exists a", proto.OpExists, &proto.PathWatchRequest{Path: a}, &proto.StatResponse{}, nil),
		func() error {
			rep, err := r.Ping()
			if err != nil {
				return err
			}
			tr.Printf("ping reply zxid behind the previous reply: %v", rep.Header.Zxid < prev)
			return nil
		},
	)
}

// connDropper is a go-zookeeper Dialer that remembers the live connection
// so that the test can cut it, as a network blip would, without closing the
// session.
type connDropper struct {
	mu      sync.Mutex
	conn    net.Conn
	blocked bool // dials fail, as if the server were unreachable
}

func (d *connDropper) dial(network, address string, timeout time.Duration) (net.Conn, error) {
	d.mu.Lock()
	blocked := d.blocked
	d.mu.Unlock()
	if blocked {
		return nil, errors.New("connDropper: blocked")
	}
	c, err := net.DialTimeout(network, address, timeout)
	if err == nil {
		d.mu.Lock()
		d.conn = c
		d.mu.Unlock()
	}
	return c, err
}

func (d *connDropper) drop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn != nil {
		_ = d.conn.Close()
	}
}

// scenarioGoZKReconnect: the client library the controller uses loses its
// TCP connection; changes made meanwhile must still fire its watches after
// it reconnects to the same session (go-zookeeper re-sends them with
// setWatches under an ordinary xid, which the server must echo).
func scenarioGoZKReconnect(e env, tr *zkenv.Transcript) error {
	var d connDropper
	c, events, err := connectRecorded(e.addr(), 10*time.Second, d.dial)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := waitState(events, zk.StateHasSession); err != nil {
		return err
	}
	m, _, err := zkenv.DialZK(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer m.Close()
	data, born := e.path("data"), e.path("born")
	for _, p := range []string{e.root, data} {
		_, err := m.Create(p, nil, zk.FlagPersistent, openACL)
		tr.Printf("create %s %s", p, errText(err))
	}
	_, _, dataW, err := c.GetW(data)
	if err != nil {
		return err
	}
	_, _, bornW, err := c.ExistsW(born)
	if err != nil {
		return err
	}
	_, _, kidsW, err := c.ChildrenW(e.root)
	if err != nil {
		return err
	}
	session := c.SessionID()
	d.drop()
	if err := waitState(events, zk.StateDisconnected); err != nil {
		return err
	}
	_, err = m.Set(data, []byte("while away"), -1)
	tr.Printf("set data while the watcher is disconnected %s", errText(err))
	_, err = m.Create(born, nil, zk.FlagPersistent, openACL)
	tr.Printf("create born while the watcher is disconnected %s", errText(err))
	if err := waitState(events, zk.StateHasSession); err != nil {
		return err
	}
	tr.Printf("reconnected to the same session: %v", c.SessionID() == session)
	for _, w := range []struct {
		name string
		ch   <-chan zk.Event
	}{{"data watch", dataW}, {"exists watch", bornW}, {"children watch", kidsW}} {
		select {
		case ev := <-w.ch:
			tr.Printf("%s: %s %s err=%s", w.name, ev.Type, ev.Path, errText(ev.Err))
		case <-time.After(15 * time.Second):
			tr.Printf("%s: no event within 15s", w.name)
		}
	}
	// The session still works for ordinary requests after the re-sync.
	_, st, err := c.Get(data)
	tr.Printf("get data after reconnect -> %s %s", statText(st), errText(err))
	return nil
}

func (d *connDropper) block(b bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.blocked = b
}

// scenarioGoZKExpiry is the failover path of the controller: the lock
// holder is cut off for longer than its session timeout, the server expires
// the session and deletes its ephemeral lock (the standby's watch fires),
// and when the holder reaches the server again it learns it has expired.
func scenarioGoZKExpiry(e env, tr *zkenv.Transcript) error {
	var d connDropper
	c, events, err := connectRecorded(e.addr(), time.Second, d.dial)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := waitState(events, zk.StateHasSession); err != nil {
		return err
	}
	m, _, err := zkenv.DialZK(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer m.Close()
	lock := e.path("lock")
	_, err = m.Create(e.root, nil, zk.FlagPersistent, openACL)
	tr.Printf("create root %s", errText(err))
	_, err = c.Create(lock, []byte("holder"), zk.FlagEphemeral, openACL)
	tr.Printf("holder creates the ephemeral lock %s", errText(err))
	ok, st, lockW, err := m.ExistsW(lock)
	tr.Printf("standby watches the lock: exists=%v owner is the holder=%v %s", ok, st != nil && st.EphemeralOwner == c.SessionID(), errText(err))
	old := c.SessionID()
	d.block(true)
	d.drop()
	select {
	case ev := <-lockW:
		tr.Printf("standby's watch: %s %s", ev.Type, ev.Path)
	case <-time.After(60 * time.Second):
		tr.Printf("standby's watch: nothing within 60s")
	}
	d.block(false)
	if err := waitState(events, zk.StateExpired); err != nil {
		tr.Printf("holder: %v", err)
	} else {
		tr.Printf("holder saw StateExpired")
	}
	if err := waitState(events, zk.StateHasSession); err != nil {
		return err
	}
	tr.Printf("holder has a new session: %v", c.SessionID() != old && c.SessionID() != 0)
	ok, _, err = c.Exists(lock)
	tr.Printf("lock exists after expiry: %v %s", ok, errText(err))
	return nil
}

// connectRecorded connects go-zookeeper through dial and returns its
// session events through a deep buffer: the library's own event channel
// holds 6 and silently drops the rest, and a reconnect loop produces many.
func connectRecorded(addr string, timeout time.Duration, dial zk.Dialer) (*zk.Conn, <-chan zk.Event, error) {
	events := make(chan zk.Event, 4096)
	c, _, err := zk.Connect([]string{addr}, timeout,
		zk.WithLogger(quietZK{}), zk.WithLogInfo(false), zk.WithDialer(dial),
		zk.WithEventCallback(func(ev zk.Event) {
			select {
			case events <- ev:
			default:
			}
		}))
	return c, events, err
}

type quietZK struct{}

func (quietZK) Printf(string, ...any) {}

// waitState reads go-zookeeper session events until state s (bounded).
func waitState(events <-chan zk.Event, s zk.State) error {
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.State == s {
				return nil
			}
		case <-deadline:
			return fmt.Errorf("go-zookeeper did not reach state %s within 20s", s)
		}
	}
}

// handshakeText renders a ConnectResponse: refused (all zero) or accepted.
func handshakeText(resp proto.ConnectResponse, wantID int64) string {
	if resp.SessionID == 0 {
		return fmt.Sprintf("refused timeout=%d passwdLen=%d", resp.TimeOut, len(resp.Passwd))
	}
	return fmt.Sprintf("accepted timeout=%d sameSession=%v passwdLen=%d", resp.TimeOut, resp.SessionID == wantID, len(resp.Passwd))
}

// tryHandshake sends req on a fresh connection and renders the outcome,
// including a connection closed without any answer.
func tryHandshake(addr string, req proto.ConnectRequest, wantID int64) (string, *zkenv.RawConn, error) {
	r, err := zkenv.DialRaw(addr, 10*time.Second)
	if err != nil {
		return "", nil, err
	}
	resp, err := r.Handshake(req)
	if err != nil {
		r.Close()
		if closedText(errors.Unwrap(err)) == "closed" {
			return "refused", nil, nil
		}
		return "no response: " + err.Error(), nil, nil
	}
	out := handshakeText(resp, wantID)
	if strings.HasPrefix(out, "refused timeout=0 passwdLen=16") {
		// Apache answers a refused handshake with an all-zero response
		// and closes, but it may close before the answer is written (a
		// race seen on the self-check); clients treat both alike.
		out = "refused"
	}
	return out, r, nil
}

func scenarioSessions(e env, tr *zkenv.Transcript) error {
	m, err := zkenv.ConnectRaw(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer m.CloseSession()
	if err := rawCreate(tr, m, e.root, "", proto.ModePersistent); err != nil {
		return err
	}
	// Timeout negotiation: clamped to [2, 20] ticks (tickTime 500ms).
	for _, ask := range []time.Duration{time.Millisecond, 5 * time.Second, 10 * time.Minute} {
		r, err := zkenv.ConnectRaw(e.addr(), ask)
		if err != nil {
			return err
		}
		tr.Printf("ask timeout %v -> negotiated %dms, passwd %d bytes, readOnly sent=%v", ask, r.Session.TimeOut, len(r.Session.Passwd), r.Session.HasReadOnly)
		r.CloseSession()
	}
	// The readOnly flag is echoed only when the client sent it.
	out, r, err := tryHandshake(e.addr(), proto.ConnectRequest{TimeOut: 5000, Passwd: make([]byte, 16), HasReadOnly: true}, 0)
	if err != nil {
		return err
	}
	tr.Printf("handshake with readOnly=false: %s echoed=%v readOnly=%v", out, r != nil && r.Session.HasReadOnly, r != nil && r.Session.ReadOnly)
	if r != nil {
		r.CloseSession()
	}

	// Ephemerals go with closeSession, and the parent's child watch fires.
	a, err := zkenv.ConnectRaw(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	err = steps(
		func() error { return rawCreate(tr, a, e.path("eph-close"), "", proto.ModeEphemeral) },
		func() error {
			_, err := rcall(tr, m, "watch children of root", proto.OpGetChildren, &proto.PathWatchRequest{Path: e.root, Watch: true}, &proto.GetChildrenResponse{})
			return err
		},
		func() error {
			_, err := rcall(tr, a, "closeSession", proto.OpCloseSession, nil, nil)
			return err
		},
	)
	if err != nil {
		return err
	}
	tr.Printf("connection closed by server after closeSession: %v", a.WaitClosed(10*time.Second))
	a.Close()
	if err := barrier(tr, m, "after closeSession"); err != nil {
		return err
	}
	if _, err := rcall(tr, m, "exists eph-close", proto.OpExists, &proto.PathWatchRequest{Path: e.path("eph-close")}, &proto.StatResponse{}); err != nil {
		return err
	}

	// Reconnect to a live session: same id with its password; refused with a wrong one.
	b, err := zkenv.ConnectRaw(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	bs := b.Session
	if err := rawCreate(tr, b, e.path("eph-b"), "", proto.ModeEphemeral); err != nil {
		return err
	}
	b.Close()
	out, r, err = tryHandshake(e.addr(), proto.ConnectRequest{TimeOut: 10000, SessionID: bs.SessionID, Passwd: make([]byte, 16)}, bs.SessionID)
	if err != nil {
		return err
	}
	tr.Printf("reconnect with a wrong password: %s", out)
	if r != nil {
		if out == "refused" {
			tr.Printf("  connection closed after refusal: %v", r.WaitClosed(10*time.Second))
		}
		r.Close()
	} else if out == "refused" {
		tr.Printf("  connection closed after refusal: true")
	}
	out, r, err = tryHandshake(e.addr(), proto.ConnectRequest{TimeOut: 10000, SessionID: bs.SessionID, Passwd: bs.Passwd, LastZxidSeen: b.LastZxid}, bs.SessionID)
	if err != nil {
		return err
	}
	tr.Printf("reconnect with the password: %s", out)
	if r != nil {
		if _, err := rcall(tr, r, "exists eph-b after reconnect", proto.OpExists, &proto.PathWatchRequest{Path: e.path("eph-b")}, &proto.StatResponse{}); err != nil {
			return err
		}
		r.CloseSession()
	}

	// A client that has seen a later zxid than the server must go elsewhere.
	out, r, err = tryHandshake(e.addr(), proto.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16), LastZxidSeen: m.LastZxid + 1<<40}, 0)
	if err != nil {
		return err
	}
	tr.Printf("new session with lastZxidSeen ahead of the server: %s", out)
	if r != nil {
		r.Close()
	}
	out, r, err = tryHandshake(e.addr(), proto.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16), SessionID: 0x7123456789, LastZxidSeen: 0}, 0x7123456789)
	if err != nil {
		return err
	}
	tr.Printf("resume an unknown session id: %s", out)
	if r != nil {
		r.Close()
	}

	// Expiry: a 1s session whose client vanishes loses its ephemerals.
	x, err := zkenv.ConnectRaw(e.addr(), time.Millisecond)
	if err != nil {
		return err
	}
	xs := x.Session
	err = steps(
		func() error { return rawCreate(tr, x, e.path("eph-expire"), "", proto.ModeEphemeral) },
		func() error {
			_, err := rcall(tr, m, "watch eph-expire", proto.OpExists, &proto.PathWatchRequest{Path: e.path("eph-expire"), Watch: true}, &proto.StatResponse{})
			return err
		},
	)
	if err != nil {
		return err
	}
	x.Close()
	// Keep m alive with pings while waiting for the deletion (bounded).
	got, err := waitEvents(m, 1)
	if err != nil {
		return err
	}
	tr.Printf("after the 1s session's client vanished: %v", got)
	out, r, err = tryHandshake(e.addr(), proto.ConnectRequest{TimeOut: 10000, SessionID: xs.SessionID, Passwd: xs.Passwd, LastZxidSeen: 0}, xs.SessionID)
	if err != nil {
		return err
	}
	tr.Printf("resume the expired session: %s", out)
	if r != nil {
		r.Close()
	}
	return nil
}

// whoText renders whoAmI's identities sorted: Apache keeps a connection's
// ids in a hash set, so their order carries no meaning.
func whoText(w proto.WhoAmIResponse) string {
	var ids []string
	for _, c := range w.ClientInfo {
		ids = append(ids, c.AuthScheme+":"+c.User)
	}
	sort.Strings(ids)
	return "[" + strings.Join(ids, " ") + "]"
}

var loopbackPort = regexp.MustCompile(`127\.0\.0\.1(:[0-9]+)+`)

func scenarioSystemNodes(e env, tr *zkenv.Transcript) error {
	r, err := zkenv.ConnectRaw(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer r.CloseSession()
	for _, p := range []string{"/zookeeper", "/zookeeper/config", "/zookeeper/quota"} {
		var gd proto.GetDataResponse
		if _, err := rcall(tr, r, "getData "+p, proto.OpGetData, &proto.PathWatchRequest{Path: p}, &gd); err != nil {
			return err
		}
		// /zookeeper/config names the members' peer ports, which are
		// picked at random.
		data := loopbackPort.ReplaceAllString(string(gd.Data), "127.0.0.1:PORTS")
		tr.Printf("  data=%q %s", data, zkenv.FormatStat(gd.Stat))
		var gc proto.GetChildrenResponse
		if _, err := rcall(tr, r, "getChildren "+p, proto.OpGetChildren, &proto.PathWatchRequest{Path: p}, &gc); err != nil {
			return err
		}
		tr.Printf("  children %s", zkenv.SortedList(gc.Children))
		var ga proto.GetACLResponse
		if _, err := rcall(tr, r, "getACL "+p, proto.OpGetACL, &proto.PathRequest{Path: p}, &ga); err != nil {
			return err
		}
		for _, a := range ga.ACL {
			tr.Printf("  acl %s:%s:%d", a.ID.Scheme, a.ID.ID, a.Perms)
		}
	}
	err = steps(
		func() error { return rawCreate(tr, r, e.root, "", proto.ModePersistent) },
		func() error { return rawCreate(tr, r, e.path("a"), "", proto.ModePersistent) },
		func() error { return rawCreate(tr, r, e.path("a/b"), "", proto.ModePersistent) },
		func() error { return rawCreate(tr, r, e.path("a/b/c"), "", proto.ModeEphemeral) },
		func() error { return rawCreate(tr, r, e.path("e1"), "", proto.ModeEphemeral) },
		func() error { return rawCreate(tr, r, e.path("e2-"), "", proto.ModeEphemeralSequential) },
	)
	if err != nil {
		return err
	}
	for _, p := range []string{e.root, e.path("a"), e.path("a/b/c"), e.path("missing")} {
		var n proto.IntResponse
		if _, err := rcall(tr, r, "getAllChildrenNumber "+p, proto.OpGetAllChildrenNumber, &proto.PathRequest{Path: p}, &n); err != nil {
			return err
		}
		tr.Printf("  %d", n.Value)
	}
	for _, prefix := range []string{e.root, e.path("a"), e.path("e")} {
		var s proto.StringsResponse
		if _, err := rcall(tr, r, "getEphemerals "+prefix, proto.OpGetEphemerals, &proto.PathRequest{Path: prefix}, &s); err != nil {
			return err
		}
		tr.Printf("  %s", zkenv.SortedList(s.Values))
	}
	var s proto.StringsResponse
	if _, err := rcall(tr, r, "getEphemerals /", proto.OpGetEphemerals, &proto.PathRequest{Path: "/"}, &s); err != nil {
		return err
	}
	var mine []string
	for _, v := range s.Values {
		if strings.HasPrefix(v, e.root+"/") {
			mine = append(mine, v)
		}
	}
	tr.Printf("  under root: %s", zkenv.SortedList(mine))
	var who proto.WhoAmIResponse
	if _, err := rcall(tr, r, "whoAmI", proto.OpWhoAmI, nil, &who); err != nil {
		return err
	}
	tr.Printf("  %s", whoText(who))
	if _, err := rcallXid(tr, r, "auth digest carol", proto.XidAuth, proto.OpAuth, &proto.AuthPacket{Scheme: "digest", Auth: []byte("carol:pw")}, nil); err != nil {
		return err
	}
	who = proto.WhoAmIResponse{}
	if _, err := rcall(tr, r, "whoAmI", proto.OpWhoAmI, nil, &who); err != nil {
		return err
	}
	tr.Printf("  %s", whoText(who))
	var sy proto.PathResponse
	if _, err := rcall(tr, r, "sync "+e.root, proto.OpSync, &proto.PathRequest{Path: e.root}, &sy); err != nil {
		return err
	}
	tr.Printf("  path %s", sy.Path)
	if _, err := rcall(tr, r, "sync missing", proto.OpSync, &proto.PathRequest{Path: e.path("missing")}, &sy); err != nil {
		return err
	}
	tr.Printf("  path %s", sy.Path)
	return nil
}

// mntrCoreKeys are the mntr keys ZooKeeper's administrator guide documents
// and monitoring tools read. Apache 3.8 prints several hundred more (one
// summary set per internal metric); a compatible server is only held to
// these, and only to the value of zk_server_state.
var mntrCoreKeys = []string{
	"zk_version", "zk_avg_latency", "zk_max_latency", "zk_min_latency",
	"zk_packets_received", "zk_packets_sent", "zk_num_alive_connections",
	"zk_outstanding_requests", "zk_server_state", "zk_znode_count",
	"zk_watch_count", "zk_ephemerals_count", "zk_approximate_data_size",
	"zk_open_file_descriptor_count", "zk_max_file_descriptor_count",
}

var (
	digits   = regexp.MustCompile(`[0-9]+`)
	consLine = regexp.MustCompile(`^/127\.0\.0\.1:([0-9]+)\[([0-9]+)\]\((.*)\)$`)
)

// keysOf returns the keys of "key<sep>value" lines, in order.
func keysOf(text, sep string) []string {
	var keys []string
	for _, l := range strings.Split(text, "\n") {
		if k, _, ok := strings.Cut(l, sep); ok {
			keys = append(keys, strings.TrimSpace(k))
		}
	}
	return keys
}

// consKeys renders a cons line as its connection kind and stat keys.
func consKeys(line string) string {
	m := consLine.FindStringSubmatch(strings.TrimSpace(line))
	if m == nil {
		return "unparsed: " + digits.ReplaceAllString(line, "N")
	}
	var keys []string
	for _, kv := range strings.Split(m[3], ",") {
		k, _, _ := strings.Cut(kv, "=")
		keys = append(keys, k)
	}
	kind := "session"
	if m[2] == "0" {
		kind = "no-session"
	}
	return kind + "(" + strings.Join(keys, ",") + ")"
}

func scenarioFourLetterWords(e env, tr *zkenv.Transcript) error {
	// A session of our own, with a watch, so cons/wchs/dump have content.
	r, err := zkenv.ConnectRaw(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer r.CloseSession()
	if err := rawCreate(tr, r, e.root, "", proto.ModePersistent); err != nil {
		return err
	}
	if _, err := rcall(tr, r, "watch root", proto.OpGetData, &proto.PathWatchRequest{Path: e.root, Watch: true}, &proto.GetDataResponse{}); err != nil {
		return err
	}
	myPort := r.LocalPort()
	flw := func(w string) (string, error) { return e.srv.FourLetterWord(w) }
	for _, w := range []string{"ruok", "isro"} {
		out, err := flw(w)
		if err != nil {
			return err
		}
		tr.Printf("%s -> %q", w, out)
	}
	out, err := flw("xxxx")
	tr.Printf("unknown word xxxx -> %q %s", out, errText(err))
	for _, w := range []string{"srvr", "stat"} {
		out, err := flw(w)
		if err != nil {
			return err
		}
		tr.Printf("%s first line starts %q", w, strings.SplitN(out, " ", 3)[0]+" "+strings.SplitN(out, " ", 3)[1])
		// Client lines come in hash order and include other connections
		// of the moment; keep the distinct kinds, sorted, as one key.
		var keys []string
		clients := map[string]bool{}
		for _, l := range strings.Split(out, "\n") {
			switch {
			case strings.HasPrefix(l, " /"):
				if strings.Contains(l, fmt.Sprintf(":%d[", myPort)) || strings.Contains(l, "[0]") {
					if len(clients) == 0 {
						keys = append(keys, "<clients>")
					}
					clients[consKeys(l)] = true
				}
			case strings.Contains(l, ":"):
				k, v, _ := strings.Cut(l, ":")
				if k == "Mode" {
					k += "=" + strings.TrimSpace(v)
				}
				keys = append(keys, k)
			case strings.TrimSpace(l) != "":
				keys = append(keys, "unkeyed: "+digits.ReplaceAllString(l, "N"))
			}
		}
		kinds := make([]string, 0, len(clients))
		for k := range clients {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		tr.Printf("%s keys %v, clients %v", w, keys, kinds)
	}
	out, err = flw("mntr")
	if err != nil {
		return err
	}
	have := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(l, "\t")
		if !ok {
			tr.Printf("mntr line without a tab: %q", l)
			continue
		}
		have[k] = v
	}
	for _, k := range mntrCoreKeys {
		v, ok := have[k]
		switch {
		case !ok:
			tr.Printf("mntr %s missing", k)
		case k == "zk_server_state":
			tr.Printf("mntr %s=%s", k, v)
		default:
			tr.Printf("mntr %s present", k)
		}
	}
	out, err = flw("conf")
	if err != nil {
		return err
	}
	tr.Printf("conf keys %v", keysOf(out, "="))
	for _, l := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(l, "=")
		switch k {
		case "tickTime", "minSessionTimeout", "maxSessionTimeout", "maxClientCnxns":
			tr.Printf("conf %s=%s", k, v)
		case "serverId":
			// 0 standalone, the member's myid in an ensemble.
			want := "0"
			if !e.srv.Standalone() {
				want = strconv.Itoa(e.srv.ID)
			}
			tr.Printf("conf serverId is 0 standalone, myid in an ensemble: %v", v == want)
		}
	}
	out, err = flw("cons")
	if err != nil {
		return err
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, fmt.Sprintf(":%d[", myPort)) {
			tr.Printf("cons own session %s", consKeys(l))
		}
	}
	out, err = flw("envi")
	if err != nil {
		return err
	}
	// Deliberate: java.* properties describe Apache's JVM and go.* ones
	// our runtime; each server reports its own, so neither is compared.
	var envKeys []string
	for _, k := range keysOf(out, "=") {
		if !strings.HasPrefix(k, "java.") && !strings.HasPrefix(k, "go.") {
			envKeys = append(envKeys, k)
		}
	}
	tr.Printf("envi first line %q, keys %v", strings.SplitN(out, "\n", 2)[0], envKeys)
	out, err = flw("wchs")
	if err != nil {
		return err
	}
	tr.Printf("wchs %q", digits.ReplaceAllString(out, "N"))
	out, err = flw("dump")
	if err != nil {
		return err
	}
	var heads []string
	for _, l := range strings.Split(out, "\n") {
		if l != "" && l[0] >= 'A' && l[0] <= 'Z' {
			heads = append(heads, digits.ReplaceAllString(l, "N"))
		}
	}
	tr.Printf("dump section headers %q", heads)

	// go-zookeeper's four-letter-word helpers.
	tr.Printf("FLWRuok %v", zk.FLWRuok([]string{e.addr()}, 5*time.Second))
	// Deliberate deviation: go-zookeeper's FLWSrvr parses the build date only
	// as MM/dd/yyyy (ZooKeeper <= 3.6); Apache 3.8 writes yyyy-MM-dd, so it
	// fails there, while our server writes the old form so that it works.
	stats, ok := zk.FLWSrvr([]string{e.addr()}, 5*time.Second)
	want := e.srv.Backend == harness.Ours
	if ok == want {
		tr.Printf("FLWSrvr succeeds or fails as documented for this backend")
	} else {
		tr.Printf("FLWSrvr ok=%v, documented %v for %s", ok, want, e.srv.Backend)
	}
	if ok && (len(stats) != 1 || stats[0].Mode.String() != e.srv.Mode()) {
		tr.Printf("FLWSrvr parsed unexpected stats: %+v", stats)
	}
	cons, ok := zk.FLWCons([]string{e.addr()}, 5*time.Second)
	// ok is false on Apache 3.8: the line of the cons connection itself
	// has no sid and fails go-zookeeper's pattern; the other lines parse.
	found := false
	if len(cons) == 1 {
		for _, c := range cons[0].Clients {
			found = found || c.Addr == fmt.Sprintf("127.0.0.1:%d", myPort) && c.SessionID == r.Session.SessionID && c.Error == nil
		}
	}
	tr.Printf("FLWCons ok=%v, own session listed with its id: %v", ok, found)
	return nil
}

// answerText reads the server's first answer to a malformed frame: a reply
// (then whether the session still answers a ping) or a closed connection.
func answerText(r *zkenv.RawConn, session bool) string {
	f, err := r.ReadFrame()
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return "no answer within the deadline"
		}
		return "connection " + closedText(err)
	}
	if !session {
		return fmt.Sprintf("answered %d bytes without a session", len(f))
	}
	var h proto.ReplyHeader
	if err := proto.Unmarshal(f, &h); err != nil {
		return fmt.Sprintf("undecodable answer %x", f)
	}
	_, perr := r.Ping()
	return fmt.Sprintf("reply xid=%d err=%s, then ping: %s", h.Xid, h.Err, closedText(errors.Unwrap(perr)))
}

func scenarioRobustness(e env, tr *zkenv.Transcript) error {
	witness, err := zkenv.ConnectRaw(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer witness.CloseSession()
	if err := rawCreate(tr, witness, e.root, "alive", proto.ModePersistent); err != nil {
		return err
	}
	check := func(what string) error {
		var gd proto.GetDataResponse
		_, err := rcall(tr, witness, "witness getData after "+what, proto.OpGetData, &proto.PathWatchRequest{Path: e.root}, &gd)
		return err
	}
	frame := func(n uint32, body []byte) []byte {
		return append(binary.BigEndian.AppendUint32(nil, n), body...)
	}
	type attack struct {
		name      string
		handshake bool   // open a session first
		payload   []byte // sent after the (optional) handshake
	}
	hdr := func(xid, op int32) []byte { return proto.Marshal(&proto.RequestHeader{Xid: xid, Type: op}) }
	hugeVector := append(hdr(1, proto.OpSetACL), proto.Marshal(&proto.PathRequest{Path: e.root})...)
	hugeVector = binary.BigEndian.AppendUint32(hugeVector, 0x7fffffff)
	hugeMulti := append(hdr(1, proto.OpGetChildren), binary.BigEndian.AppendUint32(nil, 0x7ffffff0)...)
	attacks := []attack{
		{"frame above jute.maxbuffer", true, frame(proto.DefaultMaxBuffer+1024, make([]byte, 64))},
		{"negative frame length", true, frame(0xffffffff, nil)},
		{"garbage handshake", false, frame(8, []byte("garbage!"))},
		{"handshake frame above jute.maxbuffer", false, frame(proto.DefaultMaxBuffer+1024, make([]byte, 64))},
		{"vector count 2^31-1 in setACL", true, frame(uint32(len(hugeVector)), hugeVector)},
		{"string length 2^31-16 in getChildren path", true, frame(uint32(len(hugeMulti)), hugeMulti)},
		{"truncated request header", true, frame(3, []byte{0, 0, 1})},
	}
	for _, a := range attacks {
		var r *zkenv.RawConn
		if a.handshake {
			r, err = zkenv.ConnectRaw(e.addr(), 10*time.Second)
		} else {
			r, err = zkenv.DialRaw(e.addr(), 10*time.Second)
		}
		if err != nil {
			return err
		}
		if err := r.WriteFrame(a.payload); err != nil {
			tr.Printf("%s: write failed", a.name)
		}
		tr.Printf("%s: %s", a.name, answerText(r, a.handshake))
		r.Close()
		if err := check(a.name); err != nil {
			return err
		}
	}
	// Unknown and server-internal opcodes, each on a fresh session: the
	// reply, then whether the session still answers.
	for _, op := range []int32{999, proto.OpDeleteContainer, -5, proto.OpSASL} {
		r, err := zkenv.ConnectRaw(e.addr(), 10*time.Second)
		if err != nil {
			return err
		}
		if err := r.WriteFrame(proto.AppendFrame(nil, &proto.RequestHeader{Xid: 1, Type: op}, &proto.PathRequest{Path: e.root})); err != nil {
			return err
		}
		// Only the reply is compared: Apache closes the connection after an
		// Unimplemented reply, but asynchronously, so whether a following
		// ping is still answered is a race.
		f, err := r.ReadFrame()
		var h proto.ReplyHeader
		if err == nil {
			err = proto.Unmarshal(f, &h)
		}
		if err != nil {
			tr.Printf("opcode %d: no reply: %s", op, closedText(err))
		} else {
			tr.Printf("opcode %d: reply xid=%d err=%s", op, h.Xid, h.Err)
		}
		r.Close()
	}
	return check("opcodes")
}

// scenarioKazoo runs kazoo_scenarios.py, which prints its own transcript
// in the same token form.
func scenarioKazoo(e env, tr *zkenv.Transcript) error {
	out, err := zkenv.RunKazoo(60*time.Second, "kazoo_scenarios.py", e.addr(), e.root)
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if l != "" {
			tr.Printf("%s", l)
		}
	}
	return err
}

var (
	zkCliZxid  = regexp.MustCompile(`^([cmp]Zxid = )(0x[0-9a-f]+)$`)
	zkCliTime  = regexp.MustCompile(`^([cm]time = ).+$`)
	zkCliOwner = regexp.MustCompile(`^(ephemeralOwner = )(0x[0-9a-f]+)$`)
)

// zkCliLine turns zkCli.sh's stat lines into transcript tokens: zxids and
// session ids as tokens, dates (second resolution) as "set".
func zkCliLine(l string) string {
	if m := zkCliZxid.FindStringSubmatch(l); m != nil {
		v, _ := strconv.ParseInt(strings.TrimPrefix(m[2], "0x"), 16, 64)
		return m[1] + zkenv.Zxid(v)
	}
	if m := zkCliTime.FindStringSubmatch(l); m != nil {
		return m[1] + "set"
	}
	if m := zkCliOwner.FindStringSubmatch(l); m != nil {
		v, _ := strconv.ParseUint(strings.TrimPrefix(m[2], "0x"), 16, 64)
		return m[1] + zkenv.Owner(int64(v))
	}
	// Children lists, "[a, b]", come in the server's hash order.
	if strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]") {
		items := strings.Split(strings.Trim(l, "[]"), ", ")
		sort.Strings(items)
		return "[" + strings.Join(items, ", ") + "]"
	}
	return l
}

// scenarioZkCli feeds each testdata/zkcli script, with ROOT replaced by a
// path of its own, to zkCli.sh and records the filtered output.
func scenarioZkCli(e env, tr *zkenv.Transcript) error {
	scripts, err := filepath.Glob("testdata/zkcli/*.txt")
	if err != nil || len(scripts) == 0 {
		return fmt.Errorf("no zkCli scripts in testdata/zkcli: %v", err)
	}
	for _, script := range scripts {
		b, err := os.ReadFile(script)
		if err != nil {
			return err
		}
		root := e.path(strings.TrimSuffix(filepath.Base(script), ".txt"))
		if _, err := rcallOnce(e.addr(), tr, e.root); err != nil {
			return err
		}
		tr.Printf("== %s", filepath.Base(script))
		out, code, err := zkenv.RunZkCli(60*time.Second, e.addr(), strings.ReplaceAll(string(b), "ROOT", root))
		for _, l := range sortWhoAmIBlocks(strings.Split(out, "\n")) {
			tr.Printf("%s", zkCliLine(l))
		}
		if err != nil {
			return err
		}
		tr.Printf("exit code %d", code)
	}
	return nil
}

var whoamiLine = regexp.MustCompile(`^[a-z0-9]+: ?\S*$`)

// sortWhoAmIBlocks sorts the "scheme: user" lines after each "Auth scheme:
// User" header of zkCli's whoami (see whoText for why).
func sortWhoAmIBlocks(lines []string) []string {
	out := append([]string(nil), lines...)
	for i := 0; i < len(out); i++ {
		if out[i] != "Auth scheme: User" {
			continue
		}
		j := i + 1
		for j < len(out) && whoamiLine.MatchString(out[j]) {
			j++
		}
		sort.Strings(out[i+1 : j])
		i = j - 1
	}
	return out
}

// rcallOnce makes sure path exists, through a short raw session.
func rcallOnce(addr string, tr *zkenv.Transcript, path string) (proto.Err, error) {
	r, err := zkenv.ConnectRaw(addr, 10*time.Second)
	if err != nil {
		return 0, err
	}
	defer r.CloseSession()
	return rcall(tr, r, "ensure "+path, proto.OpCreate, &proto.CreateRequest{Path: path, ACL: proto.OpenACL}, &proto.PathResponse{})
}
