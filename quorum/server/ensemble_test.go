package server

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"go.uber.org/zap/zapcore"

	"github.com/zkfc-project/zkfc/quorum/config"
	"github.com/zkfc-project/zkfc/quorum/freeport"
)

type ensemble struct {
	t       *testing.T
	cfgs    []*config.Config
	members []*testServer
}

// startEnsemble runs n members in this process, each with its own data
// directory, client port and peer port on loopback.
func startEnsemble(t *testing.T, n int) *ensemble {
	return startEnsembleWith(t, n, nil)
}

// startEnsembleWith is startEnsemble with mod applied to every member's
// configuration before it starts. Ports come free from the kernel and may
// be taken again before a member binds them (by another test process, or
// as a connection's local port): an ensemble that meets a port in use
// starts again on other ports, up to three times.
func startEnsembleWith(t *testing.T, n int, mod func(*config.Config)) *ensemble {
	t.Helper()
	return startEnsembleSeen(t, n, mod, nil)
}

// startEnsembleSeen is startEnsembleWith with seen, if not nil, given
// every entry member i (from 0) logs.
func startEnsembleSeen(t *testing.T, n int, mod func(*config.Config), seen func(i int, e zapcore.Entry)) *ensemble {
	t.Helper()
	for attempt := 1; ; attempt++ {
		e, err := tryEnsemble(t, n, mod, seen)
		if err == nil {
			return e
		}
		if attempt == 3 || !errors.Is(err, syscall.EADDRINUSE) {
			t.Fatalf("ensemble of %d did not start (attempt %d): %v", n, attempt, err)
		}
		t.Logf("ensemble of %d, attempt %d: %v; again on other ports", n, attempt, err)
	}
}

// tryEnsemble starts n members concurrently (each waits for a leader
// before serving); if one does not come up, it stops the others and says
// why.
func tryEnsemble(t *testing.T, n int, mod func(*config.Config), seen func(i int, e zapcore.Entry)) (*ensemble, error) {
	base := t.TempDir()
	var servers []config.Server
	for i := 1; i <= n; i++ {
		servers = append(servers, config.Server{ID: uint64(i), Host: "127.0.0.1", PeerPort: freeport.Get(t), ElectionPort: freeport.Get(t),
			ClientHost: "127.0.0.1", ClientPort: freeport.Get(t)})
	}
	e := &ensemble{t: t}
	for i := 1; i <= n; i++ {
		cfg := testConfig(t, filepath.Join(base, fmt.Sprint(i)))
		cfg.MyID = uint64(i)
		cfg.Servers = servers
		cfg.ClientPort = servers[i-1].ClientPort
		if mod != nil {
			mod(cfg)
		}
		e.cfgs = append(e.cfgs, cfg)
	}
	e.members = make([]*testServer, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range e.cfgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var hook func(zapcore.Entry)
			if seen != nil {
				hook = func(e zapcore.Entry) { seen(i, e) }
			}
			e.members[i], errs[i] = launch(t, e.cfgs[i], nil, hook)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, m := range e.members {
			if m != nil {
				m.stop()
			}
		}
		return nil, err
	}
	return e, nil
}

func (e *ensemble) addrs() []string {
	var out []string
	for _, c := range e.cfgs {
		out = append(out, fmt.Sprintf("127.0.0.1:%d", c.ClientPort))
	}
	return out
}

func (e *ensemble) leader() int {
	for i, m := range e.members {
		if m != nil && m.cancel != nil && m.srv.IsLeader() {
			return i
		}
	}
	return -1
}

