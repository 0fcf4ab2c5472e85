package server

import (
	"errors"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/quorum/tree"
)

// committed is one committed log entry on its way to the state machine:
// a client's write (entry set), or an entry only raft reads (a new
// leader's empty entry, a configuration change, a late copy, an entry
// that does not decode), which only moves the zxid on.
type committed struct {
	index uint64
	entry *tree.Entry // zxid set; nil: nothing to apply
	// res is the outcome, set by applyBatch.
	res tree.Result
	// applied, if set, runs right after the entry was applied and before
	// the next one is, with the state locked (proposal.applied).
	applied func()
}

// deferredReply is a reconfig's answer held until the change completes.
type deferredReply struct {
	expires time.Time
	done    func()
}

// apply hands committed entries to the state machine in log order and
// completes the proposals this member made.
func (r *replica) apply(ents []*raftpb.Entry) {
	if len(ents) == 0 {
		return
	}
	type own struct {
		p *proposal
		i int // in batch
	}
	var (
		batch    = make([]committed, 0, len(ents))
		done     []own
		lastTerm uint64
	)
	for _, e := range ents {
		if e.GetIndex() <= r.appliedIndex {
			continue
		}
		lastTerm = e.GetTerm()
		c := committed{index: e.GetIndex()}
		carried := e
		if e.GetType() != raftpb.EntryType_EntryNormal {
			// A reconfig's entry rides in its configuration change, which
			// raft applies first, whatever the entry's outcome.
			ctx := r.applyConfChange(e)
			if len(ctx) == 0 {
				batch = append(batch, c)
				continue
			}
			carried = &raftpb.Entry{Term: e.Term, Index: e.Index, Data: ctx}
		}
		{
			id, te, stamped, err := decodeEntry(carried)
			if errors.Is(err, errLateCopy) && e.GetType() != raftpb.EntryType_EntryNormal {
				// Raft applied the change: the tree must follow it.
				te, err = decodeStamped(carried)
			}
			switch {
			case errors.Is(err, errLateCopy):
				r.lg.Debug("late copy of a write proposed again skipped", zap.Uint64("index", e.GetIndex()),
					zap.Uint64("proposal", id), zap.Uint64("stamped_term", stamped), zap.Uint64("term", e.GetTerm()))
			case err != nil:
				// Every member decodes the same bytes, so skipping is
				// deterministic; it can only mean a bug or a version skew.
				r.lg.Error("undecodable log entry skipped", zap.Uint64("index", e.GetIndex()), zap.Int("bytes", len(e.Data)), zap.Error(err))
			case te != nil:
				c.entry = te
				if p := r.pending[id]; p != nil {
					r.lastOwn = max(r.lastOwn, id)
					delete(r.pending, id)
					c.applied = p.applied
					done = append(done, own{p, len(batch)})
				}
			}
		}
		batch = append(batch, c)
	}
	if len(batch) == 0 {
		return
	}
	r.sm.applyBatch(batch)
	r.appliedIndex = batch[len(batch)-1].index
	for _, o := range done {
		c := &batch[o.i]
		if o.p.conf != nil && r.joint.Load() {
			// A reconfig is answered once raft has left the joint
			// configuration, so the next one is not refused as in
			// progress.
			p, zxid, res := o.p, c.entry.Zxid, c.res
			r.confReply = &deferredReply{expires: time.Now().Add(r.proposalTimeout), done: func() { p.done(zxid, res, nil) }}
			continue
		}
		o.p.done(c.entry.Zxid, c.res, nil)
	}
	if r.confReply != nil && !r.joint.Load() {
		r.confReply.done()
		r.confReply = nil
	}
	if lastTerm > r.appliedTerm {
		r.appliedTerm = lastTerm
		r.resolveStale()
	}
}
