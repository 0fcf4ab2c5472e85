// Package zkfcenv holds helpers for zkfc's integration tests: process
// handles for the zkfc binary and the demo service, a roles-file observer,
// and (from package apache) a standalone Apache ZooKeeper.
//
// It must never be imported by non-test code, and everything it starts is
// stopped by t.Cleanup.
package zkfcenv

import (
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/integration/zkfcenv/apache"
)

// ZooKeeper is a running Apache ZooKeeper server.
type ZooKeeper = apache.ZooKeeper

// StartApache starts Apache ZooKeeper with tickTime tick.
func StartApache(t testing.TB, tick time.Duration) *ZooKeeper { return apache.StartApache(t, tick) }

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int { return apache.FreePort(t) }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
