// Package tree is the ZooKeeper data tree as a deterministic state machine:
// znodes with their stats and ACLs, sessions and their ephemerals, and the
// rules by which a committed Entry changes them, equal to what a client of
// Apache ZooKeeper 3.8 observes.
//
// Every member of the quorum applies the same entries in the same order and
// must reach the same tree, so this package must never read the clock, use
// randomness, let map iteration order leak into anything observable, or
// touch the network or the disk (snapshots go to an io.Writer the caller
// owns). A Tree is not safe for concurrent use and must never lock: the
// server guards it with its own RWMutex, Apply under the write lock and the
// read methods under the read lock.
package tree

import (
	"sort"
	"strings"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

// Paths of the nodes every ZooKeeper tree starts with.
const (
	pathZooKeeper = "/zookeeper"
	pathQuota     = "/zookeeper/quota"
	pathConfig    = "/zookeeper/config"
)

// node is one znode. Stats are kept as ZooKeeper persists them: cversion
// counts child creations only (it is also the sequential-suffix counter),
// and the client-visible cversion is derived from it in stat().
type node struct {
	path     string
	parent   *node
	children map[string]*node // nil while the node has none
	data     []byte           // never modified in place: readers may keep it
	acl      *aclList

	czxid, mzxid, pzxid int64
	ctime, mtime        int64
	owner               int64 // session, ContainerEphemeralOwner, TTL owner or 0
	version             int32
	cversion            int32
	aversion            int32
}

// kind of a znode, from its ephemeral owner as ZooKeeper's EphemeralType.
type kind uint8

const (
	kindPersistent kind = iota
	kindEphemeral
	kindContainer
	kindTTL
)

func ownerKind(owner int64) kind {
	switch {
	case owner == 0:
		return kindPersistent
	case owner == proto.ContainerEphemeralOwner:
		return kindContainer
	case proto.IsTTLOwner(owner):
		return kindTTL
	}
	return kindEphemeral
}

// name is the last segment of the path; it shares the path's memory,
// and is not stored, which saves 16 bytes on every node.
func (n *node) name() string { return n.path[strings.LastIndexByte(n.path, '/')+1:] }

func (n *node) kind() kind { return ownerKind(n.owner) }

// ttl is the node's TTL in ms; only meaningful for kindTTL.
func (n *node) ttl() int64 { return n.owner &^ (-1 << 56) }

// stat is the node's Stat as ZooKeeper 3.8 shows it to clients
// (DataNode.copyStat): cversion counts creates and deletes, derived as
// 2*creates - live children, and containers and TTL nodes show an
// ephemeralOwner of 0 (observed with go-zookeeper/zk against 3.8.0).
func (n *node) stat() proto.Stat {
	nc := int32(len(n.children))
	s := proto.Stat{
		Czxid:       n.czxid,
		Mzxid:       n.mzxid,
		Ctime:       n.ctime,
		Mtime:       n.mtime,
		Version:     n.version,
		Cversion:    n.cversion*2 - nc,
		Aversion:    n.aversion,
		DataLength:  int32(len(n.data)),
		NumChildren: nc,
		Pzxid:       n.pzxid,
	}
	if n.kind() == kindEphemeral {
		s.EphemeralOwner = n.owner
	}
	return s
}

// session is what the tree keeps of a client session: enough to resume it
// on any member and to remove its ephemerals when it ends.
type session struct {
	id         int64
	timeout    int32
	passwd     []byte
	ephemerals map[string]struct{}
}

// SessionInfo describes a live session.
type SessionInfo struct {
	ID      int64
	Timeout int32 // ms, as negotiated
	Passwd  []byte
}

// Tree is the replicated state: znodes and sessions.
type Tree struct {
	// root is the tree; paths are resolved by walking children (a path
	// index would cost ~50 bytes per znode, the tree's largest overhead).
	root       *node
	count      int // znodes, the root included
	sessions   map[int64]*session
	containers map[string]struct{}
	ttls       map[string]struct{}
	acls       aclCache

	lastZxid       int64
	dataSize       int64 // sum of len(path)+len(data), as ZooKeeper's approximateDataSize
	ephemeralCount int

	// journal records how to undo each change while a multi runs; nil
	// outside a multi.
	journal *[]undo
}

// New returns the tree Apache ZooKeeper 3.8 starts with in standalone mode:
// "/", "/zookeeper", "/zookeeper/quota" and "/zookeeper/config". Observed
// on a fresh 3.8.0 (kazoo, zkCli): every zxid and time 0; the visible
// cversion of "/" is -1 and of "/zookeeper" -2 because the nodes were
// added without counting a create; /zookeeper/config has ACL
// world:anyone:READ and aversion -1. All four carry empty data, not null:
// getData answers a zero-length buffer (Curator prints ” and the C client
// data=” for it, where null would print null).
func New() *Tree {
	t := newEmpty()
	root := &node{path: "/", data: []byte{}}
	t.insert(root, t.acls.intern(proto.OpenACL))
	zk := &node{path: pathZooKeeper, parent: root, data: []byte{}}
	t.insert(zk, t.acls.intern(proto.OpenACL))
	quota := &node{path: pathQuota, parent: zk, data: []byte{}}
	t.insert(quota, t.acls.intern(proto.OpenACL))
	cfg := &node{path: pathConfig, parent: zk, aversion: -1, data: []byte{}}
	t.insert(cfg, t.acls.intern([]proto.ACL{{Perms: proto.PermRead, ID: proto.WorldAnyone}}))
	return t
}

func newEmpty() *Tree {
	return &Tree{
		sessions:   make(map[int64]*session),
		containers: make(map[string]struct{}),
		ttls:       make(map[string]struct{}),
		acls:       aclCache{byKey: make(map[string]*aclList)},
	}
}

// insert links n (whose parent, except for the root, is already in the
// tree) into every index and takes a reference on acl. It is the exact
// inverse of remove, which is what makes multi rollback simple.
func (t *Tree) insert(n *node, acl *aclList) {
	t.link(n, acl)
	t.logUndo(undo{op: undoInsert, n: n})
}

// link does insert's work but for the undo journal; Restore uses it.
func (t *Tree) link(n *node, acl *aclList) {
	n.acl = acl
	t.count++
	if n.parent == nil {
		t.root = n
	}
	t.acls.acquire(acl)
	if p := n.parent; p != nil {
		if p.children == nil {
			p.children = make(map[string]*node, 1)
		}
		p.children[n.name()] = n
	}
	t.dataSize += int64(len(n.path) + len(n.data))
	switch n.kind() {
	case kindContainer:
		t.containers[n.path] = struct{}{}
	case kindTTL:
		t.ttls[n.path] = struct{}{}
	case kindEphemeral:
		// The owner exists: Apply checked it before creating.
		if s := t.sessions[n.owner]; s != nil {
			s.ephemerals[n.path] = struct{}{}
		}
		t.ephemeralCount++
	}
}

// remove unlinks a childless n from every index and drops its ACL reference.
func (t *Tree) remove(n *node) {
	t.count--
	if p := n.parent; p != nil {
		delete(p.children, n.name())
		if len(p.children) == 0 {
			p.children = nil
		}
	}
	t.dataSize -= int64(len(n.path) + len(n.data))
	switch n.kind() {
	case kindContainer:
		delete(t.containers, n.path)
	case kindTTL:
		delete(t.ttls, n.path)
	case kindEphemeral:
		if s := t.sessions[n.owner]; s != nil {
			delete(s.ephemerals, n.path)
		}
		t.ephemeralCount--
	}
	t.acls.release(n.acl)
	t.logUndo(undo{op: undoRemove, n: n})
}

// lookup finds the node at path by walking from the root, one child map
// per segment; anything but a stored valid path finds nothing, as a path
// index would.
func (t *Tree) lookup(path string) *node {
	if len(path) == 0 || path[0] != '/' || t.root == nil {
		return nil
	}
	n := t.root
	if len(path) == 1 {
		return n
	}
	rest := path[1:]
	for n != nil {
		i := strings.IndexByte(rest, '/')
		if i < 0 {
			return n.children[rest]
		}
		n = n.children[rest[:i]]
		rest = rest[i+1:]
	}
	return nil
}

// walk calls f on every node, parents before their children.
func (t *Tree) walk(f func(*node)) {
	if t.root == nil {
		return
	}
	f(t.root)
	// Only nodes with children wait on the stack, so a flat directory of a
	// million znodes does not build a million-entry stack.
	stack := []*node{t.root}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, c := range n.children {
			f(c)
			if len(c.children) > 0 {
				stack = append(stack, c)
			}
		}
	}
}

