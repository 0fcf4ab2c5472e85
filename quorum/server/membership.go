package server

import (
	"encoding/binary"
	"slices"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	rafttracker "go.etcd.io/raft/v3/tracker"
	"go.uber.org/zap"
	gproto "google.golang.org/protobuf/proto"

	"github.com/zkfc-project/zkfc/quorum/config"
	"github.com/zkfc-project/zkfc/quorum/proto"
	"github.com/zkfc-project/zkfc/quorum/tree"
)

// Membership repair: a member that lost its data directory is removed
// and added again by the leader, since raft never moves a follower's
// progress backwards. Runs on the raft goroutine.

type member struct {
	id      uint64
	learner bool
}

// clampHeartbeat keeps a heartbeat from advancing this member's commit
// index past what its log holds: a leader that remembers it further along
// (it lost its data directory) would make raft panic. The leader finds out
// from the rejected appends and re-adds the member.
func (r *replica) clampHeartbeat(m *raftpb.Message) {
	if last, _ := r.mem.LastIndex(); m.GetCommit() > last {
		st := r.rn.BasicStatus()
		if !r.warnedBehind {
			r.warnedBehind = true
			r.lg.Warn("the leader believes this member holds entries it does not have (data directory lost?); waiting to be re-added",
				zap.Uint64("leader_commit", m.GetCommit()), zap.Uint64("last_index", last))
		}
		m.Commit = u64(st.GetCommit())
	}
}

// memberLostData handles, on the leader, a member whose log is shorter than
// what it once acknowledged: it lost its data directory. Raft never moves a
// follower's progress backwards, so the member is removed from the
// configuration and, once that is applied, added again (ensureMembers) with
// fresh progress; it then catches up from entries or the snapshot.
func (r *replica) memberLostData(id, has, acked uint64) {
	if r.removing[id] || r.pendingConf != 0 {
		return
	}
	r.lg.Warn("member lost data it had acknowledged; removing and re-adding it so it can catch up",
		zap.Uint64("member", id), zap.Uint64("its_last_index", has), zap.Uint64("acknowledged", acked))
	cc := &raftpb.ConfChange{Type: raftpb.ConfChangeType_ConfChangeRemoveNode.Enum(), NodeId: u64(id)}
	if err := r.rn.ProposeConfChange(cc); err != nil {
		r.lg.Warn("propose member removal", zap.Error(err))
		return
	}
	r.removing[id] = true
	r.pendingConf = id
}

// ensureMembers, on the leader, adds back any configured member missing
// from the raft configuration (after memberLostData removed it, possibly
// under an earlier leader). One change at a time.
func (r *replica) ensureMembers() {
	if r.role.state != raft.StateLeader || r.pendingConf != 0 || r.confSt == nil {
		return
	}
	if r.joint.Load() {
		return
	}
	have := map[uint64]bool{}
	for _, id := range r.confSt.GetVoters() {
		have[id] = true
	}
	for _, id := range r.confSt.GetLearners() {
		have[id] = true
	}
	for _, m := range r.members {
		// A learner dropped after a reconfig removed it stays out.
		if have[m.id] || !r.sm.inEnsemble(m.id) {
			continue
		}
		typ := raftpb.ConfChangeType_ConfChangeAddNode
		if m.learner {
			typ = raftpb.ConfChangeType_ConfChangeAddLearnerNode
		}
		if err := r.rn.ProposeConfChange(&raftpb.ConfChange{Type: typ.Enum(), NodeId: u64(m.id)}); err != nil {
			return
		}
		r.lg.Info("re-adding member to the configuration", zap.Uint64("member", m.id), zap.Bool("observer", m.learner))
		r.pendingConf = m.id
		return
	}
}

