// Package zkenv is what ZooKeeper client tests need beyond the harness:
// the client tools (kazoo scripts, zkCli.sh) run with deadlines, the raw
// wire protocol for requests the Go client cannot send, transcripts that
// compare the reference with ours, and a silenced go-zookeeper dial.
// Servers are started by package harness.
//
// It must never reach anything but 127.0.0.1 or a network namespace the
// test created, and never wait without a deadline.
package zkenv

// Paths of the Debian packages the client tools come from.
const (
	ZkCliPath  = "/usr/share/zookeeper/bin/zkCli.sh"
	PythonPath = "/usr/bin/python3"
)
