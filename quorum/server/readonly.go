package server

// Read-only mode (-Dreadonlymode.enabled=true), as ZooKeeper's
// ReadOnlyZooKeeperServer: a member that has had no leader for
// max(2s, tickTime) serves clients that connected with canBeReadOnly, from
// its last state. Their sessions are local to it (nothing goes through the
// log, which has no leader), writes and syncs get NotReadOnly, and isro
// answers ro. When a leader is heard again the member closes those
// connections; clients find a read-write member, as ZooKeeper's do.

import (
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
// has a leader again.
func (s *Server) endReadOnly() {
	if s.leaderlessAt.Swap(0) == 0 || !s.cfg.ReadOnlyMode {
		return
	}
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
// client that can be read-only is served, with a session local to this
// member (a new one, or its own session of before, if this member knows it).
func (c *conn) handshakeReadOnly(req proto.ConnectRequest) bool {
	if !req.ReadOnly {
		c.s.lg.Info("refusing client: read-only mode, and the client cannot be read-only", zap.String("client", c.nc.RemoteAddr().String()))
		return false
	}
	resp := proto.ConnectResponse{HasReadOnly: req.HasReadOnly, ReadOnly: true}
	if req.SessionID == 0 && !c.s.cfg.LocalSessionsEnabled {
		// A global session needs the log. ZooKeeper answers the
		// ConnectRequest with a reply header, as it would a refused write.
		hdr := proto.ReplyHeader{Xid: 0, Zxid: c.s.lastZxid(), Err: proto.ErrNotReadOnly}
		c.writeRaw(proto.AppendFrame(nil, &hdr))
		return false
	}
	if req.SessionID == 0 {
		to := c.s.negotiateTimeout(req.TimeOut)
		c.sessionID, c.timeout = c.s.newSessionID(), to
		resp.TimeOut, resp.SessionID, resp.Passwd = int32(to/time.Millisecond), c.sessionID, randomPasswd()
	} else if !c.resume(req, &resp, func() bool { return true }) {
		// Without a leader no session expires: a known one lives.
		return false
	}
	c.readOnly.Store(true)
	return c.writeRaw(proto.AppendFrame(nil, &resp))
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
