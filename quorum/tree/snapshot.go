package tree

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

// Snapshot format, big-endian, version 1:
//
//	magic "ZKFCTRE1"
//	lastZxid int64
//	acl lists: int32 count, each: int32 n, n x (perms int32, scheme, id)
//	sessions:  int32 count, each: id int64, timeout int32, passwd buffer
//	nodes:     int64 count, each: path, data buffer, acl index int32,
//	           czxid mzxid pzxid ctime mtime owner int64,
//	           version cversion aversion int32
//	crc32c of everything after the magic, uint32
//
// Strings are int32 length + bytes, buffers the same with -1 for nil.
// Nodes come in map order; Restore links them once all are read, so the
// writer needs no sort. Ephemeral, container and TTL sets and the data
// size are derived, not stored.
const snapMagic = "ZKFCTRE1"

// maxSnapField bounds one string or buffer in a snapshot, so a corrupt
// length cannot make Restore allocate gigabytes before the checksum
// would have caught it.
const maxSnapField = 1 << 28

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// ErrCorruptSnapshot means a snapshot failed its checksum or structure
// checks; the caller should fall back to an older snapshot or a peer.
var ErrCorruptSnapshot = errors.New("tree: corrupt snapshot")

// snapWriter batches fields in one buffer so that writing a million nodes
// costs a few hundred writes and no per-node allocation.
type snapWriter struct {
	w   io.Writer
	enc proto.Encoder
	crc uint32
	err error
}

func (s *snapWriter) flush() {
	if s.err != nil || len(s.enc.Buf) == 0 {
		s.enc.Buf = s.enc.Buf[:0]
		return
	}
	s.crc = crc32.Update(s.crc, crcTable, s.enc.Buf)
	_, s.err = s.w.Write(s.enc.Buf)
	s.enc.Buf = s.enc.Buf[:0]
}

func (s *snapWriter) maybeFlush() {
	if len(s.enc.Buf) >= 256<<10 {
		s.flush()
	}
}

// WriteSnapshot writes the whole tree: nodes, ACLs, sessions (their
// ephemerals follow from the nodes) and LastZxid. Sequence counters are
// the stored cversions and travel with the nodes.
func (t *Tree) WriteSnapshot(w io.Writer) error {
	sessions := func(f func(*session)) {
		for _, ss := range t.sessions {
			f(ss)
		}
	}
	return writeSnapshot(w, t.lastZxid, len(t.sessions), sessions, t.count, t.walk)
}

// writeSnapshot writes the snapshot of a tree given by its parts, so that
// a live tree and a frozen copy (Freeze) write the same bytes.
func writeSnapshot(w io.Writer, lastZxid int64, nsessions int, sessions func(func(*session)), count int, walk func(func(*node))) error {
	if _, err := io.WriteString(w, snapMagic); err != nil {
		return fmt.Errorf("write snapshot header: %w", err)
	}
	s := &snapWriter{w: w, enc: proto.Encoder{Buf: make([]byte, 0, 320<<10)}}
	s.enc.Long(lastZxid)

	// Number the distinct ACL lists in use.
	index := make(map[*aclList]int32)
	var lists []*aclList
	walk(func(n *node) {
		if _, ok := index[n.acl]; !ok {
			index[n.acl] = int32(len(lists))
			lists = append(lists, n.acl)
		}
	})
	s.enc.Int(int32(len(lists)))
	for _, l := range lists {
		s.enc.Int(int32(len(l.acl)))
		for i := range l.acl {
			l.acl[i].Encode(&s.enc)
		}
		s.maybeFlush()
	}

	s.enc.Int(int32(nsessions))
	sessions(func(ss *session) {
		s.enc.Long(ss.id)
		s.enc.Int(ss.timeout)
		s.enc.Buffer(ss.passwd)
		s.maybeFlush()
	})

	s.enc.Long(int64(count))
	walk(func(n *node) {
		e := &s.enc
		e.String(n.path)
		e.Buffer(n.data)
		e.Int(index[n.acl])
		e.Long(n.czxid)
		e.Long(n.mzxid)
		e.Long(n.pzxid)
		e.Long(n.ctime)
		e.Long(n.mtime)
		e.Long(n.owner)
		e.Int(n.version)
		e.Int(n.cversion)
		e.Int(n.aversion)
		s.maybeFlush()
	})
	s.flush()
	if s.err != nil {
		return fmt.Errorf("write snapshot: %w", s.err)
	}
	var tail [4]byte
	binary.BigEndian.PutUint32(tail[:], s.crc)
	if _, err := w.Write(tail[:]); err != nil {
		return fmt.Errorf("write snapshot checksum: %w", err)
	}
	return nil
}

// snapReader reads fields from a large buffer it refills itself, and
// checksums consumed bytes a buffer at a time rather than a field at a
// time.
type snapReader struct {
	r      io.Reader
	buf    []byte
	pos    int // next unread byte
	end    int // end of valid data
	hashed int // buf[:hashed] is already in crc
	crc    uint32
	err    error
}

func (s *snapReader) fail(err error) {
	if s.err == nil {
		s.err = err
	}
}

// next returns the next n bytes, valid until the following call.
func (s *snapReader) next(n int) []byte {
	if s.err != nil {
		return nil
	}
	if s.end-s.pos < n {
		s.crc = crc32.Update(s.crc, crcTable, s.buf[s.hashed:s.pos])
		rest := copy(s.buf, s.buf[s.pos:s.end])
		if n > len(s.buf) {
			nb := make([]byte, n+len(s.buf))
			copy(nb, s.buf[:rest])
			s.buf = nb
		}
		s.pos, s.end, s.hashed = 0, rest, 0
		for empty := 0; s.end < n; {
			m, err := s.r.Read(s.buf[s.end:])
			s.end += m
			if m == 0 && err == nil {
				// A reader that keeps returning nothing would spin here.
				if empty++; empty > 100 {
					s.fail(io.ErrNoProgress)
					return nil
				}
			}
			if err != nil {
				if s.end >= n {
					break
				}
				if err == io.EOF {
					err = fmt.Errorf("%w: truncated", ErrCorruptSnapshot)
				}
				s.fail(err)
				return nil
			}
		}
	}
	b := s.buf[s.pos : s.pos+n]
	s.pos += n
	return b
}