func TestEnsembleReplicatesAndSurvivesLeaderLoss(t *testing.T) {
	e := startEnsemble(t, 3)
	addrs := e.addrs()
	// One client per member: writes through any member are seen by all.
	var clients []*zk.Conn
	for _, a := range addrs {
		c, _ := connect(t, a, 4*time.Second)
		clients = append(clients, c)
	}
	if _, err := clients[0].Create("/x", []byte("1"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := clients[2].Create("/eph", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	for i, c := range clients {
		if _, err := c.Sync("/x"); err != nil {
			t.Fatalf("sync on member %d: %v", i+1, err)
		}
		d, _, err := c.Get("/x")
		if err != nil || string(d) != "1" {
			t.Fatalf("member %d after sync: %q %v", i+1, d, err)
		}
	}
	modes := map[string]int{}
	for _, m := range e.members {
		modes[m.srv.Mode()]++
	}
	if modes["leader"] != 1 || modes["follower"] != 2 {
		t.Fatalf("modes %v, want one leader and two followers", modes)
	}

	// Stop the leader; the others elect a new one and keep accepting writes.
	old := e.leader()
	e.members[old].stop()
	survivor := (old + 1) % 3
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := clients[survivor].Create("/after", nil, 0, zk.WorldACL(zk.PermAll))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no write accepted after the leader stopped: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if e.leader() == -1 || e.leader() == old {
		t.Fatalf("no new leader (got %d, old %d)", e.leader(), old)
	}
}

func TestEnsembleSessionSurvivesItsMemberLoss(t *testing.T) {
	e := startEnsemble(t, 3)
	all := e.addrs()
	// The client starts on the leader's member and must move.
	l := e.leader()
	ordered := append([]string{all[l]}, append(append([]string{}, all[:l]...), all[l+1:]...)...)
	c, ev, err := zk.Connect(ordered, 2*time.Second, zk.WithLogger(quietLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitState(t, ev, zk.StateHasSession)
	if _, err := c.Create("/mine", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	sid := c.SessionID()
	e.members[l].stop()
	watcher, _ := connect(t, all[(l+1)%3], 4*time.Second)
	// Wait well past the session timeout: the session must still be alive,
	// kept by pings the client now sends to another member.
	time.Sleep(3 * time.Second)
	ok, _, err := watcher.Exists("/mine")
	if err != nil || !ok {
		t.Fatalf("ephemeral of a live session lost after its member died: exists=%v err=%v", ok, err)
	}
	if c.SessionID() != sid {
		t.Fatalf("session changed %x -> %x", sid, c.SessionID())
	}
	// And when the client goes away for good, the new leader expires it.
	c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, _, err := watcher.Exists("/mine")
		if err == nil && !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ephemeral not removed after its client closed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The preferred member takes the leadership when another member leads and
// takes it back after a restart. Handovers cost writers nothing: no write
// through any member fails except around the deliberate stop of the
// leader (proposals are held on the leader, forwarded ones stashed).
func TestEnsemblePreferredLeaderLeads(t *testing.T) {
	const preferred = 2 // not the lowest id, which wins most first elections
	e := startEnsembleWith(t, 3, func(c *config.Config) { c.PreferredLeader = preferred })
	addrs := e.addrs()
	var (
		mu      sync.Mutex
		errs    []time.Time
		lastErr error
		writes  int
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	// Writers on members 1 and 3 only: member 2 is restarted below.
	for w, i := range []int{0, 2} {
		c, _ := connect(t, addrs[i], 8*time.Second)
		w := w
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 1_000_000; n++ {
				select {
				case <-stop:
					return
				default:
				}
				_, err := c.Create(fmt.Sprintf("/w%d-%d", w, n), nil, 0, zk.WorldACL(zk.PermAll))
				mu.Lock()
				writes++
				if err != nil {
					errs = append(errs, time.Now())
					lastErr = err
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	waitLeader := func(want int, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for e.leader() != want {
			if time.Now().After(deadline) {
				t.Fatalf("member %d did not take the leadership within %v (leader: member %d)", want+1, within, e.leader()+1)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitLeader(preferred-1, 20*time.Second)

	// Member 2 goes away: another member leads; once it is back and caught
	// up, the leadership returns to it.
	stopped := time.Now()
	e.members[preferred-1].stop()
	deadline := time.Now().Add(15 * time.Second)
	for e.leader() == -1 || e.leader() == preferred-1 {
		if time.Now().After(deadline) {
			t.Fatal("no other member took over while the preferred one was down")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Writes pending at the old leader when it stopped fail as ZooKeeper's
	// do (connection loss); allow their timeout to pass.
	settled := time.Now().Add(e.members[0].srv.rep.proposalTimeout + time.Second)
	for time.Now().Before(settled) {
		time.Sleep(50 * time.Millisecond)
	}
	e.members[preferred-1] = startServer(t, e.cfgs[preferred-1])
	waitLeader(preferred-1, 20*time.Second)
	time.Sleep(500 * time.Millisecond) // writes after the handover, too
	close(stop)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	if writes < 100 {
		t.Fatalf("only %d writes ran", writes)
	}
	for _, at := range errs {
		if at.Before(stopped) || at.After(settled) {
			t.Fatalf("a write failed at %s, outside the deliberate leader stop (%s to %s); last error: %v",
				at.Format("15:04:05.000"), stopped.Format("15:04:05.000"), settled.Format("15:04:05.000"), lastErr)
		}
	}
	t.Logf("%d writes, %d failed around the leader stop", writes, len(errs))
}

// At a cold start the preferred member campaigns at once and wins the
// ensemble's first election: its term is the first after the bootstrap
// term (1). Without the early campaign a random member wins at the end of
// its election timeout and hands over later, at a higher term.
func TestEnsembleColdStartPreferredWinsFirstElection(t *testing.T) {
	for _, preferred := range []int{2, 3} {
		e := startEnsembleWith(t, 3, func(c *config.Config) { c.PreferredLeader = uint64(preferred) })
		deadline := time.Now().Add(20 * time.Second)
		for e.leader() == -1 {
			if time.Now().After(deadline) {
				t.Fatal("no leader within 20 s")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if l := e.leader() + 1; l != preferred {
			t.Fatalf("member %d leads first, want the preferred member %d", l, preferred)
		}
		var got uint64
		onRaft(t, e.members[preferred-1], func(r *replica) { got = r.rn.BasicStatus().GetTerm() })
		if got != 2 {
			t.Fatalf("the preferred member leads at term %d, want 2: it did not win the first election", got)
		}
		for _, m := range e.members {
			m.stop()
		}
	}
}
