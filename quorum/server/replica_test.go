package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap/zaptest"

	"github.com/zkfc-project/zkfc/quorum/freeport"
	"github.com/zkfc-project/zkfc/quorum/config"
	"github.com/zkfc-project/zkfc/quorum/proto"
)

// A write reaches the client only after the storage loop's fsync returned.
// The fault is injected after the entry was written but before the write
// is reported durable: the request must fail (connection loss), never be
// answered with success, and nothing may be applied meanwhile.
func TestWriteNotAnsweredBeforeItsLogWriteSucceeded(t *testing.T) {
	errInjected := errors.New("injected storage fault")
	srv, cfg, g, runErr := startGated(t, "/during", errInjected)
	armed, entered, unblock := &g.armed, g.entered, g.unblock
	addr := waitListening(t, cfg)
	c, _ := connect(t, addr, 5*time.Second)
	if _, err := c.Create("/before", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create before the fault: %v", err)
	}

	armed.Store(true)
	type result struct {
		path string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		p, err := c.Create("/during", []byte("x"), 0, zk.WorldACL(zk.PermAll))
		res <- result{p, err}
	}()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the write never reached the log")
	}
	// The storage loop is now held between its write and its report. Let
	// the raft goroutine run several rounds: whatever it could do with the
	// entry without the report, it has had the chance to do.
	var applied bool
	for i := 0; i < 8; i++ {
		onReplica(t, srv.rep, func() {
			srv.mu.RLock()
			_, ok := srv.tree.Exists("/during")
			srv.mu.RUnlock()
			applied = applied || ok
		})
	}
	if applied {
		t.Fatal("entry applied before its log write was reported durable")
	}
	select {
	case r := <-res:
		t.Fatalf("client answered before the log write was durable: %q, %v", r.path, r.err)
	default:
	}

	unblock()
	select {
	case r := <-res:
		if r.err == nil {
			t.Fatalf("create answered %q although its log write failed", r.path)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the client got no answer after the log failed")
	}
	select {
	case err := <-runErr:
		if err == nil || !strings.Contains(err.Error(), errInjected.Error()) {
			t.Fatalf("Run returned %v, want the injected fault", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server kept running after its log failed")
	}
}

// storageGate holds the storage loop, once armed, after it wrote a batch
// containing a marker and before it reports the batch: entered is
// signalled, and the loop waits for unblock, then reports fault (nil: the
// write succeeded).
type storageGate struct {
	armed     atomic.Bool
	entered   chan struct{}
	release   chan struct{}
	unblockMu sync.Once
}

func (g *storageGate) unblock() { g.unblockMu.Do(func() { close(g.release) }) }

// startGated runs a standalone server on a fixed port (Server.Addr is not
// safe to poll while Run starts) whose storage loop goes through a gate.
// The server stops when the test ends; runErr carries Run's result.
func startGated(t *testing.T, marker string, fault error) (*Server, *config.Config, *storageGate, <-chan error) {
	t.Helper()
	cfg := testConfig(t, t.TempDir())
	cfg.ClientPort = freeport.Get(t)
	srv, err := New(cfg, zaptest.NewLogger(t).Named("server"))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	g := &storageGate{entered: make(chan struct{}, 1), release: make(chan struct{})}
	srv.rep.afterSave = func(ents []*raftpb.Entry) error {
		if !g.armed.Load() || !batchHas(ents, marker) {
			return nil
		}
		select {
		case g.entered <- struct{}{}:
		default:
		}
		<-g.release
		return fault
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	done := make(chan struct{})
	go func() { runErr <- srv.Run(ctx); close(done) }()
	t.Cleanup(func() {
		g.unblock() // a held storage loop would keep the server from stopping
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("server did not stop")
		}
	})
	return srv, cfg, g, runErr
}

func TestFoldEntries(t *testing.T) {
	mk := func(term uint64, idx ...uint64) []*raftpb.Entry {
		var out []*raftpb.Entry
		for _, i := range idx {
			out = append(out, &raftpb.Entry{Index: u64(i), Term: u64(term)})
		}
		return out
	}
	ids := func(ents []*raftpb.Entry) (s []uint64) {
		for _, e := range ents {
			s = append(s, e.GetIndex()*10+e.GetTerm())
		}
		return s
	}
	cases := []struct {
		name  string
		parts [][]*raftpb.Entry
		want  []uint64 // index*10+term
	}{
		{"contiguous", [][]*raftpb.Entry{mk(1, 1, 2), mk(1, 3), mk(1, 4, 5)}, []uint64{11, 21, 31, 41, 51}},
		{"empty parts", [][]*raftpb.Entry{nil, mk(1, 4), nil, mk(1, 5)}, []uint64{41, 51}},
		{"overwrite tail", [][]*raftpb.Entry{mk(1, 4, 5, 6), mk(2, 5, 6)}, []uint64{41, 52, 62}},
		{"overwrite all", [][]*raftpb.Entry{mk(1, 4, 5), mk(2, 3)}, []uint64{32}},
		{"overwrite from first", [][]*raftpb.Entry{mk(1, 4, 5), mk(3, 4, 5, 6)}, []uint64{43, 53, 63}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The inputs are raft's slices: spare capacity after them must
			// never be written, so give the first one some and watch it.
			first := append(make([]*raftpb.Entry, 0, 16), tc.parts[0]...)
			sentinel := first[:cap(first)][len(first):]
			parts := append([][]*raftpb.Entry{first}, tc.parts[1:]...)
			var got []*raftpb.Entry
			for i, p := range parts {
				got = foldEntries(got, p, i == 0 && len(parts) == 1)
			}
			if g := ids(got); !equalU64(g, tc.want) {
				t.Fatalf("got %v, want %v", g, tc.want)
			}
			for _, e := range sentinel {
				if e != nil {
					t.Fatal("foldEntries wrote into the spare capacity of raft's slice")
				}
			}
		})
	}
}

func equalU64(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func batchHas(ents []*raftpb.Entry, path string) bool {
	for _, e := range ents {
		if strings.Contains(string(e.GetData()), path) {
			return true
		}
	}
	return false
}

// A read behind a session's pending write waits for that write without
// stopping the session: the session's next write is proposed meanwhile,
// and the read still sees exactly the writes issued before it.
func TestReadBehindPendingWriteDoesNotStallTheSession(t *testing.T) {
	srv, cfg, g, _ := startGated(t, "value-one", nil)
	armed, entered, unblock := &g.armed, g.entered, g.unblock
	addr := waitListening(t, cfg)
	c, _ := connect(t, addr, 5*time.Second)
	if _, err := c.Create("/k", []byte("value-zero"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	nc, err := rawSession(t, addr, 0)
	if err != nil {
		t.Fatal(err)
	}
	armed.Store(true)
	var out []byte
	h1 := proto.RequestHeader{Xid: 1, Type: proto.OpSetData}
	out = proto.AppendFrame(out, &h1, &proto.SetDataRequest{Path: "/k", Data: []byte("value-one"), Version: -1})
	h2 := proto.RequestHeader{Xid: 2, Type: proto.OpGetData}
	out = proto.AppendFrame(out, &h2, &proto.PathWatchRequest{Path: "/k"})
	h3 := proto.RequestHeader{Xid: 3, Type: proto.OpSetData}
	out = proto.AppendFrame(out, &h3, &proto.SetDataRequest{Path: "/k", Data: []byte("value-two"), Version: -1})
	if _, err := nc.Write(out); err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the first write never reached the log")
	}
	// While the first write is held between its log write and its
	// report, the read behind it waits; the write after the read must
	// still reach raft.
	// Bounded well below the proposal timeout (5.4 s here), after which
	// the held write would fail and unblock a stalled session anyway.
	proposed := false
	for i := 0; i < 200 && !proposed; i++ {
		onReplica(t, srv.rep, func() {
			for _, p := range srv.rep.pending {
				proposed = proposed || strings.Contains(string(p.data), "value-two")
			}
		})
		if !proposed {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if !proposed {
		t.Fatal("the session's next write was not proposed while a read waited for its earlier write")
	}
	unblock()
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for want := int32(1); want <= 3; want++ {
		rh, d := readReply(t, nc, fmt.Sprintf("reply %d", want))
		if rh.Xid != want || rh.Err != proto.ErrOK {
			t.Fatalf("reply %+v, want xid %d OK", rh, want)
		}
		if want == 2 {
			var gr proto.GetDataResponse
			gr.Decode(d)
			if string(gr.Data) != "value-one" {
				t.Fatalf("read between two writes saw %q, want value-one", gr.Data)
			}
		}
	}
}

// waitListening waits (bounded) until the server of cfg accepts
// connections on its client port and returns the address.
func waitListening(t *testing.T, cfg *config.Config) string {
	t.Helper()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.ClientPort))
	for i := 0; i < 1000; i++ {
		if nc, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			nc.Close()
			return addr
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("server did not listen on %s", addr)
	return ""
}