func (s *snapReader) sum() uint32 {
	s.crc = crc32.Update(s.crc, crcTable, s.buf[s.hashed:s.pos])
	s.hashed = s.pos
	return s.crc
}

func (s *snapReader) long() int64 {
	b := s.next(8)
	if b == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}

func (s *snapReader) int() int32 {
	b := s.next(4)
	if b == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(b))
}

func (s *snapReader) length(nullable bool) int {
	n := s.int()
	if s.err != nil {
		return -1
	}
	if n == -1 && nullable {
		return -1
	}
	if n < 0 || n > maxSnapField {
		s.fail(fmt.Errorf("%w: field length %d", ErrCorruptSnapshot, n))
		return -1
	}
	return int(n)
}

func (s *snapReader) string() string {
	n := s.length(false)
	if n < 0 {
		return ""
	}
	return string(s.next(n))
}

func (s *snapReader) buffer() []byte {
	n := s.length(true)
	if n < 0 {
		return nil
	}
	b := s.next(n)
	if b == nil {
		return nil
	}
	out := make([]byte, n)
	copy(out, b)
	return out
}

// count reads a count and refuses negative or absurd ones before
// anything is allocated for them.
func (s *snapReader) count(limit int64, what string) int {
	var n int64
	if limit > 1<<31 {
		n = s.long()
	} else {
		n = int64(s.int())
	}
	if s.err == nil && (n < 0 || n > limit) {
		s.fail(fmt.Errorf("%w: %s count %d", ErrCorruptSnapshot, what, n))
	}
	if s.err != nil {
		return 0
	}
	return int(n)
}

// Restore reads a snapshot written by WriteSnapshot. A snapshot that is
// truncated, fails its checksum or describes an impossible tree is
// refused with an error wrapping ErrCorruptSnapshot.
func Restore(r io.Reader) (*Tree, error) {
	var magic [len(snapMagic)]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, fmt.Errorf("read snapshot header: %w", err)
	}
	if string(magic[:]) != snapMagic {
		return nil, fmt.Errorf("%w: bad magic %q", ErrCorruptSnapshot, magic[:])
	}
	s := &snapReader{r: r, buf: make([]byte, 1<<20)}
	t := newEmpty()
	t.lastZxid = s.long()

	nl := s.count(1<<24, "acl list")
	lists := make([]*aclList, 0, min(nl, 1<<16))
	for i := 0; i < nl && s.err == nil; i++ {
		na := s.count(1<<20, "acl")
		acl := make([]proto.ACL, 0, min(na, 64))
		for j := 0; j < na && s.err == nil; j++ {
			a := proto.ACL{Perms: s.int()}
			a.ID.Scheme = s.string()
			a.ID.ID = s.string()
			acl = append(acl, a)
		}
		l := &aclList{acl: acl, key: aclKey(acl)}
		if old := t.acls.byKey[l.key]; old != nil {
			l = old
		}
		t.acls.byKey[l.key] = l
		lists = append(lists, l)
	}

	ns := s.count(1<<30, "session")
	for i := 0; i < ns && s.err == nil; i++ {
		ss := &session{id: s.long(), timeout: s.int(), passwd: s.buffer(), ephemerals: make(map[string]struct{})}
		t.sessions[ss.id] = ss
	}

	nn := s.count(1<<40, "node")
	// Size hints are capped: a corrupt count must not allocate much
	// before the checksum is seen.
	hint := min(nn, 1<<22)
	all := make([]*node, 0, hint)
	aclOf := make([]int32, 0, hint)
	// A path index for linking parents, dropped once the tree is built:
	// files written before the tree lost its index list nodes in any order.
	byPath := make(map[string]*node, hint)
	for i := 0; i < nn && s.err == nil; i++ {
		n := &node{path: s.string(), data: s.buffer()}
		ai := s.int()
		n.czxid, n.mzxid, n.pzxid = s.long(), s.long(), s.long()
		n.ctime, n.mtime, n.owner = s.long(), s.long(), s.long()
		n.version, n.cversion, n.aversion = s.int(), s.int(), s.int()
		if s.err != nil {
			break
		}
		if _, dup := byPath[n.path]; dup || !validPath(n.path) {
			s.fail(fmt.Errorf("%w: bad or duplicate path %q", ErrCorruptSnapshot, n.path))
			break
		}
		if ai < 0 || int(ai) >= len(lists) {
			s.fail(fmt.Errorf("%w: node %q names acl %d of %d", ErrCorruptSnapshot, n.path, ai, len(lists)))
			break
		}
		byPath[n.path] = n
		all = append(all, n)
		aclOf = append(aclOf, ai)
	}
	want := s.sum()
	tail := s.next(4)
	if s.err != nil {
		return nil, fmt.Errorf("read snapshot: %w", s.err)
	}
	if got := binary.BigEndian.Uint32(tail); got != want {
		return nil, fmt.Errorf("%w: checksum %08x, content hashes to %08x", ErrCorruptSnapshot, got, want)
	}
	if err := linkAll(t, all, byPath, func(i int) *aclList { return lists[aclOf[i]] }); err != nil {
		return nil, err
	}
	for _, l := range lists {
		if l.refs == 0 {
			delete(t.acls.byKey, l.key)
		}
	}
	return t, nil
}
