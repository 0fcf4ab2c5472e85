package server

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/zkfc-project/zkfc/quorum/config"
	"github.com/zkfc-project/zkfc/quorum/proto"
	"github.com/zkfc-project/zkfc/quorum/tree"
)

// onRaft runs f on member m's raft goroutine and waits for it.
func onRaft(t *testing.T, m *testServer, f func(r *replica)) {
	t.Helper()
	onReplica(t, m.srv.rep, func() { f(m.srv.rep) })
}

// onReplica runs f on r's raft goroutine and waits for it, bounded.
func onReplica(t *testing.T, r *replica, f func()) {
	t.Helper()
	if _, ok := r.call(f, 10*time.Second, time.Minute); !ok {
		t.Fatal("raft goroutine busy for 10 s, or f still running after a minute")
	}
}

// loseNext makes member m lose its next outgoing message of type typ, as
// a link to a leader that just died would; the channel delivers the lost
// message. Proposals and syncs waiting on that member get a proposal
// timeout far beyond the test, so only the recovery under test can
// complete them.
func loseNext(t *testing.T, m *testServer, typ raftpb.MessageType) <-chan *raftpb.Message {
	lost := make(chan *raftpb.Message, 1)
	onRaft(t, m, func(r *replica) {
		r.proposalTimeout = time.Hour
		r.loseOut = func(msg *raftpb.Message) bool {
			if msg.GetType() != typ {
				return false
			}
			r.loseOut = nil
			lost <- msg
			return true
		}
	})
	return lost
}

// followerSession starts a 3-member ensemble with long sessions and
// connects a client to a follower.
func followerSession(t *testing.T) (*ensemble, *testServer, *zk.Conn) {
	t.Helper()
	e := startEnsembleWith(t, 3, longSessions)
	f := aFollower(t, e)
	c, _ := connect(t, f.addr, 30*time.Second)
	return e, f, c
}

// longSessions lets sessions last 30 s (the test config's tickTime caps them
// at 4 s), so that the client's own read timeout, two thirds of it, never
// ends a wait before the server under test does.
func longSessions(cfg *config.Config) { cfg.MaxSessionTimeout = 30 * time.Second }

func aFollower(t *testing.T, e *ensemble) *testServer {
	t.Helper()
	for i, m := range e.members {
		if i != e.leader() {
			return m
		}
	}
	t.Fatal("no follower")
	return nil
}

// within runs f in the background and fails the test if it has not
// returned after bound: a bound on a hang, far above the expected time.
func within(t *testing.T, bound time.Duration, what string, f func() error) error {
	t.Helper()
	res := make(chan error, 1)
	go func() { res <- f() }()
	select {
	case err := <-res:
		return err
	case <-time.After(bound):
		t.Fatalf("%s still waiting after %v", what, bound)
		return nil
	}
}

// A sync whose ReadIndex request never reached the leader (lost on the
// way, or dropped by raft while there was no leader) is asked again; it
// used to wait out the proposal timeout, holding every later request and
// ping of its session (the kill-quorum-leader drill).
func TestSyncAskedAgainAfterLostReadIndex(t *testing.T) {
	_, f, c := followerSession(t)
	lost := loseNext(t, f, raftpb.MessageType_MsgReadIndex)
	err := within(t, 15*time.Second, "sync after its ReadIndex was lost", func() error {
		_, err := c.Sync("/")
		return err
	})
	select {
	case <-lost:
	default:
		t.Fatal("the ReadIndex request was not lost: the test proves nothing")
	}
	if err != nil {
		t.Fatalf("sync after its ReadIndex was lost: %v", err)
	}
}

// transferLeadership makes the current leader hand over to another member
// (a new raft term) and returns the old leader's index.
func transferLeadership(t *testing.T, e *ensemble) int {
	t.Helper()
	old := e.leader()
	to := uint64((old+1)%len(e.members) + 1)
	onRaft(t, e.members[old], func(r *replica) { r.rn.TransferLeader(to) })
	return old
}

