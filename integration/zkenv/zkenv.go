// Package zkenv is what ZooKeeper client tests need beyond the harness:
// the client tools (kazoo scripts, zkCli.sh) run with deadlines, the raw
// wire protocol for requests the Go client cannot send, transcripts that
// compare the reference with ours, and a silenced go-zookeeper dial.
// Servers are started by package harness; the names below are the
// harness's, kept here for the tests that spell them zkenv.X.
//
// It must never reach anything but 127.0.0.1 or a network namespace the
// test created, and never wait without a deadline.
package zkenv

import (
	"testing"

	"github.com/zkfc-project/zkfc/integration/harness"
)

// Paths of the Debian packages the client tools come from.
const (
	ZooKeeperJar = harness.ZooKeeperJar
	ZkCliPath    = "/usr/share/zookeeper/bin/zkCli.sh"
	PythonPath   = "/usr/bin/python3"
)

type (
	Backend = harness.Backend
	Options = harness.Options
	Server  = harness.Server
)

const (
	Apache = harness.Apache
	Ours   = harness.Ours
)

// StartApache starts a standalone Apache ZooKeeper (harness.StartApache).
func StartApache(t testing.TB, opts Options) *Server { t.Helper(); return harness.StartApache(t, opts) }

// StartOurs starts a standalone `zkfc quorum` (harness.StartOurs).
func StartOurs(t testing.TB, opts Options) *Server { t.Helper(); return harness.StartOurs(t, opts) }
