package server

import (
	"sort"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
)

// Liveness of the leader as this member sees it: when to stop serving
// clients because the leader is gone or silent, and when to campaign at
// once because its process died. Runs on the raft goroutine.

// heardLeader notes a message from the leader; a member that had stopped
// serving because the leader fell silent serves again.
func (r *replica) heardLeader() {
	r.lastLeaderMsg = time.Now()
	if r.silent {
		r.silent = false
		r.lg.Info("hearing from the leader again", zap.Uint64("leader", r.role.lead))
		r.sm.leaderHeard()
	}
}

// checkLeaderSilence stops a follower or observer from serving once its
// leader has been silent for two election timeouts.
func (r *replica) checkLeaderSilence(now time.Time) {
	if r.send == nil || r.role.state == raft.StateLeader || r.silent {
		return
	}
	if r.role.lead == raft.None {
		if !r.leaderlessSince.IsZero() && now.Sub(r.leaderlessSince) > r.electionTimeout {
			r.silent = true
			r.lg.Warn("no leader elected; no longer serving clients", zap.Duration("leaderless_for", now.Sub(r.leaderlessSince)))
			r.sm.leaderGone()
		}
		return
	}
	if now.Sub(r.lastLeaderMsg) > 2*r.electionTimeout {
		r.silent = true
		r.lg.Warn("leader silent; no longer serving clients", zap.Uint64("leader", r.role.lead),
			zap.Duration("silent_for", now.Sub(r.lastLeaderMsg)))
		r.sm.leaderGone()
	}
}

// leaderLost is called (on the raft goroutine) when the inbound connection
// from peer dropped with an EOF or reset: its process most likely died. If
// peer was our leader, the surviving voters campaign at once instead of
// waiting out the election timeout, in order of id, a few ticks apart, so
// that one candidate is usually alone and wins in one round trip. The
// campaign is marked as a leadership transfer, so voters grant it even
// though they heard from the old leader a moment ago; that is safe because
// every voter's vote still requires an up-to-date log.
func (r *replica) leaderLost(peer uint64) {
	if r.role.lead != peer || r.role.state != raft.StateFollower {
		return
	}
	st := r.rn.Status()
	voters := st.Config.Voters.IDs()
	if _, ok := voters[r.id]; !ok {
		return // learners never campaign
	}
	var rest []uint64
	for id := range voters {
		if id != peer {
			rest = append(rest, id)
		}
	}
	sort.Slice(rest, func(i, j int) bool { return rest[i] < rest[j] })
	r.campaignOrder(rest)
	rank := sort.Search(len(rest), func(i int) bool { return rest[i] >= r.id })
	term := st.GetTerm()
	campaign := func() {
		// Only if nothing happened meanwhile: same term, leader still gone.
		cur := r.rn.BasicStatus()
		if cur.GetTerm() != term || (cur.Lead != peer && cur.Lead != raft.None) || cur.RaftState != raft.StateFollower {
			return
		}
		r.lg.Info("leader's connection dropped; campaigning at once", zap.Uint64("old_leader", peer), zap.Int("rank", rank))
		typ := raftpb.MessageType_MsgTimeoutNow
		_ = r.rn.Step(&raftpb.Message{Type: &typ, From: u64(peer), To: u64(r.id), Term: u64(term)})
	}
	if rank == 0 {
		campaign()
		return
	}
	// Later ranks wait long enough for the first candidate's round trip.
	delay := time.Duration(rank) * 3 * r.tick
	time.AfterFunc(delay, func() { r.tell(campaign) })
}
