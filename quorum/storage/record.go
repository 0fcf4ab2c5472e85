package storage

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Record framing, the same for every record in a segment:
//
//	offset 0: uint32 little-endian  payload length (type byte + data)
//	offset 4: uint32 little-endian  CRC-32C of the payload
//	offset 8: payload: 1 type byte, then data
//	then zero padding up to the next multiple of recordAlign
//
// A length of zero is never written, so an all-zero header is what a
// preallocated, never-written tail looks like. Alignment keeps every header
// inside one disk sector, and lets a reader that meets a bad record probe
// the rest of the file for a later valid record: a torn last write has
// nothing valid after it, damage in the middle does (see parseRecord for
// the rest of the evidence).
const (
	headerSize  = 8
	recordAlign = 8
	// MaxRecordSize caps a record's payload. A reader refuses larger
	// lengths before allocating or hashing anything.
	MaxRecordSize = 64 << 20
)

type recType uint8

const (
	recSegment  recType = 1 // segment header: sequence and first index
	recBatch    recType = 2 // one Save: entries, then an optional HardState
	recSnapshot recType = 3 // a snapshot exists at index/term
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func alignUp(n int) int { return (n + recordAlign - 1) &^ (recordAlign - 1) }

// beginRecord reserves a header in buf and appends the type byte; the
// caller appends the data and calls finishRecord with the returned start.
func beginRecord(buf []byte, t recType) ([]byte, int) {
	start := len(buf)
	buf = append(buf, make([]byte, headerSize)...)
	return append(buf, byte(t)), start
}

// finishRecord fills in the header of the record begun at start and pads.
func finishRecord(buf []byte, start int) []byte {
	payload := buf[start+headerSize:]
	binary.LittleEndian.PutUint32(buf[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(buf[start+4:], crc32.Checksum(payload, crcTable))
	for pad := alignUp(len(buf)) - len(buf); pad > 0; pad-- {
		buf = append(buf, 0)
	}
	return buf
}

func appendRecord(buf []byte, t recType, data []byte) []byte {
	buf, start := beginRecord(buf, t)
	buf = append(buf, data...)
	return finishRecord(buf, start)
}

// badness classifies a record that does not parse.
type badness int

const (
	good     badness = iota
	cleanEnd         // end of buf, or only zeros from here on
	tornLike         // what an interrupted write leaves; torn if nothing valid follows
	damaged          // no interrupted write leaves this: always corruption
)

// sectorSize is the unit a disk writes atomically. An interrupted write
// leaves whole sectors (or pages) unwritten, and unwritten space in a
// segment reads as zeros: it was preallocated, or lies past a truncation.
const sectorSize = 512

// parseRecord decodes the record at off. It returns the type, the data
// (aliasing buf) and the offset of the next record, or why it cannot.
//
// A torn write and a flipped bit both fail the CRC; they are told apart by
// what a torn write must leave behind. Headers never straddle a sector
// (records are 8-byte aligned), so a torn header is all zeros or cut off
// by the end of the file, never a nonsense length; and a record whose data
// is torn has at least one of its sectors still all zeros, or runs past
// the end of the file.
func parseRecord(buf []byte, off int) (t recType, data []byte, next int, bad badness, reason string) {
	rest := buf[off:]
	if len(rest) < headerSize {
		if allZero(rest) {
			return 0, nil, off, cleanEnd, ""
		}
		return 0, nil, off, tornLike, fmt.Sprintf("partial header (%d bytes)", len(rest))
	}
	n := binary.LittleEndian.Uint32(rest)
	sum := binary.LittleEndian.Uint32(rest[4:])
	switch {
	case n == 0 && sum == 0:
		if allZero(rest) {
			return 0, nil, off, cleanEnd, ""
		}
		return 0, nil, off, tornLike, "zero header followed by data"
	case n == 0:
		return 0, nil, off, damaged, "zero record length"
	case n > MaxRecordSize:
		return 0, nil, off, damaged, fmt.Sprintf("record length %d exceeds limit %d", n, MaxRecordSize)
	case uint64(n) > uint64(len(rest)-headerSize):
		return 0, nil, off, tornLike, fmt.Sprintf("record length %d runs past end of file (%d bytes left)", n, len(rest)-headerSize)
	}
	payload := rest[headerSize : headerSize+int(n)]
	if crc32.Checksum(payload, crcTable) != sum {
		if hasZeroSector(buf, off, off+headerSize+int(n)) {
			return 0, nil, off, tornLike, "crc mismatch"
		}
		return 0, nil, off, damaged, "crc mismatch"
	}
	return recType(payload[0]), payload[1:], off + alignUp(headerSize+int(n)), good, ""
}

// hasZeroSector reports whether the part of some disk sector that falls in
// buf[from:to] is all zeros.
func hasZeroSector(buf []byte, from, to int) bool {
	for lo := from; lo < to; {
		hi := min((lo/sectorSize+1)*sectorSize, to)
		if allZero(buf[lo:hi]) {
			return true
		}
		lo = hi
	}
	return false
}

// validRecordAfter reports whether any aligned offset after off holds a
// record whose CRC checks out. A bad record with nothing valid behind it is
// a torn last write; one with valid records behind it is corruption.
//
// Crafted input could make every offset claim a long record; the bytes
// hashed are therefore budgeted, and running out of budget answers "found",
// which makes the caller refuse to truncate: failing loudly is the safe side.
func validRecordAfter(buf []byte, off int) (int, bool) {
	budget := 2*len(buf) + 1<<20
	for p := alignUp(off + 1); p+headerSize <= len(buf); p += recordAlign {
		n := binary.LittleEndian.Uint32(buf[p:])
		if n == 0 || n > MaxRecordSize || uint64(n) > uint64(len(buf)-p-headerSize) {
			continue
		}
		if budget -= int(n); budget < 0 {
			return p, true
		}
		payload := buf[p+headerSize : p+headerSize+int(n)]
		if crc32.Checksum(payload, crcTable) == binary.LittleEndian.Uint32(buf[p+4:]) {
			return p, true
		}
	}
	return 0, false
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
