package tree

import (
	"reflect"
	"testing"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

// A fresh Apache ZooKeeper 3.8.0 (standalone, observed with kazoo):
//
//	/                 cversion=-1 numChildren=1, every zxid/time 0, world:anyone ALL
//	/zookeeper        cversion=-2 numChildren=2
//	/zookeeper/quota  cversion=0
//	/zookeeper/config cversion=0 aversion=-1, empty data, world:anyone READ
//
// and getAllChildrenNumber("/") = 3 (raw client).
func TestNewMatchesZooKeeper(t *testing.T) {
	tr := New()
	read := []proto.ACL{{Perms: proto.PermRead, ID: proto.WorldAnyone}}
	cases := []struct {
		path string
		stat proto.Stat
		acl  []proto.ACL
		kids []string
	}{
		{"/", proto.Stat{Cversion: -1, NumChildren: 1}, proto.OpenACL, []string{"zookeeper"}},
		{"/zookeeper", proto.Stat{Cversion: -2, NumChildren: 2}, proto.OpenACL, []string{"config", "quota"}},
		{"/zookeeper/quota", proto.Stat{}, proto.OpenACL, []string{}},
		{"/zookeeper/config", proto.Stat{Aversion: -1}, read, []string{}},
	}
	for _, c := range cases {
		data, st, err := tr.Get(c.path, nil)
		if err != proto.ErrOK || len(data) != 0 || st != c.stat {
			t.Errorf("Get(%s) = %q %+v %v, want empty %+v", c.path, data, st, err, c.stat)
		}
		acl, _, err := tr.GetACL(c.path, nil)
		if err != proto.ErrOK || !reflect.DeepEqual(acl, c.acl) {
			t.Errorf("GetACL(%s) = %v %v, want %v", c.path, acl, err, c.acl)
		}
		kids, _, _ := tr.Children(c.path, nil)
		if !reflect.DeepEqual(kids, c.kids) {
			t.Errorf("Children(%s) = %v, want %v", c.path, kids, c.kids)
		}
	}
	if n, err := tr.AllChildrenNumber("/", nil); n != 3 || err != proto.ErrOK {
		t.Errorf("AllChildrenNumber(/) = %d %v, want 3", n, err)
	}
	if tr.NodeCount() != 4 || tr.LastZxid() != 0 || tr.EphemeralCount() != 0 {
		t.Errorf("counts: nodes %d zxid %d eph %d", tr.NodeCount(), tr.LastZxid(), tr.EphemeralCount())
	}
}

func TestStatFieldsThroughLifecycle(t *testing.T) {
	h := newHarness(t)
	rootBefore := h.stat("/")

	r := h.do(proto.OpCreate2, &proto.CreateRequest{Path: "/a", Data: []byte("hello"), ACL: proto.OpenACL})
	zc, tc := h.zxid, h.now
	wantStat := proto.Stat{Czxid: zc, Mzxid: zc, Ctime: tc, Mtime: tc, DataLength: 5, Pzxid: zc}
	if got := r.Resp.(*proto.Create2Response); got.Path != "/a" || got.Stat != wantStat {
		t.Fatalf("create2 reply %+v, want /a %+v", got, wantStat)
	}
	wantEvents(t, r.Events, Event{proto.EventNodeCreated, "/a"}, Event{proto.EventNodeChildrenChanged, "/"})
	root := h.stat("/")
	if root.Cversion != rootBefore.Cversion+1 || root.Pzxid != zc || root.NumChildren != 2 || root.Mzxid != rootBefore.Mzxid {
		t.Errorf("root after create: %+v (before %+v)", root, rootBefore)
	}

	r = h.do(proto.OpSetData, &proto.SetDataRequest{Path: "/a", Data: []byte("hi"), Version: 0})
	zs, ts := h.zxid, h.now
	wantStat = proto.Stat{Czxid: zc, Mzxid: zs, Ctime: tc, Mtime: ts, Version: 1, DataLength: 2, Pzxid: zc}
	if got := r.Resp.(*proto.StatResponse).Stat; got != wantStat {
		t.Errorf("setData stat %+v, want %+v", got, wantStat)
	}
	wantEvents(t, r.Events, Event{proto.EventNodeDataChanged, "/a"})

	// setACL bumps aversion only: mzxid and mtime stay (ZooKeeper).
	r = h.do(proto.OpSetACL, &proto.SetACLRequest{Path: "/a", ACL: proto.OpenACL, Version: 0})
	wantStat.Aversion = 1
	if got := r.Resp.(*proto.StatResponse).Stat; got != wantStat {
		t.Errorf("setACL stat %+v, want %+v", got, wantStat)
	}
	wantEvents(t, r.Events)

	// A child: the parent's pzxid and cversion move, its mzxid does not.
	h.mustCreate("/a/b")
	zb := h.zxid
	wantStat.Cversion, wantStat.NumChildren, wantStat.Pzxid = 1, 1, zb
	if got := h.stat("/a"); got != wantStat {
		t.Errorf("/a after child create %+v, want %+v", got, wantStat)
	}
	// Deleting it: visible cversion grows again (3.8 shows 2*creates -
	// children), pzxid moves to the delete.
	r = h.do(proto.OpDelete, &proto.PathVersionRequest{Path: "/a/b", Version: -1})
	wantErr(t, "delete", r.Err, proto.ErrOK)
	wantEvents(t, r.Events, Event{proto.EventNodeDeleted, "/a/b"}, Event{proto.EventNodeChildrenChanged, "/a"})
	wantStat.Cversion, wantStat.NumChildren, wantStat.Pzxid = 2, 0, h.zxid
	if got := h.stat("/a"); got != wantStat {
		t.Errorf("/a after child delete %+v, want %+v", got, wantStat)
	}
	if h.tree.LastZxid() != h.zxid {
		t.Errorf("LastZxid %d, want %d", h.tree.LastZxid(), h.zxid)
	}
	// Failing writes consume their zxid too.
	h.do(proto.OpDelete, &proto.PathVersionRequest{Path: "/nope", Version: -1})
	if h.tree.LastZxid() != h.zxid {
		t.Errorf("LastZxid after failed write %d, want %d", h.tree.LastZxid(), h.zxid)
	}
}

// Observed on 3.8.0 (kazoo): three sequential creates under /s give
// n0000000000..n0000000002 and cversion 3; deleting n0000000001 makes
// the visible cversion 4, yet the next suffix is 0000000003; a sequential
// create of "/s/" then gives /s/0000000004.
func TestSequentialNaming(t *testing.T) {
	h := newHarness(t)
	h.mustCreate("/s")
	for i, want := range []string{"/s/n0000000000", "/s/n0000000001", "/s/n0000000002"} {
		if got, err := h.create("/s/n", "", proto.ModePersistentSequential); got != want || err != proto.ErrOK {
			t.Fatalf("create %d = %s %v, want %s", i, got, err, want)
		}
	}
	if c := h.stat("/s").Cversion; c != 3 {
		t.Errorf("cversion after 3 creates %d, want 3", c)
	}
	h.do(proto.OpDelete, &proto.PathVersionRequest{Path: "/s/n0000000001", Version: -1})
	if c := h.stat("/s").Cversion; c != 4 {
		t.Errorf("cversion after delete %d, want 4", c)
	}
	if got, _ := h.create("/s/n", "", proto.ModeEphemeralSequential); got != "/s/n0000000003" {
		t.Errorf("after delete: %s, want /s/n0000000003", got)
	}
	if got, _ := h.create("/s/", "", proto.ModePersistentSequential); got != "/s/0000000004" {
		t.Errorf("trailing slash sequential: %s, want /s/0000000004", got)
	}
	// A failed create does not advance the counter.
	h.create("/s/x", "", 99)
	if got, _ := h.create("/s/", "", proto.ModePersistentSequential); got != "/s/0000000005" {
		t.Errorf("after failed create: %s, want /s/0000000005", got)
	}
}

// Error precedence of create, from PrepRequestProcessor 3.8 and a raw
// client against 3.8.0 (zxid column omitted):
//
//	/rawc/a/ (no /rawc/a)  NoNode      /rawc/    BadArguments
//	/rawc// sequential     NoNode      /rawc/.   BadArguments
//	/nonexist/.            NoNode      nil ACL   InvalidACL (even with no parent)
//	flags 9                BadArguments
//	create flags TTL       BadArguments  createTTL flags 0 ttl 100  BadArguments
//	createTTL ttl 0 under a missing parent  BadArguments
//	create /               NodeExists
func TestCreateErrors(t *testing.T) {
	h := newHarness(t)
	h.mustCreate("/p")
	h.create("/e", "", proto.ModeEphemeral)
	onlyRead := []proto.ACL{{Perms: proto.PermRead, ID: proto.WorldAnyone}}
	h.do(proto.OpCreate, &proto.CreateRequest{Path: "/ro", ACL: onlyRead})

	cases := []struct {
		name  string
		op    int32
		path  string
		acl   []proto.ACL
		flags int32
		ttl   int64
		want  proto.Err
	}{
		{"ok", proto.OpCreate, "/p/ok", proto.OpenACL, 0, 0, proto.ErrOK},
		{"missing parent", proto.OpCreate, "/nope/a", proto.OpenACL, 0, 0, proto.ErrNoNode},
		{"trailing slash missing parent", proto.OpCreate, "/p/a/", proto.OpenACL, 0, 0, proto.ErrNoNode},
		{"trailing slash", proto.OpCreate, "/p/", proto.OpenACL, 0, 0, proto.ErrBadArguments},
		{"double slash", proto.OpCreate, "/p//", proto.OpenACL, proto.ModePersistentSequential, 0, proto.ErrNoNode},
		{"dot", proto.OpCreate, "/p/.", proto.OpenACL, 0, 0, proto.ErrBadArguments},
		{"dot missing parent", proto.OpCreate, "/nope/.", proto.OpenACL, 0, 0, proto.ErrNoNode},
		{"no slash", proto.OpCreate, "p", proto.OpenACL, 0, 0, proto.ErrBadArguments},
		{"empty", proto.OpCreate, "", proto.OpenACL, 0, 0, proto.ErrBadArguments},
		{"nul", proto.OpCreate, "/nope/a\x00", proto.OpenACL, 0, 0, proto.ErrBadArguments},
		{"control char", proto.OpCreate, "/p/a\x01", proto.OpenACL, 0, 0, proto.ErrBadArguments},
		{"nil acl before missing parent", proto.OpCreate, "/nope/a", nil, 0, 0, proto.ErrInvalidACL},
		{"empty acl", proto.OpCreate, "/p/x", []proto.ACL{}, 0, 0, proto.ErrInvalidACL},
		{"bad flags", proto.OpCreate, "/p/x", proto.OpenACL, 9, 0, proto.ErrBadArguments},
		{"negative flags", proto.OpCreate, "/p/x", proto.OpenACL, -1, 0, proto.ErrBadArguments},
		{"ttl mode via create", proto.OpCreate, "/p/x", proto.OpenACL, proto.ModeTTL, 0, proto.ErrBadArguments},
		{"createTTL plain mode", proto.OpCreateTTL, "/p/x", proto.OpenACL, 0, 100, proto.ErrBadArguments},
		{"ttl zero before missing parent", proto.OpCreateTTL, "/nope/t", proto.OpenACL, proto.ModeTTL, 0, proto.ErrBadArguments},
		{"ttl negative", proto.OpCreateTTL, "/p/t", proto.OpenACL, proto.ModeTTL, -5, proto.ErrBadArguments},
		{"ttl too big", proto.OpCreateTTL, "/p/t", proto.OpenACL, proto.ModeTTL, proto.MaxTTL + 1, proto.ErrBadArguments},
		{"ttl max", proto.OpCreateTTL, "/p/tmax", proto.OpenACL, proto.ModeTTL, proto.MaxTTL, proto.ErrOK},
		{"root", proto.OpCreate, "/", proto.OpenACL, 0, 0, proto.ErrNodeExists},
		{"exists", proto.OpCreate, "/p", proto.OpenACL, 0, 0, proto.ErrNodeExists},
		{"child of ephemeral", proto.OpCreate, "/e/c", proto.OpenACL, 0, 0, proto.ErrNoChildrenForEphemerals},
		{"grandchild of ephemeral", proto.OpCreate, "/e/c/d", proto.OpenACL, 0, 0, proto.ErrNoNode},
		{"no create perm", proto.OpCreate, "/ro/x", proto.OpenACL, 0, 0, proto.ErrNoAuth},
		// NoAuth is decided on the parent before the name is validated.
		{"no perm beats bad name", proto.OpCreate, "/ro/.", proto.OpenACL, 0, 0, proto.ErrNoAuth},
		{"exists under open parent", proto.OpCreate, "/ro", proto.OpenACL, 0, 0, proto.ErrNodeExists},
		{"zookeeper subtree allowed", proto.OpCreate, "/zookeeper/x", proto.OpenACL, 0, 0, proto.ErrOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r Result
			if c.op == proto.OpCreateTTL {
				r = h.do(c.op, &proto.CreateTTLRequest{Path: c.path, ACL: c.acl, Flags: c.flags, TTL: c.ttl})
			} else {
				r = h.do(c.op, &proto.CreateRequest{Path: c.path, ACL: c.acl, Flags: c.flags})
			}
			wantErr(t, c.path, r.Err, c.want)
			if c.want != proto.ErrOK && (r.Resp != nil || len(r.Events) != 0) {
				t.Errorf("failed create returned %+v / events %v", r.Resp, r.Events)
			}
		})
	}
}

