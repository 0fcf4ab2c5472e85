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
type segmentPrep struct {
	dir  string
	size int64
	lg   *zap.Logger
	next chan prepared // closed when the goroutine exits
	stop chan struct{}
	done chan struct{}
}

// prepared is a zero-filled, fsynced file under a temporary name.
type prepared struct {
	f    *os.File
	path string
}

var errStopped = errors.New("storage: segment preparation stopped")

func startPrep(dir string, size int64, lg *zap.Logger) *segmentPrep {
	p := &segmentPrep{dir: dir, size: size, lg: lg,
		next: make(chan prepared), stop: make(chan struct{}), done: make(chan struct{})}
	go p.run()
	return p
}

// run prepares one file at a time until stopped or until a preparation
// fails; after a failure rotation falls back to fallocate.
func (p *segmentPrep) run() {
	defer close(p.done)
	defer close(p.next)
	zeros := make([]byte, 1<<20)
	for i := 0; ; i++ {
		r, err := p.prepare(i, zeros)
		if err != nil {
			if !errors.Is(err, errStopped) {
				p.lg.Warn("cannot prepare the next log segment; rotation will use fallocate", zap.Error(err))
			}
			return
		}
		select {
		case p.next <- r:
		case <-p.stop:
			r.f.Close()
			os.Remove(r.path)
			return
		}
	}
}

func (p *segmentPrep) prepare(i int, zeros []byte) (r prepared, err error) {
	// Matches the *.wal.tmp leftovers that Open removes.
	path := filepath.Join(p.dir, fmt.Sprintf("next-%d%s.tmp", i, segmentExt))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return r, fmt.Errorf("create %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
		}
	}()
	for off := int64(0); off < p.size; off += int64(len(zeros)) {
		select {
		case <-p.stop:
			return r, errStopped
		default:
		}
		chunk := zeros[:min(int64(len(zeros)), p.size-off)]
		if _, err := f.WriteAt(chunk, off); err != nil {
			return r, fmt.Errorf("zero-fill %s: %w", path, err)
		}
	}
	if err := f.Sync(); err != nil {
		return r, fmt.Errorf("fsync %s: %w", path, err)
	}
	return prepared{f: f, path: path}, nil
}

// take returns the next prepared file, waiting for it if it is still being
// written; ok is false once preparation has stopped.
func (p *segmentPrep) take() (r prepared, ok bool) {
	r, ok = <-p.next
	return r, ok
}

// close stops the goroutine and removes a file it had not handed over.
func (p *segmentPrep) close() {
	close(p.stop)
	<-p.done
}
