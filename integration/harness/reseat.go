package harness

import (
	"fmt"
	"os"
	"time"
)

// Reseat points a stopped server at another backend and data directory,
// keeping its ports, options and myid, and rewrites its zoo.cfg. It is how
// a test puts our server in an Apache server's place (or the reverse)
// after moving the data; Restart or StartAll runs it.
func (s *Server) Reseat(b Backend, dataDir string) error {
	if s.Running() {
		return fmt.Errorf("harness: reseat %s server %d: stop it first", s.Backend, s.ID)
	}
	if b == Ours && os.Getenv("ZKFC_BIN") == "" {
		return fmt.Errorf("harness: ZKFC_BIN is unset: build the server with `make build` and run with ZKFC_BIN=$PWD/bin/zkfc")
	}
	s.Backend, s.DataDir = b, dataDir
	if err := s.writeConfig(); err != nil {
		return err
	}
	s.proc.Name = fmt.Sprintf("%s server %d", b, s.ID)
	s.proc.Argv, s.proc.Env = s.command()
	return nil
}

// StartAll starts stopped servers together, then waits up to timeout for
// each to serve: ensemble members serve only once a quorum of them runs.
func StartAll(timeout time.Duration, servers ...*Server) error {
	for _, s := range servers {
		if err := s.Start(); err != nil {
			return err
		}
	}
	for _, s := range servers {
		if err := s.WaitServing(timeout); err != nil {
			return fmt.Errorf("%s server %d: %w\nlog tail:\n%s", s.Backend, s.ID, err, s.LogTail(40))
		}
	}
	return nil
}
