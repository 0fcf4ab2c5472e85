package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
)

func TestRoundTripAcrossReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wal")
	w := mustCreate(t, dir)
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("log dir mode: %v %v", fi.Mode(), err)
	}
	mustSave(t, w, hardst(1, 1, 0), ents(1, 10, 1))
	mustSave(t, w, hardst(2, 3, 10), ents(11, 20, 2))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !Exist(dir) {
		t.Fatal("Exist = false after Create")
	}

	w = mustOpen(t, dir, nil)
	defer w.Close()
	hs, got := mustReadAll(t, w, Pos{})
	if want := (hardState{term: 2, vote: 3, commit: 10}); hs != want {
		t.Fatalf("HardState = %+v, want %+v", hs, want)
	}
	checkEntries(t, got, append(ents(1, 10, 1), ents(11, 20, 2)...))
	if w.LastIndex() != 20 {
		t.Fatalf("LastIndex = %d, want 20", w.LastIndex())
	}

	// From a snapshot position only the later entries come back.
	_, got = mustReadAll(t, w, Pos{Index: 15, Term: 2})
	checkEntries(t, got, ents(16, 20, 2))

	// Appending continues where the reopened log ended.
	mustSave(t, w, nil, ents(21, 21, 2))
	_, got = mustReadAll(t, w, Pos{Index: 20, Term: 2})
	checkEntries(t, got, ents(21, 21, 2))
}

func TestSaveSyncsOncePerBatch(t *testing.T) {
	w := mustCreate(t, t.TempDir())
	defer w.Close()
	cases := []struct {
		name      string
		hs        *raftpb.HardState
		ents      []*raftpb.Entry
		wantSyncs uint64
	}{
		{"64 entries and a HardState", hardst(1, 1, 0), ents(1, 64, 1), 1},
		{"unchanged HardState, no entries", hardst(1, 1, 0), nil, 0},
		{"nil HardState, no entries", nil, nil, 0},
		{"empty HardState, no entries", &raftpb.HardState{}, nil, 0},
		{"commit changed", hardst(1, 1, 64), nil, 1},
		{"one entry", nil, ents(65, 65, 1), 1},
	}
	for _, c := range cases {
		before, off := w.syncs, w.off
		mustSave(t, w, c.hs, c.ents)
		if got := w.syncs - before; got != c.wantSyncs {
			t.Errorf("%s: %d fdatasyncs, want %d", c.name, got, c.wantSyncs)
		}
		if c.wantSyncs == 0 && w.off != off {
			t.Errorf("%s: wrote %d bytes, want none", c.name, w.off-off)
		}
	}
}

func TestSaveRejectsHoles(t *testing.T) {
	w := mustCreate(t, t.TempDir())
	defer w.Close()
	mustSave(t, w, nil, ents(1, 3, 1))
	for _, es := range [][]*raftpb.Entry{
		ents(5, 6, 1),                    // gap after the log
		{ent(4, 1, "a"), ent(6, 1, "b")}, // gap inside the batch
		{ent(0, 1, "zero")},
	} {
		if err := w.Save(nil, es); err == nil {
			t.Errorf("Save(%s) succeeded, want an error", span(es))
		}
	}
	// A rejected Save leaves the log usable.
	mustSave(t, w, nil, ents(4, 4, 1))
}

func TestOverwriteUncommittedTail(t *testing.T) {
	cases := []struct {
		name string
		from Pos
		want []*raftpb.Entry
	}{
		{"no snapshot", Pos{}, append(ents(1, 5, 1), ents(6, 8, 2)...)},
		{"snapshot before overwrite", Pos{Index: 3, Term: 1}, append(ents(4, 5, 1), ents(6, 8, 2)...)},
		{"snapshot inside overwritten range", Pos{Index: 7, Term: 2}, ents(8, 8, 2)},
		{"snapshot at end", Pos{Index: 8, Term: 2}, nil},
	}
	dir := t.TempDir()
	w := mustCreate(t, dir)
	mustSave(t, w, hardst(1, 1, 5), ents(1, 10, 1))
	mustSave(t, w, hardst(2, 2, 5), ents(6, 8, 2)) // new leader replaces 6..10
	w.Close()
	w = mustOpen(t, dir, nil)
	defer w.Close()
	if w.LastIndex() != 8 {
		t.Fatalf("LastIndex = %d after overwrite, want 8", w.LastIndex())
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, got := mustReadAll(t, w, c.from)
			checkEntries(t, got, c.want)
		})
	}
}

