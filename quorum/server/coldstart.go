package server

import (
	"slices"
	"time"

	"go.etcd.io/raft/v3"
)

// coldStart shortens the first election of an ensemble whose members start
// together. Nobody has a leader then, and raft waits a randomized election
// timeout (10 to 20 raft ticks: 2 to 4 s with tickTime 2000) before any
// member campaigns; then the preferred member waits another election
// timeout to be handed the leadership. Instead, the member first in
// campaign order (the preferred member, else the lowest id) asks for
// pre-votes every other raft tick until a leader is known, for a bounded
// window after its start.
//
// Safety is raft's: a pre-vote changes no term and wins only with a
// quorum whose logs are no newer and who have no leader (CheckQuorum makes
// members that hear from a leader ignore it). A member restarting into a
// running ensemble therefore disturbs nobody: it hears the leader's
// heartbeat within a tick and the window closes.
type coldStart struct {
	until time.Time // end of the window; zero when closed
	next  time.Time // earliest next pre-vote
}

// coldStartWindow bounds the early campaigns, in election timeouts; after
// it the usual timers alone decide.
const coldStartWindow = 5

// openColdStart opens the window if this member campaigns first.
func (r *replica) openColdStart(now time.Time) {
	ids := r.rn.Status().Config.Voters.IDs()
	if len(ids) < 2 {
		return
	}
	if _, voter := ids[r.id]; !voter {
		return
	}
	order := make([]uint64, 0, len(ids))
	for id := range ids {
		order = append(order, id)
	}
	slices.Sort(order)
	r.campaignOrder(order)
	if order[0] != r.id {
		return
	}
	r.cold.until = now.Add(coldStartWindow * r.electionTimeout)
}

// coldStartCampaign runs on the raft goroutine every tick.
func (r *replica) coldStartCampaign(now time.Time) {
	cs := &r.cold
	if cs.until.IsZero() {
		return
	}
	if r.role.lead != raft.None || now.After(cs.until) {
		cs.until = time.Time{}
		return
	}
	if now.Before(cs.next) {
		return
	}
	cs.next = now.Add(2 * r.tick)
	// A candidate (pre-vote won, vote under way) is left alone: campaigning
	// again would restart its election from the pre-vote.
	if st := r.rn.BasicStatus().RaftState; st == raft.StateFollower || st == raft.StatePreCandidate {
		_ = r.rn.Campaign()
	}
}
