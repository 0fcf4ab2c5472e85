package server

import (
	"context"
	"encoding/binary"
	"net"
	"strconv"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/quorum/config"
	"github.com/zkfc-project/zkfc/quorum/proto"
	"github.com/zkfc-project/zkfc/quorum/transport"
)

// Mode is the member's role as srvr and mntr report it.
func (s *Server) Mode() string {
	if s.standalone {
		return "standalone"
	}
	r := s.currentRole()
	switch {
	case s.readOnly():
		return "read-only"
	case s.observer.Load():
		return "observer"
	case r.state == raft.StateLeader:
		return "leader"
	default:
		return "follower"
	}
}

func (s *Server) currentRole() role {
	s.roleMu.Lock()
	defer s.roleMu.Unlock()
	return s.role
}

// IsLeader reports whether this member leads (a standalone member always
// does).
func (s *Server) IsLeader() bool { return s.currentRole().state == raft.StateLeader }

// resetSessions renews every session's deadline after the tree was
// replaced by a snapshot.
func (s *Server) resetSessions() {
	s.mu.RLock()
	sessions := s.tree.Sessions()
	s.mu.RUnlock()
	s.sessions.reset()
	for _, si := range sessions {
		s.sessions.add(si.ID, time.Duration(si.Timeout)*time.Millisecond)
	}
}

func (s *Server) closeAllConns(why string) {
	s.connMu.Lock()
	cs := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		cs = append(cs, c)
	}
	s.connMu.Unlock()
	if len(cs) > 0 {
		s.lg.Info("closing client connections", zap.String("reason", why), zap.Int("connections", len(cs)))
	}
	for _, c := range cs {
		c.close()
	}
}

// clusterConfigText is /zookeeper/config for an ensemble that starts at
// log index start, as ZooKeeper writes it: one server.N line per member,
// then the version. As in ZooKeeper, that is 0 without reconfigEnabled,
// and otherwise the position at which the configuration was set, the
// bootstrap index; a member given this text as its configuration is then
// a joiner (see open), as it should be. Empty when standalone. Every
// member derives it from the same server.N lines, so the bootstrap trees
// agree.
func (s *Server) clusterConfigText(start uint64) string {
	if s.standalone {
		return ""
	}
	if !s.cfg.ReconfigEnabled {
		start = 0
	}
	members, _ := s.currentMembers()
	return config.FormatServers(members) + "version=" + strconv.FormatUint(start, 16)
}

// startTransport connects this member to its peers.
func (s *Server) startTransport() error {
	me, _ := s.cfg.Member()
	members, _ := s.currentMembers()
	peers := map[uint64]string{}
	for _, m := range members {
		if m.ID == s.cfg.MyID {
			continue
		}
		peers[m.ID] = net.JoinHostPort(m.Host, strconv.Itoa(m.PeerPort))
	}
	s.transport = transport.New(transport.Config{
		ID:         s.cfg.MyID,
		ListenAddr: net.JoinHostPort(me.Host, strconv.Itoa(me.PeerPort)),
		Peers:      peers,
		ServerTLS:  s.sec.peerServer,
		ClientTLS:  s.sec.peerClient,
	}, peerHandler{s}, s.lg.Named("peers"))
	if err := s.transport.Start(); err != nil {
		return err
	}
	s.rep.send = s.transport.Send
	s.rep.sendApp = s.transport.SendApp
	return nil
}

// peerHandler feeds what the transport receives to the replica.
type peerHandler struct{ s *Server }

func (h peerHandler) Receive(m *raftpb.Message)         { h.s.rep.receive(m) }
func (h peerHandler) Unreachable(peer uint64)           { h.s.rep.reportUnreachable(peer) }
func (h peerHandler) SnapshotSent(peer uint64, ok bool) { h.s.rep.reportSnapshot(peer, ok) }
func (h peerHandler) PeerLost(peer uint64)              { h.s.rep.peerLost(peer) }

// ReceiveApp takes session touches a follower forwards to the leader.
func (h peerHandler) ReceiveApp(from uint64, p []byte) {
	if len(p) == 13 && p[0] == appConfRefused {
		h.s.rep.confRefused(binary.BigEndian.Uint64(p[5:]), proto.Err(int32(binary.BigEndian.Uint32(p[1:]))))
		return
	}
	if len(p) < 1 || p[0] != appTouch {
		return
	}
	p = p[1:]
	for len(p) >= 8 {
		h.s.sessions.touch(int64(binary.BigEndian.Uint64(p)))
		p = p[8:]
	}
}

// Application messages between members: session touches (followers to
// the leader), a refused reconfig (the leader to its proposer).
const (
	appTouch       = 1
	appConfRefused = 2
)

// forwardTouches sends the leader the sessions this member's clients kept
// alive since the last round, a few times per minimum session timeout,
// so that the leader, which alone expires sessions, knows they live.
func (s *Server) forwardTouches(ctx context.Context) {
	every(ctx, max(s.cfg.TickTime/2, 20*time.Millisecond), func(time.Time) {
		r := s.currentRole()
		ids := s.sessions.takeTouched()
		if r.state == raft.StateLeader || r.lead == raft.None || len(ids) == 0 {
			return
		}
		buf := make([]byte, 1, 1+8*len(ids))
		buf[0] = appTouch
		for _, id := range ids {
			buf = binary.BigEndian.AppendUint64(buf, uint64(id))
		}
		s.transport.SendApp(r.lead, buf)
	})
}

// followerProgress summarises, on the leader, how its followers keep up.
func (s *Server) followerProgress() progress { return s.rep.progress() }