func TestRotationAndReleaseTo(t *testing.T) {
	dir := t.TempDir()
	w := mustCreate(t, dir)
	payload := strings.Repeat("x", 1000)
	var all []*raftpb.Entry
	for i := uint64(1); i <= 400; i += 4 {
		var batch []*raftpb.Entry
		for j := i; j < i+4; j++ {
			batch = append(batch, ent(j, 1, payload))
		}
		mustSave(t, w, hardst(1, 1, i-1), batch)
		all = append(all, batch...)
	}
	mustSave(t, w, hardst(1, 1, 400), nil)
	segs := segmentFiles(t, dir)
	if len(segs) < 4 {
		t.Fatalf("%d segments after ~400 KB with 64 KB segments, want rotation", len(segs))
	}
	w.Close()

	w = mustOpen(t, dir, nil)
	defer w.Close()
	hs, got := mustReadAll(t, w, Pos{})
	checkEntries(t, got, all)
	if hs.commit != 400 {
		t.Fatalf("commit = %d, want 400", hs.commit)
	}

	if err := w.ReleaseTo(200); err != nil {
		t.Fatal(err)
	}
	left := segmentFiles(t, dir)
	if len(left) >= len(segs) || len(left) == 0 {
		t.Fatalf("ReleaseTo(200) left %d of %d segments", len(left), len(segs))
	}
	// The oldest remaining segment must still hold entry 200 or earlier.
	first, _ := parseSegmentName(filepath.Base(left[0]))
	if first.index > 200 {
		t.Fatalf("oldest remaining segment %s starts after 200: released needed entries", left[0])
	}
	w.Close()

	w = mustOpen(t, dir, nil)
	defer w.Close()
	hs, got = mustReadAll(t, w, Pos{Index: 199, Term: 1})
	checkEntries(t, got, all[199:])
	if hs.commit != 400 {
		t.Fatalf("HardState lost with released segments: commit = %d", hs.commit)
	}
	// Without the snapshot the released prefix is a hole, not silent loss.
	if _, _, err := w.ReadAll(Pos{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("ReadAll(Pos{}) after release: err = %v, want a hole error", err)
	}
	// Releasing everything keeps the active segment.
	if err := w.ReleaseTo(1 << 40); err != nil {
		t.Fatal(err)
	}
	if n := len(segmentFiles(t, dir)); n != 1 {
		t.Fatalf("%d segments after releasing all, want the active one", n)
	}
}

func TestMissingMiddleSegmentFails(t *testing.T) {
	dir := t.TempDir()
	w := mustCreate(t, dir)
	for i := uint64(1); i <= 200; i++ {
		mustSave(t, w, nil, []*raftpb.Entry{ent(i, 1, strings.Repeat("y", 1000))})
	}
	w.Close()
	segs := segmentFiles(t, dir)
	if len(segs) < 3 {
		t.Fatalf("want 3+ segments, have %d", len(segs))
	}
	os.Remove(segs[1])
	if _, err := OpenWithOptions(dir, zap.NewNop(), testOpts); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open with a missing segment: err = %v, want ErrCorrupt", err)
	}
}

// buildLog writes three batches, the last with entries of lastSize bytes,
// and returns the offsets of the last record in the single segment.
func buildLog(t *testing.T, dir string, lastSize int) (seg string, start, end int64) {
	t.Helper()
	w := mustCreate(t, dir)
	mustSave(t, w, hardst(1, 1, 0), ents(1, 5, 1))
	mustSave(t, w, hardst(1, 1, 5), ents(6, 10, 1))
	start = w.off
	mustSave(t, w, hardst(1, 1, 10), lastBatch(lastSize))
	end = w.off
	seg = w.f.Name()
	w.Close()
	return seg, start, end
}

