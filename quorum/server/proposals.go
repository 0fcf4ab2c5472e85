package server

// Proposals and syncs on their way through the log: how a client's write
// waits for its commit (its entry's header and term stamp: logentry.go),
// and what happens to it when a leader change or a lost message leaves
// its fate open — proposed again, failed with a connection loss, or
// expired. Runs on the raft goroutine unless noted.

import (
	"cmp"
	"encoding/binary"
	"errors"
	"slices"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/quorum/proto"
	"github.com/zkfc-project/zkfc/quorum/tree"
)

// errDropped is given to a proposal whose fate this member cannot learn
// (raft refused it, the leader changed under it, or the member is shutting
// down). The client's connection is closed, as ZooKeeper does when it cannot
// tell whether a request will commit.
var errDropped = errors.New("proposal dropped")

// proposal is a transaction waiting for its commit. done runs on the
// replica goroutine after the entry is applied (or dropped) and must not
// block.
type proposal struct {
	id   uint64
	data []byte
	done func(zxid int64, res tree.Result, err error)
	// applied, if set, runs on the replica goroutine right after the
	// entry was applied, before the next entry is, with the tree locked
	// for writing; it must not block or take the tree lock.
	applied func()
	expires time.Time
	// term is the raft term this member last handed the proposal to raft
	// in, stamped into its header; 0 while never handed over.
	term uint64
	// conf, for a reconfig, is the membership it asks for: the proposal
	// goes to raft as a configuration change carrying the entry.
	conf []member
}

// readWaiter is a sync waiting for a ReadIndex answer and then for this
// member to apply up to that index.
type readWaiter struct {
	ctx     uint64
	index   uint64 // 0 until raft answered
	done    func(ok bool)
	expires time.Time
	sent    time.Time // last handed to raft; zero while leaderless
}

// admit takes a proposal off the queue: it goes into the next batch for
// raft, or is held.
func (r *replica) admit(p *proposal) {
	r.nextID++
	p.id = r.id<<48 | r.nextID
	p.expires = time.Now().Add(r.proposalTimeout)
	if r.holding() || r.stale() || len(r.held) > 0 {
		// Mid-election, handover, or a new term not yet applied here:
		// hold the proposal (behind any held before it) until
		// resolveStale, so a leader change costs clients latency rather
		// than errors or reordering.
		r.held = append(r.held, p)
		return
	}
	r.batch = append(r.batch, p)
}

// submitBatch hands the proposals collected by admit to raft in one
// MsgProp: raft appends (or forwards) them in one step; a step per
// proposal costs a few percent of a member's CPU under load.
func (r *replica) submitBatch() {
	if len(r.batch) == 0 {
		return
	}
	// Runs of writes go as one message each; a reconfig between them as
	// its own configuration change, so the member's proposals keep their
	// order.
	for run := r.batch; len(run) > 0; {
		if run[0].conf != nil {
			if !r.submitConf(run[0]) {
				// Held, and what came after it with it, in order.
				r.held = append(r.held, run...)
				break
			}
			run = run[1:]
			continue
		}
		n := 1
		for n < len(run) && run[n].conf == nil {
			n++
		}
		r.submitWrites(run[:n])
		run = run[n:]
	}
	clear(r.batch)
	r.batch = r.batch[:0]
}

func (r *replica) submitWrites(ps []*proposal) {
	ents := make([]*raftpb.Entry, len(ps))
	for i, p := range ps {
		p.stamp(r.term)
		ents[i] = &raftpb.Entry{Data: p.data}
	}
	err := r.rn.Step(&raftpb.Message{Type: raftpb.MessageType_MsgProp.Enum(), From: u64(r.id), Entries: ents})
	for _, p := range ps {
		if err != nil {
			p.done(0, tree.Result{}, errDropped)
			continue
		}
		r.pending[p.id] = p
	}
}

// submitConf proposes a reconfig as a joint configuration change whose
// context is the stamped entry. A change still in progress (joint, or one
// of this member's own not yet applied) fails it with ReconfigInProgress.
// It reports false when the answer is not decided yet (confUndecided), and
// the caller holds p.
func (r *replica) submitConf(p *proposal) bool {
	if r.joint.Load() || r.ownConfPending() {
		if r.confUndecided(proto.ErrReconfigInProgress) {
			return false
		}
		p.done(0, tree.Result{Err: proto.ErrReconfigInProgress}, nil)
		return true
	}
	if code := r.confAcceptable(p.conf); code != proto.ErrOK {
		if r.confUndecided(code) {
			return false
		}
		p.done(0, tree.Result{Err: code}, nil)
		return true
	}
	p.stamp(r.term)
	cc := confChange(r.confSt, p.conf)
	cc.Context = p.data
	if err := r.rn.ProposeConfChange(cc); err != nil {
		p.done(0, tree.Result{}, errDropped)
		return true
	}
	r.pending[p.id] = p
	return true
}

func (r *replica) ownConfPending() bool {
	for _, p := range r.pending {
		if p.conf != nil {
			return true
		}
	}
	return false
}

// failOvertaken fails the pending proposals that a later proposal of this
// member's overtook (see lastOwn): their client gets a connection loss now
// instead of at proposalTimeout, and they are never proposed again.
func (r *replica) failOvertaken() {
	for id, p := range r.pending {
		if id < r.lastOwn {
			delete(r.pending, id)
			p.done(0, tree.Result{}, errDropped)
		}
	}
}

