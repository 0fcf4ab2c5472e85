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
