package storage

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
)

// DefaultSegmentSize is the size at which the active segment is closed and
// a new one started; segments are also preallocated to this size.
const DefaultSegmentSize = 64 << 20

// Options tune a WAL; the zero value gives the defaults.
type Options struct {
	// SegmentSize is the rotation threshold in bytes (default
	// DefaultSegmentSize). A Save that crosses it still lands whole in the
	// current segment; the next Save goes to a new one.
	SegmentSize int64
	// NoPreallocate turns off preallocation of new segments altogether.
	NoPreallocate bool
	// NoZeroFill preallocates with fallocate only. By default, once the
	// active segment is half full, the next one is written full of zeros
	// in the background (see segmentPrep); the first segment of a new log
	// and a reopened one are only fallocated.
	NoZeroFill bool
}

func (o Options) withDefaults() Options {
	if o.SegmentSize <= 0 {
		o.SegmentSize = DefaultSegmentSize
	}
	return o
}

// WAL is an append-only log of raft records in segment files under dir.
// Its methods are safe for concurrent use, though the server is expected to
// call Save from its single raft goroutine.
type WAL struct {
	dir  string
	lg   *zap.Logger
	opts Options

	mu        sync.Mutex
	lock      *os.File      // the flocked directory
	segs      []segmentName // oldest first; the last one is active
	f         *os.File      // active segment
	off       int64         // where the next record goes in f
	lastIndex uint64        // index of the newest entry (or snapshot)
	hs        hardState     // newest HardState written
	snap      Pos           // newest snapshot recorded
	buf       []byte        // encoding buffer reused across Saves
	prep      *segmentPrep  // the next segment being zero-filled, or nil
	zeroedTo  int64         // f below this offset is written or being zeroed (zero.go)
	zeroing   *zeroJob      // the chunk being zeroed, or nil
	err       error         // sticky: a failed write or sync leaves the file state unknown
	syncs     uint64        // fdatasyncs of appends, for tests of group commit
	closed    bool
}

// Exist reports whether dir holds at least one log segment.
func Exist(dir string) bool {
	des, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, de := range des {
		if _, ok := parseSegmentName(de.Name()); ok {
			return true
		}
	}
	return false
}

// Create makes a new, empty log in dir (created with mode 0700).
func Create(dir string, lg *zap.Logger) (*WAL, error) {
	return CreateWithOptions(dir, lg, Options{})
}