// dropRemoved, on the leader, takes out of raft's configuration a learner
// that the membership no longer lists (a reconfig removed it; confChange
// left it a learner) once it has been one for removedGrace. It then stops
// serving (membershipFinal). One change at a time, never while joint.
func (r *replica) dropRemoved(now time.Time) {
	if r.role.state != raft.StateLeader || r.confSt == nil {
		clear(r.lingering)
		return
	}
	learners := r.confSt.GetLearners()
	for id := range r.lingering {
		if !slices.Contains(learners, id) {
			delete(r.lingering, id)
		}
	}
	for _, id := range learners {
		if id == r.id || r.sm.inEnsemble(id) {
			delete(r.lingering, id)
		} else if _, seen := r.lingering[id]; !seen {
			r.lingering[id] = now
		}
	}
	if r.joint.Load() || r.pendingConf != 0 || r.ownConfPending() {
		return
	}
	for id, since := range r.lingering {
		if now.Sub(since) < r.removedGrace() {
			continue
		}
		cc := &raftpb.ConfChange{Type: raftpb.ConfChangeType_ConfChangeRemoveNode.Enum(), NodeId: u64(id)}
		if err := r.rn.ProposeConfChange(cc); err != nil {
			return
		}
		r.lg.Info("dropping a member the membership no longer lists from the raft configuration", zap.Uint64("member", id),
			zap.Duration("non_voting_for", now.Sub(since)))
		r.pendingConf = id
		// Not to be re-added (ensureMembers).
		r.members = slices.DeleteFunc(slices.Clone(r.members), func(m member) bool { return m.id == id })
		return
	}
}

// removedGrace is how long a removed member stays a learner.
func (r *replica) removedGrace() time.Duration { return 2 * r.electionTimeout }

// applyConfChange applies a committed configuration change to raft and
// returns the entry a reconfig carries in its context (nil for other
// changes).
func (r *replica) applyConfChange(e *raftpb.Entry) []byte {
	switch e.GetType() {
	case raftpb.EntryType_EntryConfChange:
		var cc raftpb.ConfChange
		if err := gproto.Unmarshal(e.Data, &cc); err == nil {
			r.confSt = r.rn.ApplyConfChange(&cc)
			if cc.GetNodeId() == r.pendingConf {
				r.pendingConf = 0
			}
			if cc.GetType() != raftpb.ConfChangeType_ConfChangeRemoveNode {
				delete(r.removing, cc.GetNodeId())
			}
			if cc.GetNodeId() == r.id {
				member := slices.Contains(r.confSt.GetVoters(), r.id) || slices.Contains(r.confSt.GetLearners(), r.id)
				// A member re-added after losing its data was never out
				// of the ensemble; one dropped after a reconfig was.
				if member || !r.sm.inEnsemble(r.id) {
					r.sm.membershipFinal(member)
				}
			}
			r.lg.Info("configuration changed", zap.String("change", cc.GetType().String()), zap.Uint64("member", cc.GetNodeId()),
				zap.Uint64s("voters", r.confSt.GetVoters()), zap.Uint64s("learners", r.confSt.GetLearners()))
		}
	case raftpb.EntryType_EntryConfChangeV2:
		var cc raftpb.ConfChangeV2
		if err := gproto.Unmarshal(e.Data, &cc); err != nil {
			r.lg.Error("undecodable configuration change skipped", zap.Uint64("index", e.GetIndex()), zap.Error(err))
			return nil
		}
		r.confSt = r.rn.ApplyConfChange(&cc)
		r.joint.Store(len(r.confSt.GetVotersOutgoing()) > 0)
		if len(cc.Context) > 0 {
			r.confSnapshotDue = true
		}
		// The configured membership is now the incoming one: what
		// ensureMembers keeps in raft's configuration.
		r.members = membersOf(r.confSt)
		r.lg.Info("configuration changed", zap.Uint64("index", e.GetIndex()), zap.Bool("joint", r.joint.Load()),
			zap.Uint64s("voters", r.confSt.GetVoters()), zap.Uint64s("outgoing_voters", r.confSt.GetVotersOutgoing()),
			zap.Uint64s("learners", r.confSt.GetLearners()), zap.Uint64s("learners_next", r.confSt.GetLearnersNext()))
		if !r.joint.Load() {
			r.sm.membershipFinal(slices.Contains(r.confSt.GetVoters(), r.id) ||
				slices.Contains(r.confSt.GetLearners(), r.id))
		}
		r.handOver(time.Now())
		return cc.Context
	}
	return nil
}

