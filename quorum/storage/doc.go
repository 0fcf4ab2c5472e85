// Package storage keeps the quorum's Raft state on disk: a write-ahead log
// (WAL) of HardState and log entries in segment files, and snapshot files
// holding the serialized data tree at a log position.
//
// The server persists every raft.Ready through Save before it sends a
// message or answers a client, so Save returns only once the bytes are on
// stable storage, and one Save costs one fdatasync however many entries it
// carries (group commit).
//
// How the server is expected to use it (see raft_test.go for a working
// miniature):
//
//	snap, err := snaps.Load()                 // ErrNoSnapshot: start empty
//	w, err := storage.Open(dir, lg)            // or Create if !Exist(dir)
//	hs, ents, err := w.ReadAll(storage.PosOf(snap))
//	ms.ApplySnapshot(snap); ms.SetHardState(hs); ms.Append(ents)
//
//	// each Ready, before sending messages or answering clients:
//	if rd.Snapshot != nil { snaps.Save(rd.Snapshot); w.SaveSnapshot(storage.PosOf(rd.Snapshot)) }
//	w.Save(rd.HardState, rd.Entries)
//
//	// after taking a snapshot of the tree, and for autopurge:
//	snaps.Save(snap); w.SaveSnapshot(storage.PosOf(snap)); storage.Purge(w, snaps, retain)
//
// On disk: dir/<seq>-<first index>.wal segments (16 hex digits each) of
// CRC-32C framed records, see record.go and codec.go; snapshots as
// <term>-<index>.snap files, see snap.go.
//
// What the package must never do: acknowledge data that is not durable,
// silently drop acknowledged data, panic or allocate by an unchecked length
// on bad input, or let two processes append to the same log. A torn last
// write (a crash in the middle of Save) is the only damage the log repairs
// on its own, and a damaged snapshot is only set aside (logged) for an
// older one; anything else is reported with the file and byte offset so an
// operator can decide.
package storage