// parentPath is the path of the parent of a valid non-root path.
func parentPath(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// lookupParent finds the parent of p the way ZooKeeper's request
// processor does: the text before the last '/', where "" is the root.
func (t *Tree) lookupParent(p string) (*node, bool) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return nil, false
	}
	if i == 0 {
		return t.root, t.root != nil
	}
	n := t.lookup(p[:i])
	return n, n != nil
}

// Exists returns the node's stat. It needs no permission: ZooKeeper 3.8
// answers exists on a node the caller cannot read (observed with kazoo).
func (t *Tree) Exists(path string) (proto.Stat, bool) {
	n := t.lookup(path)
	if n == nil {
		return proto.Stat{}, false
	}
	return n.stat(), true
}

// permitted is the node at path if auth holds perm on it. A missing node
// is NoNode before any permission is checked, as in ZooKeeper.
func (t *Tree) permitted(path string, perm int32, auth []proto.Id) (*node, proto.Err) {
	n := t.lookup(path)
	if n == nil {
		return nil, proto.ErrNoNode
	}
	if !allowed(n.acl.acl, perm, auth) {
		return nil, proto.ErrNoAuth
	}
	return n, proto.ErrOK
}

// Permitted reports whether auth holds perm on the node at path: ErrOK,
// ErrNoAuth or ErrNoNode.
func (t *Tree) Permitted(path string, perm int32, auth []proto.Id) proto.Err {
	_, err := t.permitted(path, perm, auth)
	return err
}