// A write forwarded to a leader that lost it is proposed again once a
// later leader's term is applied: the client gets its answer, the write is
// applied once, and the session goes on. It used to wait out the proposal
// timeout with every later request of its session behind it.
func TestLostProposalProposedAgainAfterLeaderChange(t *testing.T) {
	e, f, c := followerSession(t)
	lost := loseNext(t, f, raftpb.MessageType_MsgProp)
	res := make(chan error, 1)
	go func() {
		_, err := c.Create("/lost", nil, zk.FlagSequence, zk.WorldACL(zk.PermAll))
		res <- err
	}()
	select {
	case <-lost:
	case <-time.After(10 * time.Second):
		t.Fatal("the create was never forwarded")
	}
	transferLeadership(t, e)
	select {
	case err := <-res:
		if err != nil {
			t.Fatalf("create lost with its leader, then proposed again: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the lost create still waits 15 s after the leader changed")
	}
	kids, _, err := c.Children("/")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, k := range kids {
		if len(k) > 4 && k[:4] == "lost" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d sequential znodes from one create, want 1: %v", n, kids)
	}
}

// A late copy of a write (one its proposer already proposed again, which
// a deposed leader forwards after all) reaches the log in a later term
// than it was stamped with; every member skips it, so the write applies
// once.
func TestLateCopyOfAWriteIsSkipped(t *testing.T) {
	e, f, c := followerSession(t)
	if _, err := c.Create("/x", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	// Lose the setData's proposal on its way, keeping a copy of it.
	lost := loseNext(t, f, raftpb.MessageType_MsgProp)
	res := make(chan error, 1)
	go func() {
		_, err := c.Set("/x", []byte("once"), -1)
		res <- err
	}()
	copyOf := <-lost
	transferLeadership(t, e)
	if err := within(t, 15*time.Second, "set after the leader changed", func() error { return <-res }); err != nil {
		t.Fatal(err)
	}
	// Now the late copy arrives at the new leader, which appends it.
	lead := e.leader()
	if lead < 0 {
		t.Fatal("no leader")
	}
	onRaft(t, e.members[lead], func(r *replica) { _ = r.rn.Step(copyOf) })
	// A write after it: once it is applied, so is the late copy.
	if _, err := c.Create("/after", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	for i, m := range e.members {
		mc, _ := connect(t, m.addr, 30*time.Second)
		if _, err := mc.Sync("/after"); err != nil {
			t.Fatal(err)
		}
		_, st, err := mc.Get("/x")
		if err != nil {
			t.Fatal(err)
		}
		if st.Version != 1 {
			t.Errorf("member %d: /x at version %d after one setData, want 1 (the late copy was applied)", i+1, st.Version)
		}
	}
}

// Entries written before the term stamp (an 8-byte header: the proposal id
// alone) still apply, so a log written by an earlier build replays.
func TestLegacyEntryApplies(t *testing.T) {
	m := startServer(t, testConfig(t, t.TempDir()))
	c, _ := connect(t, m.addr, 10*time.Second)
	e := &tree.Entry{Time: time.Now().UnixMilli(), Op: proto.OpCreate,
		Req: &proto.CreateRequest{Path: "/legacy", Data: []byte("old"), ACL: []proto.ACL{{Perms: proto.PermAll, ID: proto.Id{Scheme: "world", ID: "anyone"}}}}}
	data := e.AppendMarshal(make([]byte, legacyEntryHeader))
	binary.BigEndian.PutUint64(data, 42) // an id, stampedFlag clear
	onRaft(t, m, func(r *replica) {
		if err := r.rn.Propose(data); err != nil {
			t.Error(err)
		}
	})
	err := within(t, 10*time.Second, "the legacy entry", func() error {
		for {
			d, _, err := c.Get("/legacy")
			if err == nil {
				if string(d) != "old" {
					return fmt.Errorf("/legacy holds %q", d)
				}
				return nil
			}
			if err != zk.ErrNoNode {
				return err
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A write dropped on its way to a leader that goes on leading (a full
// queue, a broken peer connection) while a later write of the same member
// was applied cannot apply in its place any more: it fails with a
// connection loss at once, and is not proposed again at the next leader
// change, which would apply it after the later write (FIFO).
func TestOvertakenProposalFailsAndIsNotProposedAgain(t *testing.T) {
	e, f, c := followerSession(t)
	lost := loseNext(t, f, raftpb.MessageType_MsgProp)
	first := make(chan error, 1)
	go func() {
		_, err := c.Create("/first", nil, 0, zk.WorldACL(zk.PermAll))
		first <- err
	}()
	<-lost
	second := make(chan error, 1)
	go func() {
		_, err := c.Create("/second", nil, 0, zk.WorldACL(zk.PermAll))
		second <- err
	}()
	select {
	case err := <-first:
		if err == nil {
			t.Fatal("the dropped create succeeded")
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the dropped create still waits 15 s after a later write of its member applied")
	}
	<-second // its reply went with the closed connection; it was applied
	transferLeadership(t, e)
	mc, _ := connect(t, e.members[e.leader()].addr, 30*time.Second)
	if _, err := mc.Create("/after", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/first", "/second"} {
		ok, _, err := mc.Exists(p)
		if err != nil {
			t.Fatal(err)
		}
		if want := p == "/second"; ok != want {
			t.Errorf("%s exists: %v, want %v", p, ok, want)
		}
	}
}
