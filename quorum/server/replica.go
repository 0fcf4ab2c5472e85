package server

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/quorum/storage"
)

// role is what raft says this member is, as ZooKeeper's Mode.
type role struct {
	lead  uint64
	state raft.StateType
}

// stateMachine is what the replica replicates, and all it knows of the
// Server: the data tree with the watches, sessions and client connections
// that follow it. The replica calls it on its own goroutine only.
type stateMachine interface {
	// initialState serializes the state a new member starts from and the
	// log index it stands at (1 for an empty tree, a seed's index after
	// zkfc quorum import or restore); every member of an ensemble builds
	// the same.
	initialState() (index uint64, data []byte, err error)
	// restore replaces the state with a snapshot's.
	restore(data []byte) error
	// writeSnapshot streams the state into w; the state does not change
	// meanwhile.
	writeSnapshot(w io.Writer) error
	// applyBatch applies committed log entries in log order (see
	// committed).
	applyBatch(b []committed)
	// setApplied publishes the zxid of the newest entry applied.
	setApplied(zxid int64)
	// snapshotInstalled follows restore when the snapshot came from the
	// leader: what depends on the history the member skipped starts over.
	snapshotInstalled()
	// roleChanged reports a new leader or raft state of this member.
	roleChanged(old, n role)
	// leaderGone reports that the member has had no leader, or not heard
	// from it, for too long to serve clients; leaderHeard that it hears
	// from its leader again.
	leaderGone()
	leaderHeard()
	// fatal reports the error that stopped replication.
	fatal(err error)
	// membershipFinal reports a completed configuration change and
	// whether this member is part of the new configuration.
	membershipFinal(member bool)
	// inEnsemble reports whether the replicated ZooKeeper membership
	// (/zookeeper/config) lists member id; raft may still count a
	// member a reconfig removed, as a learner (see dropRemoved).
	inEnsemble(id uint64) bool
}

// replica owns the raft.RawNode; its goroutine (run) is the only one that
// touches it and the only one that changes the state machine. Raft runs
// with AsyncStorageWrites: each Ready's log writes (entries, HardState, a
// leader's snapshot) go as MsgStorageAppend messages to a second
// goroutine, the storage loop (storeloop.go), which writes and fsyncs
// them, in order, several Readys per fsync when they queued up (group
// commit), and only then delivers the responses raft attached to them.
// The raft goroutine meanwhile sends messages to peers, takes new
// proposals and applies what is committed, so the CPU work of one batch
// overlaps the fsync of the next.
//
// Durability rests on raft's own rules for this mode: the acknowledgements
// that let an entry commit (this member's own MsgAppResp included) are
// among those responses, and raft hands out committed entries for applying
// only once they are stable locally too. So nothing is applied, and no
// client answered, before its entry is durable on a quorum and here.
//
// Other goroutines reach the replica only through its methods (propose,
// sync, receive, the peer reports, progress, call in replicaapi.go; purge
// in snapshots.go); the channels behind them are its own.
type replica struct {
	sm      stateMachine
	metrics *metrics
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
	// queueWait bounds how long a write waits for room in proposeC, full
	// when the log falls far behind (a slow disk, a stuck loop). Past it
	// the write fails with a connection loss, as ZooKeeper drops requests
	// that waited too long in its throttle, instead of holding its
	// connection's reader, and every request behind it, for good.
	queueWait time.Duration

	// send delivers raft messages to peers; nil for a standalone member.
	// Set before run.
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
	// joint is set while raft's configuration is joint: a reconfig is
	// under way. Read by other goroutines.
	joint atomic.Bool
	// confSnapshotDue asks for a snapshot after a reconfig (maybeSnapshot).
	confSnapshotDue bool
	// confReply answers this member's reconfig once joint is over.
	confReply *deferredReply
	// sendApp sends an application message to a peer; nil when
	// standalone. Set before run.
	sendApp func(to uint64, payload []byte)
	// members is the configured membership, which the leader restores
	// after removing a member that lost its data (membership.go).
	members  []member
	removing map[uint64]bool
	// lingering: since when this leader has seen each learner that the
	// membership no longer lists (dropRemoved).
	lingering map[uint64]time.Time
	// heard is when each peer was last heard from (confAcceptable).
	heard map[uint64]time.Time
	// ledSince is when this member last became leader (newLeader).
	ledSince     time.Time
	pendingConf  uint64
	warnedBehind bool
	// lastLeaderMsg is when the leader was last heard from. A learner
	// never campaigns, so raft alone would let it believe in a dead
	// leader forever; silent marks that it has not heard for too long
	// (liveness.go).
	lastLeaderMsg   time.Time
	silent          bool
	electionTimeout time.Duration
	// removedAt is when this leader found itself removed from the voters
	// (handOver); zero otherwise.
	removedAt time.Time
	// pref hands the leadership to the preferred member (leaderpref.go).
	pref            leaderPref
	cold            coldStart
	leaderlessSince time.Time
	tick            time.Duration
	// readyC is closed once the member has replayed its log and knows a
	// leader: then it may serve clients.
	readyC chan struct{}

	// appendC carries MsgStorageAppend messages, in raft's order, to the
	// storage loop; storageDead is closed when that loop has stopped.
	appendC     chan *raftpb.Message
	storageDead chan struct{}
	// The storage loop reports back through stored, a mailbox, so it
	// never waits for the raft goroutine (which may itself be waiting for
	// room in appendC).
	stored *mailbox[appendDone]
	// snapsInFlight counts leader snapshots handed to the storage loop and
	// not yet installed; no local snapshot is taken meanwhile, so the two
	// never race for the snapshot directory and the log's snapshot record.
	snapsInFlight int
	// afterSave, when set (tests), runs on the storage loop after a batch
	// of entries reached the log and before any of its responses is
	// delivered; an error counts as a failed write.
	afterSave func(ents []*raftpb.Entry) error
}

