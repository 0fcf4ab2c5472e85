package tree

import (
	"fmt"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

// NodeImage is one znode as a foreign store persists it (Apache
// ZooKeeper's StatPersisted): Cversion counts child creations, as the
// tree stores it, not the client-visible value.
type NodeImage struct {
	Path                string
	Data                []byte
	ACL                 []proto.ACL
	Czxid, Mzxid, Pzxid int64
	Ctime, Mtime        int64
	Owner               int64 // session, proto.ContainerEphemeralOwner, TTL owner or 0
	Version             int32
	Cversion            int32
	Aversion            int32
}

// Builder makes a Tree from a whole image handed over from outside the
// log (an import from Apache ZooKeeper), with the same checks Restore
// applies to a snapshot: valid unique paths, every parent present, every
// ephemeral owned by a known session. Nodes may come in any order.
type Builder struct {
	t      *Tree
	all    []*node
	acls   []*aclList
	byPath map[string]*node
}

// NewBuilder starts an image whose last applied zxid is lastZxid.
func NewBuilder(lastZxid int64, sizeHint int) *Builder {
	t := newEmpty()
	t.lastZxid = lastZxid
	return &Builder{t: t, all: make([]*node, 0, sizeHint), acls: make([]*aclList, 0, sizeHint),
		byPath: make(map[string]*node, sizeHint)}
}

// Session adds a live session.
func (b *Builder) Session(id int64, timeout int32, passwd []byte) {
	b.t.sessions[id] = &session{id: id, timeout: timeout, passwd: passwd, ephemerals: make(map[string]struct{})}
}

// Node adds one znode; Data and ACL are kept, not copied.
func (b *Builder) Node(im *NodeImage) error {
	if _, dup := b.byPath[im.Path]; dup || !validPath(im.Path) {
		return fmt.Errorf("bad or duplicate path %q", im.Path)
	}
	n := &node{path: im.Path, data: im.Data, czxid: im.Czxid, mzxid: im.Mzxid, pzxid: im.Pzxid,
		ctime: im.Ctime, mtime: im.Mtime, owner: im.Owner, version: im.Version, cversion: im.Cversion,
		aversion: im.Aversion}
	b.byPath[im.Path] = n
	b.all = append(b.all, n)
	b.acls = append(b.acls, b.t.acls.intern(im.ACL))
	return nil
}

// Tree links the nodes and returns the tree; the Builder is spent.
func (b *Builder) Tree() (*Tree, error) {
	if err := linkAll(b.t, b.all, b.byPath, func(i int) *aclList { return b.acls[i] }); err != nil {
		return nil, err
	}
	t := b.t
	*b = Builder{}
	return t, nil
}

// linkAll links nodes read in any order into t once all are known; aclOf
// gives the ACL list of all[i].
func linkAll(t *Tree, all []*node, byPath map[string]*node, aclOf func(int) *aclList) error {
	if byPath["/"] == nil {
		return fmt.Errorf("%w: no root node", ErrCorruptSnapshot)
	}
	for i, n := range all {
		if n.path != "/" {
			n.parent = byPath[parentPath(n.path)]
			if n.parent == nil {
				return fmt.Errorf("%w: node %q has no parent", ErrCorruptSnapshot, n.path)
			}
		}
		if n.kind() == kindEphemeral && t.sessions[n.owner] == nil {
			return fmt.Errorf("%w: ephemeral %q of unknown session 0x%x", ErrCorruptSnapshot, n.path, n.owner)
		}
		t.link(n, aclOf(i))
	}
	return nil
}
