package server

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	gproto "google.golang.org/protobuf/proto"

	"github.com/zkfc-project/zkfc/quorum/storage"
	"github.com/zkfc-project/zkfc/quorum/tree"
)

// role is what raft says this member is, as ZooKeeper's Mode.
type role struct {
	lead  uint64
	state raft.StateType
}

// replica owns the raft.RawNode; its goroutine (run) is the only one that
// touches it and the tree's write side. Raft runs with AsyncStorageWrites:
// each Ready's log writes (entries, HardState, a leader's snapshot) go as
// MsgStorageAppend messages to a second goroutine, the storage loop, which
// writes and fsyncs them, in order, several Readys per fsync when they
// queued up (group commit), and only then delivers the responses raft
// attached to them. The raft goroutine meanwhile sends messages to peers,
// takes new proposals and applies what is committed, so the CPU work of
// one batch overlaps the fsync of the next.
//
// Durability rests on raft's own rules for this mode: the acknowledgements
// that let an entry commit (this member's own MsgAppResp included) are
// among those responses, and raft hands out committed entries for applying
// only once they are stable locally too. So nothing is applied, and no
// client answered, before its entry is durable on a quorum and here.
type replica struct {
	s       *Server
	lg      *zap.Logger
	id      uint64
	rn      *raft.RawNode
	mem     *snapStorage // raft.MemoryStorage without the snapshot data
	wal     *storage.WAL
	snapper *storage.Snapshotter
	confSt  *raftpb.ConfState

	proposeC chan *proposal
	pending  map[uint64]*proposal
	held     []*proposal
	batch    []*proposal // taken from proposeC, for submitBatch
	nextID   uint64
	reads    []*readWaiter
	readSeq  uint64

	appliedIndex uint64
	appliedTerm  uint64 // term of the newest entry applied (see resolveStale)
	// lastOwn is the highest id of this member's proposals applied so far.
	// Proposals travel to the leader in id order over one connection and
	// raft appends them in arrival order, so a pending proposal with a
	// lower id can no longer apply in its place: it was dropped on the way
	// (a full queue, a broken peer connection). It fails rather than being
	// proposed again, which would apply it after a later write of its
	// session (see failOvertaken).
	lastOwn       uint64
	term          uint64 // raft's current term, as of the last Ready
	snapshotIndex uint64
	snapCount     uint64
	// proposalTimeout bounds how long a proposal may wait for its commit
	// before its client is told the connection was lost.
	proposalTimeout time.Duration

	// send delivers raft messages to peers; nil for a standalone member.
	send func([]*raftpb.Message)
	// loseOut, set by tests only (on the raft goroutine), loses the
	// outgoing messages it returns true for, as a peer link that broke
	// under them would.
	loseOut func(*raftpb.Message) bool
	recvC   chan *raftpb.Message
	// ctlC runs functions on the raft goroutine (reports from the
	// transport, sync requests).
	ctlC chan func()

	role role
	// members is the configured membership, which the leader restores
	// after removing a member that lost its data.
	members      []member
	removing     map[uint64]bool
	pendingConf  uint64
	warnedBehind bool
	// lastLeaderMsg is when the leader was last heard from. A learner
	// never campaigns, so raft alone would let it believe in a dead
	// leader forever; silent marks that it has not heard for too long.
	lastLeaderMsg   time.Time
	silent          bool
	electionTimeout time.Duration
	// pref hands the leadership to the preferred member (leaderpref.go).
	pref            leaderPref
	cold            coldStart
	leaderlessSince time.Time
	tick            time.Duration
	// ready is closed once the member has replayed its log and knows a
	// leader: then it may serve clients.
	ready chan struct{}

	// appendC carries MsgStorageAppend messages, in raft's order, to the
	// storage loop; storageDead is closed when that loop has stopped.
	appendC     chan *raftpb.Message
	storageDead chan struct{}
	// The storage loop reports back through doneQ, an unbounded queue, so
	// it never waits for the raft goroutine (which may itself be waiting
	// for room in appendC); doneC signals that doneQ is not empty.
	doneMu sync.Mutex
	doneQ  []appendDone
	doneC  chan struct{}
	// snapsInFlight counts leader snapshots handed to the storage loop and
	// not yet installed; no local snapshot is taken meanwhile, so the two
	// never race for the snapshot directory and the log's snapshot record.
	snapsInFlight int
	// afterSave, when set (tests), runs on the storage loop after a batch
	// of entries reached the log and before any of its responses is
	// delivered; an error counts as a failed write.
	afterSave func(ents []*raftpb.Entry) error
}

