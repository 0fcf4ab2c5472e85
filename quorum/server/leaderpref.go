package server

import (
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	raftracker "go.etcd.io/raft/v3/tracker"
	"go.uber.org/zap"
)

// leaderPref hands the leadership to the configured preferred member
// (zoo.cfg preferredLeader) whenever another member leads and the
// preferred one is up, caught up and has been for an election timeout.
// In an active/standby pair with a witness, the witness then leads, and
// losing a data node's host (the likeliest failure: that is where the
// service runs) never also costs the ensemble an election, which would
// renew every session and delay the failover by the election time.
//
// The handover is raft's leadership transfer: the leader stops taking
// proposals, brings the preferred member up to date and tells it to
// campaign at once; it wins within a round trip. Proposals made here
// meanwhile are held, as during an election, not dropped.
type leaderPref struct {
	id           uint64 // the preferred member; 0: none
	since        time.Time
	nextTry      time.Time
	transferring bool
	// stashed are proposals other members forwarded during a handover:
	// raft would drop them without telling anyone (the proposer would wait
	// out its timeout); they are stepped again once a leader takes them.
	stashed []*raftpb.Message
}

// stash keeps a forwarded proposal that arrives mid-handover; it reports
// whether it did.
//
// The old leader also passes through a moment without a leader once the
// new one campaigns (it steps down on the higher term before it hears who
// won); raft drops forwarded proposals then too, so they are kept while
// this member holds its own (holding), up to a bound.
func (r *replica) stash(m *raftpb.Message) bool {
	if !r.holding() || m.GetType() != raftpb.MessageType_MsgProp || len(r.pref.stashed) >= maxStashed {
		return false
	}
	r.pref.stashed = append(r.pref.stashed, m)
	return true
}

// maxStashed bounds the forwarded proposals kept while leaderless; beyond
// it raft drops them and their proposers time out, as before.
const maxStashed = 4096

// releaseStashed steps the stashed proposals again: as leader raft appends
// them, as follower it forwards them to the new leader. None of them was
// appended anywhere before, so none can apply twice; one that reaches the
// log in a later term than its proposer stamped is a late copy, which
// apply skips while its proposer proposes it again (resolveStale).
func (r *replica) releaseStashed() {
	if r.pref.transferring || r.role.lead == raft.None || len(r.pref.stashed) == 0 {
		return
	}
	ms := r.pref.stashed
	r.pref.stashed = nil
	for _, m := range ms {
		r.step(m)
	}
}

// preferLeader runs on the raft goroutine every tick.
func (r *replica) preferLeader(now time.Time) {
	lp := &r.pref
	if lp.transferring && r.rn.BasicStatus().LeadTransferee == raft.None {
		// Done (we are a follower now: setRole released the held
		// proposals) or aborted after an election timeout: go on here.
		lp.transferring = false
		if r.role.lead != raft.None {
			r.resolveStale()
		}
	}
	r.releaseStashed()
	if lp.id == 0 || lp.id == r.id || r.role.state != raft.StateLeader || lp.transferring {
		lp.since = time.Time{}
		return
	}
	st := r.rn.Status()
	pr, ok := st.Progress[lp.id]
	// Replicating normally (not probing, not being sent a snapshot): raft
	// then catches it up on the last entries and hands over in a round trip.
	// (RecentActive is not part of this test: raft clears it at every
	// quorum check and sets it again on the next answer.)
	if _, voter := st.Config.Voters.IDs()[lp.id]; !voter || !ok || pr.State != raftracker.StateReplicate {
		lp.since = time.Time{}
		return
	}
	// A member just back from a restart or a partition proves itself for
	// an election timeout first, and a failed handover is not retried for
	// ten: a flaky preferred member must not make the leadership bounce.
	if lp.since.IsZero() {
		lp.since = now
	}
	if now.Sub(lp.since) < r.electionTimeout || now.Before(lp.nextTry) || !pr.RecentActive {
		return
	}
	r.lg.Info("handing leadership to the preferred member", zap.Uint64("preferred", lp.id), zap.Uint64("match", pr.Match), zap.Uint64("commit", st.GetCommit()))
	lp.transferring = true
	lp.nextTry = now.Add(10 * r.electionTimeout)
	r.rn.TransferLeader(lp.id)
}

// holding reports whether new proposals must wait: no leader, or the
// leadership is being handed over (raft drops proposals meanwhile).
func (r *replica) holding() bool {
	return r.role.lead == raft.None || r.pref.transferring
}

// campaignOrder puts the surviving voters in the order they campaign
// after the leader died: the preferred member first, then by id.
func (r *replica) campaignOrder(rest []uint64) {
	for i, id := range rest {
		if id == r.pref.id && i > 0 {
			copy(rest[1:i+1], rest[:i])
			rest[0] = id
			return
		}
	}
}
