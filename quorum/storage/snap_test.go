package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
)

func snapAt(index, term uint64, data string) *raftpb.Snapshot {
	return &raftpb.Snapshot{
		Data: []byte(data),
		Metadata: &raftpb.SnapshotMetadata{
			Index:     proto.Uint64(index),
			Term:      proto.Uint64(term),
			ConfState: &raftpb.ConfState{Voters: []uint64{1, 2, 3}},
		},
	}
}

func TestSnapshotSaveLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "snap")
	s := NewSnapshotter(dir, zap.NewNop())
	if _, err := s.Load(); !errors.Is(err, ErrNoSnapshot) {
		t.Fatalf("Load of a missing dir: err = %v, want ErrNoSnapshot", err)
	}
	// Saved out of order on purpose: Load picks by position, not by time.
	for _, sn := range []*raftpb.Snapshot{snapAt(20, 2, "tree@20"), snapAt(5, 1, "tree@5"), snapAt(300, 2, "tree@300")} {
		if err := s.Save(sn); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if PosOf(got) != (Pos{Index: 300, Term: 2}) || string(got.GetData()) != "tree@300" ||
		len(got.GetMetadata().GetConfState().GetVoters()) != 3 {
		t.Fatalf("Load = %v, want the snapshot at 300", got)
	}
	if err := s.Save(&raftpb.Snapshot{}); err == nil {
		t.Fatal("Save of an empty snapshot succeeded")
	}
}

func TestSnapshotDamagedNewestFallsBack(t *testing.T) {
	cases := []struct {
		name   string
		damage func(path string) error
	}{
		{"flipped payload byte", func(path string) error {
			img, _ := os.ReadFile(path)
			img[len(img)-3] ^= 0x40
			return os.WriteFile(path, img, 0o600)
		}},
		{"truncated", func(path string) error { return os.Truncate(path, 30) }},
		{"empty file", func(path string) error { return os.Truncate(path, 0) }},
		{"content does not match name", func(path string) error {
			img, err := os.ReadFile(filepath.Join(filepath.Dir(path), snapName(Pos{Index: 20, Term: 2})))
			if err != nil {
				return err
			}
			return os.WriteFile(path, img, 0o600)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			lg, logs := observed()
			s := NewSnapshotter(dir, lg)
			for _, sn := range []*raftpb.Snapshot{snapAt(5, 1, "tree@5"), snapAt(20, 2, "tree@20"), snapAt(30, 2, "tree@30")} {
				if err := s.Save(sn); err != nil {
					t.Fatal(err)
				}
			}
			newest := filepath.Join(dir, snapName(Pos{Index: 30, Term: 2}))
			if err := c.damage(newest); err != nil {
				t.Fatal(err)
			}
			got, err := s.Load()
			if err != nil {
				t.Fatal(err)
			}
			if PosOf(got) != (Pos{Index: 20, Term: 2}) || !bytes.Equal(got.GetData(), []byte("tree@20")) {
				t.Fatalf("Load = %v, want the snapshot at 20", got)
			}
			warned := logs.FilterMessage("snapshot is damaged; trying an older one").All()
			if len(warned) != 1 || warned[0].ContextMap()["file"] != newest {
				t.Fatalf("warnings = %v, want one naming %s", warned, newest)
			}
			if _, err := os.Stat(newest + brokenExt); err != nil {
				t.Fatalf("damaged snapshot not set aside: %v", err)
			}
		})
	}
}