// buildOldSegment writes entries over more than one segment and returns
// the oldest, closed segment: Open checks only the newest, ReadAll the rest.
func buildOldSegment(t *testing.T, dir string) string {
	t.Helper()
	w := mustCreate(t, dir)
	for i := uint64(1); i <= 100; i++ {
		mustSave(t, w, nil, []*raftpb.Entry{ent(i, 1, strings.Repeat("z", 1500))})
	}
	w.Close()
	return segmentFiles(t, dir)[0]
}

func lastBatch(size int) []*raftpb.Entry {
	return []*raftpb.Entry{ent(11, 1, strings.Repeat("a", size)), ent(12, 1, strings.Repeat("b", size)), ent(13, 1, strings.Repeat("c", size))}
}

func TestTornTail(t *testing.T) {
	cases := []struct {
		name     string
		lastSize int // bytes per entry of the last batch
		step     int64
		tear     func(img []byte, at int64) []byte
	}{
		// The file ends inside the record, at every byte of it.
		{"truncated", 20, 1, func(img []byte, at int64) []byte { return img[:at] }},
		// The record's later sectors were never written and read as the
		// preallocated zeros. A disk tears at sector boundaries only.
		{"zero-filled", 700, sectorSize, func(img []byte, at int64) []byte {
			clear(img[at:])
			return img
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := t.TempDir()
			seg, start, end := buildLog(t, src, c.lastSize)
			segName := filepath.Base(seg)
			full, _ := os.ReadFile(seg)
			// Bytes past the payload are padding: losing them loses nothing.
			unpadded := start + int64(headerSize+binary.LittleEndian.Uint32(full[start:]))
			tears := []int64{start}
			for at := (start/c.step + 1) * c.step; at < end; at += c.step {
				tears = append(tears, at)
			}
			for _, at := range tears {
				dir := copyDir(t, src)
				path := filepath.Join(dir, segName)
				img := c.tear(append([]byte(nil), full...), at)
				if err := os.WriteFile(path, img, 0o600); err != nil {
					t.Fatal(err)
				}
				lg, logs := observed()
				w, err := OpenWithOptions(dir, lg, testOpts)
				if err != nil {
					t.Fatalf("torn at %d: Open: %v", at, err)
				}
				hs, got := mustReadAll(t, w, Pos{})
				if int64(len(img)) >= unpadded && bytes.Equal(img[start:unpadded], full[start:unpadded]) {
					checkEntries(t, got, append(ents(1, 10, 1), lastBatch(c.lastSize)...))
					w.Close()
					continue
				}
				checkEntries(t, got, ents(1, 10, 1))
				if hs.commit != 5 {
					t.Fatalf("torn at %d: commit = %d, want 5 (the torn batch's HardState must go too)", at, hs.commit)
				}
				warned := logs.FilterMessage("truncating torn last record of log").All()
				wantWarn := at > start || !allZero(img[start:min(end, int64(len(img)))])
				if wantWarn != (len(warned) == 1) {
					t.Fatalf("torn at %d: %d torn-tail warnings, want warning=%v", at, len(warned), wantWarn)
				}
				if wantWarn {
					f := warned[0].ContextMap()
					if f["file"] != path || f["offset"] != start {
						t.Fatalf("torn at %d: warning names %v at %v, want %s at %d", at, f["file"], f["offset"], path, start)
					}
				}
				// The log stays appendable and the new batch survives a reopen.
				mustSave(t, w, hardst(2, 2, 10), ents(11, 11, 2))
				w.Close()
				w = mustOpen(t, dir, nil)
				_, got = mustReadAll(t, w, Pos{})
				checkEntries(t, got, append(ents(1, 10, 1), ents(11, 11, 2)...))
				w.Close()
			}
			t.Logf("%d tear positions in a record of %d bytes", len(tears), end-start)
		})
	}
}