// appendDone is what the storage loop reports for one fsynced batch: the
// responses addressed to this member, to be stepped into raft in order,
// and a leader's snapshot the batch carried, which the raft goroutine
// installs in the tree first; or the error that stopped the log.
type appendDone struct {
	resps []*raftpb.Message
	snap  *raftpb.Snapshot
	err   error
}

// maxAppendBatch bounds how many queued MsgStorageAppend messages the
// storage loop folds into one write and fsync.
const maxAppendBatch = 256

type member struct {
	id      uint64
	learner bool
}

func u64(v uint64) *uint64 { return &v }

// open loads the snapshot and log from disk, or bootstraps a new member
// from an initial snapshot that every member of the ensemble builds the
// same way (index 1, term 1, the configured voters and learners).
func (r *replica) open(walDir, snapDir string, voters, learners []uint64) error {
	r.mem = newSnapStorage(func() (*raftpb.Snapshot, error) { return r.snapper.Load() })
	r.snapper = storage.NewSnapshotter(snapDir, r.lg)
	r.pending = map[uint64]*proposal{}
	r.removing = map[uint64]bool{}
	r.ready = make(chan struct{})
	for _, id := range voters {
		r.members = append(r.members, member{id: id})
	}
	for _, id := range learners {
		r.members = append(r.members, member{id: id, learner: true})
	}
	var err error
	if !storage.Exist(walDir) {
		// The bootstrap snapshot is written before the log exists, so a
		// crash in between leaves no log and the next start bootstraps
		// again, identically.
		start, err := r.s.loadSeed()
		if err != nil {
			return err
		}
		if cfg := r.s.clusterConfigText(); cfg != "" {
			r.s.mu.Lock()
			r.s.tree.SetClusterConfig([]byte(cfg), 1)
			r.s.mu.Unlock()
		}
		data, err := r.s.serializeTree()
		if err != nil {
			return err
		}
		cs := &raftpb.ConfState{Voters: voters, Learners: learners}
		snap := &raftpb.Snapshot{Data: data, Metadata: &raftpb.SnapshotMetadata{Index: u64(start), Term: u64(1), ConfState: cs}}
		if err := r.snapper.Save(snap); err != nil {
			return err
		}
		r.wal, err = storage.Create(walDir, r.lg)
		if err != nil {
			return err
		}
		if err := r.wal.SaveSnapshot(storage.PosOf(snap)); err != nil {
			return err
		}
		hs := &raftpb.HardState{Term: u64(1), Commit: u64(start), Vote: u64(0)}
		if err := r.wal.Save(hs, nil); err != nil {
			return err
		}
		r.s.dropSeed()
		if err := r.mem.ApplySnapshot(snap); err != nil {
			return err
		}
		if err := r.mem.SetHardState(hs); err != nil {
			return err
		}
		r.confSt = cs
		r.appliedIndex, r.snapshotIndex = start, start
		r.s.setApplied(int64(start))
		r.lg.Info("initialised a new data directory", zap.Uint64s("voters", voters), zap.Uint64s("learners", learners))
	} else {
		snap, err := r.snapper.Load()
		if err != nil && !errors.Is(err, storage.ErrNoSnapshot) {
			return err
		}
		if err := r.s.checkSeed(snap.GetMetadata().GetIndex(), walDir); err != nil {
			return err
		}
		r.wal, err = storage.Open(walDir, r.lg)
		if err != nil {
			return err
		}
		var pos storage.Pos
		if snap != nil {
			if err := r.s.restoreSnapshot(snap.Data); err != nil {
				return fmt.Errorf("restore snapshot at index %d: %w", snap.GetMetadata().GetIndex(), err)
			}
			if err := r.mem.ApplySnapshot(snap); err != nil {
				return err
			}
			md := snap.GetMetadata()
			r.confSt = md.GetConfState()
			r.appliedIndex = md.GetIndex()
			r.appliedTerm = md.GetTerm()
			r.snapshotIndex = md.GetIndex()
			pos = storage.PosOf(snap)
			r.s.setApplied(int64(md.GetIndex()))
		}
		hs, ents, err := r.wal.ReadAll(pos)
		if err != nil {
			return err
		}
		if hs != nil {
			if err := r.mem.SetHardState(hs); err != nil {
				return err
			}
		}
		if err := r.mem.Append(ents); err != nil {
			return err
		}
		r.lg.Info("recovered log", zap.Uint64("snapshot_index", r.snapshotIndex),
			zap.Int("entries", len(ents)), zap.Uint64("commit", hs.GetCommit()))
	}
	cfg := &raft.Config{
		ID:              r.id,
		ElectionTick:    10,
		HeartbeatTick:   1,
		Storage:         r.mem,
		Applied:         r.appliedIndex,
		MaxSizePerMsg:   1 << 20,
		MaxInflightMsgs: 256,
		CheckQuorum:     true,
		PreVote:         true,
		// See the replica type: log writes go to the storage loop.
		AsyncStorageWrites: true,
		Logger:             raftLogger{r.lg.Sugar()},
	}
	r.rn, err = raft.NewRawNode(cfg)
	return err
}

