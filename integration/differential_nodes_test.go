package integration

// Differential scenarios on znodes: create modes, TTL and container nodes
// and their reaper, the plain configuration, error codes, data and stat
// fields, and multi transactions.

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkfc-project/zkfc/integration/zkenv"
	"github.com/zkfc-project/zkfc/quorum/proto"
)

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

func scenarioTTLDisabled(e env, tr *zkenv.Transcript, c *zk.Conn) error {
	_, err := c.CreateTTL(e.path("ttl"), nil, zk.FlagTTL, openACL, time.Hour)
	tr.Printf("create ttl without extendedTypesEnabled: %s", errText(err))
	_, err = c.CreateTTL(e.path("tseq-"), nil, zk.FlagPersistentSequentialWithTTL, openACL, time.Hour)
	tr.Printf("create ttl sequential without extendedTypesEnabled: %s", errText(err))
	p, err := c.CreateContainer(e.path("container"), nil, zk.FlagContainer, openACL)
	tr.Printf("create container (needs no extended types) -> %s %s", strings.TrimPrefix(p, e.root), errText(err))
	dump(c, tr, e.root)
	return nil
}

func scenarioErrors(e env, tr *zkenv.Transcript, c *zk.Conn) error {
	_, err := c.Create(e.path("a"), []byte("x"), zk.FlagPersistent, openACL)
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

func scenarioDataStats(e env, tr *zkenv.Transcript, c *zk.Conn) error {
	n := e.path("n")
	_, err := c.Create(n, []byte("v0"), zk.FlagPersistent, openACL)
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
