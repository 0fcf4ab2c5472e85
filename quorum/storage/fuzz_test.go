package storage

import (
	"os"
	"path/filepath"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// validSegment returns a well-formed image of segment 1-1.
func validSegment() []byte {
	buf := appendSegmentHeader(nil, segmentHeader{seq: 1, index: 1})
	buf = appendSnapshotRecord(buf, Pos{Index: 0, Term: 0})
	hs := hardState{term: 1, vote: 1, commit: 2}
	buf, _ = appendBatches(buf, &hs, []*raftpb.Entry{ent(1, 1, "one"), ent(2, 1, "two")})
	buf, _ = appendBatches(buf, nil, []*raftpb.Entry{ent(3, 1, "")})
	return buf
}

// FuzzWalkSegment feeds arbitrary segment images to the reader: it must
// never panic, never claim valid bytes past the end, and keep the promise
// that a torn tail has no valid record after it.
func FuzzWalkSegment(f *testing.F) {
	seg := validSegment()
	f.Add(seg)
	f.Add(seg[:len(seg)-5])                                                    // torn data
	f.Add(append(seg, make([]byte, 64)...))                                    // preallocated tail
	f.Add(append(seg[:len(seg):len(seg)], 0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4)) // huge length
	bad := append([]byte(nil), seg...)
	bad[40] ^= 1
	f.Add(bad)
	f.Fuzz(func(t *testing.T, img []byte) {
		var entries int
		end, torn, err := walkSegment("fuzz.wal", img, segmentName{seq: 1, index: 1}, func(off int, typ recType, data []byte) error {
			if typ == recBatch {
				b, err := decodeBatch(data)
				entries += len(b.ents)
				return err
			}
			_, err := decodeSnapshotRecord(data)
			return err
		})
		if err != nil {
			return
		}
		if end < 0 || end > alignUp(len(img)) {
			t.Fatalf("end %d outside image of %d bytes", end, len(img))
		}
		if torn != nil {
			if _, found := validRecordAfter(img, end); found {
				t.Fatalf("torn tail at %d but a valid record follows", end)
			}
		}
	})
}

// FuzzDecodeSnapshotFile checks the snapshot reader on arbitrary files.
func FuzzDecodeSnapshotFile(f *testing.F) {
	dir := f.TempDir()
	s := NewSnapshotter(dir, nil)
	if err := s.Save(snapAt(7, 3, "tree")); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(dir, snapName(Pos{Index: 7, Term: 3})))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:snapHeaderSize])
	f.Add([]byte(snapMagic))
	f.Fuzz(func(t *testing.T, img []byte) {
		snap, _, reason := decodeSnapshotFile(img, Pos{Index: 7, Term: 3})
		if reason == "" && PosOf(snap) != (Pos{Index: 7, Term: 3}) {
			t.Fatalf("accepted a snapshot at %+v", PosOf(snap))
		}
	})
}