func TestCorruptionIsReported(t *testing.T) {
	cases := []struct {
		name     string
		damage   func(t *testing.T, dir string) (file string, offset int64)
		openFail bool // Open checks only the newest segment; ReadAll the rest
	}{
		{"flipped byte before the last record", func(t *testing.T, dir string) (string, int64) {
			seg, start, _ := buildLog(t, dir, 20)
			off := start - 40 // inside the second batch's data
			flip(t, seg, off)
			return seg, recordStart(t, seg, off)
		}, true},
		{"flipped length field before the last record", func(t *testing.T, dir string) (string, int64) {
			seg, start, _ := buildLog(t, dir, 20)
			r := recordStart(t, seg, start-1)
			flip(t, seg, r+2)
			return seg, r
		}, true},
		{"flipped byte in the last record", func(t *testing.T, dir string) (string, int64) {
			// Every sector of the record holds data, so no interrupted write
			// explains it: reported, not truncated away.
			seg, start, end := buildLog(t, dir, 700)
			flip(t, seg, (start+end)/2)
			return seg, start
		}, true},
		{"flipped byte in an older segment", func(t *testing.T, dir string) (string, int64) {
			seg := buildOldSegment(t, dir)
			fi, _ := os.Stat(seg)
			off := fi.Size() - 10 // the last record of a closed segment
			flip(t, seg, off)
			return seg, recordStart(t, seg, off)
		}, false},
		{"zero-filled block in an older segment", func(t *testing.T, dir string) (string, int64) {
			seg := buildOldSegment(t, dir)
			img, _ := os.ReadFile(seg)
			r := recordStart(t, seg, int64(len(img))-10)
			clear(img[r:])
			os.WriteFile(seg, img, 0o600)
			return seg, r
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			file, offset := c.damage(t, dir)
			w, err := OpenWithOptions(dir, zap.NewNop(), testOpts)
			if !c.openFail {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				defer w.Close()
				_, _, err = w.ReadAll(Pos{})
			}
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a CorruptError", err)
			}
			want := fmt.Sprintf("corrupt record in %s at offset %d", file, offset)
			if ce.File != file || ce.Offset != offset || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %q, want it to contain %q", err, want)
			}
		})
	}
}

// flip inverts one byte of a file.
func flip(t *testing.T, path string, off int64) {
	t.Helper()
	img, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img[off] ^= 0xff
	if err := os.WriteFile(path, img, 0o600); err != nil {
		t.Fatal(err)
	}
}

// recordStart walks the (undamaged prefix of the) segment to find the start
// of the record that holds byte off.
func recordStart(t *testing.T, path string, off int64) int64 {
	t.Helper()
	img, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p := 0
	for {
		_, _, next, bad, _ := parseRecord(img, p)
		if bad != good || int64(next) > off {
			return int64(p)
		}
		p = next
	}
}

func TestPreallocatedTail(t *testing.T) {
	dir := t.TempDir()
	w := mustCreate(t, dir)
	mustSave(t, w, hardst(1, 1, 3), ents(1, 3, 1))
	seg := w.f.Name()
	w.Close()
	fi, err := os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != testOpts.SegmentSize {
		t.Fatalf("segment is %d bytes, want preallocated %d", fi.Size(), testOpts.SegmentSize)
	}
	lg, logs := observed()
	w = mustOpen(t, dir, lg)
	defer w.Close()
	_, got := mustReadAll(t, w, Pos{})
	checkEntries(t, got, ents(1, 3, 1))
	if n := logs.FilterLevelExact(zap.WarnLevel).Len(); n != 0 {
		t.Fatalf("%d warnings for a clean preallocated tail, want none", n)
	}
}

