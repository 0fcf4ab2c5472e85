package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkfc-project/zkfc/integration/harness"
	"github.com/zkfc-project/zkfc/integration/zkenv"
)

// TestGetRootGoZookeeperAndKazoo: getData on the system nodes answers
// empty data, not null, and the client libraries tell the two apart
// (go-zookeeper: a nil or an empty slice; kazoo: None or b”). Curator,
// the C client and zkCli.sh show the same in their own differential
// transcripts.
func TestGetRootGoZookeeperAndKazoo(t *testing.T) {
	apache := harness.StartApache(t, cfgExtended.options())
	ours := harness.StartOurs(t, cfgExtended.options())
	paths := []string{"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"}
	render := func(addr string) string {
		var out []string
		c, _, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogger(quietZK{}))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for _, p := range paths {
			data, _, err := c.Get(p)
			out = append(out, fmt.Sprintf("go-zookeeper get %s: data=%q nil=%v err=%v", p, data, data == nil, err))
		}
		py := "import sys\nfrom kazoo.client import KazooClient\n" +
			"c = KazooClient(hosts=sys.argv[1]); c.start(timeout=20)\n" +
			"for p in sys.argv[2:]:\n    print('kazoo get %s: %r' % (p, c.get(p)[0]))\nc.stop()\n"
		k, err := zkenv.RunPython(60*time.Second, "-c", append([]string{py, addr}, paths...)...)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(out, "\n") + "\n" + strings.TrimSpace(k)
	}
	a, b := render(apache.Addr()), render(ours.Addr())
	if d := zkenv.UnifiedDiff("apache", "ours", strings.Split(a, "\n"), strings.Split(b, "\n")); d != "" {
		t.Errorf("get of the system nodes differs:\n%s", d)
	}
	if !strings.Contains(a, `go-zookeeper get /: data="" nil=false`) || !strings.Contains(a, "kazoo get /: b''") {
		t.Errorf("apache no longer answers empty data for /: the expectations here are wrong:\n%s", a)
	}
	t.Logf("apache:\n%s", a)
}