// CreateWithOptions is Create with non-default options.
func CreateWithOptions(dir string, lg *zap.Logger, opts Options) (*WAL, error) {
	if Exist(dir) {
		return nil, fmt.Errorf("%w in %s", ErrExist, dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create log directory %s: %w", dir, err)
	}
	if err := syncDir(filepath.Dir(filepath.Clean(dir))); err != nil {
		return nil, err
	}
	w, err := newWAL(dir, lg, opts)
	if err != nil {
		return nil, err
	}
	// Checked again under the lock: another process may have won the race.
	if Exist(dir) {
		w.unlock()
		return nil, fmt.Errorf("%w in %s", ErrExist, dir)
	}
	if _, err := w.createSegment(segmentName{seq: 1, index: 1}, nil); err != nil {
		w.unlock()
		return nil, err
	}
	w.lg.Info("created log", zap.String("dir", dir))
	return w, nil
}

// Open opens the existing log in dir for appending. A torn last record is
// truncated (and logged); any other damage in the newest segment fails.
// Older segments are checked by ReadAll, which the caller runs next.
func Open(dir string, lg *zap.Logger) (*WAL, error) {
	return OpenWithOptions(dir, lg, Options{})
}

// OpenWithOptions is Open with non-default options.
func OpenWithOptions(dir string, lg *zap.Logger, opts Options) (*WAL, error) {
	w, err := newWAL(dir, lg, opts)
	if err != nil {
		return nil, err
	}
	segs, err := listSegments(dir)
	if err == nil && len(segs) == 0 {
		err = fmt.Errorf("%w in %s", ErrNotExist, dir)
	}
	if err == nil {
		w.segs = segs
		err = w.openTail()
	}
	if err != nil {
		w.unlock()
		return nil, err
	}
	return w, nil
}

func newWAL(dir string, lg *zap.Logger, opts Options) (*WAL, error) {
	if lg == nil {
		lg = zap.NewNop()
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	w := &WAL{dir: dir, lg: lg, opts: opts.withDefaults(), lock: lock}
	if err := removeTemps(dir, segmentExt); err != nil {
		w.unlock()
		return nil, err
	}
	return w, nil
}

func (w *WAL) unlock() {
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
	w.lock.Close() // closing the descriptor releases the flock
}

func (w *WAL) path(s segmentName) string { return filepath.Join(w.dir, s.String()) }

// createSegment writes a new segment under a temporary name and renames it
// into place, so a segment file either is complete through its header
// records or does not exist. It starts with the newest snapshot position
// and HardState so that releasing older segments loses neither.
//
// renamed reports whether the new file reached its final name; after that
// a failure cannot be undone safely (the file would be taken as the newest
// segment on restart), so the caller must stop writing.
func (w *WAL) createSegment(name segmentName, prep *prepared) (renamed bool, err error) {
	path := w.path(name)
	var (
		f   *os.File
		tmp string
	)
	if prep != nil {
		f, tmp = prep.f, prep.path
	} else {
		tmp = path + ".tmp"
		if f, err = os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
			return false, fmt.Errorf("create segment %s: %w", tmp, err)
		}
	}
	defer func() {
		if err != nil {
			f.Close()
			if !renamed {
				os.Remove(tmp)
			}
		}
	}()
	buf := appendSegmentHeader(nil, segmentHeader{seq: name.seq, index: name.index})
	if w.snap != (Pos{}) {
		buf = appendSnapshotRecord(buf, w.snap)
	}
	if !w.hs.isEmpty() {
		hs := w.hs
		if buf, err = appendBatches(buf, &hs, nil); err != nil {
			return false, err
		}
	}
	if prep == nil && !w.opts.NoPreallocate {
		if err := preallocate(f, w.opts.SegmentSize); err != nil {
			return false, err
		}
	}
	if _, err := f.WriteAt(buf, 0); err != nil {
		return false, fmt.Errorf("write segment header %s: %w", tmp, err)
	}
	if err := fdatasync(f); err != nil {
		return false, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return false, fmt.Errorf("rename segment %s: %w", tmp, err)
	}
	if err := syncDir(w.dir); err != nil {
		return true, err
	}
	// Reopened under the final name so that errors name the right file.
	final, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return true, fmt.Errorf("open segment %s: %w", path, err)
	}
	f.Close()
	w.f, w.off = final, int64(len(buf))
	w.zeroedTo = w.off
	if prep != nil {
		w.zeroedTo = max(w.off, prep.zeroed) // segmentPrep zeroed its head
	}
	w.segs = append(w.segs, name)
	return true, nil
}