// membersOf is the incoming membership of a configuration.
func membersOf(cs *raftpb.ConfState) []member {
	var ms []member
	for _, id := range cs.GetVoters() {
		ms = append(ms, member{id: id})
	}
	for _, id := range append(slices.Clone(cs.GetLearners()), cs.GetLearnersNext()...) {
		ms = append(ms, member{id: id, learner: true})
	}
	return ms
}

// handOver: a leader that the configuration no longer counts among its
// voters, once the joint phase is over, passes the leadership to the most
// up-to-date voter, as ZooKeeper's removed leader designates its
// successor; until then it keeps leading the new configuration, which
// raft allows. Runs after each change and on ticks, since a transfer can
// fail (the target died).
//
// It waits a raft tick (a tenth of tickTime) after finding itself
// removed: the voters learn that the change committed after this leader
// does, and raft will not campaign while a committed configuration change
// is not yet applied, so a transfer asked at once was mostly refused and
// waited out an election timeout (one tickTime) before it was asked again.
func (r *replica) handOver(now time.Time) {
	if r.role.state != raft.StateLeader || r.joint.Load() || slices.Contains(r.confSt.GetVoters(), r.id) {
		r.removedAt = time.Time{}
		return
	}
	if r.removedAt.IsZero() {
		r.removedAt = now
	}
	if now.Sub(r.removedAt) < r.electionTimeout/10 {
		return
	}
	st := r.rn.Status()
	if st.LeadTransferee != raft.None {
		return
	}
	var best, match uint64
	for _, id := range r.confSt.GetVoters() {
		if pr, ok := st.Progress[id]; ok && (best == 0 || pr.Match > match) {
			best, match = id, pr.Match
		}
	}
	if best == 0 {
		return
	}
	r.lg.Info("this leader was removed from the voters; handing the leadership over", zap.Uint64("to", best))
	// Raft drops proposals during a transfer: hold them, as for a
	// handover to the preferred member (preferLeader releases them).
	r.pref.transferring = true
	r.rn.TransferLeader(best)
}

// newConfigHasQuorum reports whether the voters of members include a
// majority that is in contact with this leader and replicating, as
// ZooKeeper's leader demands of a new configuration (isQuorumSynced). A
// member that does not lead cannot know and says yes: the leader checks
// again when the change reaches it (confAcceptable).
func (r *replica) newConfigHasQuorum(members []member) bool {
	var refused atomic.Bool
	r.call(func() { refused.Store(r.confAcceptable(members) == proto.ErrNewConfigNoQuorum && !r.newLeader()) }, time.Second, time.Second)
	return !refused.Load()
}

// confUndecided reports whether the leader's refusal code of a reconfig may
// be only a moment's: a leader that has just taken office (newLeader), or
// one whose previous change is committed but not yet applied here (a
// member already answered it, so ZooKeeper would not call it in progress),
// or whose own membership repair is under way.
func (r *replica) confUndecided(code proto.Err) bool {
	switch code {
	case proto.ErrNewConfigNoQuorum:
		return r.newLeader()
	case proto.ErrReconfigInProgress:
		// Raft itself would turn a change into an empty entry until the
		// previous one is applied: one still to apply here, a member
		// re-added or dropped (pendingConf), or this leader's first entry.
		return r.role.state == raft.StateLeader &&
			(r.rn.BasicStatus().GetCommit() > r.appliedIndex || r.pendingConf != 0 || r.stale())
	}
	return false
}

// newLeader reports whether this member has led for less than an election
// timeout: raft then knows its followers only from the answers it has had
// since, so a follower not yet counted as synced may be one it has not
// heard from yet. A reconfig waits (held, or stashed if forwarded) rather
// than being refused NewConfigNoQuorum for that.
func (r *replica) newLeader() bool {
	return r.role.state == raft.StateLeader && time.Since(r.ledSince) < r.electionTimeout
}