func newReplica(sm stateMachine, m *metrics, lg *zap.Logger, id uint64, snapCount uint64, tickTime time.Duration, preferred uint64) *replica {
	return &replica{
		sm:              sm,
		metrics:         m,
		lg:              lg,
		id:              id,
		proposeC:        make(chan *proposal, 8192),
		recvC:           make(chan *raftpb.Message, 1024),
		ctlC:            make(chan func(), 1024),
		snapCount:       snapCount,
		proposalTimeout: 2*tickTime + 5*time.Second,
		queueWait:       2*tickTime + 5*time.Second,
		electionTimeout: 10 * raftTick(tickTime),
		pref:            leaderPref{id: preferred},
	}
}

func u64(v uint64) *uint64 { return &v }

// open loads the snapshot and log from disk, or bootstraps a new member
// from an initial snapshot that every member of the ensemble builds the
// same way (term 1, the configured voters and learners, at the initial
// state's index).
//
// With join set a new member starts from nothing instead: no snapshot, no
// configuration, so it waits for the leader of an ensemble that added it
// by reconfig and installs the leader's snapshot, history included; a
// bootstrap state of its own would not be the ensemble's.
func (r *replica) open(walDir, snapDir string, voters, learners []uint64, join bool) error {
	r.mem = newSnapStorage(func() (*raftpb.Snapshot, error) { return r.snapper.Load() })
	r.snapper = storage.NewSnapshotter(snapDir, r.lg)
	r.pending = map[uint64]*proposal{}
	r.removing = map[uint64]bool{}
	r.lingering = map[uint64]time.Time{}
	r.heard = map[uint64]time.Time{}
	r.readyC = make(chan struct{})
	for _, id := range voters {
		r.members = append(r.members, member{id: id})
	}
	for _, id := range learners {
		r.members = append(r.members, member{id: id, learner: true})
	}
	var err error
	if !storage.Exist(walDir) && join {
		if r.wal, err = storage.Create(walDir, r.lg); err != nil {
			return err
		}
		r.confSt = &raftpb.ConfState{}
		r.lg.Info("initialised a new data directory for a member joining a reconfigured ensemble; waiting for the leader's snapshot")
	} else if !storage.Exist(walDir) {
		// The bootstrap snapshot is written before the log exists, so a
		// crash in between leaves no log and the next start bootstraps
		// again, identically.
		start, data, err := r.sm.initialState()
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
		if err := r.mem.ApplySnapshot(snap); err != nil {
			return err
		}
		if err := r.mem.SetHardState(hs); err != nil {
			return err
		}
		r.confSt = cs
		r.appliedIndex, r.snapshotIndex = start, start
		r.sm.setApplied(int64(start))
		r.lg.Info("initialised a new data directory", zap.Uint64s("voters", voters), zap.Uint64s("learners", learners))
	} else {
		snap, err := r.snapper.Load()
		if err != nil && !errors.Is(err, storage.ErrNoSnapshot) {
			return err
		}
		r.wal, err = storage.Open(walDir, r.lg)
		if err != nil {
			return err
		}
		var pos storage.Pos
		if snap != nil {
			if err := r.sm.restore(snap.Data); err != nil {
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
			r.sm.setApplied(int64(md.GetIndex()))
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
		if snap != nil {
			// The snapshot's configuration supersedes the configured one
			// (a reconfig the configuration files never heard of).
			r.members = membersOf(r.confSt)
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

// close closes the log; run must have returned.
func (r *replica) close() error { return r.wal.Close() }

// ready is closed once the member may serve clients (see readyC).
func (r *replica) ready() <-chan struct{} { return r.readyC }

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
	r.stored = newMailbox[appendDone]()
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
		r.sm.fatal(err)
		r.failPending(errDropped)
	}
	readySignalled := false
	for {
		select {
		case <-ctx.Done():
			r.failPending(errDropped)
			return
		case <-r.stored.wake():
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
			r.dropRemoved(now)
			r.handOver(now)
			r.preferLeader(now)
			r.coldStartCampaign(now)
		case p := <-r.proposeC:
			r.admit(p)
			// Drain what else is waiting: all of it goes to raft as one
			// proposal message, into one Ready and one log write.
			drainUpTo(r.proposeC, 4096, r.admit)
			r.submitBatch()
		case m := <-r.recvC:
			r.step(m)
			drainUpTo(r.recvC, 256, r.step)
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
			close(r.readyC)
		}
	}
}

// drainUpTo hands f what is already waiting in c, at most limit values, and
// returns as soon as c is empty: the loop batches a burst but never waits.
func drainUpTo[T any](c <-chan T, limit int, f func(T)) {
	for n := 0; n < limit; n++ {
		select {
		case v := <-c:
			f(v)
		default:
			return
		}
	}
}

func (r *replica) step(m *raftpb.Message) {
	if r.stash(m) {
		return
	}
	r.heard[m.GetFrom()] = time.Now()
	switch m.GetType() {
	case raftpb.MessageType_MsgProp:
		if !r.vetForwardedConf(m) {
			return
		}
	case raftpb.MessageType_MsgHeartbeat:
		r.clampHeartbeat(m)
	case raftpb.MessageType_MsgAppResp:
		if r.role.state == raft.StateLeader && m.GetReject() {
			if pr, ok := r.rn.Status().Progress[m.GetFrom()]; ok && m.GetRejectHint() < pr.Match {
				r.memberLostData(m.GetFrom(), m.GetRejectHint(), pr.Match)
			}
		}
	}
	if m.GetFrom() == r.role.lead && r.role.lead != raft.None {
		r.heardLeader()
	}
	_ = r.rn.Step(m)
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

func (r *replica) setRole(n role) {
	old := r.role
	r.role = n
	if old == n {
		return
	}
	r.lastLeaderMsg = time.Now()
	r.silent = false
	r.pref.transferring = false
	if n.state == raft.StateLeader && old.state != raft.StateLeader {
		r.ledSince = r.lastLeaderMsg
	}
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
	r.sm.roleChanged(old, n)
}

// raftLogger adapts zap to raft's Logger interface.
type raftLogger struct{ *zap.SugaredLogger }

func (l raftLogger) Warning(v ...interface{})                 { l.Warn(v...) }
func (l raftLogger) Warningf(format string, v ...interface{}) { l.Warnf(format, v...) }

// Infof demotes raft's note about an acknowledged log write whose entries
// were replaced meanwhile (a follower truncating a deposed leader's tail
// while its write was in flight, routine with asynchronous storage writes)
// to debug: at info it would fill the logs around every election.
func (l raftLogger) Infof(format string, v ...interface{}) {
	if strings.HasPrefix(format, "entry at index %d missing from unstable log") {
		l.Debugw(fmt.Sprintf(format, v...))
		return
	}
	l.SugaredLogger.Infof(format, v...)
}
func (l raftLogger) Debug(v ...interface{})                 {}
func (l raftLogger) Debugf(format string, v ...interface{}) {}