// openTail scans the newest segment, repairs a torn tail and opens it for
// appending.
func (w *WAL) openTail() error {
	last := w.segs[len(w.segs)-1]
	path := w.path(last)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open segment %s: %w", path, err)
	}
	img, err := os.ReadFile(path)
	if err != nil {
		f.Close()
		return fmt.Errorf("read segment %s: %w", path, err)
	}
	w.lastIndex = last.index - 1
	end, torn, err := walkSegment(path, img, last, func(off int, t recType, data []byte) error {
		switch t {
		case recBatch:
			b, err := decodeBatch(data)
			if err != nil {
				return err
			}
			if b.hs != nil {
				w.hs = *b.hs
			}
			if n := len(b.ents); n > 0 {
				w.lastIndex = b.ents[n-1].GetIndex()
			}
		case recSnapshot:
			p, err := decodeSnapshotRecord(data)
			if err != nil {
				return err
			}
			w.snap = p
			w.lastIndex = max(w.lastIndex, p.Index)
		}
		return nil
	})
	if err == nil && torn != nil {
		w.lg.Warn("truncating torn last record of log",
			zap.String("file", path), zap.Int("offset", end),
			zap.String("reason", torn.Reason), zap.Int("dropped_bytes", len(img)-end))
		if err = f.Truncate(int64(end)); err == nil {
			err = fdatasync(f)
		}
		if err != nil {
			err = fmt.Errorf("truncate torn tail of %s at offset %d: %w", path, end, err)
		}
	}
	if err == nil && !w.opts.NoPreallocate {
		err = preallocate(f, w.opts.SegmentSize)
	}
	if err != nil {
		f.Close()
		return err
	}
	w.f, w.off = f, int64(end)
	w.zeroedTo = w.off // what lies beyond is unknown: zeroed again
	return nil
}

// walkSegment checks the header record of img against name and calls visit
// for every later record. It returns the offset after the last valid
// record. A bad record that looks like an interrupted write and has no
// valid record anywhere after it is returned as torn, for the caller to
// judge (only the newest segment may end so); any other bad record is
// returned as err.
func walkSegment(path string, img []byte, name segmentName, visit func(off int, t recType, data []byte) error) (end int, torn *CorruptError, err error) {
	corrupt := func(off int, format string, args ...any) *CorruptError {
		return &CorruptError{File: path, Offset: int64(off), Reason: fmt.Sprintf(format, args...)}
	}
	t, data, off, bad, reason := parseRecord(img, 0)
	if bad != good {
		if bad == cleanEnd {
			reason = "missing segment header"
		}
		return 0, nil, corrupt(0, "%s", reason)
	}
	h, herr := decodeSegmentHeader(data)
	if t != recSegment || herr != nil || h.seq != name.seq || h.index != name.index {
		return 0, nil, corrupt(0, "segment header does not match file name")
	}
	for off < len(img) { // every record advances off by at least 16 bytes
		recOff := off
		t, data, next, bad, reason := parseRecord(img, off)
		switch bad {
		case cleanEnd:
			return off, nil, nil
		case damaged:
			return off, nil, corrupt(off, "%s", reason)
		case tornLike:
			if p, found := validRecordAfter(img, off); found {
				return off, nil, corrupt(off, "%s (a valid record follows at offset %d)", reason, p)
			}
			return off, corrupt(off, "%s", reason), nil
		}
		switch t {
		case recBatch, recSnapshot:
		default:
			return off, nil, corrupt(off, "unexpected record type %d", t)
		}
		if err := visit(recOff, t, data); err != nil {
			var ce *CorruptError
			if errors.As(err, &ce) {
				return off, nil, ce
			}
			return off, nil, corrupt(off, "%v", err)
		}
		off = next
	}
	return off, nil, nil
}

