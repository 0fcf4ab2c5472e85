package tree

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

// populate builds a tree with every kind of state a snapshot must carry.
func populate(t testing.TB) *harness {
	h := newHarness(t)
	alice := proto.Id{Scheme: "digest", ID: DigestID("alice", "pw")}
	h.mustCreate("/app")
	for i := 0; i < 20; i++ {
		h.create("/app/seq-", fmt.Sprint(i), proto.ModePersistentSequential)
	}
	h.do(proto.OpDelete, &proto.PathVersionRequest{Path: "/app/seq-0000000003", Version: -1})
	h.create("/app/eph", "e", proto.ModeEphemeral)
	h.apply(&Entry{Session: sessB, Op: proto.OpCreate, Req: &proto.CreateRequest{Path: "/app/ephB", ACL: proto.OpenACL, Flags: proto.ModeEphemeralSequential}})
	h.do(proto.OpCreateContainer, &proto.CreateRequest{Path: "/cont", ACL: proto.OpenACL, Flags: proto.ModeContainer})
	h.mustCreate("/cont/x")
	h.do(proto.OpDelete, &proto.PathVersionRequest{Path: "/cont/x", Version: -1})
	h.do(proto.OpCreateTTL, &proto.CreateTTLRequest{Path: "/ttl", Data: []byte("t"), ACL: proto.OpenACL, Flags: proto.ModeTTL, TTL: 60000})
	h.do(proto.OpCreate, &proto.CreateRequest{Path: "/secret", Data: []byte("s"), ACL: []proto.ACL{{Perms: proto.PermAll, ID: alice}}})
	h.do(proto.OpCreate, &proto.CreateRequest{Path: "/ip", ACL: []proto.ACL{{Perms: proto.PermRead, ID: proto.Id{Scheme: "ip", ID: "10.0.0.0/8"}}, {Perms: proto.PermAll, ID: alice}}})
	h.do(proto.OpCreate, &proto.CreateRequest{Path: "/nildata", ACL: proto.OpenACL})
	h.do(proto.OpCreate, &proto.CreateRequest{Path: "/emptydata", Data: []byte{}, ACL: proto.OpenACL})
	h.do(proto.OpSetData, &proto.SetDataRequest{Path: "/app", Data: []byte("v2"), Version: -1})
	h.do(proto.OpSetACL, &proto.SetACLRequest{Path: "/app", ACL: proto.OpenACL, Version: -1})
	h.do(proto.OpSetData, &proto.SetDataRequest{Path: "/zookeeper/quota", Data: []byte("q"), Version: -1})
	return h
}

func TestSnapshotRoundTrip(t *testing.T) {
	h := populate(t)
	got := roundTrip(t, h.tree)
	if a, b := dump(h.tree), dump(got); a != b {
		t.Fatalf("restored tree differs:\n--- original\n%s--- restored\n%s", a, b)
	}
	if a, b := h.tree.ReapCandidates(h.now+1e6), got.ReapCandidates(h.now+1e6); fmt.Sprint(a) != fmt.Sprint(b) || len(a) != 2 {
		t.Errorf("reap candidates %v vs %v", a, b)
	}
	// The restored tree goes on exactly as the original: same sequence
	// counters, same ephemeral cleanup, same ACL sharing.
	twin := &harness{t: t, tree: got, zxid: h.zxid, now: h.now}
	for _, x := range []*harness{h, twin} {
		// 20 seq-, eph and ephB were created under /app: the next is 22.
		if p, _ := x.create("/app/seq-", "", proto.ModePersistentSequential); p != "/app/seq-0000000022" {
			t.Errorf("next sequential %q, want /app/seq-0000000022", p)
		}
		x.apply(&Entry{Session: sessB, Op: proto.OpCloseSession, Req: proto.Empty{}})
		x.do(proto.OpCreate, &proto.CreateRequest{Path: "/secret2", ACL: []proto.ACL{{Perms: proto.PermAll, ID: proto.Id{Scheme: "digest", ID: DigestID("alice", "pw")}}}})
	}
	if a, b := dump(h.tree), dump(got); a != b {
		t.Fatalf("trees diverge after more entries:\n--- original\n%s--- restored\n%s", a, b)
	}
	if got.lookup("/secret").acl != got.lookup("/secret2").acl {
		t.Error("restored ACLs are not shared with new nodes")
	}
}

func TestSnapshotCorruption(t *testing.T) {
	h := populate(t)
	var buf bytes.Buffer
	if err := h.tree.WriteSnapshot(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	for _, off := range []int{0, len(snapMagic), len(snapMagic) + 9, len(good) / 3, len(good) / 2, len(good) - 5, len(good) - 1} {
		bad := bytes.Clone(good)
		bad[off] ^= 0x40
		if _, err := Restore(bytes.NewReader(bad)); !errors.Is(err, ErrCorruptSnapshot) {
			t.Errorf("flipped byte %d of %d: err %v, want ErrCorruptSnapshot", off, len(good), err)
		}
	}
	for _, n := range []int{len(snapMagic) + 3, len(good) / 2, len(good) - 1} {
		if _, err := Restore(bytes.NewReader(good[:n])); !errors.Is(err, ErrCorruptSnapshot) {
			t.Errorf("truncated to %d: err %v, want ErrCorruptSnapshot", n, err)
		}
	}
	if _, err := Restore(bytes.NewReader(nil)); err == nil {
		t.Error("empty input restored")
	}
}

// A snapshot of a multi-megabyte tree reads back through the buffer
// refills and field-spanning reads intact.
func TestSnapshotLargeValues(t *testing.T) {
	h := newHarness(t)
	big := bytes.Repeat([]byte("0123456789"), 300_000) // 3 MB, larger than the read buffer
	h.do(proto.OpCreate, &proto.CreateRequest{Path: "/big", Data: big, ACL: proto.OpenACL})
	for i := 0; i < 3000; i++ {
		h.create(fmt.Sprintf("/n%d", i), string(big[:i%500]), proto.ModePersistent)
	}
	var buf bytes.Buffer
	if err := h.tree.WriteSnapshot(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := Restore(&oneByteAtATimeEvery{r: bytes.NewReader(buf.Bytes())})
	if err != nil {
		t.Fatal(err)
	}
	if dump(got) != dump(h.tree) {
		t.Error("large tree differs after restore")
	}
}

// oneByteAtATimeEvery returns short reads now and then, as pipes and
// network readers do.
type oneByteAtATimeEvery struct {
	r *bytes.Reader
	n int
}

func (o *oneByteAtATimeEvery) Read(p []byte) (int, error) {
	o.n++
	if o.n%3 == 0 && len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}
