package server

import (
	"bytes"
	"errors"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

func TestSnapStorageKeepsNoSnapshotDataInMemory(t *testing.T) {
	var onDisk *raftpb.Snapshot
	s := newSnapStorage(func() (*raftpb.Snapshot, error) {
		if onDisk == nil {
			return nil, errors.New("no snapshot file")
		}
		return onDisk, nil
	})
	ents := []*raftpb.Entry{}
	for i := uint64(1); i <= 5; i++ {
		ents = append(ents, &raftpb.Entry{Index: u64(i), Term: u64(1)})
	}
	if err := s.Append(ents); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("tree"), 1000)
	cs := &raftpb.ConfState{Voters: []uint64{1}}
	snap, err := s.CreateSnapshot(4, cs, data)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(snap.Data, data) || snap.GetMetadata().GetIndex() != 4 {
		t.Fatalf("CreateSnapshot must hand back the whole snapshot to write: index %d, %d bytes", snap.GetMetadata().GetIndex(), len(snap.Data))
	}
	if held, _ := s.MemoryStorage.Snapshot(); len(held.Data) != 0 || held.GetMetadata().GetIndex() != 4 {
		t.Fatalf("memory holds %d bytes of snapshot data at index %d, want metadata only", len(held.Data), held.GetMetadata().GetIndex())
	}
	// Before the file is written raft must wait, not send an empty tree.
	if _, err := s.Snapshot(); !errors.Is(err, raft.ErrSnapshotTemporarilyUnavailable) {
		t.Fatalf("Snapshot before the file exists: %v, want ErrSnapshotTemporarilyUnavailable", err)
	}
	onDisk = &raftpb.Snapshot{Metadata: snap.Metadata, Data: data}
	got, err := s.Snapshot()
	if err != nil || !bytes.Equal(got.Data, data) {
		t.Fatalf("Snapshot after the file exists: %v, %d bytes", err, len(got.GetData()))
	}
	// An older file (the newest one is being written) is not this snapshot.
	onDisk = &raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{Index: u64(2), Term: u64(1), ConfState: cs}, Data: []byte("old")}
	if _, err := s.Snapshot(); !errors.Is(err, raft.ErrSnapshotTemporarilyUnavailable) {
		t.Fatalf("Snapshot with a stale file: %v, want ErrSnapshotTemporarilyUnavailable", err)
	}
	// A snapshot installed from the leader is kept without its data too.
	in := &raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{Index: u64(9), Term: u64(2), ConfState: cs}, Data: data}
	if err := s.ApplySnapshot(in); err != nil {
		t.Fatal(err)
	}
	if held, _ := s.MemoryStorage.Snapshot(); len(held.Data) != 0 || held.GetMetadata().GetIndex() != 9 {
		t.Fatalf("after ApplySnapshot memory holds %d bytes at index %d", len(held.Data), held.GetMetadata().GetIndex())
	}
	if len(in.Data) != len(data) {
		t.Fatal("ApplySnapshot must not modify the caller's snapshot")
	}
}
