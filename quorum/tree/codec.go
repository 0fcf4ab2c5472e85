package tree

import (
	"errors"
	"fmt"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

// Marshal encodes the entry for the replicated log: Time, Session, the
// Auth vector, Op, then the jute encoding of Req. Zxid is not encoded:
// the log position is the zxid.
func (e *Entry) Marshal() []byte {
	return e.AppendMarshal(make([]byte, 0, 64))
}

// AppendMarshal appends the encoding Marshal returns to dst, so a caller
// that frames the entry (the proposal id before it) builds it in one
// buffer instead of copying it.
func (e *Entry) AppendMarshal(dst []byte) []byte {
	enc := proto.Encoder{Buf: dst}
	enc.Long(e.Time)
	enc.Long(e.Session)
	enc.Int(int32(len(e.Auth)))
	for i := range e.Auth {
		e.Auth[i].Encode(&enc)
	}
	enc.Int(e.Op)
	if e.Req != nil {
		e.Req.Encode(&enc)
	}
	return enc.Buf
}

// ErrTrailingBytes means an encoded entry had bytes after its request.
var ErrTrailingBytes = errors.New("tree: trailing bytes after entry")

// UnmarshalEntry decodes what Marshal produced. Any malformed input,
// including an op that is not a write and trailing bytes, is an error;
// it never panics.
func UnmarshalEntry(b []byte) (*Entry, error) {
	d := proto.NewDecoder(b)
	e := &Entry{Time: d.Long(), Session: d.Long()}
	if n := d.Count(8); n > 0 {
		e.Auth = make([]proto.Id, n)
		for i := range e.Auth {
			e.Auth[i].Decode(d)
		}
	}
	e.Op = d.Int()
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("decode entry header: %w", err)
	}
	switch e.Op {
	case proto.OpCreateSession:
		e.Req = &CreateSession{}
	case proto.OpCloseSession:
		e.Req = proto.Empty{}
	case proto.OpDeleteContainer:
		e.Req = &proto.PathRequest{}
	case proto.OpReconfig:
		e.Req = &proto.ReconfigRequest{}
	default:
		if proto.IsWrite(e.Op) {
			e.Req = proto.NewRequestRecord(e.Op)
		}
	}
	if e.Req == nil {
		return nil, fmt.Errorf("decode entry: op %d is not a write", e.Op)
	}
	e.Req.Decode(d)
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("decode entry op %d: %w", e.Op, err)
	}
	if d.Remaining() != 0 {
		return nil, fmt.Errorf("decode entry op %d: %w (%d)", e.Op, ErrTrailingBytes, d.Remaining())
	}
	return e, nil
}
