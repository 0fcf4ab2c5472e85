package server

import (
	"errors"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/zkfc-project/zkfc/quorum/config"
)

// onRaft runs f on member m's raft goroutine and waits for it.
func onRaft(t *testing.T, m *testServer, f func(r *replica)) {
	t.Helper()
	done := make(chan struct{})
	select {
	case m.srv.rep.ctlC <- func() { f(m.srv.rep); close(done) }:
	case <-time.After(10 * time.Second):
		t.Fatal("raft goroutine busy for 10 s")
	}
	<-done
}

// loseNext makes member m lose its next outgoing message of type typ, as
// a link to a leader that just died would; the channel closes once lost.
// Proposals and syncs waiting on that member get a proposal timeout far
// beyond the test, so only the recovery under test can complete them.
func loseNext(t *testing.T, m *testServer, typ raftpb.MessageType) <-chan struct{} {
	lost := make(chan struct{})
	onRaft(t, m, func(r *replica) {
		r.proposalTimeout = time.Hour
		r.loseOut = func(msg *raftpb.Message) bool {
			if msg.GetType() != typ {
				return false
			}
			r.loseOut = nil
			close(lost)
			return true
		}
	})
	return lost
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
	e := startEnsembleWith(t, 3, longSessions)
	f := aFollower(t, e)
	c, _ := connect(t, f.addr, 30*time.Second)
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

// A write forwarded to a leader that lost it is failed with a connection
// loss once a later leader's term is applied (plus an election timeout of
// grace), instead of holding its session until the proposal timeout. The
// write did not happen, and the session goes on after reconnecting.
func TestLostProposalFailsOnceANewTermIsApplied(t *testing.T) {
	e := startEnsembleWith(t, 3, longSessions)
	f := aFollower(t, e)
	c, _ := connect(t, f.addr, 30*time.Second)
	lost := loseNext(t, f, raftpb.MessageType_MsgProp)
	res := make(chan error, 1)
	go func() {
		_, err := c.Create("/lost", nil, 0, zk.WorldACL(zk.PermAll))
		res <- err
	}()
	select {
	case <-lost:
	case <-time.After(10 * time.Second):
		t.Fatal("the create was never forwarded")
	}
	// A new term: the leader hands over to another member.
	old := e.leader()
	var to uint64
	for i := range e.members {
		if i != old {
			to = uint64(i + 1)
		}
	}
	onRaft(t, e.members[old], func(r *replica) { r.rn.TransferLeader(to) })
	var err error
	select {
	case err = <-res:
	case <-time.After(15 * time.Second):
		t.Fatal("the lost create still waits 15 s after the leader changed")
	}
	// go-zookeeper names ZooKeeper's ConnectionLoss reply (-4) "unknown
	// error: -4"; a connection it saw closing first is ErrConnectionClosed.
	if !errors.Is(err, zk.ErrConnectionClosed) && (err == nil || err.Error() != "unknown error: -4") {
		t.Fatalf("lost create: got %v, want a connection loss", err)
	}
	// The session survives; the create never happened.
	err = within(t, 15*time.Second, "exists after reconnecting", func() error {
		for {
			ok, _, err := c.Exists("/lost")
			if err == nil {
				if ok {
					return errors.New("/lost exists: the lost create was applied")
				}
				return nil
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}
