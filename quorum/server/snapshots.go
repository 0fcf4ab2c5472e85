package server

import (
	"errors"
	"fmt"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/quorum/storage"
)

// Snapshots and the log behind them: taking one every snapCount entries,
// installing a leader's, and freeing what they make unnecessary. Runs on
// the raft goroutine unless noted.

// installSnapshot replaces the state with a leader's snapshot the storage
// loop made durable. Raft hands out no committed entry beyond it before
// its MsgStorageAppendResp is stepped, which happens right after this.
func (r *replica) installSnapshot(snap *raftpb.Snapshot) error {
	if err := r.sm.restore(snap.Data); err != nil {
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
	r.sm.setApplied(int64(r.appliedIndex))
	r.lg.Info("caught up from the leader's snapshot", zap.Uint64("index", r.appliedIndex))
	r.sm.snapshotInstalled()
	return nil
}

// maybeSnapshot writes a snapshot every snapCount applied entries and
// compacts the log behind it, keeping a tail so slow followers can still
// catch up from entries rather than a snapshot.
//
// After a reconfig it writes one at once: a member it added starts with
// nothing and needs a snapshot whose configuration names it (raft refuses
// any other), and the leader sends its newest.
func (r *replica) maybeSnapshot() error {
	if r.snapsInFlight > 0 || (r.appliedIndex-r.snapshotIndex < r.snapCount && !r.confSnapshotDue) {
		return nil
	}
	r.confSnapshotDue = false
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
	// The state streams into the file: no copy of it is held in memory.
	if err := r.snapper.SaveStream(snap.GetMetadata(), r.sm.writeSnapshot); err != nil {
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
	r.releaseLog(prev)
	return nil
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

// releaseLog is called after each snapshot. Log segments are released
// only up to the previous snapshot, so a newest snapshot that turns out
// corrupt can fall back to the one before it and still find every entry
// after it.
func (r *replica) releaseLog(prev uint64) {
	if prev == 0 {
		return
	}
	if err := r.wal.ReleaseTo(prev); err != nil {
		r.lg.Warn("release log segments", zap.Error(err))
	}
}

// purge keeps the newest keep snapshots and the log segments they need
// (autopurge). Called from any goroutine; the purge itself runs on the
// raft goroutine, which owns the log, and the wait for it is bounded.
func (r *replica) purge(keep int) {
	f := func() {
		removed, err := storage.Purge(r.wal, r.snapper, keep)
		if err != nil {
			r.lg.Warn("autopurge", zap.Error(err))
			return
		}
		if len(removed) > 0 {
			r.lg.Info("autopurge removed old files", zap.Strings("files", removed))
		}
	}
	if taken, _ := r.call(f, 10*time.Second, 30*time.Second); !taken {
		r.lg.Warn("autopurge skipped: the log is busy")
	}
}
