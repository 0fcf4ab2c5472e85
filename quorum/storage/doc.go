// Package storage keeps the quorum's Raft state on disk: a write-ahead log
// (WAL) of HardState and log entries in segment files, and snapshot files
// holding the serialized data tree at a log position.
//
// The server persists every raft.Ready through Save before it sends a
// message or answers a client, so Save returns only once the bytes are on
// stable storage, and one Save costs one fdatasync however many entries it
// carries (group commit).
//
// What the package must never do: acknowledge data that is not durable,
// silently drop acknowledged data, panic or allocate by an unchecked length
// on bad input, or let two processes append to the same log. A torn last
// write (a crash in the middle of Save) is the only damage it repairs on its
// own; anything else is reported with the file and byte offset so an
// operator can decide.
package storage