// versionedCase is a request on a path with an expected version, and the
// error it must get.
type versionedCase struct {
	path    string
	version int32
	want    proto.Err
}

// Observed on 3.8.0: delete of /, /zookeeper, /zookeeper/quota and
// /zookeeper/config is BadArguments; setData on /zookeeper/config is
// NoAuth (its ACL is READ); setData on /zookeeper and /zookeeper/quota and
// creating under them succeed; delete "/rawc/" is NoNode, "rawc"
// BadArguments.
func TestDeleteSetDataErrors(t *testing.T) {
	h := newHarness(t)
	h.mustCreate("/p")
	h.mustCreate("/p/c")
	h.mustCreate("/leaf")
	noDelete := []proto.ACL{{Perms: proto.PermAll &^ proto.PermDelete, ID: proto.WorldAnyone}}
	h.do(proto.OpCreate, &proto.CreateRequest{Path: "/nd", ACL: noDelete})
	h.mustCreate("/nd/c")
	noWrite := []proto.ACL{{Perms: proto.PermAll &^ proto.PermWrite &^ proto.PermAdmin, ID: proto.WorldAnyone}}
	h.do(proto.OpCreate, &proto.CreateRequest{Path: "/nw", ACL: noWrite})

	del := []versionedCase{
		{"/", -1, proto.ErrBadArguments},
		{"/zookeeper", -1, proto.ErrBadArguments},
		{"/zookeeper/quota", -1, proto.ErrBadArguments},
		{"/zookeeper/config", -1, proto.ErrBadArguments},
		{"p", -1, proto.ErrBadArguments},
		{"/p/", -1, proto.ErrNoNode},
		{"/nope/x", -1, proto.ErrNoNode},
		{"/p/nope", -1, proto.ErrNoNode},
		{"/p", -1, proto.ErrNotEmpty},
		{"/leaf", 3, proto.ErrBadVersion},
		// DELETE on the parent is checked before the child's existence.
		{"/nd/nope", -1, proto.ErrNoAuth},
		{"/nd/c", -1, proto.ErrNoAuth},
		{"/leaf", 0, proto.ErrOK},
	}
	for _, c := range del {
		r := h.do(proto.OpDelete, &proto.PathVersionRequest{Path: c.path, Version: c.version})
		wantErr(t, "delete "+c.path, r.Err, c.want)
	}

	set := []versionedCase{
		{"/zookeeper/config", -1, proto.ErrNoAuth},
		{"/zookeeper", -1, proto.ErrOK},
		{"/zookeeper/quota", -1, proto.ErrOK},
		{"/p/", -1, proto.ErrBadArguments},
		{"/nope", -1, proto.ErrNoNode},
		{"/nw", -1, proto.ErrNoAuth},
		{"/p", 5, proto.ErrBadVersion},
		{"/p", 0, proto.ErrOK},
		{"/p", 1, proto.ErrOK},
	}
	for _, c := range set {
		r := h.do(proto.OpSetData, &proto.SetDataRequest{Path: c.path, Data: []byte("x"), Version: c.version})
		wantErr(t, "setData "+c.path, r.Err, c.want)
	}

	acl := []struct {
		path    string
		acl     []proto.ACL
		version int32
		want    proto.Err
	}{
		{"/nope", nil, -1, proto.ErrInvalidACL}, // observed: InvalidACL before NoNode
		{"/nope", proto.OpenACL, -1, proto.ErrNoNode},
		{"/p/", proto.OpenACL, -1, proto.ErrBadArguments},
		{"/nw", proto.OpenACL, -1, proto.ErrNoAuth},
		{"/p", proto.OpenACL, 3, proto.ErrBadVersion},
		{"/p", proto.OpenACL, 0, proto.ErrOK},
		{"/p", proto.OpenACL, 0, proto.ErrBadVersion}, // aversion is now 1
	}
	for _, c := range acl {
		r := h.do(proto.OpSetACL, &proto.SetACLRequest{Path: c.path, ACL: c.acl, Version: c.version})
		wantErr(t, "setACL "+c.path, r.Err, c.want)
	}

	// Top-level check (a raw client against 3.8.0: BadVersion and NoNode
	// come back as errors; a passing check gets no reply at all there).
	noRead := []proto.ACL{{Perms: proto.PermWrite, ID: proto.WorldAnyone}}
	h.do(proto.OpCreate, &proto.CreateRequest{Path: "/nr", ACL: noRead})
	check := []versionedCase{
		{"/p", 5, proto.ErrBadVersion},
		{"/nope", 0, proto.ErrNoNode},
		{"/p/", 0, proto.ErrBadArguments},
		{"/nr", 0, proto.ErrNoAuth},
		{"/p", 2, proto.ErrOK},
		{"/p", -1, proto.ErrOK},
	}
	for _, c := range check {
		before := dump(h.tree)
		r := h.do(proto.OpCheck, &proto.PathVersionRequest{Path: c.path, Version: c.version})
		wantErr(t, "check "+c.path, r.Err, c.want)
		if r.Resp != nil || len(r.Events) != 0 {
			t.Errorf("check returned %+v %v", r.Resp, r.Events)
		}
		if after := dump(h.tree); stripZxid(after) != stripZxid(before) {
			t.Errorf("check changed the tree")
		}
	}
}

