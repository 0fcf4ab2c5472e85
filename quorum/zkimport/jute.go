package zkimport

import (
	"bufio"
	"errors"
	"fmt"
	"hash"
	"hash/adler32"
	"io"
)

// CorruptError says where an input file stops making sense. Import stops
// at the first one: an operator must decide, not the importer.
type CorruptError struct {
	File   string
	Offset int64
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("%s: offset %d: %s", e.File, e.Offset, e.Reason)
}

// maxField bounds one string or buffer: ZooKeeper refuses packets above
// jute.maxbuffer (1 MiB by default), so a length far beyond it is damage,
// and refusing it keeps a corrupt length from allocating gigabytes.
const maxField = 64 << 20

// reader decodes jute fields from a stream, counting the offset for
// errors and feeding every byte it consumes to an Adler32, as
// ZooKeeper's CheckedInputStream does.
type reader struct {
	r    *bufio.Reader
	file string
	off  int64
	sum  hash.Hash32
	buf  []byte
	err  error
	// at is the offset of the field being read, for error messages.
	at int64
}

func newReader(r io.Reader, file string) *reader {
	return &reader{r: bufio.NewReaderSize(r, 256<<10), file: file, sum: adler32.New(), buf: make([]byte, 64)}
}

func (j *reader) corrupt(off int64, format string, args ...any) {
	if j.err == nil {
		j.err = &CorruptError{File: j.file, Offset: off, Reason: fmt.Sprintf(format, args...)}
	}
}

// take returns the next n bytes, valid until the next call.
func (j *reader) take(n int) []byte {
	if j.err != nil {
		return nil
	}
	if n > len(j.buf) {
		j.buf = make([]byte, n)
	}
	b := j.buf[:n]
	m, err := io.ReadFull(j.r, b)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			j.corrupt(j.off+int64(m), "truncated: file ends inside a record (%d of %d bytes)", m, n)
		} else {
			j.err = fmt.Errorf("read %s: %w", j.file, err)
		}
		return nil
	}
	j.sum.Write(b)
	j.off += int64(n)
	return b
}

func (j *reader) int() int32 { return int32(j.fixed(4)) }

func (j *reader) long() int64 { return int64(j.fixed(8)) }

// fixed reads an n-byte big-endian integer field (0 after an error).
func (j *reader) fixed(n int) uint64 {
	j.at = j.off
	var v uint64
	for _, c := range j.take(n) {
		v = v<<8 | uint64(c)
	}
	return v
}

func (j *reader) length() (int, bool) {
	n := j.int()
	if j.err != nil || n == -1 {
		return 0, false
	}
	if n < 0 || n > maxField {
		j.corrupt(j.at, "bad field length %d", n)
		return 0, false
	}
	return int(n), true
}

func (j *reader) string() string {
	n, ok := j.length()
	if !ok {
		return ""
	}
	return string(j.take(n))
}

// buffer returns a copy; nil for a null buffer.
func (j *reader) buffer() []byte {
	n, ok := j.length()
	if !ok {
		return nil
	}
	b := j.take(n)
	if b == nil {
		return nil
	}
	out := make([]byte, n)
	copy(out, b)
	return out
}

// atEOF reports whether the stream has no more bytes.
func (j *reader) atEOF() bool {
	if j.err != nil {
		return false
	}
	_, err := j.r.Peek(1)
	return errors.Is(err, io.EOF)
}