func (r *replica) run(ctx context.Context, tick time.Duration) {
	r.tick = tick
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	if st := r.rn.Status(); len(st.Config.Voters.IDs()) == 1 && st.Config.Voters.IDs()[r.id] == struct{}{} {
		// A lone voter need not wait an election timeout to lead.
		_ = r.rn.Campaign()
	}
	r.openColdStart(time.Now())
	r.appendC = make(chan *raftpb.Message, 1024)
	r.storageDead = make(chan struct{})
	r.doneC = make(chan struct{}, 1)
	stopStorage := make(chan struct{})
	go r.storageLoop(stopStorage)
	defer func() {
		// The log is closed after run returns: the storage loop must be
		// gone by then. It never waits for this goroutine, so this ends.
		close(stopStorage)
		<-r.storageDead
	}()
	stopped := func(err error) {
		r.lg.Error("replication stopped: cannot persist the log", zap.Error(err))
		r.s.fatal(err)
		r.failPending(errDropped)
	}
	readySignalled := false
	for {
		select {
		case <-ctx.Done():
			r.failPending(errDropped)
			return
		case <-r.doneC:
			if err := r.stepStored(); err != nil {
				stopped(err)
				return
			}
		case now := <-ticker.C:
			r.rn.Tick()
			r.expire(now)
			r.resendReads(now, false)
			// Whatever made proposals wait (no leader, a handover, a
			// term not yet applied here) may have ended by a path that
			// does not release them itself, such as a snapshot install.
			if len(r.held) > 0 {
				r.resolveStale()
			}
			r.checkLeaderSilence(now)
			r.ensureMembers()
			r.preferLeader(now)
			r.coldStartCampaign(now)
		case p := <-r.proposeC:
			r.propose(p)
			// Drain what else is waiting: all of it goes to raft as one
			// proposal message, into one Ready and one log write.
		drain:
			for n := 0; n < 4096; n++ {
				select {
				case p := <-r.proposeC:
					r.propose(p)
				default:
					break drain
				}
			}
			r.submitBatch()
		case m := <-r.recvC:
			r.step(m)
		steps:
			for n := 0; n < 256; n++ {
				select {
				case m := <-r.recvC:
					r.step(m)
				default:
					break steps
				}
			}
		case f := <-r.ctlC:
			f()
		}
		for r.rn.HasReady() {
			if err := r.handleReady(r.rn.Ready()); err != nil {
				stopped(err)
				return
			}
		}
		if !readySignalled && r.caughtUp() {
			readySignalled = true
			close(r.ready)
		}
	}
}

