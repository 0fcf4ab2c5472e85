package zkimport

import (
	"fmt"
	"hash/adler32"
	"io"
	"os"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

// ZooKeeper's opcodes as they appear in transaction headers.
const (
	opCreate          = 1
	opDelete          = 2
	opSetData         = 5
	opSetACL          = 7
	opCheck           = 13
	opMulti           = 14
	opCreate2         = 15
	opReconfig        = 16
	opCreateContainer = 19
	opDeleteContainer = 20
	opCreateTTL       = 21
	opCreateSession   = -10
	opCloseSession    = -11
	opError           = -1
)

// endOfRecord ends every log record (Util.readTxnBytes: 'B').
const endOfRecord = 0x42

// txnHeaderSize is TxnHeader: clientId, cxid, zxid, time, type.
const txnHeaderSize = 8 + 4 + 8 + 8 + 4

// replayLog applies every record of one log file whose zxid is above
// st.lastZxid, as FileTxnSnapLog.fastForwardFromEdits does. Records at or
// below it are already in the snapshot (a log file starts before the
// snapshot it follows).
func replayLog(path string, st *state) (applied int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("open log: %w", err)
	}
	defer f.Close()
	return replayRecords(f, path, st)
}

// replayRecords replays a log's content; name is for errors.
func replayRecords(in io.Reader, name string, st *state) (applied int, err error) {
	j := newReader(in, name)
	if m, v := j.int(), j.int(); j.err == nil && (m != logMagic || v != fileVersion) {
		j.corrupt(0, "not a ZooKeeper 3.x transaction log (magic %#x version %d, want %#x version %d)", m, v, logMagic, fileVersion)
	}
	j.long() // dbid
	var prev int64
	for j.err == nil && !j.atEOF() {
		at := j.off
		crc := j.long()
		n := j.int()
		if j.err != nil {
			break
		}
		if n == 0 {
			// The rest is the zero padding of preallocation.
			break
		}
		if n < 0 || n > maxField {
			j.corrupt(at, "bad record length %d", n)
			break
		}
		// The payload and its end-of-record byte in one read: take's
		// buffer is reused by the next read.
		rec := j.take(int(n) + 1)
		if rec == nil {
			break
		}
		payload := rec[:n]
		if got := int64(adler32.Checksum(payload)); got != crc {
			j.corrupt(at, "record checksum mismatch: file says %#x, content hashes to %#x", crc, got)
			break
		}
		if rec[n] != endOfRecord {
			j.corrupt(j.off-1, "record does not end with 'B' (partial write)")
			break
		}
		d := proto.NewDecoder(payload)
		h := txnHeader{clientID: d.Long(), cxid: d.Int(), zxid: d.Long(), time: d.Long(), typ: d.Int()}
		if d.Err() != nil {
			j.corrupt(at, "record shorter than a transaction header")
			break
		}
		if h.zxid <= prev {
			j.corrupt(at, "zxid %#x does not follow %#x", h.zxid, prev)
			break
		}
		prev = h.zxid
		if h.zxid <= st.lastZxid {
			continue
		}
		// Within an epoch the counter steps by one: a jump means a
		// missing log file, whose changes would be silently lost.
		if h.zxid>>32 == st.lastZxid>>32 && h.zxid != st.lastZxid+1 {
			j.corrupt(at, "zxid %#x follows %#x: transactions in between are missing (a log file is missing?)", h.zxid, st.lastZxid)
			break
		}
		if reason := st.apply(&h, d); reason != "" {
			j.corrupt(at, "transaction %#x (type %d): %s", h.zxid, h.typ, reason)
			break
		}
		st.lastZxid = h.zxid
		applied++
	}
	if j.err != nil {
		return applied, j.err
	}
	return applied, nil
}

type txnHeader struct {
	clientID int64
	cxid     int32
	zxid     int64
	time     int64
	typ      int32
}