// Get returns the node's data and stat; it needs READ. The data slice is
// shared with the tree and must not be modified; it stays valid after
// later writes, which replace rather than modify it.
func (t *Tree) Get(path string, auth []proto.Id) ([]byte, proto.Stat, proto.Err) {
	n, err := t.permitted(path, proto.PermRead, auth)
	if err != proto.ErrOK {
		return nil, proto.Stat{}, err
	}
	return n.data, n.stat(), proto.ErrOK
}

// Children returns the node's child names and stat; it needs READ.
// ZooKeeper returns them in HashSet order, which clients must not rely
// on; here they are sorted, so every member answers alike.
func (t *Tree) Children(path string, auth []proto.Id) ([]string, proto.Stat, proto.Err) {
	n, err := t.permitted(path, proto.PermRead, auth)
	if err != proto.ErrOK {
		return nil, proto.Stat{}, err
	}
	out := make([]string, 0, len(n.children))
	for name := range n.children {
		out = append(out, name)
	}
	sort.Strings(out)
	return out, n.stat(), proto.ErrOK
}

// GetACL returns the node's ACL and stat. As in ZooKeeper 3.8 it needs
// READ or ADMIN, and a caller without ADMIN sees digest ids with the hash
// replaced by "x" (observed with kazoo: "alice:x"). The slice is shared
// with the tree when nothing is hidden and must not be modified.
func (t *Tree) GetACL(path string, auth []proto.Id) ([]proto.ACL, proto.Stat, proto.Err) {
	n := t.lookup(path)
	if n == nil {
		return nil, proto.Stat{}, proto.ErrNoNode
	}
	acl := n.acl.acl
	if !allowed(acl, proto.PermRead|proto.PermAdmin, auth) {
		return nil, proto.Stat{}, proto.ErrNoAuth
	}
	if allowed(acl, proto.PermAdmin, auth) {
		return acl, n.stat(), proto.ErrOK
	}
	masked := make([]proto.ACL, len(acl))
	copy(masked, acl)
	for i := range masked {
		if masked[i].ID.Scheme == "digest" {
			id := masked[i].ID.ID
			if j := strings.IndexByte(id, ':'); j >= 0 {
				masked[i].ID.ID = id[:j] + ":x"
			}
		}
	}
	return masked, n.stat(), proto.ErrOK
}

