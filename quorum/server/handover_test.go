package server

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"go.uber.org/zap/zapcore"

	"github.com/zkfc-project/zkfc/quorum/config"
)

// A leader removed by a reconfig hands over with one transfer: the voter
// it picks has applied the change by the time it is asked to campaign.
// Asked at once, raft refuses ("cannot campaign ... pending configuration
// changes to apply") and the transfer is tried again an election timeout
// later, a pause for every writer. Each round removes the leader of the
// moment (it stays a learner), then adds it back.
func TestRemovedLeaderHandsOverAtTheFirstAttempt(t *testing.T) {
	var (
		mu        sync.Mutex
		handovers = map[int]int{}
		refusals  []string
	)
	seen := func(i int, e zapcore.Entry) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case strings.Contains(e.Message, "handing the leadership over"):
			handovers[i]++
		case strings.Contains(e.Message, "cannot campaign") && strings.Contains(e.Message, "configuration changes"):
			refusals = append(refusals, fmt.Sprintf("member %d: %s", i+1, e.Message))
		}
	}
	e := startEnsembleSeen(t, 3, func(c *config.Config) {
		c.ReconfigEnabled = true
		c.SkipACL = true
	}, seen)
	c, _, err := zk.Connect(e.addrs(), 4*time.Second, zk.WithLogger(quietLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)

	const rounds = 3
	for round := 1; round <= rounds; round++ {
		old := e.leader()
		if old < 0 {
			t.Fatalf("round %d: no leader", round)
		}
		id := e.cfgs[old].MyID
		if err := within(t, 15*time.Second, "the reconfig removing the leader", func() error {
			_, err := c.IncrementalReconfig(nil, []string{fmt.Sprint(id)}, -1)
			return err
		}); err != nil {
			t.Fatalf("round %d: removing leader %d: %v", round, id, err)
		}
		answered := time.Now()
		deadline := answered.Add(10 * time.Second)
		for l := e.leader(); l < 0 || l == old; l = e.leader() {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: member %d still leads 10 s after its removal", round, id)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := within(t, 15*time.Second, "a write after the handover", func() error {
			_, err := c.Create(fmt.Sprintf("/after-%d", round), nil, 0, zk.WorldACL(zk.PermAll))
			return err
		}); err != nil {
			t.Fatalf("round %d: write after the handover: %v", round, err)
		}
		t.Logf("round %d: member %d removed; new leader and a write done %v after the reconfig's answer", round, id, time.Since(answered).Round(time.Millisecond))
		mu.Lock()
		n := handovers[old]
		handovers[old] = 0
		mu.Unlock()
		if n != 1 {
			t.Errorf("round %d: removed leader %d asked for a handover %d times, want once", round, id, n)
		}
		// Back as a voter for the next round.
		s := e.cfgs[old].Servers[old]
		line := fmt.Sprintf("server.%d=%s:%d:%d:participant;%s:%d", id, s.Host, s.PeerPort, s.ElectionPort, s.ClientHost, s.ClientPort)
		if err := within(t, 15*time.Second, "the reconfig adding it back", func() error {
			_, err := c.IncrementalReconfig([]string{line}, nil, -1)
			return err
		}); err != nil {
			t.Fatalf("round %d: adding member %d back: %v", round, id, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(refusals) > 0 {
		t.Errorf("the new leader refused to campaign %d times: %s", len(refusals), strings.Join(refusals, "; "))
	}
}
