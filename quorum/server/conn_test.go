package server

import (
	"net"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

// With two requests in flight, the answer to the first goes out while the
// second still waits for its commit: the writer must not keep it buffered
// until the later reply is ready.
func TestReplyNotHeldBehindALaterUncommittedOne(t *testing.T) {
	srv, err := New(testConfig(t, t.TempDir()), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.rep.wal.Close() })
	server, client := net.Pipe()
	defer client.Close()
	c := &conn{s: srv, nc: server, replies: make(chan *reply, 4), notes: newMailbox[proto.WatcherEvent](),
		closed: make(chan struct{}), maxReply: 1 << 20}
	first := &reply{hdr: proto.ReplyHeader{Xid: 1, Zxid: 7}, done: closedChan, start: time.Now()}
	second := &reply{hdr: proto.ReplyHeader{Xid: 2}, done: make(chan struct{}), start: time.Now()}
	// Both are queued before the writer starts, as when a client's two
	// writes are read in one go and only the first has committed.
	c.replies <- first
	c.replies <- second
	go c.writeLoop()
	defer c.close()

	_ = client.SetReadDeadline(time.Now().Add(10 * time.Second))
	frame, err := proto.ReadFrame(client, nil, 1<<20)
	if err != nil {
		t.Fatalf("first reply not sent while the second waits for its commit: %v", err)
	}
	var hdr proto.ReplyHeader
	hdr.Decode(proto.NewDecoder(frame))
	if hdr.Xid != 1 {
		t.Fatalf("got xid %d first, want 1", hdr.Xid)
	}
	close(second.done)
	if frame, err = proto.ReadFrame(client, nil, 1<<20); err != nil {
		t.Fatalf("second reply: %v", err)
	}
	hdr.Decode(proto.NewDecoder(frame))
	if hdr.Xid != 2 {
		t.Fatalf("got xid %d second, want 2", hdr.Xid)
	}
}
