package storage

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"

	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
)

// Snapshot file layout (version 2, written since snapshots are streamed):
//
//	magic "ZKSNAP02", metadata length u32, CRC-32C u32 of metadata and
//	data, data length u64; then the protobuf-encoded
//	raftpb.SnapshotMetadata; then the data (the serialized tree, opaque
//	here).
//
// Version 1 ("ZKSNAP01", payload length u64, CRC-32C u32, 4 zero bytes, then
// the whole protobuf-encoded raftpb.Snapshot) is still read.
//
// The name is <term>-<index>.snap in 16 hex digits each, so names sort in
// log order (terms and indexes only grow together).
const (
	snapMagicV1    = "ZKSNAP01"
	snapMagic      = "ZKSNAP02"
	snapHeaderSize = 24
	snapExt        = ".snap"
	brokenExt      = ".broken"
)

// Snapshotter stores snapshots (raftpb.Snapshot whose Data is the serialized
// data tree, opaque here) as files in one directory.
type Snapshotter struct {
	dir string
	lg  *zap.Logger
}

// NewSnapshotter returns a Snapshotter for dir; dir is created on first Save.
func NewSnapshotter(dir string, lg *zap.Logger) *Snapshotter {
	if lg == nil {
		lg = zap.NewNop()
	}
	return &Snapshotter{dir: dir, lg: lg}
}

func snapName(p Pos) string { return hexPairName(p.Term, p.Index, snapExt) }

// SnapshotFile is the path of the snapshot at p in dir.
func SnapshotFile(dir string, p Pos) string { return filepath.Join(dir, snapName(p)) }

func parseSnapName(name string) (Pos, bool) {
	term, index, ok := parseHexPairName(name, snapExt)
	return Pos{Index: index, Term: term}, ok
}

// Save writes snap durably: temporary file, fsync, rename, directory fsync.
// A crash leaves either the complete new file or none.
func (s *Snapshotter) Save(snap *raftpb.Snapshot) error {
	return s.SaveStream(snap.GetMetadata(), func(w io.Writer) error {
		_, err := w.Write(snap.GetData())
		return err
	})
}

// SaveStream writes a snapshot whose data write produces straight into the
// file, so a large tree is never held in memory as one buffer (it would
// double the server's resident memory for a moment at every snapshot).
// Same durability as Save.
func (s *Snapshotter) SaveStream(meta *raftpb.SnapshotMetadata, write func(io.Writer) error) (err error) {
	pos := Pos{Index: meta.GetIndex(), Term: meta.GetTerm()}
	if pos.Index == 0 {
		return errors.New("storage: refusing to save an empty snapshot (index 0)")
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("create snapshot directory %s: %w", s.dir, err)
	}
	mb, err := proto.Marshal(meta)
	if err != nil {
		return fmt.Errorf("encode snapshot metadata %d/%d: %w", pos.Term, pos.Index, err)
	}
	path := filepath.Join(s.dir, snapName(pos))
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("create snapshot %s: %w", tmp, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// The header's lengths and checksum are known only at the end: write
	// a placeholder and fill it in before the fsync.
	bw := bufio.NewWriterSize(f, 1<<20)
	if _, err := bw.Write(make([]byte, snapHeaderSize)); err != nil {
		return fmt.Errorf("write snapshot %s: %w", tmp, err)
	}
	cw := &crcWriter{w: bw}
	if _, err := cw.Write(mb); err != nil {
		return fmt.Errorf("write snapshot %s: %w", tmp, err)
	}
	cw.n = 0
	if err := write(cw); err != nil {
		return fmt.Errorf("write snapshot %s: %w", tmp, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write snapshot %s: %w", tmp, err)
	}
	hdr := make([]byte, snapHeaderSize)
	copy(hdr, snapMagic)
	binary.LittleEndian.PutUint32(hdr[8:], uint32(len(mb)))
	binary.LittleEndian.PutUint32(hdr[12:], cw.crc)
	binary.LittleEndian.PutUint64(hdr[16:], uint64(cw.n))
	if _, err := f.WriteAt(hdr, 0); err != nil {
		return fmt.Errorf("write snapshot header %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync snapshot %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close snapshot %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename snapshot %s: %w", tmp, err)
	}
	if err := syncDir(s.dir); err != nil {
		return err
	}
	s.lg.Info("saved snapshot", zap.String("file", path), zap.Uint64("index", pos.Index),
		zap.Uint64("term", pos.Term), zap.Int64("bytes", int64(snapHeaderSize+len(mb))+cw.n))
	return nil
}

// crcWriter checksums and counts what passes through it.
type crcWriter struct {
	w   io.Writer
	crc uint32
	n   int64
}

func (c *crcWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.crc = crc32.Update(c.crc, crcTable, p[:n])
	c.n += int64(n)
	return n, err
}

// list returns the positions of the snapshot files in dir, oldest first.
func (s *Snapshotter) list() ([]Pos, error) {
	des, err := os.ReadDir(s.dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list snapshot directory %s: %w", s.dir, err)
	}
	var ps []Pos
	for _, de := range des {
		if p, ok := parseSnapName(de.Name()); ok && de.Type().IsRegular() {
			ps = append(ps, p)
		}
	}
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].Term != ps[j].Term {
			return ps[i].Term < ps[j].Term
		}
		return ps[i].Index < ps[j].Index
	})
	return ps, nil
}

