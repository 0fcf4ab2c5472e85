package server

import (
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/zkfc-project/zkfc/quorum/fourlw"
	"github.com/zkfc-project/zkfc/quorum/proto"
	"github.com/zkfc-project/zkfc/quorum/watch"
)

// buildTime is when this process started; the binary carries no build
// date of its own, and srvr must print one.
var buildTime = time.Now()

func (s *Server) isFourLetterWord(b []byte) bool { return fourlw.IsCommand(b) }

func (s *Server) fourLetterWord(cmd string) []byte {
	return fourlw.Run(cmd, fourSource{s}, s.cfg.FourLetterWhitelist)
}

func (s *Server) serveFourLetterWord(nc net.Conn, cmd string) {
	_ = nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = nc.Write(s.fourLetterWord(cmd))
}

// fourSource exposes the server to the four-letter words.
type fourSource struct{ s *Server }

func (f fourSource) Stats() fourlw.Stats {
	s := f.s
	s.mu.RLock()
	nodes := s.tree.NodeCount()
	eph := s.tree.EphemeralCount()
	size := s.tree.ApproxDataSize()
	s.mu.RUnlock()
	st := fourlw.Stats{
		Version:  fourlw.FullVersion(BuildVersion, buildTime),
		Mode:     s.Mode(),
		Serving:  s.serving.Load() && !s.removed.Load() || s.readOnly(),
		ReadOnly: s.readOnly(),
		LastZxid: s.lastZxid(),
		// ZooKeeper's DataTree indexes the root under both "" and "/", so
		// its node count is one more than the znodes; match it.
		NodeCount:       nodes + 1,
		PacketsReceived: s.stats.received.Load(),
		PacketsSent:     s.stats.sent.Load(),
		Outstanding:     s.stats.outstanding.Load(),
		MinLatency:      s.stats.minLat.Load() / 1000,
		MaxLatency:      s.stats.maxLat.Load() / 1000,
		LatencySum:      s.stats.sumLat.Load() / 1000,
		LatencyCount:    s.stats.countLat.Load(),
		WatchCount:      s.watches.Stats().Total,
		EphemeralCount:  eph,
		ApproxDataSize:  size,
		DataDirSize:     dirSize(filepath.Join(s.cfg.DataDir, "version-2", "snap")),
		DataLogSize:     dirSize(filepath.Join(s.logDir(), "version-2", "wal")),
		Uptime:          time.Since(s.started),
		GlobalSessions:  s.sessions.count(),
		OpenFDs:         openFDs(),
		MaxFDs:          -1,
	}
	if !s.standalone {
		members, _ := s.currentMembers()
		for _, m := range members {
			if !m.Observer {
				st.QuorumSize++
			}
		}
		switch st.Mode {
		case "leader":
			st.PeerState = "leading - broadcast"
			prog := s.followerProgress()
			st.Learners, st.SyncedFollowers, st.SyncedObservers, st.PendingSyncs = prog.learners, prog.syncedFollowers, prog.syncedObservers, prog.pending
		case "observer":
			st.PeerState = "observing - broadcast"
		default:
			st.PeerState = "following - broadcast"
		}
	}
	s.connMu.Lock()
	for c := range s.conns {
		st.Connections = append(st.Connections, c.connStats())
	}
	s.connMu.Unlock()
	return st
}

func (c *conn) connStats() fourlw.ConnStats {
	recv := c.received.Load()
	avg := int64(0)
	if n := c.sent.Load(); n > 0 {
		avg = c.sumLatency.Load() / 1000 / n
	}
	minL := c.minLatency.Load()
	if minL < 0 {
		minL = 0
	}
	interest := 1
	if c.fourLetter.Load() {
		interest = 0 // no longer reading: answering the command
	}
	return fourlw.ConnStats{
		Remote:      c.nc.RemoteAddr().String(),
		Interest:    interest,
		Queued:      c.outstanding.Load(),
		Received:    recv,
		Sent:        c.sent.Load(),
		SessionID:   c.sessionID,
		LastOp:      proto.OpShortName(c.lastOp.Load()),
		Established: c.started,
		Timeout:     int(c.timeout / time.Millisecond),
		LastCxid:    int64(c.lastCxid.Load()),
		LastZxid:    c.lastZxid.Load(),
		LastResp:    c.lastActive.Load(),
		LastLatency: c.lastLatency.Load() / 1000,
		MinLatency:  minL / 1000,
		AvgLatency:  avg,
		MaxLatency:  c.maxLatency.Load() / 1000,
		Expire:      c.started.Add(c.timeout),
	}
}

func (f fourSource) Conf() []string {
	return fourlw.StandardConf(f.s.cfg, dirSize(filepath.Join(f.s.cfg.DataDir, "version-2", "snap")),
		dirSize(filepath.Join(f.s.logDir(), "version-2", "wal")))
}

func (f fourSource) Env() []fourlw.KV {
	return fourlw.ProcessEnv(fourlw.FullVersion(BuildVersion, buildTime))
}

func (f fourSource) Watches() []fourlw.Watch {
	var out []fourlw.Watch
	for path, ws := range f.s.watches.ByPath() {
		for _, w := range ws {
			if c, ok := w.(*conn); ok {
				out = append(out, fourlw.Watch{Session: c.sessionID, Path: path})
			}
		}
	}
	return out
}

func (f fourSource) Sessions() []fourlw.Session {
	s := f.s
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []fourlw.Session
	for _, si := range s.tree.Sessions() {
		out = append(out, fourlw.Session{ID: si.ID, Timeout: si.Timeout, Expire: s.sessions.deadline(si.ID), Ephemerals: s.tree.SessionEphemerals(si.ID)})
	}
	return out
}

func (f fourSource) ResetStats() { f.s.stats.reset() }

func (f fourSource) ResetConnStats() {
	f.s.connMu.Lock()
	defer f.s.connMu.Unlock()
	for c := range f.s.conns {
		c.received.Store(0)
		c.sent.Store(0)
		c.sumLatency.Store(0)
		c.minLatency.Store(-1)
		c.maxLatency.Store(0)
	}
}

var _ watch.Watcher = (*conn)(nil)

func (s *Server) logDir() string {
	if s.cfg.DataLogDir != "" {
		return s.cfg.DataLogDir
	}
	return s.cfg.DataDir
}

func dirSize(dir string) int64 {
	var n int64
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && !e.IsDir() {
			n += info.Size()
		}
	}
	return n
}

func openFDs() int64 {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return int64(len(entries))
}
