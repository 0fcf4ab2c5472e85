package server

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkfc-project/zkfc/quorum/proto"
	"github.com/zkfc-project/zkfc/quorum/tree"
)

// overloaded is a server whose raft goroutine is held and whose proposal
// queue is full, as when the log falls far behind; release lets it go on.
type overloaded struct {
	*testServer
	release func()
}

// overload holds ts's raft goroutine and fills its proposal queue with
// writes that change nothing (setData on a missing znode).
func overload(t *testing.T, ts *testServer) *overloaded {
	t.Helper()
	r := ts.srv.rep
	held, release := make(chan struct{}), make(chan struct{})
	go r.call(func() { close(held); <-release }, 10*time.Second, time.Minute)
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("raft goroutine busy for 10 s")
	}
	filler := &tree.Entry{Op: proto.OpSetData, Req: &proto.SetDataRequest{Path: "/filler", Version: -1}}
	for n := 0; n < cap(r.proposeC); n++ {
		r.proposeC <- &proposal{data: encodeProposal(filler), done: func(int64, tree.Result, error) {}}
	}
	var once bool
	o := &overloaded{testServer: ts, release: func() {
		if !once {
			once = true
			close(release)
		}
	}}
	t.Cleanup(o.release)
	return o
}

// shortQueueWait makes writes give up on a full queue after 200 ms.
func shortQueueWait(s *Server) { s.rep.queueWait = 200 * time.Millisecond }

// A client's write that finds the proposal queue full for queueWait gets
// a connection loss, as from an overloaded ZooKeeper, instead of holding
// its connection for as long as the log is stuck. It was never proposed:
// once the log goes on, it is not in the tree, and the server serves.
func TestWriteRefusedWhenTheProposalQueueStaysFull(t *testing.T) {
	ts := startServerWith(t, testConfig(t, t.TempDir()), shortQueueWait)
	nc, err := rawSession(t, ts.addr, 0)
	if err != nil {
		t.Fatal(err)
	}
	o := overload(t, ts)
	h := proto.RequestHeader{Xid: 1, Type: proto.OpCreate}
	req := &proto.CreateRequest{Path: "/refused", ACL: proto.OpenACL}
	if _, err := nc.Write(proto.AppendFrame(nil, &h, req)); err != nil {
		t.Fatal(err)
	}
	// Far beyond queueWait, far below the 8 s the read deadline allows.
	_ = nc.SetReadDeadline(time.Now().Add(8 * time.Second))
	rh, _ := readReply(t, nc, "no answer to a write on a full proposal queue")
	if rh.Xid != 1 || rh.Err != proto.ErrConnectionLoss {
		t.Fatalf("reply %+v to a write on a full queue, want xid 1 with a connection loss", rh)
	}
	if _, err := proto.ReadFrame(nc, nil, 1<<20); err == nil {
		t.Fatal("the connection stayed open after a connection-loss reply")
	}
	o.release()
	c2, _ := connect(t, ts.addr, 10*time.Second)
	if _, err := c2.Create("/after", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("write after the log went on: %v", err)
	}
	if ok, _, err := c2.Exists("/refused"); err != nil || ok {
		t.Fatalf("/refused exists: %v, %v; a refused write must never reach the log", ok, err)
	}
}

// The server's own proposals (a new client's session, session expiry,
// container reaping) wait for room in a full queue no longer than a
// client's write does: a client connecting meanwhile is turned away with
// its connection closed, and propose's callback learns of the failure.
func TestServerProposalsGiveUpOnAFullQueue(t *testing.T) {
	ts := startServerWith(t, testConfig(t, t.TempDir()), shortQueueWait)
	o := overload(t, ts)

	failed := make(chan error, 1)
	e := &tree.Entry{Op: proto.OpDeleteContainer, Req: &proto.PathRequest{Path: "/none"}}
	if err := within(t, 10*time.Second, "propose on a full queue", func() error {
		ts.srv.propose(e, func(_ int64, _ tree.Result, err error) { failed <- err })
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-failed:
		if err != errOverloaded {
			t.Fatalf("propose on a full queue ended with %v, want errOverloaded", err)
		}
	default:
		t.Fatal("propose returned without telling its callback the proposal failed")
	}

	nc, err := net.DialTimeout("tcp", ts.addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	req := proto.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16)}
	if _, err := nc.Write(proto.AppendFrame(nil, &req)); err != nil {
		t.Fatal(err)
	}
	// The handshake's bound is 2 s here; a connection held open past 8 s
	// is a handshake stuck on the queue.
	_ = nc.SetReadDeadline(time.Now().Add(8 * time.Second))
	_, err = proto.ReadFrame(nc, nil, 1<<20)
	var ne net.Error
	if err == nil {
		t.Fatal("a session was created although its proposal could not be queued")
	} else if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("a new session's handshake still waits on the full queue: %v", err)
	}
	o.release()
	c, _ := connect(t, ts.addr, 10*time.Second)
	if _, err := c.Create("/after", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("write after the log went on: %v", err)
	}
}
