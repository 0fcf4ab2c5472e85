package zkenv

import (
	"fmt"
	"os"
)

// Reseat points a stopped server at another backend and data directory,
// keeping its client and peer ports, its options and its myid, and
// rewrites its zoo.cfg. It is how a test puts our server in an Apache
// server's place (or the reverse) after moving the data; Start or
// StartAll runs it.
func (s *Server) Reseat(b Backend, dataDir string) error {
	if s.Running() {
		return fmt.Errorf("zkenv: reseat %s server %d: stop it first", s.backend, s.myid)
	}
	if b == Ours && os.Getenv("ZKFC_BIN") == "" {
		return fmt.Errorf("zkenv: ZKFC_BIN is unset: build the server with `make build` and run with ZKFC_BIN=$PWD/bin/zkfc")
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("zkenv: %w", err)
	}
	s.backend, s.dataDir = b, dataDir
	return s.writeConfig()
}

// Start starts a stopped server and waits until it serves.
func (s *Server) Start() error { return s.launch() }

// StartAll starts stopped servers together, then waits for each to serve:
// ensemble members serve only once a quorum of them runs.
func StartAll(servers ...*Server) error {
	for _, s := range servers {
		if err := s.startProcess(); err != nil {
			return fmt.Errorf("zkenv: start %s member %d: %w", s.backend, s.myid, err)
		}
	}
	for _, s := range servers {
		if err := s.waitReady(); err != nil {
			return fmt.Errorf("zkenv: start %s member %d: %w\nlog tail:\n%s", s.backend, s.myid, err, s.LogTail(40))
		}
	}
	return nil
}
