package zkimport

import (
	"strings"

	"github.com/zkfc-project/zkfc/quorum/proto"
	"github.com/zkfc-project/zkfc/quorum/tree"
)

// state is ZooKeeper's DataTree as recovery rebuilds it: nodes by path,
// sessions with their timeouts, and each session's ephemerals. Changes
// follow DataTree.processTxn, including its tolerance of a fuzzy
// snapshot: a create of a node that exists and a delete of one that does
// not are absorbed, as replaying a fuzzy snapshot's overlap requires.
type state struct {
	nodes      map[string]*tree.NodeImage
	sessions   map[int64]int32
	ephemerals map[int64]map[string]struct{}
	lastZxid   int64
}

func newState(sizeHint int) *state {
	return &state{nodes: make(map[string]*tree.NodeImage, sizeHint), sessions: map[int64]int32{},
		ephemerals: map[int64]map[string]struct{}{}}
}

// parentOf is the parent path of a non-root path; ZooKeeper's "" (the
// root's key) is "/" here.
func parentOf(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

func isSessionOwner(owner int64) bool {
	return owner != 0 && owner != proto.ContainerEphemeralOwner && !proto.IsTTLOwner(owner)
}

func (s *state) put(n *tree.NodeImage) {
	s.nodes[n.Path] = n
	if isSessionOwner(n.Owner) {
		set := s.ephemerals[n.Owner]
		if set == nil {
			set = map[string]struct{}{}
			s.ephemerals[n.Owner] = set
		}
		set[n.Path] = struct{}{}
	}
}

// create is DataTree.createNode; it reports whether the node existed.
func (s *state) create(path string, data []byte, acl []proto.ACL, owner int64, parentCVersion int32, zxid, time int64) (exists bool) {
	parent := s.nodes[parentOf(path)]
	if parent == nil {
		return false
	}
	if old := s.nodes[path]; old != nil {
		old.ACL = acl
		return true
	}
	if parentCVersion == -1 {
		parentCVersion = parent.Cversion + 1
	}
	// A replayed create may be older than the parent's state in a fuzzy
	// snapshot: never move the parent backwards.
	if parentCVersion > parent.Cversion {
		parent.Cversion = parentCVersion
		parent.Pzxid = zxid
	}
	s.put(&tree.NodeImage{Path: path, Data: data, ACL: acl, Czxid: zxid, Mzxid: zxid, Pzxid: zxid,
		Ctime: time, Mtime: time, Owner: owner})
	return false
}

// setCversionPzxid is what recovery does to the parent after a plain
// create met an existing node: the node may have been re-created by
// another session after the parent was serialized.
func (s *state) setCversionPzxid(path string, cversion int32, zxid int64) {
	n := s.nodes[path]
	if n == nil {
		return
	}
	if cversion == -1 {
		cversion = n.Cversion + 1
	}
	if cversion > n.Cversion {
		n.Cversion = cversion
		n.Pzxid = zxid
	}
}

// remove is DataTree.deleteNode: the parent's pzxid moves even when the
// node is already gone.
func (s *state) remove(path string, zxid int64) {
	parent := s.nodes[parentOf(path)]
	if parent == nil {
		return
	}
	if zxid > parent.Pzxid {
		parent.Pzxid = zxid
	}
	n := s.nodes[path]
	if n == nil {
		return
	}
	delete(s.nodes, path)
	if isSessionOwner(n.Owner) {
		if set := s.ephemerals[n.Owner]; set != nil {
			delete(set, path)
		}
	}
}

func (s *state) setData(path string, data []byte, version int32, zxid, time int64) {
	if n := s.nodes[path]; n != nil {
		n.Data, n.Mtime, n.Mzxid, n.Version = data, time, zxid, version
	}
}

func (s *state) setACL(path string, acl []proto.ACL, version int32) {
	if n := s.nodes[path]; n != nil {
		n.ACL, n.Aversion = acl, version
	}
}

// killSession deletes the session's ephemerals.
func (s *state) killSession(id int64, zxid int64) {
	set := s.ephemerals[id]
	delete(s.ephemerals, id)
	for p := range set {
		s.remove(p, zxid)
	}
}
