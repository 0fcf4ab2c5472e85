// Package backup is the file format of a quorum backup: the data tree of
// one member at one applied index, whole and checksummed, so that it can
// seed a new member or a new ensemble.
//
// Layout (all integers big-endian):
//
//	offset 0   magic "ZKFCBAK1"            8 bytes
//	offset 8   index                       uint64: the zxid the tree is at
//	offset 16  created                     int64: ms since the Unix epoch
//	offset 24  tree                        the tree's snapshot encoding
//	                                       (quorum/tree WriteSnapshot), which
//	                                       carries its own CRC-32C
//	end-40     tree length                 uint64
//	end-32     SHA-256 of every byte before it
//
// The length and checksum come last so that a member can stream a backup
// as it serializes it. The tree bytes are opaque here: this package must
// never depend on the tree or the server, which both depend on it.
package backup

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"time"
)

const (
	magic      = "ZKFCBAK1"
	headerSize = 24
	tailSize   = 8 + sha256.Size
)

// Header describes a backup.
type Header struct {
	// Index is the zxid (the log index) the tree is at: a member seeded
	// from the backup resumes its log after it.
	Index   uint64
	Created time.Time
}

// ErrCorrupt means a backup file failed its checks.
var ErrCorrupt = errors.New("backup: corrupt")

type countingHash struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (c *countingHash) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// Write writes a backup to w: the header, then whatever body writes (the
// serialized tree), then its length and the checksum.
func Write(w io.Writer, h Header, body func(io.Writer) error) error {
	if h.Index == 0 {
		return errors.New("backup: index 0 is not a state")
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	ch := &countingHash{w: bw, h: sha256.New()}
	hdr := make([]byte, headerSize)
	copy(hdr, magic)
	binary.BigEndian.PutUint64(hdr[8:], h.Index)
	binary.BigEndian.PutUint64(hdr[16:], uint64(h.Created.UnixMilli()))
	if _, err := ch.Write(hdr); err != nil {
		return fmt.Errorf("write backup header: %w", err)
	}
	if err := body(ch); err != nil {
		return fmt.Errorf("write backup: %w", err)
	}
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(ch.n-headerSize))
	if _, err := ch.Write(n[:]); err != nil {
		return fmt.Errorf("write backup trailer: %w", err)
	}
	if _, err := bw.Write(ch.h.Sum(nil)); err != nil {
		return fmt.Errorf("write backup checksum: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write backup: %w", err)
	}
	return nil
}

// File is an open, verified backup.
type File struct {
	Header
	f    *os.File
	size int64
}

// Open opens a backup file and verifies its length and checksum before
// anything in it is trusted. The caller closes it.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open backup: %w", err)
	}
	b, err := verify(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	return b, nil
}

func corrupt(path string, off int64, format string, args ...any) error {
	return fmt.Errorf("%w: %s: offset %d: %s", ErrCorrupt, path, off, fmt.Sprintf(format, args...))
}

func verify(f *os.File, path string) (*File, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat backup: %w", err)
	}
	size := st.Size()
	if size < headerSize+tailSize {
		return nil, corrupt(path, 0, "%d bytes is too short for a backup (truncated?)", size)
	}
	hdr := make([]byte, headerSize)
	if _, err := io.ReadFull(f, hdr); err != nil {
		return nil, fmt.Errorf("read backup %s: %w", path, err)
	}
	if string(hdr[:8]) != magic {
		return nil, corrupt(path, 0, "not a zkfc backup (magic %q)", hdr[:8])
	}
	h := sha256.New()
	h.Write(hdr)
	if _, err := io.CopyN(h, f, size-headerSize-sha256.Size); err != nil {
		return nil, fmt.Errorf("read backup %s: %w", path, err)
	}
	tail := make([]byte, tailSize)
	if _, err := f.ReadAt(tail, size-tailSize); err != nil {
		return nil, fmt.Errorf("read backup %s: %w", path, err)
	}
	if n := binary.BigEndian.Uint64(tail); n != uint64(size-headerSize-tailSize) {
		return nil, corrupt(path, size-tailSize, "trailer says %d tree bytes, file holds %d (truncated?)", n, size-headerSize-tailSize)
	}
	if got := h.Sum(nil); string(got) != string(tail[8:]) {
		return nil, corrupt(path, size-sha256.Size, "SHA-256 mismatch: file says %x, content hashes to %x", tail[8:], got)
	}
	b := &File{f: f, size: size}
	b.Index = binary.BigEndian.Uint64(hdr[8:])
	b.Created = time.UnixMilli(int64(binary.BigEndian.Uint64(hdr[16:])))
	if b.Index == 0 {
		return nil, corrupt(path, 8, "index 0")
	}
	return b, nil
}

// Tree returns a reader of the serialized tree.
func (b *File) Tree() io.Reader {
	return bufio.NewReaderSize(io.NewSectionReader(b.f, headerSize, b.size-headerSize-tailSize), 1<<20)
}

// Close closes the file.
func (b *File) Close() error { return b.f.Close() }
