package zkenv

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// Ensemble is a replicated group of servers of one backend on loopback,
// each with its own dataDir/myid, client port and peer ports.
type Ensemble struct {
	Members []*Server
}

// StartApacheEnsemble starts opts.Members (default 3) Apache members and
// waits until every one serves (a quorum has formed).
func StartApacheEnsemble(t testing.TB, opts Options) *Ensemble {
	t.Helper()
	return startEnsemble(t, Apache, opts)
}

// StartOursEnsemble is StartApacheEnsemble for `$ZKFC_BIN quorum`.
func StartOursEnsemble(t testing.TB, opts Options) *Ensemble {
	t.Helper()
	requireZkfcBin(t)
	return startEnsemble(t, Ours, opts)
}

func startEnsemble(t testing.TB, b Backend, opts Options) *Ensemble {
	t.Helper()
	n := opts.Members
	if n == 0 {
		n = 3
	}
	if n < 2 {
		t.Fatalf("zkenv: an ensemble needs at least 2 members, got Members=%d", n)
	}
	return &Ensemble{Members: startMembers(t, b, opts, n)}
}

// ConnectString is "host:port,host:port,..." of every member.
func (e *Ensemble) ConnectString() string {
	return strings.Join(e.Addrs(), ",")
}

// Addrs are the members' client addresses in myid order.
func (e *Ensemble) Addrs() []string {
	addrs := make([]string, len(e.Members))
	for i, m := range e.Members {
		addrs[i] = m.Addr()
	}
	return addrs
}

// Leader waits up to timeout for exactly one running member to report
// Mode: leader and returns it.
func (e *Ensemble) Leader(timeout time.Duration) (*Server, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		var leaders []*Server
		for _, m := range e.Members {
			if m.Running() && m.Mode() == "leader" {
				leaders = append(leaders, m)
			}
		}
		if len(leaders) == 1 {
			return leaders[0], nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil, errors.New("no single leader within " + timeout.String())
}
