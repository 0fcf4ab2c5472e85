package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/integration/drill"
	"github.com/zkfc-project/zkfc/integration/harness"
	"github.com/zkfc-project/zkfc/integration/zkfcenv"
	"github.com/zkfc-project/zkfc/zkfc/elector"
)

// The active's ZooKeeper connection goes silent (a proxy that stops
// forwarding but keeps the connection, as a partition that drops packets
// does) while its loop writes its growing replication position every
// 200ms. The
// write the loop sends into the silence would wait for go-zookeeper's
// receive timeout, 2/3 of the session timeout (4s) after the last byte
// read; with a margin of 4s the self-fence is due 2s after the last
// acknowledgment. zkfc closes the silent connection at that deadline, so
// the self-fence starts on time and the service is down long before the
// session can expire and nn2 take over.
func TestSilentConnectionDoesNotDelayTheSelfFence(t *testing.T) {
	const session, margin = 6 * time.Second, 4 * time.Second
	zk := zkfcenv.StartApache(t, 500*time.Millisecond)
	proxy, err := harness.StartProxy(zk.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	// A position that grows all the time: the active writes each one.
	position := script(t, t.TempDir(), "position.sh", "exec date +%s%N\n")
	p := startPairOn(t, zk.Addr(), func(i int, o *zkfcenv.ZKFCOptions) {
		if i == 0 {
			o.Connect = proxy.Addr()
		}
		o.SessionTimeout, o.Margin = session, margin
		o.Actions = fmt.Sprintf("  position: {command: [%q], timeout: 5s}\n", position)
		o.Extra = "replication: {position_interval: 200ms}\n"
	})
	p.zk = zk
	harness.WaitFor(t, 20*time.Second, "nn1's position recorded in the Position znode", func() bool {
		var r elector.Position
		return readZnode(t, zk.Addr(), elector.PositionName, &r) && r.Node == "nn1" && r.Position > 0
	})
	time.Sleep(time.Second) // several position writes and pings
	silent := time.Now()
	proxy.Block()
	harness.WaitFor(t, 30*time.Second, "nn2 active", func() bool { return p.zkfcs[1].Role() == "active" })
	log := drill.ReadLog(p.zkfcs[0].Log())
	fence, ok := drill.FirstLog(log, silent, "self-fencing: demoting the local service", nil)
	if !ok {
		t.Fatal("nn1 did not self-fence")
	}
	t.Logf("connection silent at %s; self-fence %v later (%v)", silent.Format("15:04:05.000"),
		fence.At.Sub(silent).Round(time.Millisecond), fence.Fields["reason"])
	if brk, ok := drill.FirstLog(log, silent, "no acknowledgment from zookeeper for session timeout minus the self-fence margin", nil); ok {
		t.Logf("nn1 closed its silent connection %v after the silence began", brk.At.Sub(silent).Round(time.Millisecond))
	} else {
		t.Error("nn1 did not close its silent connection")
	}
	// Due at most session - margin after the silence began (the last ack
	// came before it); without the break the loop was held until at least
	// 4s (the receive timeout) after the last byte read, which came
	// within one position interval of the silence.
	if late := fence.At.Sub(silent) - (session - margin); late > time.Second {
		t.Errorf("nn1 self-fenced %v after its connection went silent, %v past its deadline", fence.At.Sub(silent).Round(time.Millisecond), late.Round(time.Millisecond))
	}
	p.checkObserver(t)
}