// confAcceptable is the leader's check of a configuration change: none
// in progress, and the new voters have a synced majority. Other members
// accept; the leader decides. Runs on the raft goroutine.
func (r *replica) confAcceptable(members []member) proto.Err {
	if r.role.state != raft.StateLeader {
		return proto.ErrOK
	}
	if r.joint.Load() || r.pendingConf != 0 || r.stale() {
		return proto.ErrReconfigInProgress
	}
	st := r.rn.Status()
	voters, synced := 0, 0
	for _, m := range members {
		if m.learner {
			continue
		}
		voters++
		if m.id == r.id {
			synced++
			continue
		}
		// Not raft's RecentActive: the leader clears it at every quorum
		// check, and a change asked for just after one would be refused.
		if pr, has := st.Progress[m.id]; has && pr.State == rafttracker.StateReplicate && time.Since(r.heard[m.id]) < r.electionTimeout {
			synced++
		}
	}
	if synced <= voters/2 {
		return proto.ErrNewConfigNoQuorum
	}
	return proto.ErrOK
}

// vetForwardedConf checks, on the leader, a reconfig another member
// forwarded; a refused one is dropped and its proposer told why, so its
// client gets ZooKeeper's error rather than a timeout. It reports whether
// the message may go on to raft.
func (r *replica) vetForwardedConf(m *raftpb.Message) bool {
	if r.role.state != raft.StateLeader || len(m.Entries) != 1 || m.Entries[0].GetType() != raftpb.EntryType_EntryConfChangeV2 {
		return true
	}
	var cc raftpb.ConfChangeV2
	if err := gproto.Unmarshal(m.Entries[0].Data, &cc); err != nil || len(cc.Context) < entryHeader {
		return true
	}
	// A copy stamped in an earlier term (held on the way by a leader that
	// was handing over) is one its proposer gives up on and proposes again
	// (resolveStale). A late copy of a write is skipped at apply; raft would
	// apply this one, a second change that holds up the next reconfig.
	if stamped := binary.BigEndian.Uint64(cc.Context[8:entryHeader]); stamped < r.term {
		r.lg.Info("dropped a reconfig forwarded in an earlier term; its member proposes it again",
			zap.Uint64("member", m.GetFrom()), zap.Uint64("stamped_term", stamped), zap.Uint64("term", r.term))
		return false
	}
	te, err := decodeStamped(&raftpb.Entry{Data: cc.Context})
	if err != nil {
		return true
	}
	req, ok := te.Req.(*proto.ReconfigRequest)
	if !ok {
		return true
	}
	members, _, err := config.ParseMembership(req.NewMembers)
	if err != nil {
		return true
	}
	code := r.confAcceptable(confMembers(members))
	if code == proto.ErrOK {
		return true
	}
	if r.confUndecided(code) && len(r.pref.stashed) < maxStashed {
		r.pref.stashed = append(r.pref.stashed, m) // stepped again each tick (releaseStashed)
		return false
	}
	if r.sendApp != nil {
		p := []byte{appConfRefused}
		p = binary.BigEndian.AppendUint32(p, uint32(code))
		p = binary.BigEndian.AppendUint64(p, binary.BigEndian.Uint64(cc.Context)&^stampedFlag)
		r.sendApp(m.GetFrom(), p)
	}
	r.lg.Info("refused a reconfig forwarded by a member", zap.Uint64("member", m.GetFrom()), zap.String("error", code.Error()))
	return false
}

// confRefused fails this member's reconfig proposal id with the leader's
// code.
func (r *replica) confRefused(id uint64, code proto.Err) {
	r.tell(func() {
		if p := r.pending[id]; p != nil && p.conf != nil {
			delete(r.pending, id)
			p.done(0, tree.Result{Err: code}, nil)
		}
	})
}