func TestSecondOpenRefused(t *testing.T) {
	dir := t.TempDir()
	w := mustCreate(t, dir)
	if _, err := OpenWithOptions(dir, zap.NewNop(), testOpts); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: err = %v, want ErrLocked", err)
	}
	if _, err := CreateWithOptions(dir, zap.NewNop(), testOpts); !errors.Is(err, ErrExist) {
		t.Fatalf("Create over a log: err = %v, want ErrExist", err)
	}
	w.Close()
	w = mustOpen(t, dir, nil)
	w.Close()
	if _, err := Open(t.TempDir(), zap.NewNop()); !errors.Is(err, ErrNotExist) {
		t.Fatalf("Open of an empty dir: err = %v, want ErrNotExist", err)
	}
}

func TestSaveSnapshotRecord(t *testing.T) {
	// A follower receiving a snapshot: the log jumps from 3 to 100.
	dir := t.TempDir()
	w := mustCreate(t, dir)
	mustSave(t, w, hardst(1, 1, 3), ents(1, 3, 1))
	if err := w.SaveSnapshot(Pos{Index: 100, Term: 2}); err != nil {
		t.Fatal(err)
	}
	mustSave(t, w, hardst(2, 1, 100), ents(101, 102, 2))
	w.Close()
	w = mustOpen(t, dir, nil)
	defer w.Close()
	if w.LastIndex() != 102 {
		t.Fatalf("LastIndex = %d, want 102", w.LastIndex())
	}
	_, got := mustReadAll(t, w, Pos{Index: 100, Term: 2})
	checkEntries(t, got, ents(101, 102, 2))
	if _, _, err := w.ReadAll(Pos{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("ReadAll without the snapshot: err = %v, want a hole error", err)
	}
}

func TestSplitBatch(t *testing.T) {
	old := maxBatchPayload
	maxBatchPayload = 1024
	t.Cleanup(func() { maxBatchPayload = old })

	dir := t.TempDir()
	w := mustCreate(t, dir)
	mustSave(t, w, hardst(1, 1, 0), ents(1, 2, 1))
	tornAt := w.off
	big := make([]*raftpb.Entry, 0, 10)
	for i := uint64(3); i <= 12; i++ {
		big = append(big, ent(i, 1, strings.Repeat("s", 300)))
	}
	mustSave(t, w, hardst(1, 1, 12), big)
	seg, end := w.path(w.segs[0]), w.off
	w.Close()

	// Several records, and only the last carries the HardState.
	img, _ := os.ReadFile(seg)
	var records int
	for p := int(tornAt); p < int(end); records++ {
		typ, data, next, bad, reason := parseRecord(img, p)
		if bad != good || typ != recBatch {
			t.Fatalf("record at %d: %s", p, reason)
		}
		b, err := decodeBatch(data)
		if err != nil {
			t.Fatal(err)
		}
		if last := next >= int(end); (b.hs != nil) != last {
			t.Fatalf("record at %d: HardState present=%v, want only in the last record", p, b.hs != nil)
		}
		p = next
	}
	if records < 3 {
		t.Fatalf("batch of 3000 bytes in %d records, want a split at 1 KiB", records)
	}

	w = mustOpen(t, dir, nil)
	hs, got := mustReadAll(t, w, Pos{})
	checkEntries(t, got, append(ents(1, 2, 1), big...))
	if hs.commit != 12 {
		t.Fatalf("commit = %d, want 12", hs.commit)
	}
	w.Close()

	// A crash that tears the last record keeps the commit index inside the
	// log: the HardState goes with the torn record.
	if err := os.Truncate(seg, end-8); err != nil {
		t.Fatal(err)
	}
	w = mustOpen(t, dir, nil)
	defer w.Close()
	hs, got = mustReadAll(t, w, Pos{})
	if hs.commit != 0 || uint64(len(got)) < 2 || uint64(len(got)) >= 12 {
		t.Fatalf("after tearing the last record: commit %d, entries %s", hs.commit, span(got))
	}
}

func TestEntryTooLarge(t *testing.T) {
	old := maxBatchPayload
	maxBatchPayload = 1024
	t.Cleanup(func() { maxBatchPayload = old })
	w := mustCreate(t, t.TempDir())
	defer w.Close()
	if err := w.Save(nil, []*raftpb.Entry{ent(1, 1, strings.Repeat("L", 2000))}); !errors.Is(err, ErrEntryTooLarge) {
		t.Fatalf("err = %v, want ErrEntryTooLarge", err)
	}
	mustSave(t, w, nil, ents(1, 1, 1)) // nothing was written; the log goes on
}

func TestRotatedSegmentsAreZeroFilled(t *testing.T) {
	cases := []struct {
		name       string
		opts       Options
		wantZeroed bool
	}{
		{"default", testOpts, true},
		{"fallocate only", Options{SegmentSize: testOpts.SegmentSize, NoZeroFill: true}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			w := mustCreateWith(t, dir, c.opts)
			for i := uint64(1); i <= 100; i++ {
				mustSave(t, w, nil, []*raftpb.Entry{ent(i, 1, strings.Repeat("r", 1500))})
			}
			if len(w.segs) < 2 {
				t.Fatalf("no rotation after ~150 KB with %d-byte segments", c.opts.SegmentSize)
			}
			active := w.f.Name()
			w.Close()
			unwritten, err := hasUnwrittenExtents(active)
			if err != nil {
				t.Skipf("cannot read extents here: %v", err)
			}
			if unwritten == c.wantZeroed {
				t.Fatalf("rotated segment has unwritten (fallocated) extents=%v, want %v", unwritten, !c.wantZeroed)
			}
			if m, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(m) != 0 {
				t.Fatalf("Close left temporary files %v", m)
			}
			w = mustOpen(t, dir, nil)
			_, got := mustReadAll(t, w, Pos{})
			w.Close()
			if len(got) != 100 {
				t.Fatalf("%d entries after rotation, want 100", len(got))
			}
		})
	}
}