// stripZxid drops the last line of a dump (LastZxid moves with every
// entry, even one that changes nothing).
func stripZxid(d string) string {
	for i := len(d) - 2; i >= 0; i-- {
		if d[i] == '\n' {
			return d[:i]
		}
	}
	return d
}

func TestValidPath(t *testing.T) {
	cases := []struct {
		path string
		ok   bool
	}{
		{"/", true}, {"/a", true}, {"/a/b.c", true}, {"/a/..b", true}, {"/a/.b", true}, {"/a/b.", true},
		{"/é", true}, {"/日本", true},
		{"", false}, {"a", false}, {"/a/", false}, {"//", false}, {"/a//b", false},
		{"/.", false}, {"/..", false}, {"/a/./b", false}, {"/a/../b", false}, {"/a/..", false},
		{"/a\x00b", false}, {"/a\x1f", false}, {"/a\x7f", false}, {"/a\u0085", false},
		{"/a\ud7ff", true}, {"/a\ue000", false}, {"/a\uf8ff", false}, {"/a\uf900", true},
		{"/a\ufff0", false}, {"/a\U0001F600", false}, {"/a\xff", false},
	}
	for _, c := range cases {
		if got := validPath(c.path); got != c.ok {
			t.Errorf("validPath(%q) = %v, want %v", c.path, got, c.ok)
		}
	}
}

