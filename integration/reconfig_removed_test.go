package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/integration/harness"
)

// A client connected only to the member a reconfig removes gets the
// reconfig's answer, and the answer to its next request, as on
// Apache ZooKeeper (go-zookeeper's TestIntegration_Reconfig asks it of
// whichever member it reached, the leader included). Both backends, each
// removing first its leader, then a follower, from a client on it.
func TestReconfigAnsweredByTheRemovedMember(t *testing.T) {
	for _, b := range []harness.Backend{harness.Apache, harness.Ours} {
		t.Run(string(b), func(t *testing.T) {
			for _, which := range []string{"leader", "follower"} {
				e := harness.StartEnsemble(t, b, 3, reconfigOptions())
				l, err := e.WaitLeader(20 * time.Second)
				if err != nil {
					t.Fatal(err)
				}
				gone := e.Members[l]
				if which == "follower" {
					gone = e.Members[(l+1)%3]
				}
				c := superConn(t, gone.Addr())
				readConfig(t, c)
				var members []string
				for _, m := range e.Members {
					if m != gone {
						members = append(members, fmt.Sprintf("server.%d=127.0.0.1:%d:%d;%d", m.ID, m.PeerPort, m.ElectionPort, m.ClientPort))
					}
				}
				if _, err := c.Reconfig(members, -1); err != nil {
					t.Errorf("%s: reconfig removing the %s the client is connected to: %v, want its answer", b, which, err)
				}
				// A request the client sends right after the answer is
				// answered too: the removed member serves on for a while
				// (ZooKeeper's non-voting follower; ours a raft learner)
				// instead of closing under it.
				if _, _, err := c.Get("/zookeeper/config"); err != nil {
					t.Errorf("%s: a read sent to the removed %s right after the reconfig's answer: %v, want an answer", b, which, err)
				}
				c.Close()
				e.Kill()
			}
		})
	}
}

// Removing a member and adding it back at once, each member in turn, from
// a client given every member (as go-zookeeper's TestIntegration_Reconfig
// does, so it is often on the member removed), is answered OK every time: the member
// asked catches up with the leader before it checks, a leader just
// elected waits to hear from its followers before it judges the new
// configuration's quorum, and the removed member is still in sync when it
// comes back. Each of those, broken, made some of these changes fail with
// ReconfigInProgress, NewConfigNoQuorum or a connection loss. Ours only:
// Apache ZooKeeper 3.8 closes its clients' connections when its leader is
// removed, and a client on it gets a connection loss (seen at the third
// cycle here), which go-zookeeper's own test avoids by removing member 1,
// never Apache's first leader.
func TestReconfigRemoveAndAddBackAtOnce(t *testing.T) {
	const cycles = 12
	for _, b := range []harness.Backend{harness.Ours} {
		t.Run(string(b), func(t *testing.T) {
			e := harness.StartEnsemble(t, b, 3, reconfigOptions())
			if _, err := e.WaitLeader(20 * time.Second); err != nil {
				t.Fatal(err)
			}
			line := func(m *harness.Server) string {
				return fmt.Sprintf("server.%d=127.0.0.1:%d:%d;%d", m.ID, m.PeerPort, m.ElectionPort, m.ClientPort)
			}
			var all, addrs []string
			for _, m := range e.Members {
				all = append(all, line(m))
				addrs = append(addrs, m.Addr())
			}
			for i := 0; i < cycles; i++ {
				gone := e.Members[i%3]
				c := superConn(t, addrs...)
				readConfig(t, c)
				var rest []string
				for _, m := range e.Members {
					if m != gone {
						rest = append(rest, line(m))
					}
				}
				if _, err := c.Reconfig(rest, -1); err != nil {
					t.Fatalf("%s: cycle %d: removing member %d: %v", b, i, gone.ID, err)
				}
				if _, err := c.Reconfig(all, -1); err != nil {
					t.Fatalf("%s: cycle %d: adding member %d back at once: %v", b, i, gone.ID, err)
				}
				c.Close()
			}
		})
	}
}