// stale reports whether this member has yet to apply an entry of the
// current term (the new leader's first): until then it cannot tell which
// of its proposals the last leader change lost, so new ones wait behind
// them (resolveStale), in order.
func (r *replica) stale() bool { return r.appliedTerm < r.term }

// resolveStale proposes again, first and in their original order, the
// proposals a leader change lost, then what was held meanwhile. Raft
// appends a proposal in the term it reaches the leader in and log terms
// never decrease, so once an entry of a later term is applied here, a
// proposal stamped with an earlier term that is still pending can only
// have been lost (forwarded to a leader that died, dropped by one handing
// over, or appended by a deposed one and overwritten), or survive as a
// late copy, which apply skips. Left to its timeout, it would hold every
// later request and ping of its session for proposalTimeout after a
// leader change, long enough to expire a short session; proposed again,
// it costs the client one round trip.
func (r *replica) resolveStale() {
	if r.holding() || r.stale() {
		return
	}
	r.failOvertaken()
	var lost []*proposal
	for id, p := range r.pending {
		if p.term < r.appliedTerm {
			delete(r.pending, id)
			// A reconfig too: should its first copy commit after all,
			// both ask for the same membership, and the second changes
			// nothing but the version.
			lost = append(lost, p)
		}
	}
	if len(lost) > 0 {
		slices.SortFunc(lost, func(a, b *proposal) int { return cmp.Compare(a.id, b.id) })
		r.lg.Info("proposing again the writes the last leader change lost", zap.Int("writes", len(lost)), zap.Uint64("term", r.term))
		r.held = append(lost, r.held...)
	}
	r.batch = append(r.batch, r.held...)
	clear(r.held)
	r.held = r.held[:0]
	r.submitBatch()
}

// expire fails proposals and syncs that waited too long: after a leader
// change a forwarded proposal may be lost without a trace.
func (r *replica) expire(now time.Time) {
	if r.confReply != nil && now.After(r.confReply.expires) {
		// Committed, still joint (the leader is gone): the change is
		// made, and raft completes it under the next leader.
		r.confReply.done()
		r.confReply = nil
	}
	kept := r.held[:0]
	for _, p := range r.held {
		if now.After(p.expires) {
			p.done(0, tree.Result{}, errDropped)
			continue
		}
		kept = append(kept, p)
	}
	r.held = kept
	for id, p := range r.pending {
		if now.After(p.expires) {
			delete(r.pending, id)
			p.done(0, tree.Result{}, errDropped)
		}
	}
	r.failOvertaken()
	keptReads := r.reads[:0]
	for _, w := range r.reads {
		if now.After(w.expires) {
			w.done(false)
			continue
		}
		keptReads = append(keptReads, w)
	}
	r.reads = keptReads
}

func (r *replica) failPending(err error) {
	if r.confReply != nil {
		r.confReply.done()
		r.confReply = nil
	}
	for _, p := range r.held {
		p.done(0, tree.Result{}, err)
	}
	r.held = nil
	for id, p := range r.pending {
		p.done(0, tree.Result{}, err)
		delete(r.pending, id)
	}
	for _, w := range r.reads {
		w.done(false)
	}
	r.reads = nil
	for {
		select {
		case p := <-r.proposeC:
			p.done(0, tree.Result{}, err)
		default:
			return
		}
	}
}

// readIndex starts a linearizable sync: done(true) runs once this member
// has applied every entry committed when the request reached the leader.
// Called on the raft goroutine.
func (r *replica) readIndex(done func(ok bool)) {
	r.readSeq++
	now := time.Now()
	w := &readWaiter{ctx: r.id<<48 | r.readSeq, done: done, expires: now.Add(r.proposalTimeout)}
	r.reads = append(r.reads, w)
	if r.role.lead != raft.None {
		r.sendRead(w, now)
	}
}

// sendRead hands a sync's ReadIndex request to raft (again). Raft drops
// the request while there is no leader, and a follower's request
// forwarded to a leader that died is lost; a sync that waited for it would
// stall its session, pings included, until it expired, and a client that
// syncs before releasing a lock would hold the lock that long. Asking
// again is always safe: a ReadIndex changes nothing, the leader ignores a
// context it already holds, and the first answer wins.
func (r *replica) sendRead(w *readWaiter, now time.Time) {
	w.sent = now
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], w.ctx)
	r.rn.ReadIndex(b[:])
}

// resendReads asks again for the syncs raft has not answered: all of them
// when a leader has just become known (force), else those unanswered for
// an election timeout.
func (r *replica) resendReads(now time.Time, force bool) {
	if r.role.lead == raft.None {
		return
	}
	for _, w := range r.reads {
		if w.index == 0 && (force || now.Sub(w.sent) >= r.electionTimeout) {
			r.sendRead(w, now)
		}
	}
}

func (r *replica) completeReads() {
	kept := r.reads[:0]
	for _, w := range r.reads {
		if w.index != 0 && r.appliedIndex >= w.index {
			w.done(true)
			continue
		}
		kept = append(kept, w)
	}
	r.reads = kept
}