func (r *replica) step(m *raftpb.Message) {
	if r.stash(m) {
		return
	}
	switch m.GetType() {
	case raftpb.MessageType_MsgHeartbeat:
		// A leader that remembers us further along than our log reaches
		// (we lost our data directory) would make raft panic. Never let a
		// heartbeat advance our commit index past what we hold; the leader
		// will find out from our rejected appends and re-add us.
		if last, _ := r.mem.LastIndex(); m.GetCommit() > last {
			st := r.rn.BasicStatus()
			if !r.warnedBehind {
				r.warnedBehind = true
				r.lg.Warn("the leader believes this member holds entries it does not have (data directory lost?); waiting to be re-added",
					zap.Uint64("leader_commit", m.GetCommit()), zap.Uint64("last_index", last))
			}
			m.Commit = u64(st.GetCommit())
		}
	case raftpb.MessageType_MsgAppResp:
		if r.role.state == raft.StateLeader && m.GetReject() {
			if pr, ok := r.rn.Status().Progress[m.GetFrom()]; ok && m.GetRejectHint() < pr.Match {
				r.memberLostData(m.GetFrom(), m.GetRejectHint(), pr.Match)
			}
		}
	}
	if m.GetFrom() == r.role.lead && r.role.lead != raft.None {
		r.lastLeaderMsg = time.Now()
		if r.silent {
			r.silent = false
			r.lg.Info("hearing from the leader again", zap.Uint64("leader", r.role.lead))
			r.s.serving.Store(true)
		}
	}
	_ = r.rn.Step(m)
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
			r.s.leaderGone()
		}
		return
	}
	if now.Sub(r.lastLeaderMsg) > 2*r.electionTimeout {
		r.silent = true
		r.lg.Warn("leader silent; no longer serving clients", zap.Uint64("leader", r.role.lead),
			zap.Duration("silent_for", now.Sub(r.lastLeaderMsg)))
		r.s.leaderGone()
	}
}

// caughtUp reports whether this member has applied everything it knew to be
// committed at start and there is a leader.
func (r *replica) caughtUp() bool {
	st := r.rn.BasicStatus()
	return st.Lead != raft.None && r.appliedIndex >= st.GetCommit()
}

func (r *replica) handleReady(rd raft.Ready) error {
	r.term = r.rn.BasicStatus().GetTerm()
	if rd.SoftState != nil {
		r.setRole(role{lead: rd.SoftState.Lead, state: rd.SoftState.RaftState})
	}
	for _, rs := range rd.ReadStates {
		if len(rs.RequestCtx) != 8 {
			continue
		}
		ctx := binary.BigEndian.Uint64(rs.RequestCtx)
		for _, w := range r.reads {
			if w.ctx == ctx {
				w.index = rs.Index
			}
		}
	}
	var peers, applies []*raftpb.Message
	for _, m := range rd.Messages {
		switch m.GetTo() {
		case raft.LocalAppendThread:
			if !raft.IsEmptySnap(m.GetSnapshot()) {
				r.snapsInFlight++
			}
			select {
			case r.appendC <- m:
			case <-r.storageDead:
				return errors.New("the log's storage loop stopped")
			}
		case raft.LocalApplyThread:
			applies = append(applies, m)
		default:
			// Raft puts here only what may leave before the local
			// write: a leader's appends to followers (raft's thesis,
			// 10.2.1), heartbeats, votes requested. Acknowledgements that
			// promise durability travel with the MsgStorageAppend.
			if r.loseOut != nil && r.loseOut(m) {
				continue
			}
			peers = append(peers, m)
		}
	}
	if r.send != nil && len(peers) > 0 {
		r.send(peers)
	}
	for _, m := range applies {
		r.apply(m.GetEntries())
		for _, resp := range m.GetResponses() {
			_ = r.rn.Step(resp)
		}
	}
	if len(rd.ReadStates) > 0 || len(applies) > 0 {
		r.completeReads()
	}
	if len(applies) == 0 {
		return nil
	}
	r.trimMemoryLog()
	return r.maybeSnapshot()
}

// stepStored takes what the storage loop finished, installs a leader's
// snapshot it carried and steps the responses into raft, in order.
func (r *replica) stepStored() error {
	r.doneMu.Lock()
	q := r.doneQ
	r.doneQ = nil
	r.doneMu.Unlock()
	for _, d := range q {
		if d.err != nil {
			return d.err
		}
		if d.snap != nil {
			r.snapsInFlight--
			if err := r.installSnapshot(d.snap); err != nil {
				return err
			}
		}
		for _, m := range d.resps {
			_ = r.rn.Step(m)
		}
	}
	return nil
}

