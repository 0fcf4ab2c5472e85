package integration

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkfc-project/zkfc/integration/harness"
)

// writeUntilKilled runs writers that create unique znodes and bump a
// per-writer counter until every member is killed with SIGKILL; it returns
// what was acknowledged.
func writeUntilKilled(t *testing.T, c *harness.Ensemble, writers int, runFor time.Duration) (created map[string]string, counters map[string]int) {
	t.Helper()
	setup := connectZK(t, 6*time.Second, c.Addrs()...)
	if _, err := setup.Create("/dur", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	created, counters = map[string]string{}, map[string]int{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		conn := connectZK(t, 6*time.Second, c.Addrs()...)
		ctr := fmt.Sprintf("/dur/ctr%d", w)
		if _, err := conn.Create(ctr, []byte("0"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func(w int, conn *zk.Conn) {
			defer wg.Done()
			for n := 1; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				p := fmt.Sprintf("/dur/w%d-%d", w, n)
				if _, err := conn.Create(p, []byte(p), 0, zk.WorldACL(zk.PermAll)); err == nil {
					mu.Lock()
					created[p] = p
					mu.Unlock()
				}
				if _, err := conn.Set(ctr, []byte(strconv.Itoa(n)), -1); err == nil {
					mu.Lock()
					counters[ctr] = n
					mu.Unlock()
				}
			}
		}(w, conn)
	}
	time.Sleep(runFor)
	c.Kill()
	close(stop)
	wg.Wait()
	return created, counters
}

func checkDurable(t *testing.T, c *harness.Ensemble, created map[string]string, counters map[string]int) {
	t.Helper()
	for _, m := range c.Members {
		if err := m.Start(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WaitServing(60 * time.Second); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	conn := connectZK(t, 6*time.Second, c.Addrs()...)
	if _, err := conn.Sync("/dur"); err != nil {
		t.Fatal(err)
	}
	if len(created) < 100 {
		t.Fatalf("only %d writes were acknowledged before the kill; the test proves little", len(created))
	}
	lost := 0
	for p, want := range created {
		d, _, err := conn.Get(p)
		if err != nil || string(d) != want {
			lost++
			if lost < 5 {
				t.Errorf("acknowledged create %s lost after kill -9: %q %v", p, d, err)
			}
		}
	}
	for p, n := range counters {
		d, _, err := conn.Get(p)
		got, _ := strconv.Atoi(string(d))
		if err != nil || got < n {
			t.Errorf("counter %s = %q after restart, but %d was acknowledged (%v)", p, d, n, err)
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged creates lost", lost, len(created))
	}
	t.Logf("all %d acknowledged creates and %d counters survived kill -9", len(created), len(counters))
}

func TestStandaloneNoAcknowledgedWriteLostToKill9(t *testing.T) {
	for round := 0; round < 2; round++ {
		c := harness.StartEnsemble(t, harness.Ours, 1, harness.Options{})
		created, counters := writeUntilKilled(t, c, 8, time.Duration(1500+round*700)*time.Millisecond)
		checkDurable(t, c, created, counters)
	}
}

func TestEnsembleNoAcknowledgedWriteLostWhenAllMembersKilled(t *testing.T) {
	c := harness.StartEnsemble(t, harness.Ours, 3, harness.Options{TickTime: 500 * time.Millisecond})
	created, counters := writeUntilKilled(t, c, 6, 2*time.Second)
	checkDurable(t, c, created, counters)
}
