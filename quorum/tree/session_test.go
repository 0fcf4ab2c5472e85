package tree

import (
	"reflect"
	"testing"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

func TestSessionsAndEphemerals(t *testing.T) {
	h := newHarness(t)
	if got := h.tree.Sessions(); len(got) != 2 || got[0].ID != sessA || got[1].ID != sessB ||
		got[1].Timeout != 20000 || string(got[1].Passwd) != "fedcba9876543210" {
		t.Fatalf("sessions %+v", got)
	}
	h.mustCreate("/app")
	h.mustCreate("/other")
	for _, p := range []string{"/app/z", "/app/a", "/other/e"} {
		if _, err := h.create(p, "", proto.ModeEphemeral); err != proto.ErrOK {
			t.Fatalf("create %s: %v", p, err)
		}
	}
	r := h.apply(&Entry{Session: sessB, Op: proto.OpCreate2, Req: &proto.CreateRequest{Path: "/app/b", ACL: proto.OpenACL, Flags: proto.ModeEphemeral}})
	if st := r.Resp.(*proto.Create2Response).Stat; st.EphemeralOwner != sessB {
		t.Errorf("ephemeralOwner %x, want %x", st.EphemeralOwner, sessB)
	}
	if h.tree.EphemeralCount() != 4 {
		t.Errorf("EphemeralCount %d, want 4", h.tree.EphemeralCount())
	}
	if got := h.tree.Ephemerals(sessA, "/app"); !reflect.DeepEqual(got, []string{"/app/a", "/app/z"}) {
		t.Errorf("Ephemerals(A, /app) = %v", got)
	}
	for _, prefix := range []string{"", "/", "  "} {
		if got := h.tree.Ephemerals(sessA, prefix); len(got) != 3 {
			t.Errorf("Ephemerals(A, %q) = %v, want all 3", prefix, got)
		}
	}

	r = h.apply(&Entry{Session: sessA, Op: proto.OpCloseSession, Req: proto.Empty{}})
	wantErr(t, "close", r.Err, proto.ErrOK)
	if !reflect.DeepEqual(r.Closed, []string{"/app/a", "/app/z", "/other/e"}) {
		t.Errorf("Closed %v", r.Closed)
	}
	wantEvents(t, r.Events,
		Event{proto.EventNodeDeleted, "/app/a"}, Event{proto.EventNodeChildrenChanged, "/app"},
		Event{proto.EventNodeDeleted, "/app/z"}, Event{proto.EventNodeChildrenChanged, "/app"},
		Event{proto.EventNodeDeleted, "/other/e"}, Event{proto.EventNodeChildrenChanged, "/other"})
	if kids, _, _ := h.tree.Children("/app", nil); !reflect.DeepEqual(kids, []string{"b"}) {
		t.Errorf("children of /app after close %v", kids)
	}
	if st := h.stat("/app"); st.Pzxid != h.zxid {
		t.Errorf("/app pzxid %d, want the close's zxid %d", st.Pzxid, h.zxid)
	}
	if _, ok := h.tree.Session(sessA); ok || h.tree.EphemeralCount() != 1 {
		t.Errorf("session A still there or ephemerals %d", h.tree.EphemeralCount())
	}
	// Closing again, or an unknown session, changes nothing.
	before := dump(h.tree)
	r = h.apply(&Entry{Session: sessA, Op: proto.OpCloseSession, Req: proto.Empty{}})
	if r.Err != proto.ErrOK || len(r.Events) != 0 || stripZxid(dump(h.tree)) != stripZxid(before) {
		t.Errorf("second close: %+v", r)
	}
	// Re-creating a session keeps its ephemerals and updates its timeout.
	h.apply(&Entry{Op: proto.OpCreateSession, Req: &CreateSession{ID: sessB, Timeout: 3000, Passwd: []byte("p")}})
	if s, _ := h.tree.Session(sessB); s.Timeout != 3000 || len(h.tree.SessionEphemerals(sessB)) != 1 {
		t.Errorf("session B after re-create %+v %v", s, h.tree.SessionEphemerals(sessB))
	}
}

// ZooKeeper checks the session of every write (checkSession: unknown
// or closing sessions fail); a write applied after its session closed
// gets SessionExpired here. Session 0 is the server's own and may write,
// but cannot own an ephemeral.
func TestWritesFromDeadSessions(t *testing.T) {
	h := newHarness(t)
	h.mustCreate("/p")
	const ghost int64 = 0x7777
	reqs := []struct {
		op  int32
		req proto.Record
	}{
		{proto.OpCreate, &proto.CreateRequest{Path: "/p/e", ACL: proto.OpenACL, Flags: proto.ModeEphemeral}},
		{proto.OpCreate, &proto.CreateRequest{Path: "/p/x", ACL: proto.OpenACL}},
		{proto.OpSetData, &proto.SetDataRequest{Path: "/p", Version: -1}},
		{proto.OpSetACL, &proto.SetACLRequest{Path: "/p", ACL: proto.OpenACL, Version: -1}},
		{proto.OpDelete, &proto.PathVersionRequest{Path: "/p", Version: -1}},
		{proto.OpCheck, &proto.PathVersionRequest{Path: "/p", Version: -1}},
	}
	for _, c := range reqs {
		r := h.apply(&Entry{Session: ghost, Op: c.op, Req: c.req})
		wantErr(t, "ghost session", r.Err, proto.ErrSessionExpired)
	}
	r := h.apply(&Entry{Session: 0, Op: proto.OpCreate, Req: &proto.CreateRequest{Path: "/p/e", ACL: proto.OpenACL, Flags: proto.ModeEphemeral}})
	wantErr(t, "session 0 ephemeral", r.Err, proto.ErrSessionExpired)
	r = h.apply(&Entry{Session: 0, Op: proto.OpCreate, Req: &proto.CreateRequest{Path: "/p/x", ACL: proto.OpenACL}})
	wantErr(t, "session 0 persistent", r.Err, proto.ErrOK)
}

// Observed on 3.8.0 (go-zookeeper/zk): a container and a TTL node show
// ephemeralOwner 0 to clients; both may have children; a container flag
// sent with a plain create makes a plain node.
func TestContainersAndTTL(t *testing.T) {
	h := newHarness(t)
	r := h.do(proto.OpCreateContainer, &proto.CreateRequest{Path: "/c", Data: []byte("x"), ACL: proto.OpenACL, Flags: proto.ModeContainer})
	if st := r.Resp.(*proto.Create2Response).Stat; st.EphemeralOwner != 0 {
		t.Errorf("container ephemeralOwner %x, want 0", st.EphemeralOwner)
	}
	if h.tree.lookup("/c").owner != proto.ContainerEphemeralOwner {
		t.Errorf("container stored owner %x", h.tree.lookup("/c").owner)
	}
	h.create("/plain", "", proto.ModeContainer)
	r = h.do(proto.OpCreateTTL, &proto.CreateTTLRequest{Path: "/t", ACL: proto.OpenACL, Flags: proto.ModeTTL, TTL: 5000})
	ttlCreated := h.now
	if st := r.Resp.(*proto.Create2Response).Stat; st.EphemeralOwner != 0 {
		t.Errorf("ttl ephemeralOwner %x, want 0", st.EphemeralOwner)
	}
	if h.tree.lookup("/t").owner != proto.TTLEphemeralOwner(5000) {
		t.Errorf("ttl stored owner %x", h.tree.lookup("/t").owner)
	}

	// A never-used container is not a candidate; the TTL node is one only
	// strictly after mtime+ttl.
	if got := h.tree.ReapCandidates(ttlCreated + 5000); len(got) != 0 {
		t.Errorf("candidates at mtime+ttl: %v", got)
	}
	if got := h.tree.ReapCandidates(ttlCreated + 5001); !reflect.DeepEqual(got, []string{"/t"}) {
		t.Errorf("candidates after ttl: %v", got)
	}
	h.mustCreate("/c/child")
	h.mustCreate("/t/child")
	if got := h.tree.ReapCandidates(ttlCreated + 1e9); len(got) != 0 {
		t.Errorf("candidates with children: %v", got)
	}
	reap := func(path string, at int64) Result {
		return h.apply(&Entry{Time: at, Op: proto.OpDeleteContainer, Req: &proto.PathRequest{Path: path}})
	}
	wantErr(t, "reap container with child", reap("/c", h.now).Err, proto.ErrNotEmpty)
	h.do(proto.OpDelete, &proto.PathVersionRequest{Path: "/c/child", Version: -1})
	h.do(proto.OpDelete, &proto.PathVersionRequest{Path: "/t/child", Version: -1})
	h.do(proto.OpSetData, &proto.SetDataRequest{Path: "/t", Data: []byte("touch"), Version: -1})
	touched := h.now
	if got := h.tree.ReapCandidates(touched + 5000); !reflect.DeepEqual(got, []string{"/c"}) {
		t.Errorf("candidates after child removal: %v (setData refreshes the TTL)", got)
	}
	wantErr(t, "reap persistent", reap("/plain", h.now).Err, proto.ErrBadVersion)
	wantErr(t, "reap missing", reap("/none", h.now).Err, proto.ErrNoNode)
	wantErr(t, "reap special", reap("/zookeeper", h.now).Err, proto.ErrBadArguments)
	wantErr(t, "reap fresh ttl", reap("/t", touched+5000).Err, proto.ErrBadVersion)

	r = reap("/c", h.now)
	wantErr(t, "reap container", r.Err, proto.ErrOK)
	wantEvents(t, r.Events, Event{proto.EventNodeDeleted, "/c"}, Event{proto.EventNodeChildrenChanged, "/"})
	r = reap("/t", touched+5001)
	wantErr(t, "reap ttl", r.Err, proto.ErrOK)
	if _, ok := h.tree.Exists("/t"); ok {
		t.Error("/t survived reaping")
	}
	if len(h.tree.containers) != 0 || len(h.tree.ttls) != 0 {
		t.Errorf("sets not emptied: %v %v", h.tree.containers, h.tree.ttls)
	}
}

// A container that is emptied again within one tree keeps its cversion,
// so it stays a candidate, and a persistent node is never one.
func TestReapCandidatesIgnoresPersistent(t *testing.T) {
	h := newHarness(t)
	h.mustCreate("/p")
	h.mustCreate("/p/c")
	h.do(proto.OpDelete, &proto.PathVersionRequest{Path: "/p/c", Version: -1})
	if got := h.tree.ReapCandidates(h.now + 1e12); len(got) != 0 {
		t.Errorf("persistent node became a candidate: %v", got)
	}
}