// installSnapshot replaces the tree with a leader's snapshot the storage
// loop made durable. Raft hands out no committed entry beyond it before
// its MsgStorageAppendResp is stepped, which happens right after this.
func (r *replica) installSnapshot(snap *raftpb.Snapshot) error {
	if err := r.s.restoreSnapshot(snap.Data); err != nil {
		return err
	}
	md := snap.GetMetadata()
	r.confSt = md.GetConfState()
	r.appliedIndex = md.GetIndex()
	r.appliedTerm = max(r.appliedTerm, md.GetTerm())
	r.snapshotIndex = md.GetIndex()
	// This member's proposals may be inside the snapshot without it ever
	// having applied them one by one: their fate is unknown (proposing them
	// again could apply them twice), and their connections close below.
	r.failPending(errDropped)
	r.s.setApplied(int64(r.appliedIndex))
	r.lg.Info("caught up from the leader's snapshot", zap.Uint64("index", r.appliedIndex))
	// Watches cannot tell what changed across a snapshot: make every
	// client reconnect and re-register them, as a ZooKeeper follower
	// does after a SNAP sync.
	r.s.closeAllConns("installed a snapshot from the leader")
	r.s.resetSessions()
	return nil
}

// report hands a finished batch to the raft goroutine without waiting.
func (r *replica) report(d appendDone) {
	r.doneMu.Lock()
	r.doneQ = append(r.doneQ, d)
	r.doneMu.Unlock()
	select {
	case r.doneC <- struct{}{}:
	default:
	}
}

// storageLoop writes MsgStorageAppend messages to the log in the order raft
// produced them. Whatever queued up while the previous fsync ran is folded
// into one write and one fsync. Only after the fsync returned are the
// responses delivered: to peers directly, to this member through the raft
// goroutine. A failed write stops the loop for good, with no response
// delivered, so nothing in that batch can commit here or be answered.
func (r *replica) storageLoop(stop <-chan struct{}) {
	defer close(r.storageDead)
	var (
		batch []*raftpb.Message
		carry *raftpb.Message // a snapshot message, which goes alone
	)
	for {
		var m *raftpb.Message
		if carry != nil {
			m, carry = carry, nil
		} else {
			select {
			case <-stop:
				return
			case m = <-r.appendC:
			}
		}
		batch = append(batch[:0], m)
		if raft.IsEmptySnap(m.GetSnapshot()) {
		drain:
			for len(batch) < maxAppendBatch {
				select {
				case n := <-r.appendC:
					if !raft.IsEmptySnap(n.GetSnapshot()) {
						carry = n
						break drain
					}
					batch = append(batch, n)
				default:
					break drain
				}
			}
		}
		snap, ents, err := r.persist(batch)
		if err == nil && r.afterSave != nil {
			err = r.afterSave(ents)
		}
		if err != nil {
			r.report(appendDone{err: err})
			return
		}
		var self, peers []*raftpb.Message
		for _, m := range batch {
			for _, resp := range m.GetResponses() {
				if resp.GetTo() == r.id {
					self = append(self, resp)
				} else {
					peers = append(peers, resp)
				}
			}
		}
		if len(peers) > 0 && r.send != nil {
			r.send(peers)
		}
		r.report(appendDone{resps: self, snap: snap})
		clear(batch)
	}
}

// persist writes a batch of MsgStorageAppend messages with one fsync and
// adds its entries to raft's MemoryStorage, where raft reads them once the
// responses say they are stable. A later message's entries replace the
// earlier ones from the same index on, as raft overwrites an uncommitted
// tail; the newest HardState wins and is written after the entries.
func (r *replica) persist(batch []*raftpb.Message) (*raftpb.Snapshot, []*raftpb.Entry, error) {
	var (
		snap *raftpb.Snapshot
		hs   *raftpb.HardState
		ents []*raftpb.Entry
	)
	for i, m := range batch {
		if !raft.IsEmptySnap(m.GetSnapshot()) {
			snap = m.GetSnapshot()
		}
		if h := (&raftpb.HardState{Term: m.Term, Vote: m.Vote, Commit: m.Commit}); !raft.IsEmptyHardState(h) {
			hs = h
		}
		ents = foldEntries(ents, m.GetEntries(), i == 0 && len(batch) == 1)
	}
	if snap != nil {
		if err := r.snapper.Save(snap); err != nil {
			return nil, nil, err
		}
		if err := r.wal.SaveSnapshot(storage.PosOf(snap)); err != nil {
			return nil, nil, err
		}
	}
	start := time.Now()
	if err := r.wal.Save(hs, ents); err != nil {
		return nil, nil, err
	}
	if len(ents) > 0 {
		r.s.metrics.fsync.Observe(time.Since(start).Seconds())
		r.s.metrics.batch.Observe(float64(len(ents)))
	}
	if snap != nil {
		if err := r.mem.ApplySnapshot(snap); err != nil {
			return nil, nil, err
		}
	}
	if hs != nil {
		if err := r.mem.SetHardState(hs); err != nil {
			return nil, nil, err
		}
	}
	if err := r.mem.Append(ents); err != nil {
		return nil, nil, err
	}
	return snap, ents, nil
}

