package storage

import (
	"fmt"
	"os"

	"go.uber.org/zap"
)

// Zero-fill ahead of the log's end. A segment that is only fallocated has
// unwritten extents: the first write into each block converts it, and the
// fdatasync after it must then commit a filesystem journal transaction as
// well as flush the data. On ext4 here that makes a Save into a new block
// cost about twice one into a block already written (BenchmarkFdatasync:
// fallocate against zeroed). Rotated segments arrive zero-filled from
// segmentPrep; the first segment of a new log and a reopened one did not,
// and a short-lived ensemble (a benchmark, a test) never leaves its first
// segment. So the region just past the end is written with zeros, a chunk
// at a time, by a background goroutine, and Saves land in written blocks.
//
// Correctness does not depend on it: a zeroed region reads exactly like an
// fallocated one. What must hold is that zeros never land on a record. A
// chunk starts at or after the log's end as it was when the chunk began,
// and a write that would reach into a chunk still being zeroed waits for it.
const (
	zeroChunk = 1 << 20
	// zeroLowWater: a new chunk starts when less than this much zeroed
	// space is left ahead of the end.
	zeroLowWater = 512 << 10
	// zeroGap keeps the first chunk of a fresh or reopened segment clear
	// of the next few Saves, so they need not wait for it.
	zeroGap = 64 << 10
)

// zeroJob is one chunk being zero-filled.
type zeroJob struct {
	start, end int64
	done       chan struct{}
	err        error // set before done is closed
}

// zeroFill writes zeros over [start, end) of path through its own file
// descriptor, and fdatasyncs it. Its own descriptor keeps its fdatasync from
// consuming a writeback error the log's descriptor must still see (Linux
// reports each error once per open file description).
func zeroFill(path string, start, end int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open %s to zero-fill: %w", path, err)
	}
	defer f.Close()
	zeros := make([]byte, min(end-start, zeroChunk))
	for off := start; off < end; off += int64(len(zeros)) {
		if _, err := f.WriteAt(zeros[:min(int64(len(zeros)), end-off)], off); err != nil {
			return fmt.Errorf("zero-fill %s at offset %d: %w", path, off, err)
		}
	}
	return fdatasync(f)
}

// zeroAheadEnabled reports whether the log zero-fills ahead of its end.
func (w *WAL) zeroAheadEnabled() bool { return !w.opts.NoPreallocate && !w.opts.NoZeroFill }

// waitZeroing waits for the chunk being zeroed, if any, and forgets it.
// Called with w.mu held.
func (w *WAL) waitZeroing() {
	if w.zeroing == nil {
		return
	}
	<-w.zeroing.done
	w.reapZeroing()
}

// reapZeroing forgets a finished chunk, logging its failure. A failed
// chunk stops zero-filling this segment: its space stays fallocated, which
// is only slower. Called with w.mu held.
func (w *WAL) reapZeroing() {
	if w.zeroing == nil {
		return
	}
	select {
	case <-w.zeroing.done:
	default:
		return
	}
	if err := w.zeroing.err; err != nil {
		w.lg.Warn("cannot zero-fill ahead of the log; appends into fresh blocks stay slower", zap.Error(err))
		w.zeroedTo = w.opts.SegmentSize
	}
	w.zeroing = nil
}

// maybeZeroAhead starts zeroing the next chunk when the zeroed space ahead
// of the end runs low. Called with w.mu held, after a write.
func (w *WAL) maybeZeroAhead() {
	if !w.zeroAheadEnabled() || w.f == nil {
		return
	}
	w.reapZeroing()
	if w.zeroing != nil || w.zeroedTo-w.off >= zeroLowWater || w.zeroedTo >= w.opts.SegmentSize {
		return
	}
	start := max(w.zeroedTo, w.off+zeroGap)
	end := min(start+zeroChunk, w.opts.SegmentSize)
	if start >= end {
		return
	}
	job := &zeroJob{start: start, end: end, done: make(chan struct{})}
	w.zeroing = job
	w.zeroedTo = end
	path := w.f.Name()
	go func() {
		defer close(job.done)
		job.err = zeroFill(path, start, end)
	}()
}
