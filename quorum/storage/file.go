package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// fdatasync flushes a file's data and the metadata needed to read it back
// (its size), but not timestamps: on a preallocated segment that is one
// device flush per Save.
func fdatasync(f *os.File) error {
	for i := 0; i < 8; i++ { // EINTR only; bounded
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			if err != nil {
				return fmt.Errorf("fdatasync %s: %w", f.Name(), err)
			}
			return nil
		}
	}
	return fmt.Errorf("fdatasync %s: interrupted repeatedly", f.Name())
}

// syncDir makes creations, renames and removals in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s for fsync: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

// preallocate reserves size bytes for f so that later writes do not change
// its size. Filesystems without fallocate just skip it: it is an
// optimisation, not a correctness requirement.
func preallocate(f *os.File, size int64) error {
	err := syscall.Fallocate(int(f.Fd()), 0, 0, size)
	if err == nil || errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
		return nil
	}
	return fmt.Errorf("preallocate %d bytes for %s: %w", size, f.Name(), err)
}

// lockDir takes an exclusive flock on dir itself. Locks belong to the open
// file description, so a second open in the same process is refused too.
func lockDir(dir string) (*os.File, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("open log directory %s: %w", dir, err)
	}
	if err := syscall.Flock(int(d.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		d.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("lock log directory %s: %w", dir, err)
	}
	return d, nil
}

// segmentName is a segment's identity: its sequence number and the raft
// index of the first entry appended to it (entries in older segments are
// all below it, which is what ReleaseTo relies on).
type segmentName struct{ seq, index uint64 }

const segmentExt = ".wal"

func (s segmentName) String() string { return hexPairName(s.seq, s.index, segmentExt) }

func parseSegmentName(name string) (segmentName, bool) {
	seq, index, ok := parseHexPairName(name, segmentExt)
	return segmentName{seq: seq, index: index}, ok
}

// hexPairName is the file name form segments and snapshots share: two
// numbers as 16 hex digits each, a dash between, so that names sort in
// numeric order.
func hexPairName(a, b uint64, ext string) string { return fmt.Sprintf("%016x-%016x%s", a, b, ext) }

// parseHexPairName reads a name hexPairName made with ext; ok is false for
// any other name.
func parseHexPairName(name, ext string) (a, b uint64, ok bool) {
	if len(name) != 33+len(ext) || name[16] != '-' || !strings.HasSuffix(name, ext) {
		return 0, 0, false
	}
	a, err1 := strconv.ParseUint(name[:16], 16, 64)
	b, err2 := strconv.ParseUint(name[17:33], 16, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return a, b, true
}

// listSegments returns dir's segments in sequence order, checking that no
// sequence number is missing: a hole means a lost file, not a released one.
func listSegments(dir string) ([]segmentName, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list log directory %s: %w", dir, err)
	}
	var segs []segmentName
	for _, de := range des {
		if s, ok := parseSegmentName(de.Name()); ok && de.Type().IsRegular() {
			segs = append(segs, s)
		}
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].seq < segs[j].seq })
	for i := 1; i < len(segs); i++ {
		if segs[i].seq != segs[i-1].seq+1 {
			return nil, fmt.Errorf("%w: log %s is missing segment %d (have %s then %s)",
				ErrCorrupt, dir, segs[i-1].seq+1, segs[i-1], segs[i])
		}
		if segs[i].index < segs[i-1].index {
			return nil, fmt.Errorf("%w: log %s: segment %s starts below %s", ErrCorrupt, dir, segs[i], segs[i-1])
		}
	}
	return segs, nil
}

// removeTemps deletes leftovers of a crash during segment creation; they
// were never renamed into place, so they hold nothing acknowledged.
func removeTemps(dir, ext string) error {
	matches, err := filepath.Glob(filepath.Join(dir, "*"+ext+".tmp"))
	if err != nil {
		return err
	}
	for _, m := range matches {
		if err := os.Remove(m); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("remove leftover %s: %w", m, err)
		}
	}
	return nil
}