// hasUnwrittenExtents asks the filesystem (FS_IOC_FIEMAP) whether any
// extent of path is allocated but unwritten, as fallocate leaves them.
func hasUnwrittenExtents(path string) (bool, error) {
	return unwrittenIn(path, 0, ^uint64(0))
}

// unwrittenIn is hasUnwrittenExtents for the bytes [from, to) of path.
func unwrittenIn(path string, from, to uint64) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	const (
		fsIocFiemap       = 0xC020660B
		fiemapFlagSync    = 0x1
		extentUnwritten   = 0x800
		extentLast        = 0x1
		headerLen, extLen = 32, 56
		maxExtents        = 64
	)
	buf := make([]byte, headerLen+maxExtents*extLen)
	start := from
	for round := 0; round < 1000; round++ {
		clear(buf)
		binary.LittleEndian.PutUint64(buf[0:], start)
		binary.LittleEndian.PutUint64(buf[8:], to-start)
		binary.LittleEndian.PutUint32(buf[16:], fiemapFlagSync)
		binary.LittleEndian.PutUint32(buf[24:], maxExtents)
		if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), fsIocFiemap, uintptr(unsafe.Pointer(&buf[0]))); errno != 0 {
			return false, errno
		}
		n := binary.LittleEndian.Uint32(buf[20:])
		if n == 0 {
			return false, nil
		}
		for i := uint32(0); i < n; i++ {
			e := buf[headerLen+int(i)*extLen:]
			flags := binary.LittleEndian.Uint32(e[40:])
			logical, length := binary.LittleEndian.Uint64(e[0:]), binary.LittleEndian.Uint64(e[16:])
			if flags&extentUnwritten != 0 && logical < to && logical+length > from {
				return true, nil
			}
			if flags&extentLast != 0 || logical+length >= to {
				return false, nil
			}
			start = logical + length
		}
	}
	return false, errors.New("too many extents")
}

