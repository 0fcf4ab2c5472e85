package tree

import (
	"reflect"
	"testing"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

func mop(op int32, r proto.Record) proto.MultiOp { return proto.MultiOp{Type: op, Op: r} }

// Observed on 3.8.0 with go-zookeeper/zk: multi(create /m1, create
// /nonexist/x, setData /m1) answers [OK, NoNode, -2] as error results and
// /m1 does not exist afterwards; multi(create /m1, check /m1 v0, setData
// /m1 v0, delete /m1 v1) succeeds with [create /m1, check, setData stat,
// delete]; an empty multi answers an empty list.
func TestMultiResults(t *testing.T) {
	acl := proto.OpenACL
	cases := []struct {
		name   string
		ops    []proto.MultiOp
		want   []proto.MultiResult // Body checked for type only
		events []Event
	}{
		{
			name: "failure in the middle",
			ops: []proto.MultiOp{
				mop(proto.OpCreate, &proto.CreateRequest{Path: "/m1", ACL: acl}),
				mop(proto.OpCreate, &proto.CreateRequest{Path: "/nonexist/x", ACL: acl}),
				mop(proto.OpSetData, &proto.SetDataRequest{Path: "/m1", Version: -1}),
			},
			want: []proto.MultiResult{
				{Type: proto.OpError, Err: proto.ErrOK},
				{Type: proto.OpError, Err: proto.ErrNoNode},
				{Type: proto.OpError, Err: proto.ErrRuntimeInconsistency},
			},
		},
		{
			name: "failing check first",
			ops: []proto.MultiOp{
				mop(proto.OpCheck, &proto.PathVersionRequest{Path: "/base", Version: 7}),
				mop(proto.OpCreate, &proto.CreateRequest{Path: "/m1", ACL: acl}),
			},
			want: []proto.MultiResult{
				{Type: proto.OpError, Err: proto.ErrBadVersion},
				{Type: proto.OpError, Err: proto.ErrRuntimeInconsistency},
			},
		},
		{
			name: "failing last op undoes everything",
			ops: []proto.MultiOp{
				mop(proto.OpCreate, &proto.CreateRequest{Path: "/base/s-", ACL: acl, Flags: proto.ModeEphemeralSequential}),
				mop(proto.OpSetData, &proto.SetDataRequest{Path: "/base", Data: []byte("longer data"), Version: 0}),
				mop(proto.OpDelete, &proto.PathVersionRequest{Path: "/base/old", Version: -1}),
				mop(proto.OpCreateContainer, &proto.CreateRequest{Path: "/c", ACL: acl, Flags: proto.ModeContainer}),
				mop(proto.OpCreateTTL, &proto.CreateTTLRequest{Path: "/t", ACL: acl, Flags: proto.ModeTTL, TTL: 10}),
				mop(proto.OpCheck, &proto.PathVersionRequest{Path: "/base", Version: 0}), // now 1
			},
			want: []proto.MultiResult{
				{Type: proto.OpError}, {Type: proto.OpError}, {Type: proto.OpError}, {Type: proto.OpError}, {Type: proto.OpError},
				{Type: proto.OpError, Err: proto.ErrBadVersion},
			},
		},
		{
			name: "ops see earlier ops",
			ops: []proto.MultiOp{
				mop(proto.OpCreate, &proto.CreateRequest{Path: "/m1", ACL: acl}),
				mop(proto.OpCheck, &proto.PathVersionRequest{Path: "/m1", Version: 0}),
				mop(proto.OpSetData, &proto.SetDataRequest{Path: "/m1", Data: []byte("y"), Version: 0}),
				mop(proto.OpDelete, &proto.PathVersionRequest{Path: "/m1", Version: 1}),
				mop(proto.OpCreate2, &proto.CreateRequest{Path: "/m2", ACL: acl}),
				mop(proto.OpCreateContainer, &proto.CreateRequest{Path: "/m2/c", ACL: acl, Flags: proto.ModeContainer}),
				mop(proto.OpCreateTTL, &proto.CreateTTLRequest{Path: "/m2/t", ACL: acl, Flags: proto.ModeTTL, TTL: 5}),
			},
			want: []proto.MultiResult{
				{Type: proto.OpCreate, Body: &proto.PathResponse{Path: "/m1"}},
				{Type: proto.OpCheck},
				{Type: proto.OpSetData, Body: &proto.StatResponse{}},
				{Type: proto.OpDelete},
				{Type: proto.OpCreate, Body: &proto.PathResponse{Path: "/m2"}},
				{Type: proto.OpCreate2, Body: &proto.Create2Response{}},
				{Type: proto.OpCreate2, Body: &proto.Create2Response{}},
			},
			events: []Event{
				{proto.EventNodeCreated, "/m1"}, {proto.EventNodeChildrenChanged, "/"},
				{proto.EventNodeDataChanged, "/m1"},
				{proto.EventNodeDeleted, "/m1"}, {proto.EventNodeChildrenChanged, "/"},
				{proto.EventNodeCreated, "/m2"}, {proto.EventNodeChildrenChanged, "/"},
				{proto.EventNodeCreated, "/m2/c"}, {proto.EventNodeChildrenChanged, "/m2"},
				{proto.EventNodeCreated, "/m2/t"}, {proto.EventNodeChildrenChanged, "/m2"},
			},
		},
		{name: "empty", ops: nil, want: []proto.MultiResult{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			h.mustCreate("/base")
			h.mustCreate("/base/old")
			h.create("/base/e-", "", proto.ModeEphemeralSequential)
			before := dump(h.tree)
			r := h.do(proto.OpMulti, &proto.MultiRequest{Ops: c.ops})
			wantErr(t, "multi header", r.Err, proto.ErrOK)
			got := r.Resp.(*proto.MultiResponse).Results
			if len(got) != len(c.want) {
				t.Fatalf("results %+v, want %+v", got, c.want)
			}
			for i := range got {
				if got[i].Type != c.want[i].Type || got[i].Err != c.want[i].Err ||
					reflect.TypeOf(got[i].Body) != reflect.TypeOf(c.want[i].Body) {
					t.Errorf("result %d = %+v, want %+v", i, got[i], c.want[i])
				}
				if p, ok := c.want[i].Body.(*proto.PathResponse); ok && got[i].Body.(*proto.PathResponse).Path != p.Path {
					t.Errorf("result %d path %v", i, got[i].Body)
				}
			}
			wantEvents(t, r.Events, c.events...)
			failed := len(got) > 0 && got[0].Type == proto.OpError
			if failed && stripZxid(dump(h.tree)) != stripZxid(before) {
				t.Errorf("failed multi changed the tree:\nbefore\n%s\nafter\n%s", before, dump(h.tree))
			}
			// The wire encoding decodes back to the same results.
			var dec proto.MultiResponse
			if err := proto.Unmarshal(proto.Marshal(r.Resp), &dec); err != nil || len(dec.Results) != len(got) {
				t.Errorf("reply does not round-trip: %v %+v", err, dec)
			}
		})
	}
}

// After a rolled-back sequential create the next suffix is the one the
// rolled-back create would have taken, and every op in a successful multi
// carries the same zxid.
func TestMultiZxidAndCounters(t *testing.T) {
	h := newHarness(t)
	h.mustCreate("/q")
	fail := h.do(proto.OpMulti, &proto.MultiRequest{Ops: []proto.MultiOp{
		mop(proto.OpCreate, &proto.CreateRequest{Path: "/q/n", ACL: proto.OpenACL, Flags: proto.ModePersistentSequential}),
		mop(proto.OpDelete, &proto.PathVersionRequest{Path: "/q/none", Version: -1}),
	}})
	if fail.Events != nil {
		t.Errorf("failed multi has events %v", fail.Events)
	}
	r := h.do(proto.OpMulti, &proto.MultiRequest{Ops: []proto.MultiOp{
		mop(proto.OpCreateTTL, &proto.CreateTTLRequest{Path: "/q/n", ACL: proto.OpenACL, Flags: proto.ModeTTLSequential, TTL: 9}),
		mop(proto.OpCreateTTL, &proto.CreateTTLRequest{Path: "/q/n", ACL: proto.OpenACL, Flags: proto.ModeTTLSequential, TTL: 9}),
	}})
	res := r.Resp.(*proto.MultiResponse).Results
	a, b := res[0].Body.(*proto.Create2Response), res[1].Body.(*proto.Create2Response)
	if a.Path != "/q/n0000000000" || b.Path != "/q/n0000000001" {
		t.Errorf("paths %s %s", a.Path, b.Path)
	}
	if a.Stat.Czxid != h.zxid || b.Stat.Czxid != h.zxid {
		t.Errorf("zxids %d %d, want both %d", a.Stat.Czxid, b.Stat.Czxid, h.zxid)
	}
}

// A multi holding a read op is refused whole (3.8 refuses to decode a
// multi mixing reads and writes).
func TestMultiWithReadOp(t *testing.T) {
	h := newHarness(t)
	before := dump(h.tree)
	r := h.do(proto.OpMulti, &proto.MultiRequest{Ops: []proto.MultiOp{
		mop(proto.OpCreate, &proto.CreateRequest{Path: "/x", ACL: proto.OpenACL}),
		mop(proto.OpGetData, &proto.PathWatchRequest{Path: "/x"}),
	}})
	wantErr(t, "mixed multi", r.Err, proto.ErrMarshallingError)
	if stripZxid(dump(h.tree)) != stripZxid(before) {
		t.Error("mixed multi changed the tree")
	}
}
