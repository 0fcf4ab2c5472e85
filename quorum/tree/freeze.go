package tree

import "io"

// Frozen is a copy of everything a snapshot of the tree holds, taken in
// one pass that copies fields but encodes nothing, so that the caller's
// lock is held for the copy only and the slower encoding runs after it.
// Node data and ACL lists are shared, not copied: the tree never modifies
// them in place.
type Frozen struct {
	lastZxid int64
	sessions []session
	nodes    []node
}

// Freeze copies the tree's snapshot content; the tree may change as soon
// as it returns.
func (t *Tree) Freeze() *Frozen {
	f := &Frozen{lastZxid: t.lastZxid, sessions: make([]session, 0, len(t.sessions)), nodes: make([]node, 0, t.count)}
	for _, ss := range t.sessions {
		f.sessions = append(f.sessions, session{id: ss.id, timeout: ss.timeout, passwd: ss.passwd})
	}
	t.walk(func(n *node) {
		c := *n
		// The links lead into the live tree, which the copy must not reach.
		c.parent, c.children = nil, nil
		f.nodes = append(f.nodes, c)
	})
	return f
}

// LastZxid is the frozen tree's last applied zxid.
func (f *Frozen) LastZxid() int64 { return f.lastZxid }

// WriteSnapshot writes the frozen tree in the format of Tree.WriteSnapshot.
func (f *Frozen) WriteSnapshot(w io.Writer) error {
	sessions := func(fn func(*session)) {
		for i := range f.sessions {
			fn(&f.sessions[i])
		}
	}
	nodes := func(fn func(*node)) {
		for i := range f.nodes {
			fn(&f.nodes[i])
		}
	}
	return writeSnapshot(w, f.lastZxid, len(f.sessions), sessions, len(f.nodes), nodes)
}
