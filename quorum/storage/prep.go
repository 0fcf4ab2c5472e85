package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"go.uber.org/zap"
)

// segmentPrep writes the next segment file full of zeros in the background,
// so that rotation finds it ready. A segment whose blocks are all written
// lets fdatasync flush data alone: with fallocate's unwritten extents, or a
// growing file, every Save that touches a new block also has to commit a
// filesystem journal transaction (extent conversion or size change).
//
// One segmentPrep prepares one file. The WAL starts it only once the active
// segment is half full, so short-lived logs (tests, mostly) never pay for
// writing a whole segment of zeros.
type segmentPrep struct {
	result chan prepResult // buffered: the goroutine never blocks on it
	stop   chan struct{}
	done   chan struct{}
}

type prepResult struct {
	f    *os.File // zero-filled and fsynced, under the temporary name path
	path string
	err  error
}

var errStopped = errors.New("storage: segment preparation stopped")

// startPrep begins writing path (a *.wal.tmp name, which Open removes if a
// crash leaves it behind).
func startPrep(path string, size int64, lg *zap.Logger) *segmentPrep {
	p := &segmentPrep{result: make(chan prepResult, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		f, err := p.fill(path, size)
		if err != nil && !errors.Is(err, errStopped) {
			lg.Warn("cannot prepare the next log segment; rotation will use fallocate", zap.Error(err))
		}
		p.result <- prepResult{f: f, path: path, err: err}
	}()
	return p
}

func (p *segmentPrep) fill(path string, size int64) (f *os.File, err error) {
	f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
			f = nil
		}
	}()
	zeros := make([]byte, min(size, 1<<20))
	for off := int64(0); off < size; off += int64(len(zeros)) {
		select {
		case <-p.stop:
			return nil, errStopped
		default:
		}
		if _, err := f.WriteAt(zeros[:min(int64(len(zeros)), size-off)], off); err != nil {
			return nil, fmt.Errorf("zero-fill %s: %w", path, err)
		}
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("fsync %s: %w", path, err)
	}
	return f, nil
}

// prepared is a finished file handed to createSegment.
type prepared struct {
	f    *os.File
	path string
}

// take waits for the file; ok is false if preparing it failed.
func (p *segmentPrep) take() (f *os.File, path string, ok bool) {
	r := <-p.result
	return r.f, r.path, r.err == nil
}

// cancel stops the goroutine and removes the file if it was finished but
// not taken.
func (p *segmentPrep) cancel() {
	close(p.stop)
	<-p.done
	if r := <-p.result; r.err == nil {
		r.f.Close()
		os.Remove(r.path)
	}
}

// prepPath is the temporary name of the prepared file for segment seq.
func prepPath(dir string, seq uint64) string {
	return filepath.Join(dir, fmt.Sprintf("next-%016x%s.tmp", seq, segmentExt))
}