// foldEntries appends next to ents, dropping the entries of ents that next
// overwrites (same index or later). With alone set, next is the only
// slice and is returned as is; otherwise the result is a new slice, never
// raft's own, whose spare capacity may hold entries raft still uses.
func foldEntries(ents, next []*raftpb.Entry, alone bool) []*raftpb.Entry {
	if alone || len(next) == 0 {
		if alone {
			return next
		}
		return ents
	}
	if len(ents) > 0 {
		keep := len(ents)
		if first := next[0].GetIndex(); first <= ents[len(ents)-1].GetIndex() {
			keep = 0
			if first > ents[0].GetIndex() {
				keep = int(first - ents[0].GetIndex())
			}
		}
		ents = ents[:keep]
	}
	if ents == nil {
		ents = make([]*raftpb.Entry, 0, len(next)*2)
	}
	return append(ents, next...)
}

// trimMemoryLog drops applied entries from raft's in-memory log on a
// standalone member: with no follower to catch up, nothing reads them
// again (they stay in the WAL until the next snapshot), and holding up to
// snapCount of them would cost tens of megabytes.
func (r *replica) trimMemoryLog() {
	if r.send != nil {
		return
	}
	first, err := r.mem.FirstIndex()
	if err != nil || r.appliedIndex < first+4096 {
		return
	}
	if err := r.mem.Compact(r.appliedIndex); err != nil && !errors.Is(err, raft.ErrCompacted) {
		r.lg.Warn("trim in-memory log", zap.Error(err))
	}
}

func (r *replica) setRole(n role) {
	old := r.role
	r.role = n
	if old == n {
		return
	}
	r.lastLeaderMsg = time.Now()
	r.silent = false
	r.pref.transferring = false
	if n.state != raft.StateLeader {
		// A conf change proposed as leader may never commit; the next
		// leader's ensureMembers takes over.
		r.pendingConf = 0
	}
	if n.lead == raft.None && old.lead != raft.None {
		r.leaderlessSince = time.Now()
	}
	if n.lead != raft.None {
		r.resolveStale()
		r.releaseStashed()
		r.resendReads(time.Now(), true)
	}
	r.lg.Info("raft role changed", zap.Uint64("leader", n.lead), zap.String("state", n.state.String()))
	r.s.roleChanged(old, n)
}

