package storage

import (
	"errors"
	"fmt"
)

var (
	// ErrNoSnapshot means the snapshot directory holds no valid snapshot.
	ErrNoSnapshot = errors.New("storage: no valid snapshot")
	// ErrExist is returned by Create when dir already holds a log.
	ErrExist = errors.New("storage: log already exists")
	// ErrNotExist is returned by Open when dir holds no log.
	ErrNotExist = errors.New("storage: no log found")
	// ErrLocked means another WAL (in this or another process) holds the
	// directory lock.
	ErrLocked = errors.New("storage: log directory is locked by another process")
	// ErrClosed is returned by methods of a closed WAL.
	ErrClosed = errors.New("storage: log is closed")
	// ErrEntryTooLarge means a single entry does not fit in one record.
	ErrEntryTooLarge = errors.New("storage: entry too large")
	// ErrCorrupt is wrapped by every CorruptError, for errors.Is.
	ErrCorrupt = errors.New("storage: corrupt data")
)

// CorruptError reports damage that is not a torn last write: the log cannot
// be trusted past Offset of File and the caller must not continue.
type CorruptError struct {
	File   string
	Offset int64
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("storage: corrupt record in %s at offset %d: %s", e.File, e.Offset, e.Reason)
}

func (e *CorruptError) Unwrap() error { return ErrCorrupt }
