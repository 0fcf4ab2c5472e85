package server

import (
	"bytes"
	"io"
	"time"

	"go.etcd.io/raft/v3"

	"github.com/zkfc-project/zkfc/quorum/proto"
	"github.com/zkfc-project/zkfc/quorum/tree"
)

// The Server is the replica's state machine (see stateMachine): the tree,
// the watches triggered by its changes, and the sessions and connections
// that follow applied entries. These methods run on the raft goroutine.

var _ stateMachine = (*Server)(nil)

// initialState is the bootstrap tree: the seed's if the data directory
// holds one, else empty; with /zookeeper/config of an ensemble. The same
// on every member given the same seed.
func (s *Server) initialState() (uint64, []byte, error) {
	start, err := s.loadSeed()
	if err != nil {
		return 0, nil, err
	}
	if cfg := s.clusterConfigText(start); cfg != "" {
		s.mu.Lock()
		s.tree.SetClusterConfig([]byte(cfg), 1)
		s.mu.Unlock()
	}
	var buf bytes.Buffer
	s.mu.RLock()
	err = s.tree.WriteSnapshot(&buf)
	s.mu.RUnlock()
	return start, buf.Bytes(), err
}

func (s *Server) restore(data []byte) error {
	t, err := tree.Restore(bytes.NewReader(data))
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.tree = t
	s.mu.Unlock()
	return nil
}

// writeSnapshot streams the tree's snapshot into w under the read lock:
// the tree cannot change meanwhile, and reads go on.
func (s *Server) writeSnapshot(w io.Writer) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tree.WriteSnapshot(w)
}

// applyBatch applies the entries under the tree's write lock, triggering
// watches as each changes the tree, so a read and the watch it registers
// see one state; then it updates what follows applied entries but is not
// replicated state: session liveness and connections of closed sessions.
func (s *Server) applyBatch(b []committed) {
	s.mu.Lock()
	for i := range b {
		c := &b[i]
		if c.entry != nil {
			c.res = s.tree.Apply(c.entry)
			for _, ev := range c.res.Events {
				s.watches.Trigger(ev.Type, ev.Path)
			}
		}
		s.setApplied(int64(c.index))
		if c.applied != nil {
			c.applied()
		}
	}
	s.mu.Unlock()
	for i := range b {
		c := &b[i]
		if c.entry == nil {
			continue
		}
		switch c.entry.Op {
		case proto.OpReconfig:
			if gd, ok := c.res.Resp.(*proto.GetDataResponse); ok {
				s.membershipApplied(string(gd.Data))
			}
		case proto.OpCreateSession:
			if cs, ok := c.entry.Req.(*tree.CreateSession); ok && c.res.Err == proto.ErrOK {
				s.sessions.add(cs.ID, time.Duration(cs.Timeout)*time.Millisecond)
			}
		case proto.OpCloseSession:
			s.sessions.remove(c.entry.Session)
			s.connMu.Lock()
			conn := s.bySession[c.entry.Session]
			s.connMu.Unlock()
			if conn != nil {
				conn.sessionClosed()
			}
		}
	}
}

func (s *Server) setApplied(z int64) { s.applied.Store(z) }

// snapshotInstalled: watches cannot tell what changed across a snapshot,
// so every client reconnects and registers them again, as with a
// ZooKeeper follower after a SNAP sync; sessions get a full timeout.
func (s *Server) snapshotInstalled() {
	s.closeAllConns("installed a snapshot from the leader")
	s.resetSessions()
	s.membersFromTree(true)
}

// roleChanged records the member's role for Mode and the session code.
func (s *Server) roleChanged(old, n role) {
	s.roleMu.Lock()
	s.role = n
	s.roleMu.Unlock()
	if n.state == raft.StateLeader && old.state != raft.StateLeader {
		// A new leader cannot know when followers last heard from their
		// clients: every session gets a full timeout from now, as
		// ZooKeeper's leader does when it starts tracking sessions.
		s.sessions.renewAll()
	}
	if n.lead != raft.None {
		s.serving.Store(true)
		s.endReadOnly()
	}
}

// leaderGone: no write can commit and reads may be stale, so the member
// stops serving, as a ZooKeeper member without quorum does, and clients
// move to a member that has one. A short election does not get here:
// clients ride it out.
func (s *Server) leaderGone() {
	s.serving.Store(false)
	s.leaderlessAt.CompareAndSwap(0, time.Now().UnixNano())
	s.closeAllConns("lost contact with the leader")
}

func (s *Server) leaderHeard() {
	s.serving.Store(true)
	s.endReadOnly()
}

func (s *Server) fatal(err error) {
	select {
	case s.fatalErr <- err:
	default:
	}
}