// apply hands committed entries to the tree in log order and completes the
// proposals this member made.
func (r *replica) apply(ents []*raftpb.Entry) {
	if len(ents) == 0 {
		return
	}
	type completion struct {
		p    *proposal
		zxid int64
		res  tree.Result
	}
	var done []completion
	var applied []applyResult
	var lastTerm uint64
	r.s.mu.Lock()
	for _, e := range ents {
		if e.GetIndex() <= r.appliedIndex {
			continue
		}
		lastTerm = e.GetTerm()
		var hook func()
		switch e.GetType() {
		case raftpb.EntryType_EntryNormal:
			if len(e.Data) < legacyEntryHeader {
				break // a new leader's empty entry
			}
			id := binary.BigEndian.Uint64(e.Data)
			body := e.Data[legacyEntryHeader:]
			if id&stampedFlag != 0 {
				if len(e.Data) < entryHeader {
					r.lg.Error("undecodable log entry skipped", zap.Uint64("index", e.GetIndex()), zap.Int("bytes", len(e.Data)))
					break
				}
				id &^= stampedFlag
				if stamped := binary.BigEndian.Uint64(e.Data[legacyEntryHeader:]); stamped != e.GetTerm() {
					r.lg.Debug("late copy of a write proposed again skipped", zap.Uint64("index", e.GetIndex()),
						zap.Uint64("proposal", id), zap.Uint64("stamped_term", stamped), zap.Uint64("term", e.GetTerm()))
					break
				}
				body = e.Data[entryHeader:]
			}
			te, err := tree.UnmarshalEntry(body)
			if err != nil {
				// Every member decodes the same bytes, so skipping is
				// deterministic; it can only mean a bug or a version skew.
				r.lg.Error("undecodable log entry skipped", zap.Uint64("index", e.GetIndex()), zap.Error(err))
				break
			}
			te.Zxid = int64(e.GetIndex())
			res := r.s.tree.Apply(te)
			for _, ev := range res.Events {
				r.s.watches.Trigger(ev.Type, ev.Path)
			}
			applied = append(applied, applyResult{entry: te, res: res})
			if p := r.pending[id]; p != nil {
				r.lastOwn = max(r.lastOwn, id)
				delete(r.pending, id)
				done = append(done, completion{p, te.Zxid, res})
				hook = p.applied
			}
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
		r.appliedIndex = e.GetIndex()
		r.s.setApplied(int64(e.GetIndex()))
		if hook != nil {
			hook()
		}
	}
	r.s.mu.Unlock()
	r.s.afterApply(applied)
	for _, c := range done {
		c.p.done(c.zxid, c.res, nil)
	}
	if lastTerm > r.appliedTerm {
		r.appliedTerm = lastTerm
		r.resolveStale()
	}
}

// maybeSnapshot writes a snapshot every snapCount applied entries and
// compacts the log behind it, keeping a tail so slow followers can still
// catch up from entries rather than a snapshot.
func (r *replica) maybeSnapshot() error {
	if r.snapsInFlight > 0 || r.appliedIndex-r.snapshotIndex < r.snapCount {
		return nil
	}
	return r.snapshot()
}

func (r *replica) snapshot() error {
	if r.appliedIndex == r.snapshotIndex {
		return nil
	}
	start := time.Now()
	snap, err := r.mem.CreateSnapshot(r.appliedIndex, r.confSt, nil)
	if err != nil {
		return fmt.Errorf("create snapshot: %w", err)
	}
	// The tree streams into the file: no copy of it is held in memory.
	if err := r.snapper.SaveStream(snap.GetMetadata(), r.s.writeTree); err != nil {
		return err
	}
	if err := r.wal.SaveSnapshot(storage.PosOf(snap)); err != nil {
		return err
	}
	prev := r.snapshotIndex
	r.snapshotIndex = r.appliedIndex
	// Keep a tail of the log so a follower a little behind catches up from
	// entries; one further behind gets the snapshot.
	keep := r.snapCount
	if keep > 10000 {
		keep = 10000
	}
	if r.appliedIndex > keep {
		if err := r.mem.Compact(r.appliedIndex - keep); err != nil && !errors.Is(err, raft.ErrCompacted) {
			return err
		}
	}
	r.lg.Info("snapshot taken", zap.Uint64("index", snap.GetMetadata().GetIndex()),
		zap.Duration("took", time.Since(start)))
	r.s.purgeAfterSnapshot(prev)
	return nil
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
	time.AfterFunc(delay, func() {
		select {
		case r.ctlC <- campaign:
		default:
		}
	})
}

// raftLogger adapts zap to raft's Logger interface.
type raftLogger struct{ *zap.SugaredLogger }

func (l raftLogger) Warning(v ...interface{})                 { l.Warn(v...) }
func (l raftLogger) Warningf(format string, v ...interface{}) { l.Warnf(format, v...) }

// Infof demotes raft's note about an acknowledged log write whose entries
// were replaced meanwhile (a follower truncating a deposed leader's tail
// while its write was in flight, routine with asynchronous storage writes)
// to debug: at info it filled the logs around every election.
func (l raftLogger) Infof(format string, v ...interface{}) {
	if strings.HasPrefix(format, "entry at index %d missing from unstable log") {
		l.Debugw(fmt.Sprintf(format, v...))
		return
	}
	l.SugaredLogger.Infof(format, v...)
}
func (l raftLogger) Debug(v ...interface{})                 {}
func (l raftLogger) Debugf(format string, v ...interface{}) {}
