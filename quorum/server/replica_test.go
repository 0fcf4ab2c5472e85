package server

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap/zaptest"
)

// A write reaches the client only after the storage loop's fsync returned.
// The fault is injected after the entry was written but before the write
// is reported durable: the request must fail (connection loss), never be
// answered with success, and nothing may be applied meanwhile.
func TestWriteNotAnsweredBeforeItsLogWriteSucceeded(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	srv, err := New(cfg, zaptest.NewLogger(t).Named("server"))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	var armed atomic.Bool
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	errInjected := errors.New("injected storage fault")
	srv.rep.afterSave = func(ents []*raftpb.Entry) error {
		if !armed.Load() || !batchHas(ents, "/during") {
			return nil
		}
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
		return errInjected
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- srv.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for srv.Addr() == nil {
		if time.Now().After(deadline) {
			t.Fatal("server did not listen within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	c, _ := connect(t, srv.Addr().String(), 5*time.Second)
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
		done := make(chan bool)
		srv.rep.ctlC <- func() {
			srv.mu.RLock()
			_, ok := srv.tree.Exists("/during")
			srv.mu.RUnlock()
			done <- ok
		}
		applied = applied || <-done
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