func TestPreparedSegmentLifecycle(t *testing.T) {
	dir := t.TempDir()
	w := mustCreate(t, dir)
	for i := uint64(1); w.prep == nil; i++ {
		if i > 100 {
			t.Fatal("no segment preparation started at half a segment")
		}
		mustSave(t, w, nil, []*raftpb.Entry{ent(i, 1, strings.Repeat("h", 1000))})
	}
	if len(w.segs) != 1 {
		t.Fatalf("preparation started only after rotation")
	}
	w.Close() // cancels the preparation and removes its file
	if m, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(m) != 0 {
		t.Fatalf("Close left %v", m)
	}
	// A crash leaves the file behind; Open removes it.
	leftover := prepPath(dir, 2)
	if err := os.WriteFile(leftover, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	w = mustOpen(t, dir, nil)
	defer w.Close()
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Fatalf("Open kept %s: %v", leftover, err)
	}
}

// The first segment of a new log is only fallocated; the log zero-fills
// the space just past its end in the background, so Saves land in blocks
// already written (zero.go), and the zeros never land on a record.
func TestZeroFillAheadOfTheEnd(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 8 << 20}
	w := mustCreateWith(t, dir, opts)
	// ~3 MiB in small Saves: several chunks start while Saves go on, and
	// some Saves reach a chunk still being zeroed.
	const n = 1000
	data := strings.Repeat("z", 3000)
	var want []*raftpb.Entry
	for i := uint64(1); i <= n; i++ {
		e := ent(i, 1, data+entData(i, 1))
		want = append(want, e)
		mustSave(t, w, hardst(1, 0, i), []*raftpb.Entry{e})
	}
	if len(w.segs) != 1 {
		t.Fatalf("%d segments, want the first one only", len(w.segs))
	}
	path, end := w.f.Name(), uint64(w.off)
	w.Close() // waits for the chunk being zeroed
	unwritten, err := unwrittenIn(path, end, end+zeroLowWater/2)
	if err != nil {
		t.Skipf("cannot read extents here: %v", err)
	}
	if fresh, err := hasUnwrittenExtents(path); err != nil || !fresh {
		// Far past the end the segment must still be fallocated only;
		// a filesystem without unwritten extents cannot show the
		// difference.
		t.Skipf("no unwritten extents on this filesystem (%v)", err)
	}
	if unwritten {
		t.Fatalf("the space just past the log's end (offset %d) is still unwritten", end)
	}
	w = mustOpen(t, dir, nil)
	defer w.Close()
	hs, got := mustReadAll(t, w, Pos{})
	checkEntries(t, got, want)
	if hs.commit != n {
		t.Fatalf("commit %d after reopen, want %d", hs.commit, n)
	}
}

// A rotated segment arrives with only its head zeroed (segmentPrep); the
// rest is zeroed a chunk at a time ahead of the end, never all at once.
func TestRotatedSegmentZeroedAheadInChunks(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 4 << 20}
	w := mustCreateWith(t, dir, opts)
	data := strings.Repeat("r", 8000)
	var want []*raftpb.Entry
	for i := uint64(1); len(w.segs) < 2 || w.off < 2*zeroChunk; i++ {
		if i > 2000 {
			t.Fatal("no rotation after 16 MB")
		}
		e := ent(i, 1, data+entData(i, 1))
		want = append(want, e)
		mustSave(t, w, nil, []*raftpb.Entry{e})
	}
	path, end := w.f.Name(), uint64(w.off)
	w.Close()
	ahead, err := unwrittenIn(path, end, end+zeroLowWater/2)
	if err != nil {
		t.Skipf("cannot read extents here: %v", err)
	}
	if ahead {
		t.Fatalf("the space just past the end (offset %d) of the rotated segment is unwritten", end)
	}
	tail, err := unwrittenIn(path, uint64(opts.SegmentSize)-zeroChunk, uint64(opts.SegmentSize))
	if err != nil || !tail {
		t.Fatalf("the last MiB of the rotated segment was written ahead of need (unwritten=%v, %v)", tail, err)
	}
	w = mustOpen(t, dir, nil)
	defer w.Close()
	_, got := mustReadAll(t, w, Pos{})
	checkEntries(t, got, want)
}