// ReadAll replays the log and returns the newest HardState and the entries
// after from.Index, where from is the position of the snapshot the caller
// loaded (zero for none). A later entry for an index replaces the earlier
// one and everything after it, as raft overwrites an uncommitted tail. The
// entries must continue the snapshot without a hole, or ReadAll fails: a
// hole means the snapshot is too old for the log that was kept.
func (w *WAL) ReadAll(from Pos) (*raftpb.HardState, []*raftpb.Entry, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, nil, ErrClosed
	}
	var (
		hs   hardState
		ents []*raftpb.Entry
	)
	for i, seg := range w.segs {
		path := w.path(seg)
		active := i == len(w.segs)-1
		limit := int64(-1)
		if active {
			limit = w.off // beyond is preallocated space
		}
		img, err := readSegment(path, limit)
		if err != nil {
			return nil, nil, err
		}
		end, torn, err := walkSegment(path, img, seg, func(off int, t recType, data []byte) error {
			if t != recBatch {
				_, err := decodeSnapshotRecord(data)
				return err
			}
			b, err := decodeBatch(data)
			if err != nil {
				return err
			}
			if b.hs != nil {
				hs = *b.hs
			}
			for _, e := range b.ents {
				idx := e.GetIndex()
				next := from.Index + 1 + uint64(len(ents))
				switch {
				case idx <= from.Index:
					ents = ents[:0] // anything kept is being overwritten
				case idx < next:
					ents = append(ents[:idx-from.Index-1], e)
				case idx == next:
					ents = append(ents, e)
				default:
					return &CorruptError{File: path, Offset: int64(off), Reason: fmt.Sprintf(
						"entry %d does not follow entry %d (snapshot at index %d): log has a hole",
						idx, next-1, from.Index)}
				}
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		if torn != nil {
			// Open repaired the tail, so a bad record now is damage.
			return nil, nil, torn
		}
		if !active && end < len(img) {
			// Older segments are trimmed to their last record at rotation.
			return nil, nil, &CorruptError{File: path, Offset: int64(end), Reason: "zero-filled gap in a closed segment"}
		}
	}
	return hs.proto(), ents, nil
}

// readSegment reads the first limit bytes of path, or all of it if limit
// is negative.
func readSegment(path string, limit int64) ([]byte, error) {
	if limit < 0 {
		img, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read segment %s: %w", path, err)
		}
		return img, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read segment %s: %w", path, err)
	}
	defer f.Close()
	img := make([]byte, limit) // limit is our own write offset, not file content
	if _, err := io.ReadFull(f, img); err != nil {
		return nil, fmt.Errorf("read segment %s: first %d bytes: %w", path, limit, err)
	}
	return img, nil
}

// Save appends hs (if it changed) and ents as one batch and fsyncs once.
// With nothing durable to add (hs empty or unchanged, no entries) it
// returns without touching the disk. ents must be contiguous and must not
// leave a hole after the last entry or recorded snapshot.
func (w *WAL) Save(hs *raftpb.HardState, ents []*raftpb.Entry) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	var newHS *hardState
	if h := hardStateOf(hs); !h.isEmpty() && h != w.hs {
		newHS = &h
	}
	if newHS == nil && len(ents) == 0 {
		return nil
	}
	if len(ents) > 0 {
		if first := ents[0].GetIndex(); first == 0 || first > w.lastIndex+1 {
			return fmt.Errorf("storage: save entries from index %d: log ends at %d", first, w.lastIndex)
		}
		for i := 1; i < len(ents); i++ {
			if ents[i].GetIndex() != ents[i-1].GetIndex()+1 {
				return fmt.Errorf("storage: save entries: index %d follows %d", ents[i].GetIndex(), ents[i-1].GetIndex())
			}
		}
	}
	buf, err := appendBatches(w.buf[:0], newHS, ents)
	if err != nil {
		return err
	}
	if cap(buf) <= 1<<20 {
		w.buf = buf // keep small buffers; a rare huge batch should not pin memory
	}
	if err := w.write(buf); err != nil {
		return err
	}
	if newHS != nil {
		w.hs = *newHS
	}
	if n := len(ents); n > 0 {
		w.lastIndex = ents[n-1].GetIndex()
	}
	w.maybeCut()
	return nil
}

// SaveSnapshot records that a snapshot at pos exists and fsyncs, which also
// makes every earlier record durable.
func (w *WAL) SaveSnapshot(pos Pos) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	if err := w.write(appendSnapshotRecord(nil, pos)); err != nil {
		return err
	}
	w.snap = pos
	w.lastIndex = max(w.lastIndex, pos.Index)
	w.maybeCut()
	return nil
}

func (w *WAL) usable() error {
	if w.closed {
		return ErrClosed
	}
	return w.err
}

