package server

// Read-only mode (-Dreadonlymode.enabled=true), as ZooKeeper's
// ReadOnlyZooKeeperServer: a member that has had no leader for
// max(2s, tickTime) serves clients that connected with canBeReadOnly, from
// its last state. Their sessions are local to it and to this read-only
// period (nothing goes through the log, which has no leader): they expire
// here after their timeout without traffic, and are forgotten when the
// period ends. Writes and syncs get NotReadOnly, and isro answers ro. When
// a leader is heard again the member closes those connections; clients
// find a read-write member, as ZooKeeper's do.

import (
	"crypto/subtle"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

// readOnly reports whether the member serves read-only clients now.
func (s *Server) readOnly() bool {
	if !s.cfg.ReadOnlyMode || s.standalone || s.serving.Load() || !s.ready.Load() || s.removed.Load() {
		return false
	}
	since := s.leaderlessAt.Load()
	wait := max(2*time.Second, s.cfg.TickTime)
	return since != 0 && time.Since(time.Unix(0, since)) >= wait
}

// endReadOnly closes the read-only clients' connections once the member
// has a leader again, and forgets their sessions.
func (s *Server) endReadOnly() {
	if s.leaderlessAt.Swap(0) == 0 || !s.cfg.ReadOnlyMode {
		return
	}
	s.roSessions.clear()
	s.connMu.Lock()
	var ro []*conn
	for c := range s.conns {
		if c.readOnly.Load() {
			ro = append(ro, c)
		}
	}
	s.connMu.Unlock()
	if len(ro) > 0 {
		s.lg.Info("a leader is back: closing read-only connections", zap.Int("connections", len(ro)))
	}
	for _, c := range ro {
		c.close()
	}
}

// handshakeReadOnly answers a ConnectRequest in read-only mode: only a
// client that can be read-only is served, with a new session local to
// this member, or one it created earlier in this read-only period.
func (c *conn) handshakeReadOnly(req proto.ConnectRequest) bool {
	client := zap.String("client", c.nc.RemoteAddr().String())
	if !req.ReadOnly {
		c.s.lg.Info("refusing client: read-only mode, and the client cannot be read-only", client)
		return false
	}
	resp := proto.ConnectResponse{HasReadOnly: req.HasReadOnly, ReadOnly: true}
	expired := func() bool {
		// As for an unknown session: the client learns it expired.
		resp.Passwd = make([]byte, 16)
		c.writeRaw(proto.AppendFrame(nil, &resp))
		return false
	}
	switch {
	case req.SessionID == 0 && !c.s.cfg.LocalSessionsEnabled:
		// A global session needs the log. ZooKeeper answers the
		// ConnectRequest with a reply header, as it would a refused write.
		hdr := proto.ReplyHeader{Xid: 0, Zxid: c.s.lastZxid(), Err: proto.ErrNotReadOnly}
		c.writeRaw(proto.AppendFrame(nil, &hdr))
		return false
	case req.SessionID == 0:
		c.sessionID, c.timeout = c.s.newSessionID(), c.s.negotiateTimeout(req.TimeOut)
		resp.Passwd = randomPasswd()
		c.s.roSessions.add(c.sessionID, c.timeout, resp.Passwd)
	case c.s.loggedSession(req.SessionID):
		if c.s.cfg.LocalSessionsEnabled {
			// ZooKeeper keeps local sessions off the log (ours are all
			// logged): the member that held one dropped it on losing
			// its leader, so the client hears that it expired.
			return expired()
		}
		// ZooKeeper refuses to renew a global session without a leader
		// (it could have expired on the majority's side): it closes the
		// connection, and the client tries another member.
		c.s.lg.Info("refusing client: read-only mode cannot renew a global session", client, zap.String("session", sessionHex(req.SessionID)))
		return false
	default:
		to, ok := c.s.roSessions.take(req.SessionID, req.Passwd)
		if !ok {
			return expired()
		}
		c.sessionID, c.timeout = req.SessionID, to
		resp.Passwd = req.Passwd
	}
	resp.SessionID, resp.TimeOut = c.sessionID, int32(c.timeout/time.Millisecond)
	c.readOnly.Store(true)
	c.s.bindSession(c)
	if !c.s.readOnly() {
		// A leader came back meanwhile and endReadOnly may have missed
		// this connection: the client must find a read-write member.
		c.s.roSessions.remove(c.sessionID)
		return false
	}
	return c.writeRaw(proto.AppendFrame(nil, &resp))
}

// loggedSession reports whether the tree holds session id.
func (s *Server) loggedSession(id int64) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.tree.Session(id)
	return ok
}

// expireReadOnly closes the connections of read-only sessions whose
// clients went silent for their whole timeout; their sessions are gone.
func (s *Server) expireReadOnly(now time.Time) {
	for _, id := range s.roSessions.expired(now) {
		s.lg.Info("read-only session expired", zap.String("session", sessionHex(id)))
		s.connMu.Lock()
		c := s.bySession[id]
		s.connMu.Unlock()
		if c != nil {
			c.close()
		}
	}
}

// roSessionTable holds the sessions of one read-only period: this member's
// alone, never logged, with their passwords, timeouts and deadlines.
type roSessionTable struct {
	mu       sync.Mutex
	sessions map[int64]*roSession
}

type roSession struct {
	passwd   []byte
	timeout  time.Duration
	deadline time.Time
}

func (t *roSessionTable) add(id int64, timeout time.Duration, passwd []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sessions == nil {
		t.sessions = map[int64]*roSession{}
	}
	t.sessions[id] = &roSession{passwd: passwd, timeout: timeout, deadline: time.Now().Add(timeout)}
}

// take renews session id if it lives and passwd is its password, and
// returns its timeout.
func (t *roSessionTable) take(id int64, passwd []byte) (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rs := t.sessions[id]
	if rs == nil || subtle.ConstantTimeCompare(rs.passwd, passwd) != 1 {
		return 0, false
	}
	rs.deadline = time.Now().Add(rs.timeout)
	return rs.timeout, true
}

// touch renews session id's deadline, if it is a read-only session.
func (t *roSessionTable) touch(id int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if rs := t.sessions[id]; rs != nil {
		rs.deadline = time.Now().Add(rs.timeout)
	}
}

func (t *roSessionTable) remove(id int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.sessions, id)
}

func (t *roSessionTable) clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.sessions)
}

// expired removes and returns the sessions past their deadline at now.
func (t *roSessionTable) expired(now time.Time) []int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []int64
	for id, rs := range t.sessions {
		if now.After(rs.deadline) {
			delete(t.sessions, id)
			out = append(out, id)
		}
	}
	return out
}

// refusedReadOnly is NotReadOnly for what a read-only session may not
// ask: every write, sync and reconfig (ZooKeeper's
// ReadOnlyRequestProcessor).
func refusedReadOnly(op int32) bool {
	switch op {
	case proto.OpSync, proto.OpReconfig:
		return true
	case proto.OpCloseSession:
		return false
	}
	return proto.IsWrite(op)
}