// Load returns the newest valid snapshot, or ErrNoSnapshot. A damaged file
// is logged, renamed to *.snap.broken (kept for inspection, out of the way
// of the next start and of Purge) and the next older one is tried. Errors
// reading the disk are returned, not skipped: they say nothing about the
// file's content.
func (s *Snapshotter) Load() (*raftpb.Snapshot, error) {
	if err := removeTemps(s.dir, snapExt); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	ps, err := s.list()
	if err != nil {
		return nil, err
	}
	for i := len(ps) - 1; i >= 0; i-- {
		path := filepath.Join(s.dir, snapName(ps[i]))
		snap, err := readSnapshot(path, ps[i])
		var ce *CorruptError
		if errors.As(err, &ce) {
			s.lg.Warn("snapshot is damaged; trying an older one", zap.String("file", path), zap.Error(err))
			if rerr := os.Rename(path, path+brokenExt); rerr != nil {
				return nil, fmt.Errorf("set aside damaged snapshot %s: %w", path, rerr)
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		return snap, nil
	}
	return nil, ErrNoSnapshot
}

// readSnapshot reads and verifies one snapshot file; damage is reported as
// a *CorruptError.
func readSnapshot(path string, want Pos) (*raftpb.Snapshot, error) {
	img, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read snapshot %s: %w", path, err)
	}
	snap, off, reason := decodeSnapshotFile(img, want)
	if reason != "" {
		return nil, &CorruptError{File: path, Offset: int64(off), Reason: reason}
	}
	return snap, nil
}

func decodeSnapshotFile(img []byte, want Pos) (snap *raftpb.Snapshot, off int, reason string) {
	if len(img) < snapHeaderSize {
		return nil, 0, "bad snapshot header"
	}
	switch string(img[:len(snapMagic)]) {
	case snapMagic:
		snap, off, reason = decodeSnapshotV2(img)
	case snapMagicV1:
		snap, off, reason = decodeSnapshotV1(img)
	default:
		return nil, 0, "bad snapshot header"
	}
	if reason != "" {
		return nil, off, reason
	}
	if got := PosOf(snap); got != want {
		return nil, snapHeaderSize, fmt.Sprintf("content is at term %d index %d, name says term %d index %d",
			got.Term, got.Index, want.Term, want.Index)
	}
	return snap, 0, ""
}

func decodeSnapshotV2(img []byte) (*raftpb.Snapshot, int, string) {
	ml := uint64(binary.LittleEndian.Uint32(img[8:]))
	dl := binary.LittleEndian.Uint64(img[16:])
	have := uint64(len(img) - snapHeaderSize)
	if ml > have || dl != have-ml {
		return nil, 8, fmt.Sprintf("header says %d metadata and %d data bytes, file has %d", ml, dl, have)
	}
	body := img[snapHeaderSize:]
	if crc32.Checksum(body, crcTable) != binary.LittleEndian.Uint32(img[12:]) {
		return nil, snapHeaderSize, "crc mismatch"
	}
	meta := &raftpb.SnapshotMetadata{}
	if err := proto.Unmarshal(body[:ml], meta); err != nil {
		return nil, snapHeaderSize, fmt.Sprintf("decode metadata: %v", err)
	}
	return &raftpb.Snapshot{Metadata: meta, Data: body[ml:]}, 0, ""
}

func decodeSnapshotV1(img []byte) (*raftpb.Snapshot, int, string) {
	n := binary.LittleEndian.Uint64(img[8:])
	if n != uint64(len(img)-snapHeaderSize) {
		return nil, 8, fmt.Sprintf("header says %d payload bytes, file has %d", n, len(img)-snapHeaderSize)
	}
	payload := img[snapHeaderSize:]
	if crc32.Checksum(payload, crcTable) != binary.LittleEndian.Uint32(img[16:]) {
		return nil, snapHeaderSize, "crc mismatch"
	}
	snap := &raftpb.Snapshot{}
	if err := proto.Unmarshal(payload, snap); err != nil {
		return nil, snapHeaderSize, fmt.Sprintf("decode: %v", err)
	}
	return snap, 0, ""
}

// Purge deletes all but the newest keep snapshot files and returns the
// paths it deleted.
func (s *Snapshotter) Purge(keep int) ([]string, error) {
	if keep < 1 {
		return nil, fmt.Errorf("storage: purge snapshots: keep=%d, must keep at least 1", keep)
	}
	ps, err := s.list()
	if err != nil {
		return nil, err
	}
	var removed []string
	for len(ps) > keep {
		path := filepath.Join(s.dir, snapName(ps[0]))
		if err := os.Remove(path); err != nil {
			return removed, fmt.Errorf("purge snapshot %s: %w", path, err)
		}
		removed = append(removed, path)
		ps = ps[1:]
	}
	if len(removed) > 0 {
		if err := syncDir(s.dir); err != nil {
			return removed, err
		}
		s.lg.Info("purged snapshots", zap.Strings("files", removed))
	}
	return removed, nil
}
