package server

import (
	"errors"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
)

// What other goroutines call: each hands work to the raft goroutine over
// the replica's own channels, and every wait for it is bounded.

// errOverloaded is given to a write that found no room in the proposal
// queue for queueWait.
var errOverloaded = errors.New("the log is overloaded: proposal queue full")

// propose queues a write for the log; p.done runs on the raft goroutine
// once the entry is applied or dropped. If the queue has no room for
// queueWait, or cancel closes first, the write is not queued, p.done is
// not called, and the error says why.
func (r *replica) propose(p *proposal, cancel <-chan struct{}) error {
	select {
	case r.proposeC <- p:
		return nil
	default:
	}
	t := time.NewTimer(r.queueWait)
	defer t.Stop()
	select {
	case r.proposeC <- p:
		return nil
	case <-cancel:
		return errDropped
	case <-t.C:
		r.lg.Warn("write refused: the proposal queue stayed full", zap.Duration("waited", r.queueWait))
		return errOverloaded
	}
}

// sync starts a linearizable sync (see readIndex) unless cancel is closed
// first; it reports whether it did.
func (r *replica) sync(done func(ok bool), cancel <-chan struct{}) bool {
	select {
	case r.ctlC <- func() { r.readIndex(done) }:
		return true
	case <-cancel:
		return false
	}
}

// receive hands a message from a peer to raft.
func (r *replica) receive(m *raftpb.Message) {
	select {
	case r.recvC <- m:
	case <-time.After(time.Second):
		// The raft loop is stuck (a slow disk); dropping is safe, raft
		// retransmits.
	}
}

// tell runs f on the raft goroutine unless its queue is full: for reports
// that raft can do without.
func (r *replica) tell(f func()) {
	select {
	case r.ctlC <- f:
	default:
	}
}

func (r *replica) reportUnreachable(peer uint64) {
	r.tell(func() { r.rn.ReportUnreachable(peer) })
}

func (r *replica) reportSnapshot(peer uint64, ok bool) {
	st := raft.SnapshotFinish
	if !ok {
		st = raft.SnapshotFailure
	}
	r.tell(func() { r.rn.ReportSnapshot(peer, st) })
}

// peerLost reports that the inbound connection from peer dropped with an
// EOF or reset (see leaderLost).
func (r *replica) peerLost(peer uint64) {
	r.tell(func() { r.leaderLost(peer) })
}

// call runs f on the raft goroutine and waits for it: up to queueWait for
// the loop to take f, then up to runWait for f to finish. It reports
// whether f was taken and whether it finished.
func (r *replica) call(f func(), queueWait, runWait time.Duration) (taken, finished bool) {
	done := make(chan struct{})
	select {
	case r.ctlC <- func() { f(); close(done) }:
	case <-time.After(queueWait):
		return false, false
	}
	select {
	case <-done:
		return true, true
	case <-time.After(runWait):
		return true, false
	}
}

type progress struct{ learners, syncedFollowers, syncedObservers, pending int }

// progress summarises, on the leader, how its followers keep up: a
// follower is synced when it has every entry the leader has committed.
// Zero if the raft loop does not answer within a second or two.
func (r *replica) progress() progress {
	var p progress
	f := func() {
		st := r.rn.Status()
		for id, pr := range st.Progress {
			if id == r.id {
				continue
			}
			p.learners++
			synced := pr.Match >= st.GetCommit() && pr.RecentActive
			switch {
			case pr.IsLearner && synced:
				p.syncedObservers++
			case synced:
				p.syncedFollowers++
			}
		}
		p.pending = len(r.reads)
	}
	if _, ok := r.call(f, time.Second, time.Second); !ok {
		return progress{}
	}
	return p
}
