package elector

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/quorum/config"
	"github.com/zkfc-project/zkfc/quorum/server"
)

// startZooKeeper runs our ZooKeeper-compatible server in this process,
// standalone on an ephemeral loopback port, with tickTime tick (sessions
// may range over 2..20 ticks), and returns its client address. It stops
// when the test ends. The elector is also run against Apache ZooKeeper,
// through the zkfc daemon, by the integration suite.
func startZooKeeper(t *testing.T, tick time.Duration) string {
	t.Helper()
	zooCfg := fmt.Sprintf("tickTime=%d\ndataDir=%s\nclientPort=2181\nclientPortAddress=127.0.0.1\n", tick.Milliseconds(), t.TempDir())
	cfg, err := config.Parse(strings.NewReader(zooCfg), "elector test zoo.cfg", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ClientPort = 0 // the kernel picks a free port
	srv, err := server.New(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("server did not stop within 30s")
		}
	})
	for deadline := time.Now().Add(30 * time.Second); srv.Addr() == nil; {
		select {
		case err := <-done:
			t.Fatalf("server stopped before serving: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("server did not serve within 30s")
		}
	}
	return srv.Addr().String()
}

// testCluster starts a server, points cfg at it with a 4s session timeout
// and a generous, bounded wait for a session (a loaded machine can take
// well over the session timeout to grant one), and formats cfg's cluster
// path there with cfg's ACL and credentials. The Config it returns reaches
// that cluster.
func testCluster(t *testing.T, cfg Config) Config {
	t.Helper()
	cfg.Servers = []string{startZooKeeper(t, 500*time.Millisecond)}
	cfg.SessionTimeout = 4 * time.Second
	cfg.ConnectWait = 60 * time.Second
	if err := Format(cfg, false, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// openConnected opens an elector on cfg and waits for its session; it
// returns the elector and the session's epoch. The elector is closed when
// the test ends, if the test has not closed it.
func openConnected(t *testing.T, cfg Config) (*Elector, uint64) {
	t.Helper()
	e := New(cfg, zap.NewNop())
	t.Cleanup(e.Close)
	epoch, err := e.Open()
	if err != nil {
		t.Fatal(err)
	}
	waitKind(t, e, epoch, Connected)
	return e, epoch
}
