package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/quorum/backup"
	"github.com/zkfc-project/zkfc/quorum/storage"
	"github.com/zkfc-project/zkfc/quorum/tree"
)

// SeedPath is where `zkfc quorum import` and `zkfc quorum restore` leave
// the state a new member starts from: a backup file (quorum/backup) in
// the data directory. A member reads it only when it has no log yet, in
// place of the empty tree (initialState), and deletes it once its log
// exists.
func SeedPath(dataDir string) string {
	return filepath.Join(dataDir, "version-2", "seed.zkfcbak")
}

// loadSeed puts the seed's tree in place of the empty one and returns the
// index to bootstrap at: the seed's, or 1 without a seed. Every member
// seeded from the same file bootstraps identically, as members without
// one do.
func (s *Server) loadSeed() (uint64, error) {
	path := SeedPath(s.cfg.DataDir)
	b, err := backup.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("seed %s (written by zkfc quorum import or restore): %w", path, err)
	}
	defer b.Close()
	t, err := tree.Restore(b.Tree())
	if err != nil {
		return 0, fmt.Errorf("seed %s: %w", path, err)
	}
	s.mu.Lock()
	s.tree = t
	s.mu.Unlock()
	s.lg.Info("starting from a seed", zap.String("file", path), zap.Uint64("index", b.Index),
		zap.Int("znodes", t.NodeCount()), zap.Int("sessions", len(t.Sessions())))
	return b.Index, nil
}

// dropSeed removes the seed once the log that supersedes it is durable.
func (s *Server) dropSeed() {
	path := SeedPath(s.cfg.DataDir)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.lg.Warn("could not remove the seed; it is ignored from now on", zap.String("file", path), zap.Error(err))
	}
}

// checkSeed refuses a seed beside an existing log: it was written for a
// new member (a dataLogDir that still holds an old log, for instance) and
// would be silently ignored. The one exception is a first start that
// crashed after its log was made from the seed and before the seed was
// removed: the bootstrap snapshot at the seed's index is then there.
func (s *Server) checkSeed(walDir, snapDir string) error {
	if !storage.Exist(walDir) {
		return nil
	}
	path := SeedPath(s.cfg.DataDir)
	b, err := backup.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("seed %s (written by zkfc quorum import or restore): %w", path, err)
	}
	index := b.Index
	b.Close()
	if _, err := os.Stat(storage.SnapshotFile(snapDir, storage.Pos{Index: index, Term: 1})); err == nil {
		return nil
	}
	return fmt.Errorf("%s holds a seed (zxid %#x) but this member already has a log in %s: "+
		"to start from the seed, move the old log away; to keep the old data, delete the seed", path, index, walDir)
}
