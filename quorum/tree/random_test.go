package tree

import (
	"bytes"
	"fmt"
	"math/rand"
	"reflect"
	"testing"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

// checkInvariants verifies that every index agrees with the nodes.
func checkInvariants(t *testing.T, tr *Tree) {
	t.Helper()
	var size int64
	eph, refs := 0, map[*aclList]int{}
	nodes := tr.index()
	if len(nodes) != tr.count {
		t.Fatalf("count says %d nodes, the tree holds %d", tr.count, len(nodes))
	}
	for p, n := range nodes {
		if n.path != p {
			t.Fatalf("node %q indexed as %q", n.path, p)
		}
		size += int64(len(p) + len(n.data))
		refs[n.acl]++
		if p != "/" && (n.parent == nil || n.parent.children[n.name()] != n || tr.lookup(n.parent.path) != n.parent) {
			t.Fatalf("node %q not linked to its parent", p)
		}
		for name, c := range n.children {
			if c.parent != n || c.name() != name || tr.lookup(c.path) != c {
				t.Fatalf("child %q of %q inconsistent", name, p)
			}
		}
		if n.children != nil && len(n.children) == 0 {
			t.Fatalf("%q has an empty children map", p)
		}
		_, inC := tr.containers[p]
		_, inT := tr.ttls[p]
		switch n.kind() {
		case kindEphemeral:
			eph++
			s := tr.sessions[n.owner]
			if s == nil {
				t.Fatalf("ephemeral %q of missing session", p)
			}
			if _, ok := s.ephemerals[p]; !ok {
				t.Fatalf("ephemeral %q missing from its session", p)
			}
		case kindContainer:
			if !inC {
				t.Fatalf("container %q not tracked", p)
			}
		case kindTTL:
			if !inT {
				t.Fatalf("ttl %q not tracked", p)
			}
		}
	}
	for p := range tr.containers {
		if n := tr.lookup(p); n == nil || n.kind() != kindContainer {
			t.Fatalf("stale container %q", p)
		}
	}
	for p := range tr.ttls {
		if n := tr.lookup(p); n == nil || n.kind() != kindTTL {
			t.Fatalf("stale ttl %q", p)
		}
	}
	sessEph := 0
	for _, s := range tr.sessions {
		for p := range s.ephemerals {
			if n := tr.lookup(p); n == nil || n.owner != s.id {
				t.Fatalf("session %x lists %q it does not own", s.id, p)
			}
		}
		sessEph += len(s.ephemerals)
	}
	if eph != tr.EphemeralCount() || eph != sessEph {
		t.Fatalf("ephemerals: nodes %d, counter %d, sessions %d", eph, tr.EphemeralCount(), sessEph)
	}
	if size != tr.ApproxDataSize() {
		t.Fatalf("data size %d, counter %d", size, tr.ApproxDataSize())
	}
	for l, n := range refs {
		if l.refs != n {
			t.Fatalf("acl %v: %d users, refcount %d", l.acl, n, l.refs)
		}
	}
}

// randomEntry draws a write over a small path space so that collisions,
// missing parents and non-empty deletes are common.
func randomEntry(r *rand.Rand, sessions []int64) *Entry {
	paths := []string{"/a", "/a/b", "/a/b/c", "/c", "/c/x", "/t", "/t/y", "/e", "/a/s-", "/zookeeper/q", "/bad/", "/a/."}
	acls := [][]proto.ACL{
		proto.OpenACL,
		{{Perms: proto.PermRead | proto.PermCreate, ID: proto.WorldAnyone}},
		{{Perms: proto.PermAll, ID: proto.Id{Scheme: "digest", ID: DigestID("u", "p")}}},
		{{Perms: proto.PermAll, ID: proto.Id{Scheme: "auth"}}},
		nil,
	}
	auths := [][]proto.Id{nil, {{Scheme: "digest", ID: DigestID("u", "p")}}, {{Scheme: "super"}}}
	p := paths[r.Intn(len(paths))]
	ver := int32(r.Intn(3)) - 1
	op := func() (int32, proto.Record) {
		switch r.Intn(8) {
		case 0, 1:
			return proto.OpCreate, &proto.CreateRequest{Path: p, Data: []byte(p), ACL: acls[r.Intn(len(acls))], Flags: int32(r.Intn(5))}
		case 2:
			return proto.OpCreateContainer, &proto.CreateRequest{Path: p, ACL: proto.OpenACL, Flags: proto.ModeContainer}
		case 3:
			return proto.OpCreateTTL, &proto.CreateTTLRequest{Path: p, ACL: proto.OpenACL, Flags: proto.ModeTTL + int32(r.Intn(2)), TTL: int64(r.Intn(3000))}
		case 4:
			return proto.OpDelete, &proto.PathVersionRequest{Path: p, Version: ver}
		case 5:
			return proto.OpSetData, &proto.SetDataRequest{Path: p, Data: bytes.Repeat([]byte("d"), r.Intn(20)), Version: ver}
		case 6:
			return proto.OpCheck, &proto.PathVersionRequest{Path: p, Version: ver}
		}
		return proto.OpCreate2, &proto.CreateRequest{Path: p, ACL: proto.OpenACL, Flags: proto.ModeEphemeralSequential}
	}
	e := &Entry{Session: sessions[r.Intn(len(sessions))], Auth: auths[r.Intn(len(auths))]}
	switch k := r.Intn(20); {
	case k < 12:
		e.Op, e.Req = op()
	case k < 15:
		var m proto.MultiRequest
		for i := r.Intn(5); i >= 0; i-- {
			typ, req := op()
			p = paths[r.Intn(len(paths))]
			m.Ops = append(m.Ops, proto.MultiOp{Type: typ, Op: req})
		}
		e.Op, e.Req = proto.OpMulti, &m
	case k < 16:
		e.Op, e.Req = proto.OpSetACL, &proto.SetACLRequest{Path: p, ACL: acls[r.Intn(len(acls))], Version: ver}
	case k < 17:
		e.Op, e.Req = proto.OpCloseSession, proto.Empty{}
	case k < 18:
		e.Op, e.Req = proto.OpCreateSession, &CreateSession{ID: e.Session, Timeout: 5000, Passwd: []byte{1}}
	default:
		e.Session = 0
		e.Op, e.Req = proto.OpDeleteContainer, &proto.PathRequest{Path: p}
	}
	return e
}

// TestRandomHistories applies seeded random histories to two trees,
// one of which is snapshotted and restored along the way, and requires
// identical results and trees, intact invariants after every entry, and
// no change at all from a failed multi.
func TestRandomHistories(t *testing.T) {
	sessions := []int64{0x11, 0x22, 0x33}
	for seed := int64(1); seed <= 30; seed++ {
		r := rand.New(rand.NewSource(seed))
		a, b := New(), New()
		for i, s := range sessions[:2] {
			for _, tr := range []*Tree{a, b} {
				tr.Apply(&Entry{Zxid: int64(i + 1), Op: proto.OpCreateSession, Req: &CreateSession{ID: s, Timeout: 5000}})
			}
		}
		zxid, now := int64(10), int64(1000)
		for i := 0; i < 400; i++ {
			zxid++
			now += int64(r.Intn(1500))
			e := randomEntry(r, sessions)
			e.Zxid, e.Time = zxid, now
			before := dump(a)
			ra := a.Apply(e)
			rb := b.Apply(e)
			if !reflect.DeepEqual(ra, rb) {
				t.Fatalf("seed %d step %d: results differ:\n%+v\n%+v", seed, i, ra, rb)
			}
			checkInvariants(t, a)
			if m, ok := ra.Resp.(*proto.MultiResponse); ok && len(m.Results) > 0 && m.Results[0].Type == proto.OpError {
				if stripZxid(dump(a)) != stripZxid(before) {
					t.Fatalf("seed %d step %d: failed multi changed the tree", seed, i)
				}
			}
			if i%97 == 0 {
				var buf bytes.Buffer
				if err := b.WriteSnapshot(&buf); err != nil {
					t.Fatal(err)
				}
				var err error
				if b, err = Restore(&buf); err != nil {
					t.Fatalf("seed %d step %d: %v", seed, i, err)
				}
			}
			if da, db := dump(a), dump(b); da != db {
				t.Fatalf("seed %d step %d: trees differ after %s", seed, i, fmt.Sprint(e.Op))
			}
			if cand := a.ReapCandidates(now); !reflect.DeepEqual(cand, b.ReapCandidates(now)) {
				t.Fatalf("seed %d step %d: reap candidates differ", seed, i)
			}
		}
	}
}
