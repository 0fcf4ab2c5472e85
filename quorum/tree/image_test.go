package tree

import (
	"testing"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

func TestBuilderMakesTheImage(t *testing.T) {
	b := NewBuilder(0x1000000ff, 4)
	b.Session(0x77, 5000, []byte("pw"))
	digest := []proto.ACL{{Perms: proto.PermAll, ID: proto.Id{Scheme: "digest", ID: "alice:x="}}}
	for _, n := range []NodeImage{
		{Path: "/a/e", Data: []byte("e"), ACL: proto.OpenACL, Czxid: 9, Mzxid: 9, Pzxid: 9, Owner: 0x77},
		{Path: "/", ACL: proto.OpenACL, Cversion: 1, Pzxid: 3},
		{Path: "/a", Data: []byte("x"), ACL: digest, Czxid: 3, Mzxid: 5, Pzxid: 9, Ctime: 100, Mtime: 200,
			Version: 2, Cversion: 3, Aversion: 1},
	} {
		if err := b.Node(&n); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := b.Tree()
	if err != nil {
		t.Fatal(err)
	}
	st, ok := tr.Exists("/a")
	want := proto.Stat{Czxid: 3, Mzxid: 5, Pzxid: 9, Ctime: 100, Mtime: 200, Version: 2,
		Cversion: 3*2 - 1, Aversion: 1, DataLength: 1, NumChildren: 1}
	if !ok || st != want {
		t.Fatalf("stat of /a = %+v, want %+v", st, want)
	}
	if got := tr.SessionEphemerals(0x77); len(got) != 1 || got[0] != "/a/e" {
		t.Fatalf("session's ephemerals %v", got)
	}
	if tr.LastZxid() != 0x1000000ff || tr.NodeCount() != 3 {
		t.Fatalf("lastZxid %#x, count %d", tr.LastZxid(), tr.NodeCount())
	}
	// The image survives a snapshot round trip.
	back := roundTrip(t, tr)
	if acl, _, _ := back.GetACL("/a", []proto.Id{{Scheme: "super"}}); len(acl) != 1 || acl[0] != digest[0] {
		t.Fatalf("ACL after round trip %v", acl)
	}
}

func TestBuilderRefusesBrokenImages(t *testing.T) {
	for name, nodes := range map[string][]NodeImage{
		"orphan":          {{Path: "/"}, {Path: "/x/y"}},
		"no root":         {{Path: "/x"}},
		"unknown session": {{Path: "/"}, {Path: "/e", Owner: 0x99}},
		"duplicate":       {{Path: "/"}, {Path: "/x"}, {Path: "/x"}},
		"invalid path":    {{Path: "/"}, {Path: "x"}},
		"trailing slash":  {{Path: "/"}, {Path: "/x/"}},
	} {
		b := NewBuilder(1, 0)
		var err error
		for i := range nodes {
			nodes[i].ACL = proto.OpenACL
			if err = b.Node(&nodes[i]); err != nil {
				break
			}
		}
		if err == nil {
			_, err = b.Tree()
		}
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
