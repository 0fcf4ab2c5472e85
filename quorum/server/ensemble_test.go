package server

import (
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkfc-project/zkfc/quorum/config"
)

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

type ensemble struct {
	t       *testing.T
	cfgs    []*config.Config
	members []*testServer
}

// startEnsemble runs n members in this process, each with its own data
// directory, client port and peer port on loopback.
func startEnsemble(t *testing.T, n int) *ensemble {
	base := t.TempDir()
	var servers []config.Server
	for i := 1; i <= n; i++ {
		servers = append(servers, config.Server{ID: uint64(i), Host: "127.0.0.1", PeerPort: freePort(t), ElectionPort: freePort(t),
			ClientHost: "127.0.0.1", ClientPort: freePort(t)})
	}
	e := &ensemble{t: t}
	for i := 1; i <= n; i++ {
		cfg := testConfig(t, filepath.Join(base, fmt.Sprint(i)))
		cfg.MyID = uint64(i)
		cfg.Servers = servers
		cfg.ClientPort = servers[i-1].ClientPort
		e.cfgs = append(e.cfgs, cfg)
	}
	// Members start concurrently: each waits for a leader before serving.
	e.members = make([]*testServer, n)
	done := make(chan int, n)
	for i := range e.cfgs {
		i := i
		go func() { e.members[i] = startServer(t, e.cfgs[i]); done <- i }()
	}
	for range e.cfgs {
		<-done
	}
	return e
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