// Exists needs no permission, getData/getChildren need READ (observed on
// 3.8.0 with kazoo: exists on a digest-only node answers, get is NoAuth).
func TestReadsAndCounts(t *testing.T) {
	h := newHarness(t)
	alice := proto.Id{Scheme: "digest", ID: DigestID("alice", "pw")}
	h.do(proto.OpCreate, &proto.CreateRequest{Path: "/q", Data: []byte("secret"), ACL: []proto.ACL{{Perms: proto.PermAll, ID: alice}}})
	for _, p := range []string{"/q/z", "/q/a", "/q/m", "/q/m/x"} {
		if _, err := h.create(p, "", proto.ModePersistent, alice); err != proto.ErrOK {
			t.Fatalf("create %s: %v", p, err)
		}
	}
	if _, ok := h.tree.Exists("/q"); !ok {
		t.Error("exists on unreadable node should answer")
	}
	if _, _, err := h.tree.Get("/q", nil); err != proto.ErrNoAuth {
		t.Errorf("Get without auth: %v", err)
	}
	if _, _, err := h.tree.Children("/q", nil); err != proto.ErrNoAuth {
		t.Errorf("Children without auth: %v", err)
	}
	if _, err := h.tree.AllChildrenNumber("/q", nil); err != proto.ErrNoAuth {
		t.Errorf("AllChildrenNumber without auth: %v", err)
	}
	data, st, err := h.tree.Get("/q", []proto.Id{alice})
	if string(data) != "secret" || st.NumChildren != 3 || err != proto.ErrOK {
		t.Errorf("Get with auth: %q %+v %v", data, st, err)
	}
	kids, _, _ := h.tree.Children("/q", []proto.Id{alice})
	if !reflect.DeepEqual(kids, []string{"a", "m", "z"}) {
		t.Errorf("children %v, want sorted a m z", kids)
	}
	if n, _ := h.tree.AllChildrenNumber("/q", []proto.Id{alice}); n != 4 {
		t.Errorf("AllChildrenNumber(/q) = %d, want 4", n)
	}
	if n, _ := h.tree.AllChildrenNumber("/", nil); int(n) != h.tree.NodeCount()-1 {
		t.Errorf("AllChildrenNumber(/) = %d, nodes %d", n, h.tree.NodeCount())
	}
	for _, f := range []func() proto.Err{
		func() proto.Err { _, _, e := h.tree.Get("/none", nil); return e },
		func() proto.Err { _, _, e := h.tree.Children("/none", nil); return e },
		func() proto.Err { _, _, e := h.tree.GetACL("/none", nil); return e },
		func() proto.Err { _, e := h.tree.AllChildrenNumber("/none", nil); return e },
	} {
		if e := f(); e != proto.ErrNoNode {
			t.Errorf("read of missing node: %v", e)
		}
	}
	// approximate data size: sum of path and data lengths.
	want := int64(0)
	for p, n := range h.tree.index() {
		want += int64(len(p) + len(n.data))
	}
	if h.tree.ApproxDataSize() != want {
		t.Errorf("ApproxDataSize %d, want %d", h.tree.ApproxDataSize(), want)
	}
}

// lookup walks the tree; it must find exactly the stored paths, as the
// path index it replaced did, whatever malformed text it is given.
func TestLookupFindsOnlyStoredPaths(t *testing.T) {
	h := newHarness(t)
	h.create("/a", "", proto.ModePersistent)
	h.create("/a/b", "", proto.ModePersistent)
	cases := map[string]string{
		"/": "/", "/a": "/a", "/a/b": "/a/b", "/zookeeper/config": "/zookeeper/config",
		"": "", "a": "", "//": "", "/a/": "", "/a//b": "", "//a": "", "/a/b/": "", "/a/b/c": "", "/b": "",
	}
	for in, want := range cases {
		n := h.tree.lookup(in)
		got := ""
		if n != nil {
			got = n.path
		}
		if got != want {
			t.Errorf("lookup(%q) found %q, want %q", in, got, want)
		}
	}
	if h.tree.NodeCount() != len(h.tree.index()) {
		t.Errorf("NodeCount %d, tree holds %d", h.tree.NodeCount(), len(h.tree.index()))
	}
}