// AllChildrenNumber counts every descendant of path (not path itself); it
// needs READ. For "/" ZooKeeper 3.8 returns all nodes but the root (on a
// fresh server: 3), which is the same count.
func (t *Tree) AllChildrenNumber(path string, auth []proto.Id) (int32, proto.Err) {
	n, err := t.permitted(path, proto.PermRead, auth)
	if err != proto.ErrOK {
		return 0, err
	}
	if n.parent == nil {
		return int32(t.count - 1), proto.ErrOK
	}
	return int32(countDescendants(n)), proto.ErrOK
}

// countDescendants walks the subtree with an explicit stack, so depth is
// bounded by memory rather than by the goroutine stack.
func countDescendants(n *node) int {
	count := 0
	stack := []*node{n}
	for len(stack) > 0 {
		top := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, c := range top.children {
			count++
			if len(c.children) > 0 {
				stack = append(stack, c)
			}
		}
	}
	return count
}

// Ephemerals lists the session's ephemeral paths that start with prefix,
// sorted; "", "/" or blank mean all, as ZooKeeper's getEphemerals.
func (t *Tree) Ephemerals(sessionID int64, prefix string) []string {
	s := t.sessions[sessionID]
	if s == nil {
		return []string{}
	}
	all := strings.TrimSpace(prefix) == "" || strings.TrimSpace(prefix) == "/"
	out := make([]string, 0, len(s.ephemerals))
	for p := range s.ephemerals {
		if all || strings.HasPrefix(p, prefix) {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// SessionEphemerals lists every ephemeral the session owns, sorted.
func (t *Tree) SessionEphemerals(sessionID int64) []string {
	return t.Ephemerals(sessionID, "")
}

// NodeCount is the number of znodes including the root. Apache
// ZooKeeper's srvr "Node count" is one more: it keeps the root under two
// keys ("" and "/"), so a fresh server says 5 where this says 4.
func (t *Tree) NodeCount() int { return t.count }

// LastZxid is the zxid of the last applied entry.
func (t *Tree) LastZxid() int64 { return t.lastZxid }

// EphemeralCount is the number of ephemeral nodes of all sessions.
func (t *Tree) EphemeralCount() int { return t.ephemeralCount }

// ApproxDataSize is the sum of path and data lengths of all nodes, as
// ZooKeeper's zk_approximate_data_size.
func (t *Tree) ApproxDataSize() int64 { return t.dataSize }

// Sessions lists the live sessions sorted by id.
func (t *Tree) Sessions() []SessionInfo {
	out := make([]SessionInfo, 0, len(t.sessions))
	for _, s := range t.sessions {
		out = append(out, SessionInfo{ID: s.id, Timeout: s.timeout, Passwd: s.passwd})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Session returns one live session.
func (t *Tree) Session(id int64) (SessionInfo, bool) {
	s := t.sessions[id]
	if s == nil {
		return SessionInfo{}, false
	}
	return SessionInfo{ID: s.id, Timeout: s.timeout, Passwd: s.passwd}, true
}

// ReapCandidates lists, sorted, the nodes the reaper should propose for
// OpDeleteContainer at wall time now (ms): containers that have had a
// child (cversion > 0) and have none now, and childless TTL nodes whose
// mtime+ttl < now, as ZooKeeper's ContainerManager. It walks only the
// container and TTL sets, never the whole tree.
func (t *Tree) ReapCandidates(now int64) []string {
	var out []string
	for p := range t.containers {
		n := t.lookup(p)
		if n != nil && len(n.children) == 0 && n.cversion > 0 {
			out = append(out, p)
		}
	}
	for p := range t.ttls {
		n := t.lookup(p)
		if n != nil && ttlExpired(n, now) {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

func ttlExpired(n *node, now int64) bool {
	ttl := n.ttl()
	return len(n.children) == 0 && ttl != 0 && now-n.mtime > ttl
}

// SetClusterConfig sets /zookeeper/config to an ensemble's membership, as
// ZooKeeper shows it (server.N lines and version=0, data version -1). It is
// for bootstrapping a tree before its first snapshot, identically on every
// member; mtime must be the same on all of them.
func (t *Tree) SetClusterConfig(data []byte, mtime int64) {
	if n := t.lookup(pathConfig); n != nil {
		n.data = append([]byte(nil), data...)
		n.mtime = mtime
		n.version = -1
	}
}
