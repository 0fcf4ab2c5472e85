package server

import (
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// snapStorage is raft's in-memory log storage minus the snapshot's data.
// raft.MemoryStorage would hold the whole serialized tree (tens of
// megabytes for a hundred thousand znodes) from one snapshot to the next,
// though only a leader sending a snapshot to a member that fell far behind
// ever reads it, and a standalone member never does. On that rare occasion
// the data is read back from the newest snapshot file.
type snapStorage struct {
	*raft.MemoryStorage
	// load reads the newest snapshot file.
	load func() (*raftpb.Snapshot, error)
}

func newSnapStorage(load func() (*raftpb.Snapshot, error)) *snapStorage {
	return &snapStorage{MemoryStorage: raft.NewMemoryStorage(), load: load}
}

// ApplySnapshot keeps snap's metadata only.
func (s *snapStorage) ApplySnapshot(snap *raftpb.Snapshot) error {
	return s.MemoryStorage.ApplySnapshot(withoutData(snap))
}

// CreateSnapshot records the snapshot's metadata and returns the whole
// snapshot, data included, for the caller to write to disk.
func (s *snapStorage) CreateSnapshot(i uint64, cs *raftpb.ConfState, data []byte) (*raftpb.Snapshot, error) {
	snap, err := s.MemoryStorage.CreateSnapshot(i, cs, nil)
	if err != nil {
		return snap, err
	}
	return &raftpb.Snapshot{Metadata: snap.Metadata, Data: data}, nil
}

// Snapshot returns the current snapshot with its data from disk. Until the
// file of the snapshot raft knows about is written (a moment after
// CreateSnapshot), raft is told to try again later.
func (s *snapStorage) Snapshot() (*raftpb.Snapshot, error) {
	snap, err := s.MemoryStorage.Snapshot()
	if err != nil || raft.IsEmptySnap(snap) {
		return snap, err
	}
	disk, err := s.load()
	if err != nil || disk.GetMetadata().GetIndex() != snap.GetMetadata().GetIndex() ||
		disk.GetMetadata().GetTerm() != snap.GetMetadata().GetTerm() {
		return nil, raft.ErrSnapshotTemporarilyUnavailable
	}
	return disk, nil
}

func withoutData(snap *raftpb.Snapshot) *raftpb.Snapshot {
	if snap == nil || len(snap.Data) == 0 {
		return snap
	}
	return &raftpb.Snapshot{Metadata: snap.Metadata}
}
