package storage

import (
	"fmt"
	"path/filepath"
)

// MinRetainCount is ZooKeeper's floor for autopurge.snapRetainCount.
const MinRetainCount = 3

// Purge is ZooKeeper's autopurge: it keeps the newest keep snapshots (at
// least MinRetainCount, as ZooKeeper enforces) and releases the log
// segments that only hold entries covered by the oldest kept snapshot, so
// that Load may still fall back to any kept snapshot and replay the log
// after it. It returns the files it deleted.
func Purge(w *WAL, s *Snapshotter, keep int) ([]string, error) {
	keep = max(keep, MinRetainCount)
	ps, err := s.list()
	if err != nil {
		return nil, err
	}
	if len(ps) <= keep {
		return nil, nil
	}
	oldest := ps[len(ps)-keep]
	removed, err := s.Purge(keep)
	if err != nil {
		return removed, err
	}
	before := w.segmentPaths()
	if err := w.ReleaseTo(oldest.Index + 1); err != nil {
		return removed, fmt.Errorf("purge log before index %d: %w", oldest.Index+1, err)
	}
	after := make(map[string]bool)
	for _, p := range w.segmentPaths() {
		after[p] = true
	}
	for _, p := range before {
		if !after[p] {
			removed = append(removed, p)
		}
	}
	return removed, nil
}

// segmentPaths lists the WAL's current segment files, oldest first.
func (w *WAL) segmentPaths() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	paths := make([]string, len(w.segs))
	for i, s := range w.segs {
		paths[i] = filepath.Join(w.dir, s.String())
	}
	return paths
}
