package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/integration/harness"
)

// A client connected only to the member a reconfig removes gets the
// reconfig's answer before that member closes its connection, as on
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
				c.Close()
				e.Kill()
			}
		})
	}
}
