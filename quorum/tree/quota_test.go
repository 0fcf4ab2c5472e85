package tree

import (
	"testing"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

// zkCli's setquota creates zookeeper_limits then zookeeper_stats under
// /zookeeper/quota/<path>; ZooKeeper 3.8 then keeps the stats current
// (observed with zkCli listquota: count includes the quota'd node itself).
func TestQuotaStatsTracked(t *testing.T) {
	h := newHarness(t)
	mk := func(path, data string) {
		t.Helper()
		if _, err := h.create(path, data, proto.ModePersistent); err != proto.ErrOK {
			t.Fatalf("create %s: %v", path, err)
		}
	}
	stats := func() string {
		d, _, err := h.tree.Get("/zookeeper/quota/q/zookeeper_stats", nil)
		if err != proto.ErrOK {
			t.Fatal(err)
		}
		return string(d)
	}
	mk("/q", "q")
	mk("/q/a", "12345")
	mk("/zookeeper/quota/q", "")
	mk("/zookeeper/quota/q/zookeeper_limits", "count=3,bytes=-1")
	mk("/zookeeper/quota/q/zookeeper_stats", "count=0,bytes=0")
	if got := stats(); got != "count=2,bytes=6" {
		t.Fatalf("initial stats %q, want count=2,bytes=6", got)
	}
	mk("/q/b", "123")
	mk("/q/b/c", "")
	if got := stats(); got != "count=4,bytes=9" {
		t.Fatalf("after creates %q", got)
	}
	h.do(proto.OpSetData, &proto.SetDataRequest{Path: "/q/a", Data: []byte("1"), Version: -1})
	h.do(proto.OpDelete, &proto.PathVersionRequest{Path: "/q/b/c", Version: -1})
	if got := stats(); got != "count=3,bytes=5" {
		t.Fatalf("after setData and delete %q", got)
	}
	// A failed multi leaves the stats as they were.
	h.do(proto.OpMulti, &proto.MultiRequest{Ops: []proto.MultiOp{
		{Type: proto.OpCreate, Op: &proto.CreateRequest{Path: "/q/x", Data: []byte("xx"), ACL: proto.OpenACL}},
		{Type: proto.OpCreate, Op: &proto.CreateRequest{Path: "/missing/y", ACL: proto.OpenACL}},
	}})
	if got := stats(); got != "count=3,bytes=5" {
		t.Fatalf("after a failed multi %q", got)
	}
	// Writes outside the quota'd subtree do not count.
	mk("/other", "zzz")
	if got := stats(); got != "count=3,bytes=5" {
		t.Fatalf("after an unrelated create %q", got)
	}
}