// write appends buf at the tail and fdatasyncs. Any failure is sticky: after
// a failed fsync the kernel may have dropped the dirty pages, so retrying
// could report success for data that is gone.
func (w *WAL) write(buf []byte) error {
	if z := w.zeroing; z != nil && w.off+int64(len(buf)) > z.start {
		w.waitZeroing() // never write where zeros may still land
	}
	if _, err := w.f.WriteAt(buf, w.off); err != nil {
		w.err = fmt.Errorf("storage: write %s at offset %d: %w", w.f.Name(), w.off, err)
		return w.err
	}
	if err := fdatasync(w.f); err != nil {
		w.err = fmt.Errorf("storage: %w", err)
		return w.err
	}
	w.syncs++
	w.off += int64(len(buf))
	w.zeroedTo = max(w.zeroedTo, w.off)
	w.maybeZeroAhead()
	return nil
}

// maybeCut starts zero-filling the next segment once the active one is half
// full, and switches to it once the active one is full. The data just
// written is already durable, so a failure to switch is logged, not
// returned; the next write retries.
func (w *WAL) maybeCut() {
	if w.off < w.opts.SegmentSize {
		if w.prep == nil && !w.opts.NoPreallocate && !w.opts.NoZeroFill && w.off >= w.opts.SegmentSize/2 {
			w.prep = startPrep(prepPath(w.dir, w.segs[len(w.segs)-1].seq+1), w.opts.SegmentSize, w.lg)
		}
		return
	}
	// Trim the preallocated tail so that only the newest segment can end in
	// zeros or a torn record; that is what lets ReadAll be strict about the
	// others. A chunk still being zeroed would write past the trim.
	w.waitZeroing()
	if err := w.f.Truncate(w.off); err != nil {
		w.err = fmt.Errorf("storage: trim segment %s: %w", w.f.Name(), err)
		return
	}
	if err := fdatasync(w.f); err != nil {
		w.err = fmt.Errorf("storage: %w", err)
		return
	}
	old := w.f
	last := w.segs[len(w.segs)-1]
	var prep *prepared
	if w.prep != nil {
		if pr, ok := w.prep.take(); ok {
			prep = &pr
		}
		w.prep = nil
	}
	renamed, err := w.createSegment(segmentName{seq: last.seq + 1, index: w.lastIndex + 1}, prep)
	if renamed && err != nil {
		// The new file would be read as the newest segment after a
		// restart, hiding whatever we appended to the old one.
		w.err = fmt.Errorf("storage: start new segment: %w", err)
		return
	}
	if err != nil {
		w.lg.Warn("cannot start a new log segment; appending to the current one", zap.Error(err))
		return
	}
	old.Close()
	w.lg.Debug("rotated log segment", zap.String("file", w.f.Name()))
}

// ReleaseTo deletes whole segments that hold only entries below index, the
// oldest first; the active segment is never deleted.
func (w *WAL) ReleaseTo(index uint64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	// Every entry in a segment is below the first index of the next one.
	for len(w.segs) > 1 && w.segs[1].index <= index {
		path := w.path(w.segs[0])
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("release segment %s: %w", path, err)
		}
		// One directory fsync per removal keeps the removals ordered: a
		// crash can leave only a prefix of the old segments gone.
		if err := syncDir(w.dir); err != nil {
			return err
		}
		w.lg.Info("released log segment", zap.String("file", path))
		w.segs = w.segs[1:]
	}
	return nil
}

// LastIndex returns the index of the newest entry or recorded snapshot.
func (w *WAL) LastIndex() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastIndex
}

// Close releases the files and the directory lock. Every Save has already
// been synced, so there is nothing to flush.
func (w *WAL) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	w.waitZeroing()
	if w.prep != nil {
		w.prep.cancel()
		w.prep = nil
	}
	var err error
	if w.f != nil {
		err = w.f.Close()
		w.f = nil
	}
	if cerr := w.lock.Close(); err == nil {
		err = cerr
	}
	return err
}
