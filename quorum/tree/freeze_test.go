package tree

import (
	"testing"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

// A frozen copy keeps the state of the moment it was taken, whatever the
// tree does afterwards.
func TestFreezeKeepsTheMoment(t *testing.T) {
	tr := New()
	zxid := int64(0)
	apply := func(sess int64, op int32, req proto.Record) {
		t.Helper()
		zxid++
		if res := tr.Apply(&Entry{Zxid: zxid, Time: zxid, Session: sess, Op: op, Req: req}); res.Err != proto.ErrOK {
			t.Fatalf("op %d: %v", op, res.Err)
		}
	}
	apply(0, proto.OpCreateSession, &CreateSession{ID: 5, Timeout: 4000, Passwd: []byte("pw")})
	apply(0, proto.OpCreate, &proto.CreateRequest{Path: "/a", Data: []byte("old"), ACL: proto.OpenACL})
	apply(5, proto.OpCreate, &proto.CreateRequest{Path: "/a/e", ACL: proto.OpenACL, Flags: proto.ModeEphemeral})
	f := tr.Freeze()

	apply(0, proto.OpSetData, &proto.SetDataRequest{Path: "/a", Data: []byte("new"), Version: -1})
	apply(5, proto.OpCloseSession, proto.Empty{})
	apply(0, proto.OpCreate, &proto.CreateRequest{Path: "/later", ACL: proto.OpenACL})

	back := roundTrip(t, f)
	if data, st, _ := back.Get("/a", nil); string(data) != "old" || st.Mzxid != 2 || st.NumChildren != 1 {
		t.Fatalf("/a in the frozen copy: %q %+v", data, st)
	}
	if _, ok := back.Exists("/later"); ok {
		t.Fatal("the frozen copy has a node created after it")
	}
	if got := back.SessionEphemerals(5); len(got) != 1 || back.LastZxid() != 3 {
		t.Fatalf("frozen session 5 ephemerals %v, lastZxid %d", got, back.LastZxid())
	}
}