// apply decodes one transaction's body and applies it as
// DataTree.processTxn and FileTxnSnapLog.processTransaction do; it
// returns why the body could not be decoded, or "".
func (st *state) apply(h *txnHeader, d *proto.Decoder) string {
	switch h.typ {
	case opCreateSession:
		timeout := d.Int()
		if d.Err() != nil {
			return "undecodable createSession"
		}
		st.sessions[h.clientID] = timeout
		return ""
	case opCloseSession:
		// The body (3.6+) lists the session's ephemerals as the leader saw
		// them; they are the ones the state holds for the session, which
		// killSession deletes, so the list is not needed.
		delete(st.sessions, h.clientID)
		st.killSession(h.clientID, h.zxid)
		return ""
	case opMulti:
		n := d.Count(8)
		type sub struct {
			typ  int32
			data []byte
		}
		subs := make([]sub, 0, n)
		failed := false
		for i := 0; i < n && d.Err() == nil; i++ {
			s := sub{typ: d.Int(), data: d.Buffer()}
			failed = failed || s.typ == opError
			subs = append(subs, s)
		}
		if d.Err() != nil {
			return "undecodable multi"
		}
		// A multi holding an error record failed as a whole and changed
		// nothing.
		if failed {
			return ""
		}
		for _, s := range subs {
			sh := *h
			sh.typ = s.typ
			if reason := st.applyOp(&sh, proto.NewDecoder(s.data), true); reason != "" {
				return "in multi: " + reason
			}
		}
		return ""
	}
	return st.applyOp(h, d, false)
}

// txnDigestSize is the TxnDigest (version, digest) 3.6+ appends.
const txnDigestSize = 4 + 8

func (st *state) applyOp(h *txnHeader, d *proto.Decoder, inMulti bool) string {
	switch h.typ {
	case opCreate, opCreate2, opCreateContainer, opCreateTTL:
		path, data, acl := d.String(), d.Buffer(), decodeACLs(d)
		var owner int64
		var ephemeral bool
		parentCVersion := int32(-1)
		switch h.typ {
		case opCreate, opCreate2:
			ephemeral = d.Bool()
			// CreateTxnV0 of old logs ends here; the current CreateTxn
			// adds parentCVersion (the log may add a 12-byte digest).
			if r := d.Remaining(); inMulti && r >= 4 || !inMulti && (r == 4 || r == 4+txnDigestSize) {
				parentCVersion = d.Int()
			}
			if ephemeral {
				owner = h.clientID
			}
		case opCreateContainer:
			parentCVersion = d.Int()
			owner = proto.ContainerEphemeralOwner
		case opCreateTTL:
			parentCVersion = d.Int()
			ttl := d.Long()
			owner = proto.TTLEphemeralOwner(ttl)
		}
		if d.Err() != nil {
			return "undecodable create"
		}
		if len(path) == 0 || path[0] != '/' || path == "/" {
			return fmt.Sprintf("bad path %q", path)
		}
		if exists := st.create(path, data, acl, owner, parentCVersion, h.zxid, h.time); exists && h.typ == opCreate {
			st.setCversionPzxid(parentOf(path), parentCVersion, h.zxid)
		}
	case opDelete, opDeleteContainer:
		path := d.String()
		if d.Err() != nil {
			return "undecodable delete"
		}
		st.remove(path, h.zxid)
	case opSetData, opReconfig:
		path, data, version := d.String(), d.Buffer(), d.Int()
		if d.Err() != nil {
			return "undecodable setData"
		}
		st.setData(path, data, version, h.zxid, h.time)
	case opSetACL:
		path, acl, version := d.String(), decodeACLs(d), d.Int()
		if d.Err() != nil {
			return "undecodable setACL"
		}
		st.setACL(path, acl, version)
	case opError, opCheck:
	default:
		return "unknown transaction type"
	}
	return ""
}

func decodeACLs(d *proto.Decoder) []proto.ACL {
	n := d.Count(12)
	if d.Err() != nil {
		return nil
	}
	out := make([]proto.ACL, 0, n)
	for i := 0; i < n && d.Err() == nil; i++ {
		var a proto.ACL
		a.Decode(d)
		out = append(out, a)
	}
	return out
}
