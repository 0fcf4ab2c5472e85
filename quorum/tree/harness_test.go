package tree

import (
	"bytes"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

// harness drives a Tree the way the log does: every entry gets the next
// zxid and a clock that moves by 1000 ms, and goes through Marshal and
// UnmarshalEntry first, so every test also checks the entry encoding.
type harness struct {
	t    testing.TB
	tree *Tree
	zxid int64
	now  int64
}

const (
	sessA int64 = 0x100000000000001
	sessB int64 = 0x100000000000002
)

func newHarness(t testing.TB) *harness {
	h := &harness{t: t, tree: New(), now: 1_700_000_000_000}
	h.apply(&Entry{Op: proto.OpCreateSession, Req: &CreateSession{ID: sessA, Timeout: 10000, Passwd: []byte("0123456789abcdef")}})
	h.apply(&Entry{Op: proto.OpCreateSession, Req: &CreateSession{ID: sessB, Timeout: 20000, Passwd: []byte("fedcba9876543210")}})
	return h
}

func (h *harness) apply(e *Entry) Result {
	h.t.Helper()
	h.zxid++
	h.now += 1000
	if e.Time == 0 {
		e.Time = h.now
	}
	dec, err := UnmarshalEntry(e.Marshal())
	if err != nil {
		h.t.Fatalf("entry op %d does not round-trip: %v", e.Op, err)
	}
	dec.Zxid = h.zxid
	return h.tree.Apply(dec)
}

// do applies a client request from session sessA with no identities
// beyond the ones given.
func (h *harness) do(op int32, req proto.Record, auth ...proto.Id) Result {
	h.t.Helper()
	return h.apply(&Entry{Session: sessA, Auth: auth, Op: op, Req: req})
}

func (h *harness) create(path string, data string, flags int32, auth ...proto.Id) (string, proto.Err) {
	h.t.Helper()
	r := h.do(proto.OpCreate, &proto.CreateRequest{Path: path, Data: []byte(data), ACL: proto.OpenACL, Flags: flags}, auth...)
	if r.Err != proto.ErrOK {
		return "", r.Err
	}
	return r.Resp.(*proto.PathResponse).Path, r.Err
}

func (h *harness) mustCreate(path string) string {
	h.t.Helper()
	p, err := h.create(path, "", proto.ModePersistent)
	if err != proto.ErrOK {
		h.t.Fatalf("create %s: %v", path, err)
	}
	return p
}

func (h *harness) stat(path string) proto.Stat {
	h.t.Helper()
	s, ok := h.tree.Exists(path)
	if !ok {
		h.t.Fatalf("%s does not exist", path)
	}
	return s
}

// dump renders every observable part of a tree in a canonical order, so
// two trees compare equal exactly when a client could not tell them apart
// (and neither could the reaper or a snapshot).
func dump(t *Tree) string {
	var b strings.Builder
	nodes := t.index()
	paths := make([]string, 0, len(nodes))
	for p := range nodes {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		n := nodes[p]
		kids, _, _ := t.Children(p, []proto.Id{{Scheme: "super"}})
		fmt.Fprintf(&b, "%s data=%q nil=%v acl=%v owner=%x c=%d,%d,%d t=%d,%d v=%d,%d,%d stat=%+v kids=%v\n",
			p, n.data, n.data == nil, n.acl.acl, n.owner, n.czxid, n.mzxid, n.pzxid, n.ctime, n.mtime,
			n.version, n.cversion, n.aversion, n.stat(), kids)
	}
	for _, s := range t.Sessions() {
		fmt.Fprintf(&b, "session %x %d %q eph=%v\n", s.ID, s.Timeout, s.Passwd, t.SessionEphemerals(s.ID))
	}
	cont := sortedKeys(t.containers)
	ttls := sortedKeys(t.ttls)
	fmt.Fprintf(&b, "containers=%v ttls=%v zxid=%d size=%d eph=%d count=%d\n",
		cont, ttls, t.LastZxid(), t.ApproxDataSize(), t.EphemeralCount(), t.NodeCount())
	return b.String()
}

func sortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func wantErr(t *testing.T, what string, got, want proto.Err) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func wantEvents(t *testing.T, got []Event, want ...Event) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("events: got %+v, want %+v", got, want)
	}
}

// index maps every path to its node, by walking the tree.
func (t *Tree) index() map[string]*node {
	m := map[string]*node{}
	t.walk(func(n *node) { m[n.path] = n })
	return m
}

// roundTrip writes src's snapshot and restores a new tree from it.
func roundTrip(t testing.TB, src interface{ WriteSnapshot(io.Writer) error }) *Tree {
	t.Helper()
	var buf bytes.Buffer
	if err := src.WriteSnapshot(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := Restore(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return back
}
