package integration

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/integration/harness"
	"github.com/zkfc-project/zkfc/integration/zkenv"
	"github.com/zkfc-project/zkfc/quorum/proto"
)

// TestCrashKeepsAcknowledgedWrites kills a server with SIGKILL while
// several sessions create znodes, restarts it on the same dataDir, and
// checks that every create the server acknowledged is still there, that at
// most the one in-flight create per writer appears beyond them, and that
// zxids keep growing after the restart. Apache is run as the reference the
// test itself is checked against; ours must behave the same. SIGKILL ends
// the process, not the machine: the page cache survives, so this catches a
// server that acknowledges before writing (e.g. a batch still in memory),
// not one that skips fsync.
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	for _, b := range []struct {
		name  string
		start starter
	}{{"apache", harness.StartApache}, {"ours", harness.StartOurs}} {
		t.Run(b.name, func(t *testing.T) {
			s := b.start(t, harness.Options{TickTime: 500 * time.Millisecond})
			crashAndCheck(t, s)
		})
	}
}

type writerResult struct {
	acked    []string // paths acknowledged with OK, in order
	inFlight string   // the path whose reply never came, if any
	maxZxid  int64    // largest czxid acknowledged
	err      error    // a protocol error other than the connection dropping
}

func crashAndCheck(t *testing.T, s *harness.Server) {
	const (
		writers  = 4
		killAt   = 400    // acknowledged creates before the kill
		maxPerWr = 100000 // bound on each writer's loop
	)
	setup, err := zkenv.ConnectRaw(s.Addr(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := setup.Call(proto.OpCreate, &proto.CreateRequest{Path: "/crash", ACL: proto.OpenACL}, &proto.PathResponse{}); err != nil || rep.Header.Err != proto.ErrOK {
		t.Fatalf("create /crash: %v %v", rep.Header.Err, err)
	}
	setup.Close()

	var total atomic.Int64
	results := make([]writerResult, writers)
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		r, err := zkenv.ConnectRaw(s.Addr(), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func(w int, r *zkenv.RawConn) {
			defer wg.Done()
			defer r.Close()
			res := &results[w]
			for n := 0; n < maxPerWr; n++ {
				p := fmt.Sprintf("/crash/w%d-%06d", w, n)
				var cr proto.Create2Response
				rep, err := r.Call(proto.OpCreate2, &proto.CreateRequest{Path: p, Data: []byte(p), ACL: proto.OpenACL}, &cr)
				if err != nil { // the server died under us
					res.inFlight = p
					return
				}
				if rep.Header.Err != proto.ErrOK {
					res.err = fmt.Errorf("create %s: %v", p, rep.Header.Err)
					return
				}
				res.acked = append(res.acked, p)
				res.maxZxid = max(res.maxZxid, cr.Stat.Czxid)
				total.Add(1)
			}
		}(w, r)
	}
	// Wait (bounded) for enough acknowledged writes, then kill mid-stream.
	for i := 0; i < 6000 && total.Load() < killAt; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if total.Load() < killAt {
		t.Errorf("only %d creates acknowledged in 60s", total.Load())
	}
	s.Kill()
	wg.Wait()
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitServing(60 * time.Second); err != nil {
		t.Fatalf("after restart: %v\n%s", err, s.LogTail(40))
	}

	r, err := zkenv.ConnectRaw(s.Addr(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer r.CloseSession()
	var gc proto.GetChildrenResponse
	if rep, err := r.Call(proto.OpGetChildren, &proto.PathWatchRequest{Path: "/crash"}, &gc); err != nil || rep.Header.Err != proto.ErrOK {
		t.Fatalf("getChildren /crash after restart: %v %v", rep.Header.Err, err)
	}
	present := map[string]bool{}
	for _, c := range gc.Children {
		present["/crash/"+c] = true
	}
	var acked int
	var maxZxid int64
	allowed := map[string]bool{}
	for w, res := range results {
		if res.err != nil {
			t.Errorf("writer %d: %v", w, res.err)
		}
		for _, p := range res.acked {
			acked++
			if !present[p] {
				t.Errorf("acknowledged create %s lost by the crash", p)
			}
			allowed[p] = true
		}
		if res.inFlight != "" {
			allowed[res.inFlight] = true
		}
		maxZxid = max(maxZxid, res.maxZxid)
	}
	for p := range present {
		if !allowed[p] {
			t.Errorf("%s exists after restart but was never acknowledged nor in flight", p)
		}
	}
	t.Logf("%d creates acknowledged before SIGKILL, %d znodes after restart", acked, len(present))

	var cr proto.Create2Response
	rep, err := r.Call(proto.OpCreate2, &proto.CreateRequest{Path: "/crash/after", ACL: proto.OpenACL}, &cr)
	if err != nil || rep.Header.Err != proto.ErrOK {
		t.Fatalf("create after restart: %v %v", rep.Header.Err, err)
	}
	if cr.Stat.Czxid <= maxZxid {
		t.Errorf("zxid went backwards across the crash: new czxid %#x <= acknowledged %#x", cr.Stat.Czxid, maxZxid)
	}
}
