package server

import (
	"bytes"
	"encoding/binary"
	"errors"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/zkfc-project/zkfc/quorum/tree"
)

// A log entry of a client's write is a header, then the tree entry. The
// header is the proposal id with stampedFlag set, then the raft term the
// proposer handed it over in. An entry that reaches the log in another
// term is a late copy of a proposal its proposer has given up on and
// proposed again (see resolveStale): decodeEntry reports it as such, the
// same way on every member, so a write is applied once even though a
// leader change made its proposer send it twice. Logs written before the
// term stamp have an 8-byte header (the id, flag clear) and apply as they
// are.
const (
	entryHeader       = 16
	legacyEntryHeader = 8
	stampedFlag       = uint64(1) << 63
)

// encodeProposal prefixes the tree entry with room for the header, which
// stamp fills when the proposal is handed to raft.
func encodeProposal(e *tree.Entry) []byte {
	// 256 bytes hold a typical write (a path, a 100-byte value, the
	// session's identities) without growing.
	b := e.AppendMarshal(make([]byte, entryHeader, 256))
	if cap(b)-len(b) > 4096 {
		// A large value grew the buffer by doubling; the log keeps the
		// entry a while, so keep only what it needs.
		b = append([]byte(nil), b...)
	}
	return b
}

// stamp writes the proposal's id and term into its header. A proposal
// stamped before (proposed again after its leader lost it) gets a copy:
// raft or the transport may still hold the old bytes.
func (p *proposal) stamp(term uint64) {
	if p.term != 0 {
		p.data = bytes.Clone(p.data)
	}
	binary.BigEndian.PutUint64(p.data, p.id|stampedFlag)
	binary.BigEndian.PutUint64(p.data[8:], term)
	p.term = term
}

// errLateCopy is decodeEntry's answer for an entry whose stamped term is
// not the term it was appended in.
var errLateCopy = errors.New("late copy of a write proposed again")

// decodeStamped reads the tree entry of a stamped entry whatever its term.
func decodeStamped(e *raftpb.Entry) (*tree.Entry, error) {
	if len(e.Data) < entryHeader {
		return nil, errors.New("entry header cut short")
	}
	te, err := tree.UnmarshalEntry(e.Data[entryHeader:])
	if err != nil {
		return nil, err
	}
	te.Zxid = int64(e.GetIndex())
	return te, nil
}

// decodeEntry reads a normal log entry back: the id of the proposal it
// came from and the tree entry, with its zxid (the log index) set. A nil
// entry with a nil error is an entry without a write (a new leader's
// empty entry). Every member decodes the same bytes the same way, so
// whatever it refuses, every member refuses.
func decodeEntry(e *raftpb.Entry) (id uint64, te *tree.Entry, stamped uint64, err error) {
	if len(e.Data) < legacyEntryHeader {
		return 0, nil, 0, nil
	}
	id = binary.BigEndian.Uint64(e.Data)
	body := e.Data[legacyEntryHeader:]
	if id&stampedFlag != 0 {
		if len(e.Data) < entryHeader {
			return 0, nil, 0, errors.New("entry header cut short")
		}
		id &^= stampedFlag
		if stamped = binary.BigEndian.Uint64(e.Data[legacyEntryHeader:]); stamped != e.GetTerm() {
			return id, nil, stamped, errLateCopy
		}
		body = e.Data[entryHeader:]
	}
	te, err = tree.UnmarshalEntry(body)
	if err != nil {
		return id, nil, stamped, err
	}
	te.Zxid = int64(e.GetIndex())
	return id, te, stamped, nil
}
