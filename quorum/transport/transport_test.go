package transport

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap/zaptest"
)

type recorder struct {
	mu    sync.Mutex
	msgs  []*raftpb.Message
	apps  []string
	lost  []uint64
	unrch int
}

func (r *recorder) Receive(m *raftpb.Message) { r.mu.Lock(); r.msgs = append(r.msgs, m); r.mu.Unlock() }
func (r *recorder) ReceiveApp(from uint64, p []byte) {
	r.mu.Lock()
	r.apps = append(r.apps, string(p))
	r.mu.Unlock()
}
func (r *recorder) Unreachable(uint64)        { r.mu.Lock(); r.unrch++; r.mu.Unlock() }
func (r *recorder) SnapshotSent(uint64, bool) {}
func (r *recorder) PeerLost(p uint64)         { r.mu.Lock(); r.lost = append(r.lost, p); r.mu.Unlock() }
func (r *recorder) snapshot() (int, int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs), len(r.apps), len(r.lost)
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startPair starts members 1 and 2 on loopback, each knowing the other;
// r2 records what member 2 hears. Stop is idempotent, so tests may stop
// a member early.
func startPair(t *testing.T) (t1, t2 *Transport, r2 *recorder) {
	t.Helper()
	a1, a2 := freeAddr(t), freeAddr(t)
	r2 = &recorder{}
	t1 = New(Config{ID: 1, ListenAddr: a1, Peers: map[uint64]string{2: a2}}, &recorder{}, zaptest.NewLogger(t))
	t2 = New(Config{ID: 2, ListenAddr: a2, Peers: map[uint64]string{1: a1}}, r2, zaptest.NewLogger(t))
	for _, tr := range []*Transport{t1, t2} {
		if err := tr.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(tr.Stop)
	}
	return t1, t2, r2
}

func TestDeliveryAppMessagesAndPeerLoss(t *testing.T) {
	t1, t2, r2 := startPair(t)
	typ := raftpb.MessageType_MsgHeartbeat
	to, from, term := uint64(2), uint64(1), uint64(7)
	for i := 0; i < 100; i++ {
		t1.Send([]*raftpb.Message{{Type: &typ, To: &to, From: &from, Term: &term}})
	}
	t1.SendApp(2, []byte("touch:42"))
	eventually(t, "100 messages and 1 app message", func() bool {
		m, a, _ := r2.snapshot()
		return m == 100 && a == 1
	})
	r2.mu.Lock()
	if r2.msgs[0].GetTerm() != 7 || r2.msgs[0].GetFrom() != 1 || r2.apps[0] != "touch:42" {
		t.Fatalf("payload mangled: %v %q", r2.msgs[0], r2.apps[0])
	}
	r2.mu.Unlock()
	// Member 1 dies: member 2 learns of it from the dropped connection.
	t1.Stop()
	eventually(t, "PeerLost(1)", func() bool { _, _, l := r2.snapshot(); return l >= 1 })
	t2.Stop()
}

// A connection that drops while its member still listens is not a death:
// reporting it would make the followers depose a live leader.
func TestDroppedConnectionOfLiveMemberIsNotPeerLoss(t *testing.T) {
	t1, t2, r2 := startPair(t)
	typ := raftpb.MessageType_MsgHeartbeat
	to, from := uint64(2), uint64(1)
	t1.Send([]*raftpb.Message{{Type: &typ, To: &to, From: &from}})
	eventually(t, "first message", func() bool { m, _, _ := r2.snapshot(); return m == 1 })
	inbound := func() int { t2.mu.Lock(); defer t2.mu.Unlock(); return len(t2.inbound) }
	if n := inbound(); n != 1 {
		t.Fatalf("member 2 has %d inbound connections, want 1", n)
	}
	// Member 1 cuts its connection (as after a write timeout) but lives on.
	t1.peers[2].closeConn()
	// The reader on member 2 returns only after deciding about PeerLost.
	eventually(t, "member 2 to drop the closed connection", func() bool { return inbound() == 0 })
	if _, _, l := r2.snapshot(); l != 0 {
		t.Fatalf("PeerLost reported %d times for a member that still listens", l)
	}
	// And the link still works: member 1 reconnects on its next send.
	for i := 0; i < 50; i++ {
		t1.Send([]*raftpb.Message{{Type: &typ, To: &to, From: &from}})
		if m, _, _ := r2.snapshot(); m > 1 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	eventually(t, "a message over the new connection", func() bool { m, _, _ := r2.snapshot(); return m > 1 })
}

func TestUnknownMemberRefused(t *testing.T) {
	a1, a2 := freeAddr(t), freeAddr(t)
	r2 := &recorder{}
	t2 := New(Config{ID: 2, ListenAddr: a2, Peers: map[uint64]string{1: a1}}, r2, zaptest.NewLogger(t))
	if err := t2.Start(); err != nil {
		t.Fatal(err)
	}
	defer t2.Stop()
	// Member 9 is not in member 2's configuration.
	t9 := New(Config{ID: 9, ListenAddr: freeAddr(t), Peers: map[uint64]string{2: a2}}, &recorder{}, zaptest.NewLogger(t))
	if err := t9.Start(); err != nil {
		t.Fatal(err)
	}
	defer t9.Stop()
	typ := raftpb.MessageType_MsgHeartbeat
	to := uint64(2)
	for i := 0; i < 5; i++ {
		t9.Send([]*raftpb.Message{{Type: &typ, To: &to}})
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if m, _, _ := r2.snapshot(); m != 0 {
		t.Fatalf("accepted %d messages from an unknown member", m)
	}
}

// The probe behind the fast election: nothing listening refuses; a live
// listener (which holds a connection without hello) does not; a listener
// closed while the probe's connection sat in its backlog, as when its
// process is being killed, counts as refusing.
func TestProbe(t *testing.T) {
	closedAddr := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		a := ln.Addr().String()
		ln.Close()
		return a
	}()
	if dead, _ := refuses(closedAddr, time.Second, time.Second); !dead {
		t.Error("a port nobody listens on did not refuse")
	}

	live, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if dead, seen := refuses(live.Addr().String(), time.Second, 200*time.Millisecond); dead {
		t.Errorf("probe saw %s", seen)
		t.Error("a live listener counted as refusing")
	}

	dying, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		dead bool
		seen string
	}
	res := make(chan outcome, 1)
	go func() {
		dead, seen := refuses(dying.Addr().String(), time.Second, 10*time.Second)
		res <- outcome{dead, seen}
	}()
	// The dial completes in the backlog at once (nobody calls Accept);
	// then the listener goes, as its process dies.
	time.Sleep(200 * time.Millisecond)
	dying.Close()
	select {
	case r := <-res:
		// Connected first: a refused dial would pass without the settle
		// watch this case is about.
		if !strings.HasPrefix(r.seen, "connected;") || !r.dead {
			t.Errorf("a listener closed under the probe's connection: dead=%v, probe saw %q; want dead after connecting", r.dead, r.seen)
		}
	case <-time.After(9 * time.Second):
		t.Fatal("the probe did not see the listener's close")
	}
}
