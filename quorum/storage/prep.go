package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"go.uber.org/zap"
)

// segmentPrep creates the next segment file in the background, so that
// rotation finds it ready: fallocated to its full size, with its first
// zeroChunk bytes written with zeros. A segment whose blocks are written
// lets fdatasync flush data alone: with fallocate's unwritten extents, or a
// growing file, every Save that touches a new block also has to commit a
// filesystem journal transaction (extent conversion or size change). The
// rest is zeroed a chunk at a time ahead of the log's end (zero.go), as in
// the first segment: writing all 64 MiB at once here competed with the
// log's own fsyncs for the disk for a noticeable while.
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
	f      *os.File // prepared and fsynced, under the temporary name path
	path   string
	zeroed int64 // bytes from the start written with zeros
	err    error
}

var errStopped = errors.New("storage: segment preparation stopped")

// startPrep begins writing path (a *.wal.tmp name, which Open removes if a
// crash leaves it behind).
func startPrep(path string, size int64, lg *zap.Logger) *segmentPrep {
	p := &segmentPrep{result: make(chan prepResult, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		f, zeroed, err := p.fill(path, size)
		if err != nil && !errors.Is(err, errStopped) {
			lg.Warn("cannot prepare the next log segment; rotation will use fallocate", zap.Error(err))
		}
		p.result <- prepResult{f: f, path: path, zeroed: zeroed, err: err}
	}()
	return p
}

func (p *segmentPrep) fill(path string, size int64) (f *os.File, zeroed int64, err error) {
	f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, 0, fmt.Errorf("create %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
			f = nil
		}
	}()
	if err := preallocate(f, size); err != nil {
		return nil, 0, err
	}
	select {
	case <-p.stop:
		return nil, 0, errStopped
	default:
	}
	zeroed = min(size, zeroChunk)
	if _, err := f.WriteAt(make([]byte, zeroed), 0); err != nil {
		return nil, 0, fmt.Errorf("zero-fill %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return nil, 0, fmt.Errorf("fsync %s: %w", path, err)
	}
	return f, zeroed, nil
}

// prepared is a finished file handed to createSegment.
type prepared struct {
	f      *os.File
	path   string
	zeroed int64 // bytes from the start written with zeros
}

// take waits for the file; ok is false if preparing it failed.
func (p *segmentPrep) take() (prepared, bool) {
	r := <-p.result
	return prepared{f: r.f, path: r.path, zeroed: r.zeroed}, r.err == nil
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