func TestSnapshotPurge(t *testing.T) {
	dir := t.TempDir()
	s := NewSnapshotter(dir, zap.NewNop())
	for i := uint64(1); i <= 5; i++ {
		if err := s.Save(snapAt(i*10, 1, "t")); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := s.Purge(2)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 3 || !strings.HasSuffix(removed[0], snapName(Pos{Index: 10, Term: 1})) {
		t.Fatalf("Purge(2) removed %v, want the three oldest", removed)
	}
	ps, _ := s.list()
	if len(ps) != 2 || ps[0].Index != 40 || ps[1].Index != 50 {
		t.Fatalf("left %v, want 40 and 50", ps)
	}
	if _, err := s.Purge(0); err == nil {
		t.Fatal("Purge(0) succeeded; it would delete every snapshot")
	}
}

func TestAutopurge(t *testing.T) {
	walDir, snapDir := t.TempDir(), t.TempDir()
	w := mustCreate(t, walDir)
	defer w.Close()
	s := NewSnapshotter(snapDir, zap.NewNop())
	payload := strings.Repeat("p", 2000)
	for i := uint64(1); i <= 300; i++ {
		mustSave(t, w, hardst(1, 1, i), []*raftpb.Entry{ent(i, 1, payload)})
		if i%50 == 0 {
			if err := s.Save(snapAt(i, 1, "tree")); err != nil {
				t.Fatal(err)
			}
			if err := w.SaveSnapshot(Pos{Index: i, Term: 1}); err != nil {
				t.Fatal(err)
			}
		}
	}
	segsBefore := len(segmentFiles(t, walDir))
	// keep=1 is raised to ZooKeeper's minimum of 3: snapshots 200, 250, 300.
	removed, err := Purge(w, s, 1)
	if err != nil {
		t.Fatal(err)
	}
	ps, _ := s.list()
	if len(ps) != MinRetainCount || ps[0].Index != 200 {
		t.Fatalf("snapshots left %v, want 200, 250, 300", ps)
	}
	segsAfter := len(segmentFiles(t, walDir))
	if segsAfter >= segsBefore || len(removed) != 3+segsBefore-segsAfter {
		t.Fatalf("segments %d -> %d, removed %d files", segsBefore, segsAfter, len(removed))
	}
	// Every kept snapshot can still be replayed to the end of the log.
	for _, p := range ps {
		_, got := mustReadAll(t, w, p)
		if len(got) != int(300-p.Index) {
			t.Fatalf("from snapshot %d: %d entries, want %d", p.Index, len(got), 300-p.Index)
		}
	}
}

// Files of the first format (the whole raftpb.Snapshot as one protobuf)
// stay readable after the switch to streamed snapshots.
func TestSnapshotVersion1FileStillLoads(t *testing.T) {
	dir := t.TempDir()
	sn := snapAt(42, 3, "tree@42")
	payload, err := proto.Marshal(sn)
	if err != nil {
		t.Fatal(err)
	}
	hdr := make([]byte, snapHeaderSize)
	copy(hdr, snapMagicV1)
	binary.LittleEndian.PutUint64(hdr[8:], uint64(len(payload)))
	binary.LittleEndian.PutUint32(hdr[16:], crc32.Checksum(payload, crcTable))
	if err := os.WriteFile(filepath.Join(dir, snapName(Pos{Index: 42, Term: 3})), append(hdr, payload...), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := NewSnapshotter(dir, zap.NewNop()).Load()
	if err != nil {
		t.Fatal(err)
	}
	if PosOf(got) != (Pos{Index: 42, Term: 3}) || string(got.GetData()) != "tree@42" {
		t.Fatalf("Load = %v", got)
	}
}

// SaveStream writes what the callback produces; a failing callback leaves
// no file behind, and the previous snapshot is still the one loaded.
func TestSnapshotSaveStream(t *testing.T) {
	dir := t.TempDir()
	s := NewSnapshotter(dir, zap.NewNop())
	big := bytes.Repeat([]byte("0123456789abcdef"), 200000) // 3.2 MB, several buffer flushes
	meta := snapAt(10, 1, "").GetMetadata()
	if err := s.SaveStream(meta, func(w io.Writer) error {
		for off := 0; off < len(big); off += 7000 {
			end := min(off+7000, len(big))
			if _, err := w.Write(big[off:end]); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("tree went away")
	err := s.SaveStream(snapAt(20, 1, "").GetMetadata(), func(w io.Writer) error {
		_, _ = w.Write([]byte("half a tree"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("SaveStream error = %v, want the callback's", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("directory holds %d files after a failed save, want 1", len(entries))
	}
	got, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if PosOf(got) != (Pos{Index: 10, Term: 1}) || !bytes.Equal(got.GetData(), big) {
		t.Fatalf("Load = index %d, %d bytes; want index 10 with %d bytes", got.GetMetadata().GetIndex(), len(got.GetData()), len(big))
	}
}
