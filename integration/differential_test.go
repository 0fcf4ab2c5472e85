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
// This file holds the runner and the scenario list; the scenarios live in
// differential_<family>_test.go (nodes, acl, watches, sessions, server,
// tools), and the raw-wire calls they share in differential_raw_test.go.
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
	"fmt"
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
		{"ttl_disabled", cfgPlain, withRoot(scenarioTTLDisabled)},
		{"reaper", cfgExtended, scenarioReaper},
		{"plain_config", cfgPlain, scenarioPlainConfig},
		{"errors", cfgExtended, withRoot(scenarioErrors)},
		{"data_stats", cfgExtended, withRoot(scenarioDataStats)},
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

// dialWithRoot opens a go-zookeeper session and creates the scenario's
// root through it, writing the result to the transcript. The caller closes
// the session.
func (e env) dialWithRoot(tr *zkenv.Transcript) (*zk.Conn, error) {
	c, _, err := zkenv.DialZK(e.addr(), 10*time.Second)
	if err != nil {
		return nil, err
	}
	_, err = c.Create(e.root, nil, zk.FlagPersistent, openACL)
	tr.Printf("create root %s", errText(err))
	return c, nil
}

// withRoot runs a scenario that works through one go-zookeeper session
// holding its root (dialWithRoot), opened before and closed after it.
func withRoot(run func(e env, tr *zkenv.Transcript, c *zk.Conn) error) func(env, *zkenv.Transcript) error {
	return func(e env, tr *zkenv.Transcript) error {
		c, err := e.dialWithRoot(tr)
		if err != nil {
			return err
		}
		defer c.Close()
		return run(e, tr, c)
	}
}

// rawWithRoot opens a raw session and creates the scenario's root through
// it with data, the reply in the transcript. The caller closes the session.
func (e env) rawWithRoot(tr *zkenv.Transcript, data string) (*zkenv.RawConn, error) {
	r, err := zkenv.ConnectRaw(e.addr(), 10*time.Second)
	if err != nil {
		return nil, err
	}
	if err := rawCreate(tr, r, e.root, data, proto.ModePersistent); err != nil {
		r.CloseSession()
		return nil, err
	}
	return r, nil
}
