package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkfc-project/zkfc/integration/harness"
	"github.com/zkfc-project/zkfc/integration/linearize"
	"github.com/zkfc-project/zkfc/integration/zkenv"
)

// connectZK opens a go-zookeeper session to one of addrs for the test
// (zkenv.DialZKAny); it is closed when the test ends, or earlier by the
// caller.
func connectZK(t testing.TB, sessionTimeout time.Duration, addrs ...string) *zk.Conn {
	t.Helper()
	c, _, err := zkenv.DialZKAny(addrs, sessionTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// runFaults runs clients against the ensemble while faults are injected,
// then checks the history with porcupine and that every member agrees.
func runFaults(t *testing.T, c *harness.Ensemble, clients int, faults func(ctx context.Context)) {
	t.Helper()
	setup := connectZK(t, 6*time.Second, c.Addrs()...)
	keys, err := linearize.Setup(setup, "/lin", 3)
	if err != nil {
		t.Fatal(err)
	}
	h := linearize.NewHistory()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		conn := connectZK(t, 6*time.Second, c.Addrs()...)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			linearize.Client(ctx, h, i, conn, keys, int64(i), 8*time.Second)
		}(i)
	}
	faults(ctx)
	cancel()
	wg.Wait()
	ok, failed, unknown := h.Counts()
	t.Logf("history: %d ok, %d failed CAS, %d unknown", ok, failed, unknown)
	if ok < 50 {
		t.Fatalf("only %d operations succeeded: the ensemble was unavailable most of the run", ok)
	}
	vis := filepath.Join(t.TempDir(), "history.html")
	if err := h.Check(60*time.Second, vis); err != nil {
		t.Fatal(err)
	}
	// Every member, once synced, holds the same registers, and each holds
	// the value of some acknowledged write or a write of unknown outcome.
	var first map[string]string
	for i, m := range c.Members {
		if !m.Running() {
			continue
		}
		conn := connectZK(t, 6*time.Second, m.Addr())
		got := map[string]string{}
		for _, k := range keys {
			if _, err := conn.Sync(k); err != nil {
				t.Fatalf("member %d sync: %v", i+1, err)
			}
			d, _, err := conn.Get(k)
			if err != nil {
				t.Fatalf("member %d get %s: %v", i+1, k, err)
			}
			got[k] = string(d)
		}
		if first == nil {
			first = got
		} else if fmt.Sprint(first) != fmt.Sprint(got) {
			t.Fatalf("members disagree: %v vs member %d %v", first, i+1, got)
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func TestEnsemble3LinearizableUnderKillsAndPartitions(t *testing.T) {
	c := harness.StartEnsemble(t, harness.Ours, 3, harness.Options{TickTime: 500 * time.Millisecond, Proxied: true})
	runFaults(t, c, 5, func(ctx context.Context) {
		step := func(what string, f func()) {
			t.Logf("%s: %s", time.Now().Format("15:04:05.000"), what)
			f()
		}
		// bounce kills member i with SIGKILL, keeps it down for down, and
		// starts it again on its data.
		bounce := func(i int, who string, down time.Duration) {
			step(fmt.Sprintf("kill -9 %s (member %d)", who, i+1), c.Members[i].Kill)
			sleepCtx(ctx, down)
			step(fmt.Sprintf("restart member %d", i+1), func() {
				if err := c.Members[i].Start(); err != nil {
					t.Fatal(err)
				}
			})
			sleepCtx(ctx, 3*time.Second)
		}
		sleepCtx(ctx, 2*time.Second)
		l, err := c.WaitLeader(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		bounce(l, "leader", 3*time.Second)
		l, err = c.WaitLeader(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		step(fmt.Sprintf("partition leader (member %d)", l+1), func() { c.Partition(l) })
		sleepCtx(ctx, 4*time.Second)
		step(fmt.Sprintf("heal member %d", l+1), func() { c.Heal(l) })
		sleepCtx(ctx, 3*time.Second)
		f := (c.Leader() + 1) % 3
		bounce(f, "follower", 2*time.Second)
		if err := c.WaitServing(20 * time.Second); err != nil {
			t.Fatalf("a member did not come back: %v", err)
		}
	})
}

func TestEnsemble5SurvivesTwoLosses(t *testing.T) {
	c := harness.StartEnsemble(t, harness.Ours, 5, harness.Options{TickTime: 500 * time.Millisecond})
	runFaults(t, c, 4, func(ctx context.Context) {
		sleepCtx(ctx, 2*time.Second)
		l, err := c.WaitLeader(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		f := (l + 1) % 5
		t.Logf("kill -9 leader %d and follower %d", l+1, f+1)
		c.Members[l].Kill()
		c.Members[f].Kill()
		sleepCtx(ctx, 4*time.Second)
		if _, err := c.WaitLeader(10 * time.Second); err != nil {
			t.Fatalf("3 of 5 members left and no leader: %v", err)
		}
		for _, i := range []int{l, f} {
			if err := c.Members[i].Start(); err != nil {
				t.Fatal(err)
			}
		}
		sleepCtx(ctx, 3*time.Second)
		if err := c.WaitServing(20 * time.Second); err != nil {
			t.Fatalf("a member did not rejoin: %v", err)
		}
	})
}

func TestEnsembleObserverServesAndForwardsWrites(t *testing.T) {
	c := harness.StartEnsemble(t, harness.Ours, 4, harness.Options{TickTime: 500 * time.Millisecond, Observers: 1})
	obs := c.Members[3]
	if m := obs.Mode(); m != "observer" {
		t.Fatalf("member 4 mode %q, want observer", m)
	}
	conn := connectZK(t, 6*time.Second, obs.Addr())
	if _, err := conn.Create("/via-observer", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("write through the observer: %v", err)
	}
	other := connectZK(t, 6*time.Second, c.Members[0].Addr())
	other.Sync("/via-observer")
	if d, _, err := other.Get("/via-observer"); err != nil || string(d) != "x" {
		t.Fatalf("write via observer not replicated: %q %v", d, err)
	}
	// The observer does not vote: with two of three voters gone, the
	// remaining voter and the observer have no quorum.
	l, _ := c.WaitLeader(10 * time.Second)
	for i := 0; i < 3; i++ {
		if i != l {
			c.Members[i].Kill()
			break
		}
	}
	c.Members[l].Kill()
	time.Sleep(3 * time.Second)
	if m := obs.Mode(); m == "observer" || m == "leader" {
		t.Fatalf("observer still serves (mode %q) without a voting quorum", m)
	}
}

// A member that was down while the others compacted their logs, and a
// member that lost its whole data directory, both catch up from the
// leader's snapshot.
func TestEnsembleMemberCatchesUpFromSnapshot(t *testing.T) {
	c := harness.StartEnsemble(t, harness.Ours, 3, harness.Options{TickTime: 500 * time.Millisecond, Extra: []string{"snapCount=200"}})
	l, err := c.WaitLeader(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	lagging, wiped := c.Members[(l+1)%3], c.Members[(l+2)%3]
	lagging.Kill()
	conn := connectZK(t, 6*time.Second, c.Members[l].Addr(), wiped.Addr())
	for i := 0; i < 1000; i++ {
		if _, err := conn.Create(fmt.Sprintf("/snap-%04d", i), []byte(fmt.Sprint(i)), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	if err := lagging.Start(); err != nil {
		t.Fatal(err)
	}
	if err := lagging.WaitServing(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	wiped.Kill()
	if err := os.RemoveAll(wiped.DataDir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(wiped.DataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(wiped.DataDir, "myid"), []byte(fmt.Sprint(wiped.ID)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := wiped.Start(); err != nil {
		t.Fatal(err)
	}
	if err := wiped.WaitServing(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*harness.Server{lagging, wiped} {
		mc := connectZK(t, 6*time.Second, m.Addr())
		if _, err := mc.Sync("/"); err != nil {
			t.Fatal(err)
		}
		kids, _, err := mc.Children("/")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, k := range kids {
			if strings.HasPrefix(k, "snap-") {
				n++
			}
		}
		if n != 1000 {
			t.Fatalf("member %d has %d of 1000 znodes after catching up", m.ID, n)
		}
		if d, _, err := mc.Get("/snap-0999"); err != nil || string(d) != "999" {
			t.Fatalf("member %d /snap-0999 = %q %v", m.ID, d, err)
		}
	}
	if !strings.Contains(lagging.LogTail(400)+wiped.LogTail(400), "snapshot") {
		t.Fatal("neither member's log mentions a snapshot: the test did not exercise snapshot catch-up")
	}
}
