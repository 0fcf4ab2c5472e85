package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

// TestMultiReadOfWritesAnswersMarshallingError: a multiRead that holds a
// write op is answered as ZooKeeper 3.8 answers it (MarshallingError with
// the empty results) and the connection goes on; it once crashed the
// server. The byte-level comparison with Apache is the wire differential
// test in integration/.
func TestMultiReadOfWritesAnswersMarshallingError(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	nc, err := rawSession(t, ts.addr, 0)
	if err != nil {
		t.Fatal(err)
	}
	send := func(xid, op int32, body proto.Record) (proto.ReplyHeader, *proto.Decoder) {
		t.Helper()
		hdr := proto.RequestHeader{Xid: xid, Type: op}
		recs := []proto.Record{&hdr}
		if body != nil {
			recs = append(recs, body)
		}
		if _, err := nc.Write(proto.AppendFrame(nil, recs...)); err != nil {
			t.Fatal(err)
		}
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		return readReply(t, nc, fmt.Sprintf("xid %d", xid))
	}
	create := &proto.CreateRequest{Path: "/x", ACL: proto.OpenACL}
	rh, d := send(1, proto.OpMultiRead, &proto.MultiRequest{Ops: []proto.MultiOp{{Type: proto.OpCreate, Op: create}}})
	var mr proto.MultiResponse
	mr.Decode(d)
	if rh.Err != proto.ErrMarshallingError || d.Err() != nil || len(mr.Results) != 0 || d.Remaining() != 0 {
		t.Fatalf("multiRead(create): header %+v, body %+v (%v, %d bytes left); want MarshallingError with an empty MultiResponse", rh, mr, d.Err(), d.Remaining())
	}
	get := &proto.PathWatchRequest{Path: "/"}
	rh, d = send(2, proto.OpMultiRead, &proto.MultiRequest{Ops: []proto.MultiOp{{Type: proto.OpGetData, Op: get}, {Type: proto.OpCreate, Op: create}}})
	if rh.Err != proto.ErrMarshallingError || d.Remaining() != 0 {
		t.Fatalf("multiRead(getData, create): header %+v, %d body bytes; want MarshallingError without a body", rh, d.Remaining())
	}
	if rh, _ := send(proto.XidPing, proto.OpPing, nil); rh.Err != proto.ErrOK {
		t.Fatalf("ping after: %+v", rh)
	}
}
