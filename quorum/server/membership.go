package server

import (
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	gproto "google.golang.org/protobuf/proto"
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
	have := map[uint64]bool{}
	for _, id := range r.confSt.GetVoters() {
		have[id] = true
	}
	for _, id := range r.confSt.GetLearners() {
		have[id] = true
	}
	for _, m := range r.members {
		if have[m.id] {
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

// applyConfChange applies a committed configuration change to raft.
func (r *replica) applyConfChange(e *raftpb.Entry) {
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
			r.lg.Info("configuration changed", zap.String("change", cc.GetType().String()), zap.Uint64("member", cc.GetNodeId()),
				zap.Uint64s("voters", r.confSt.GetVoters()), zap.Uint64s("learners", r.confSt.GetLearners()))
		}
	case raftpb.EntryType_EntryConfChangeV2:
		var cc raftpb.ConfChangeV2
		if err := gproto.Unmarshal(e.Data, &cc); err == nil {
			r.confSt = r.rn.ApplyConfChange(&cc)
		}
	}
}
