package server

import (
	"net"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/quorum/backup"
	"github.com/zkfc-project/zkfc/quorum/tree"
)

// BackupPath is the admin server's path that streams a backup.
const BackupPath = "/backup"

// captureBackup copies the tree at one applied index. Applying an entry
// holds the write lock over both the tree change and the applied index, so
// under the read lock the two agree: the copy is the state after exactly
// the entries up to that index, never a torn mix. Writes wait only for the
// copy (fields, no encoding); the encoding and the transfer run after it.
func (s *Server) captureBackup() (backup.Header, *tree.Frozen, time.Duration) {
	s.mu.RLock()
	locked := time.Now()
	// A snapshot installed from the leader swaps the tree a moment before
	// the applied index catches up; the tree's own last zxid then says
	// where it is.
	index := max(s.applied.Load(), s.tree.LastZxid())
	f := s.tree.Freeze()
	s.mu.RUnlock()
	return backup.Header{Index: uint64(index), Created: time.Now()}, f, time.Since(locked)
}

// serveBackup answers GET /backup with a backup file (quorum/backup) of
// this member's applied state; X-Zkfc-Backup-Index names its index.
func (s *Server) serveBackup(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "use GET", http.StatusMethodNotAllowed)
		return
	}
	// A backup holds every znode, whatever its ACL, and the admin server
	// may listen on every address (ZooKeeper's default): only a client on
	// the member's own host gets one.
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err != nil || !net.ParseIP(host).IsLoopback() {
		http.Error(w, "backups are served to clients on this host only: run zkfc quorum backup on the member's host (or through an SSH tunnel)", http.StatusForbidden)
		return
	}
	if !s.ready.Load() {
		http.Error(w, "this member is not serving yet (replaying its log or waiting for a leader); try again or ask another member", http.StatusServiceUnavailable)
		return
	}
	start := time.Now()
	h, frozen, held := s.captureBackup()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-Zkfc-Backup-Index", strconv.FormatUint(h.Index, 10))
	if err := backup.Write(w, h, frozen.WriteSnapshot); err != nil {
		// The client sees a short file, which its checksum check refuses.
		s.lg.Warn("backup not delivered", zap.Error(err))
		return
	}
	s.lg.Info("backup served", zap.Uint64("index", h.Index),
		zap.Duration("writes_paused", held), zap.Duration("took", time.Since(start)), zap.String("remote", r.RemoteAddr))
}
