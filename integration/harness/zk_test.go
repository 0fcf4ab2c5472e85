package harness_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/integration/harness"
	"github.com/zkfc-project/zkfc/integration/zkenv"
	"github.com/zkfc-project/zkfc/quorum/proto"
)

// TestServerLifecycle drives one server through the whole Server API: a
// write survives Terminate and Start again (same address, same dataDir),
// Kill reaps it.
func TestServerLifecycle(t *testing.T) {
	backends := []struct {
		name  string
		start func(testing.TB, harness.Options) *harness.Server
	}{{"apache", harness.StartApache}}
	if os.Getenv("ZKFC_BIN") != "" {
		backends = append(backends, struct {
			name  string
			start func(testing.TB, harness.Options) *harness.Server
		}{"ours", harness.StartOurs})
	} else {
		t.Log("ZKFC_BIN unset: only the Apache backend is exercised here (the differential suite fails without it)")
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := b.start(t, harness.Options{TickTime: 500 * time.Millisecond, Extra: []string{"maxClientCnxns=50"}})
			if s.Pid() == 0 || !s.Running() {
				t.Fatalf("started server has pid %d, running %v", s.Pid(), s.Running())
			}
			rss, err := s.RSS()
			if err != nil || rss <= 0 {
				t.Fatalf("RSS() = %d, %v", rss, err)
			}
			if fi, err := os.Stat(s.DataDir); err != nil || !fi.IsDir() {
				t.Fatalf("DataDir %s: %v", s.DataDir, err)
			}
			if conf, err := s.FourLetterWord("conf"); err != nil || !strings.Contains(conf, "maxClientCnxns=50") {
				t.Errorf("Extra line not applied; conf = %q, %v", conf, err)
			}
			r, err := zkenv.ConnectRaw(s.Addr(), 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := r.Call(proto.OpCreate, &proto.CreateRequest{Path: "/survives", Data: []byte("x"), ACL: proto.OpenACL}, &proto.PathResponse{})
			if err != nil || rep.Header.Err != proto.ErrOK {
				t.Fatalf("create: %v %v", rep.Header.Err, err)
			}
			r.Close()

			addr, pid := s.Addr(), s.Pid()
			s.Terminate()
			if err := s.Start(); err != nil {
				t.Fatal(err)
			}
			if err := s.WaitServing(60 * time.Second); err != nil {
				t.Fatal(err)
			}
			if s.Addr() != addr || s.Pid() == pid || s.Pid() == 0 {
				t.Fatalf("after Start: addr %s (was %s), pid %d (was %d)", s.Addr(), addr, s.Pid(), pid)
			}
			r, err = zkenv.ConnectRaw(s.Addr(), 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			var gd proto.GetDataResponse
			rep, err = r.Call(proto.OpGetData, &proto.PathWatchRequest{Path: "/survives"}, &gd)
			if err != nil || rep.Header.Err != proto.ErrOK || string(gd.Data) != "x" {
				t.Fatalf("after restart getData = %q, %v, %v", gd.Data, rep.Header.Err, err)
			}
			r.Close()

			s.Kill()
			if s.Running() || s.Pid() != 0 {
				t.Fatalf("after Kill: running %v pid %d", s.Running(), s.Pid())
			}
			if _, err := harness.FourLetterWord(s.Addr(), "ruok", time.Second); err == nil {
				t.Fatalf("killed server still answers on %s", s.Addr())
			}
		})
	}
}

// TestEnsemble starts a 3-member ensemble, writes through one member and
// reads through another, kills the leader and checks that a new one is
// elected and accepts writes.
func TestEnsemble(t *testing.T) {
	backends := []struct {
		name    string
		backend harness.Backend
	}{{"apache", harness.Apache}}
	if os.Getenv("ZKFC_BIN") != "" {
		backends = append(backends, struct {
			name    string
			backend harness.Backend
		}{"ours", harness.Ours})
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := harness.StartEnsemble(t, b.backend, 3, harness.Options{TickTime: 500 * time.Millisecond})
			if len(e.Members) != 3 || strings.Count(e.ConnectString(), ",") != 2 {
				t.Fatalf("members %d, connect string %q", len(e.Members), e.ConnectString())
			}
			l, err := e.WaitLeader(30 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			leader := e.Members[l]
			var writer, reader *harness.Server
			for _, m := range e.Members {
				if m != leader {
					if writer == nil {
						writer = m
					} else {
						reader = m
					}
				}
			}
			mustCall(t, writer, proto.OpCreate, &proto.CreateRequest{Path: "/replicated", Data: []byte("v"), ACL: proto.OpenACL}, &proto.PathResponse{})
			r, err := zkenv.ConnectRaw(reader.Addr(), 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.Call(proto.OpSync, &proto.PathRequest{Path: "/replicated"}, &proto.PathResponse{}); err != nil {
				t.Fatal(err)
			}
			var gd proto.GetDataResponse
			rep, err := r.Call(proto.OpGetData, &proto.PathWatchRequest{Path: "/replicated"}, &gd)
			if err != nil || rep.Header.Err != proto.ErrOK || string(gd.Data) != "v" {
				t.Fatalf("read on member %d after sync: %q %v %v", reader.ID, gd.Data, rep.Header.Err, err)
			}
			r.Close()

			leader.Kill()
			n, err := e.WaitLeader(60 * time.Second)
			if err != nil {
				t.Fatalf("after killing leader %d: %v", leader.ID, err)
			}
			next := e.Members[n]
			if next == leader {
				t.Fatalf("killed member %d still reported as leader", leader.ID)
			}
			mustCall(t, next, proto.OpSetData, &proto.SetDataRequest{Path: "/replicated", Data: []byte("w"), Version: -1}, &proto.StatResponse{})
		})
	}
}

func mustCall(t *testing.T, s *harness.Server, op int32, req, resp proto.Record) {
	t.Helper()
	r, err := zkenv.ConnectRaw(s.Addr(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer r.CloseSession()
	rep, err := r.Call(op, req, resp)
	if err != nil || rep.Header.Err != proto.ErrOK {
		t.Fatalf("op %d on member %d: %v %v", op, s.ID, rep.Header.Err, err)
	}
}
