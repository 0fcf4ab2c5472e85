package server

import (
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/zkfc-project/zkfc/quorum/storage"
)

// appendDone is what the storage loop reports for one fsynced batch: the
// responses addressed to this member, to be stepped into raft in order,
// and a leader's snapshot the batch carried, which the raft goroutine
// installs in the state machine first; or the error that stopped the log.
type appendDone struct {
	resps []*raftpb.Message
	snap  *raftpb.Snapshot
	err   error
}

// maxAppendBatch bounds how many queued MsgStorageAppend messages the
// storage loop folds into one write and fsync.
const maxAppendBatch = 256

// stepStored takes what the storage loop finished, installs a leader's
// snapshot it carried and steps the responses into raft, in order.
func (r *replica) stepStored() error {
	for _, d := range r.stored.take() {
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

// report hands a finished batch to the raft goroutine without waiting.
func (r *replica) report(d appendDone) {
	r.stored.put(d)
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
		r.metrics.fsync.Observe(time.Since(start).Seconds())
		r.metrics.batch.Observe(float64(len(ents)))
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
