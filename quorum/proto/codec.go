package proto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrShort means a record ended before all of its fields were read.
var ErrShort = errors.New("jute: record truncated")

// ErrBadLength means a length or count field was negative (other than -1
// for null) or larger than the bytes that remain.
var ErrBadLength = errors.New("jute: bad length")

// Encoder appends jute-encoded fields to a byte slice.
type Encoder struct {
	Buf []byte
}

func (e *Encoder) Int(v int32)  { e.Buf = binary.BigEndian.AppendUint32(e.Buf, uint32(v)) }
func (e *Encoder) Long(v int64) { e.Buf = binary.BigEndian.AppendUint64(e.Buf, uint64(v)) }
func (e *Encoder) Bool(v bool) {
	if v {
		e.Buf = append(e.Buf, 1)
	} else {
		e.Buf = append(e.Buf, 0)
	}
}

// Buffer writes a byte buffer; nil is written as length -1 (null).
func (e *Encoder) Buffer(b []byte) {
	if b == nil {
		e.Int(-1)
		return
	}
	e.Int(int32(len(b)))
	e.Buf = append(e.Buf, b...)
}

func (e *Encoder) String(s string) {
	e.Int(int32(len(s)))
	e.Buf = append(e.Buf, s...)
}

// Strings writes a vector of strings; nil is written as count -1.
func (e *Encoder) Strings(v []string) {
	if v == nil {
		e.Int(-1)
		return
	}
	e.Int(int32(len(v)))
	for _, s := range v {
		e.String(s)
	}
}

// Decoder reads jute fields from a byte slice. The first error sticks: every
// later read returns a zero value, so callers check Err once at the end.
// Lengths and counts are checked against the bytes that remain before
// anything is allocated.
type Decoder struct {
	Buf []byte
	Off int
	err error
}

func NewDecoder(b []byte) *Decoder { return &Decoder{Buf: b} }

func (d *Decoder) Err() error { return d.err }

// Remaining is the number of unread bytes.
func (d *Decoder) Remaining() int { return len(d.Buf) - d.Off }

func (d *Decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *Decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.Buf)-d.Off {
		d.fail(ErrShort)
		return nil
	}
	b := d.Buf[d.Off : d.Off+n]
	d.Off += n
	return b
}

func (d *Decoder) Int() int32 {
	b := d.take(4)
	if b == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(b))
}

func (d *Decoder) Long() int64 {
	b := d.take(8)
	if b == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}

func (d *Decoder) Bool() bool {
	b := d.take(1)
	return b != nil && b[0] != 0
}

// Buffer reads a byte buffer; a null buffer is returned as nil. The result
// is a copy, so it stays valid after the frame buffer is reused.
func (d *Decoder) Buffer() []byte {
	n := d.Int()
	if d.err != nil || n == -1 {
		return nil
	}
	if n < 0 || int(n) > d.Remaining() {
		d.fail(ErrBadLength)
		return nil
	}
	b := d.take(int(n))
	out := make([]byte, len(b))
	copy(out, b)
	return out
}

func (d *Decoder) String() string {
	n := d.Int()
	if d.err != nil || n == -1 {
		return ""
	}
	if n < 0 || int(n) > d.Remaining() {
		d.fail(ErrBadLength)
		return ""
	}
	return string(d.take(int(n)))
}

// Count reads a vector count. Every element takes at least minElem bytes,
// so a count larger than Remaining()/minElem cannot be honest and is
// refused before a slice of that size is made. -1 (null) reads as 0.
func (d *Decoder) Count(minElem int) int {
	n := d.Int()
	if d.err != nil || n == -1 {
		return 0
	}
	if minElem < 1 {
		minElem = 1
	}
	if n < 0 || int(n) > d.Remaining()/minElem {
		d.fail(ErrBadLength)
		return 0
	}
	return int(n)
}

func (d *Decoder) Strings() []string {
	n := d.Count(4)
	if d.err != nil {
		return nil
	}
	out := make([]string, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		out = append(out, d.String())
	}
	return out
}

// Record is anything with a jute encoding.
type Record interface {
	Encode(e *Encoder)
	Decode(d *Decoder)
}

// Marshal encodes records back to back.
func Marshal(rs ...Record) []byte {
	var e Encoder
	for _, r := range rs {
		r.Encode(&e)
	}
	return e.Buf
}

// Unmarshal decodes one record from b and reports a decode error or
// trailing garbage is not an error (ZooKeeper ignores it too).
func Unmarshal(b []byte, r Record) error {
	d := NewDecoder(b)
	r.Decode(d)
	return d.Err()
}

// ReadFrame reads one length-prefixed frame into buf (grown if needed) and
// returns the frame. A length above max or below zero is an error and
// nothing is allocated for it.
func ReadFrame(r io.Reader, buf []byte, max int) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(hdr[:]))
	if n < 0 || int(n) > max {
		return nil, fmt.Errorf("frame length %d outside [0, %d]", n, max)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// AppendFrame appends the records as one length-prefixed frame to dst.
func AppendFrame(dst []byte, rs ...Record) []byte {
	start := len(dst)
	e := Encoder{Buf: append(dst, 0, 0, 0, 0)}
	for _, r := range rs {
		r.Encode(&e)
	}
	binary.BigEndian.PutUint32(e.Buf[start:], uint32(len(e.Buf)-start-4))
	return e.Buf
}
