// Package storage keeps the quorum's Raft state on disk: a write-ahead log
// (WAL) of HardState and log entries in segment files, and snapshot files
// holding the serialized data tree at a log position.
//
// Save returns only once the bytes are on stable storage, and one Save
// costs one fdatasync however many entries it carries (group commit). The
// server runs raft with asynchronous storage writes: its storage loop
// folds the log writes (MsgStorageAppend) that queued up during the
// previous fsync into one Save, and only after Save returned delivers the
// responses raft attached to them (this member's acknowledgement to the
// leader, its own step towards commit). A leader's appends to followers
// may leave before its own Save; nothing that promises durability does.
//
// How the server uses it (raft_test.go is a miniature that handles each
// Ready synchronously, in the same order):
//
//	snap, err := snaps.Load()                 // ErrNoSnapshot: start empty
//	w, err := storage.Open(dir, lg)            // or Create if !Exist(dir)
//	hs, ents, err := w.ReadAll(storage.PosOf(snap))
//	ms.ApplySnapshot(snap); ms.SetHardState(hs); ms.Append(ents)
//
//	// each batch of log writes, before delivering their responses:
//	if snap != nil { snaps.Save(snap); w.SaveSnapshot(storage.PosOf(snap)) }
//	w.Save(newestHardState, entries)
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
