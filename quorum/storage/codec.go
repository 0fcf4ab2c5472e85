package storage

import (
	"encoding/binary"
	"errors"
	"fmt"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Payload layouts (little-endian), after the record's type byte:
//
//	recSegment:  magic "ZKWAL001", seq u64, first index u64
//	recSnapshot: index u64, term u64
//	recBatch:    count u32, count x (index u64, term u64, type u32,
//	             data length u32, data), flag u8 (1 = HardState follows),
//	             [term u64, vote u64, commit u64]
//
// The HardState comes after the entries because its commit index may point
// into them: a batch split over several records carries it in the last one,
// so a torn split batch never leaves a commit index beyond the log.

const segmentMagic = "ZKWAL001"

const entryOverhead = 24 // fixed bytes per entry in a batch

// Pos is a position in the raft log: the index and term of a snapshot.
type Pos struct {
	Index uint64
	Term  uint64
}

// PosOf returns the position of snap (zero for nil or empty).
func PosOf(snap *raftpb.Snapshot) Pos {
	return Pos{Index: snap.GetMetadata().GetIndex(), Term: snap.GetMetadata().GetTerm()}
}

// hardState is raftpb.HardState as a comparable value.
type hardState struct{ term, vote, commit uint64 }

func hardStateOf(hs *raftpb.HardState) hardState {
	return hardState{term: hs.GetTerm(), vote: hs.GetVote(), commit: hs.GetCommit()}
}

func (h hardState) isEmpty() bool { return h == hardState{} }

func (h hardState) proto() *raftpb.HardState {
	return &raftpb.HardState{Term: proto.Uint64(h.term), Vote: proto.Uint64(h.vote), Commit: proto.Uint64(h.commit)}
}

type segmentHeader struct{ seq, index uint64 }

func appendSegmentHeader(buf []byte, h segmentHeader) []byte {
	data := make([]byte, 0, len(segmentMagic)+16)
	data = append(data, segmentMagic...)
	data = binary.LittleEndian.AppendUint64(data, h.seq)
	data = binary.LittleEndian.AppendUint64(data, h.index)
	return appendRecord(buf, recSegment, data)
}

func decodeSegmentHeader(data []byte) (segmentHeader, error) {
	if len(data) != len(segmentMagic)+16 || string(data[:len(segmentMagic)]) != segmentMagic {
		return segmentHeader{}, errors.New("bad segment header")
	}
	d := data[len(segmentMagic):]
	return segmentHeader{seq: binary.LittleEndian.Uint64(d), index: binary.LittleEndian.Uint64(d[8:])}, nil
}

func appendSnapshotRecord(buf []byte, p Pos) []byte {
	var data [16]byte
	binary.LittleEndian.PutUint64(data[:], p.Index)
	binary.LittleEndian.PutUint64(data[8:], p.Term)
	return appendRecord(buf, recSnapshot, data[:])
}

func decodeSnapshotRecord(data []byte) (Pos, error) {
	if len(data) != 16 {
		return Pos{}, fmt.Errorf("snapshot record of %d bytes, want 16", len(data))
	}
	return Pos{Index: binary.LittleEndian.Uint64(data), Term: binary.LittleEndian.Uint64(data[8:])}, nil
}

// maxBatchPayload is where appendBatches splits a Save into several
// records; a variable only so that tests can exercise splitting cheaply.
var maxBatchPayload = MaxRecordSize

// appendBatches encodes ents and hs as one or more batch records, splitting
// only when a record would exceed maxBatchPayload.
func appendBatches(buf []byte, hs *hardState, ents []*raftpb.Entry) ([]byte, error) {
	for {
		// Take as many entries as fit in one record.
		size := 1 + 4 + 1 + 24 // type, count, flag, HardState
		n := 0
		for n < len(ents) {
			es := entryOverhead + len(ents[n].GetData())
			if size+es > maxBatchPayload {
				break
			}
			size += es
			n++
		}
		if n == 0 && len(ents) > 0 {
			return buf, fmt.Errorf("%w: index %d has %d bytes, limit %d", ErrEntryTooLarge,
				ents[0].GetIndex(), len(ents[0].GetData()), maxBatchPayload-size-entryOverhead)
		}
		var start int
		buf, start = beginRecord(buf, recBatch)
		buf = binary.LittleEndian.AppendUint32(buf, uint32(n))
		for _, e := range ents[:n] {
			buf = binary.LittleEndian.AppendUint64(buf, e.GetIndex())
			buf = binary.LittleEndian.AppendUint64(buf, e.GetTerm())
			buf = binary.LittleEndian.AppendUint32(buf, uint32(e.GetType()))
			buf = binary.LittleEndian.AppendUint32(buf, uint32(len(e.GetData())))
			buf = append(buf, e.GetData()...)
		}
		ents = ents[n:]
		if hs != nil && len(ents) == 0 {
			buf = append(buf, 1)
			buf = binary.LittleEndian.AppendUint64(buf, hs.term)
			buf = binary.LittleEndian.AppendUint64(buf, hs.vote)
			buf = binary.LittleEndian.AppendUint64(buf, hs.commit)
		} else {
			buf = append(buf, 0)
		}
		buf = finishRecord(buf, start)
		if len(ents) == 0 {
			return buf, nil
		}
	}
}

// batch is a decoded batch record. Entry data is copied out of the segment
// image so that the image can be released.
type batch struct {
	ents []*raftpb.Entry
	hs   *hardState
}

func decodeBatch(data []byte) (batch, error) {
	var b batch
	if len(data) < 5 {
		return b, errors.New("short batch record")
	}
	count := binary.LittleEndian.Uint32(data)
	d := data[4:]
	// Checked against the bytes present before allocating.
	if uint64(count) > uint64(len(d))/entryOverhead {
		return b, fmt.Errorf("batch claims %d entries in %d bytes", count, len(d))
	}
	b.ents = make([]*raftpb.Entry, 0, count)
	for i := uint32(0); i < count; i++ {
		if len(d) < entryOverhead {
			return b, fmt.Errorf("entry %d of batch truncated", i)
		}
		index := binary.LittleEndian.Uint64(d)
		term := binary.LittleEndian.Uint64(d[8:])
		typ := raftpb.EntryType(int32(binary.LittleEndian.Uint32(d[16:])))
		n := binary.LittleEndian.Uint32(d[20:])
		d = d[entryOverhead:]
		if uint64(n) > uint64(len(d)) {
			return b, fmt.Errorf("entry %d of batch claims %d data bytes, %d left", i, n, len(d))
		}
		e := &raftpb.Entry{Index: proto.Uint64(index), Term: proto.Uint64(term), Type: typ.Enum()}
		if n > 0 {
			e.Data = append([]byte(nil), d[:n]...)
		}
		d = d[n:]
		if i > 0 && index != b.ents[i-1].GetIndex()+1 {
			return b, fmt.Errorf("batch entries not contiguous: %d after %d", index, b.ents[i-1].GetIndex())
		}
		b.ents = append(b.ents, e)
	}
	switch {
	case len(d) == 1 && d[0] == 0:
	case len(d) == 25 && d[0] == 1:
		b.hs = &hardState{
			term:   binary.LittleEndian.Uint64(d[1:]),
			vote:   binary.LittleEndian.Uint64(d[9:]),
			commit: binary.LittleEndian.Uint64(d[17:]),
		}
	default:
		return b, fmt.Errorf("bad batch trailer of %d bytes", len(d))
	}
	return b, nil
}
