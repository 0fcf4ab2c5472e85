package zkenv

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

// TestServerLifecycle drives one server through the whole Server API: a
// write survives Restart (same address, same dataDir), Kill reaps it.
func TestServerLifecycle(t *testing.T) {
	backends := []struct {
		name  string
		start func(testing.TB, Options) *Server
	}{{"apache", StartApache}}
	if os.Getenv("ZKFC_BIN") != "" {
		backends = append(backends, struct {
			name  string
			start func(testing.TB, Options) *Server
		}{"ours", StartOurs})
	} else {
		t.Log("ZKFC_BIN unset: only the Apache backend is exercised here (the differential suite fails without it)")
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := b.start(t, Options{TickTime: 500 * time.Millisecond, Extra: []string{"maxClientCnxns=50"}})
			if s.Pid() == 0 || !s.Running() {
				t.Fatalf("started server has pid %d, running %v", s.Pid(), s.Running())
			}
			rss, err := s.RSS()
			if err != nil || rss <= 0 {
				t.Fatalf("RSS() = %d, %v", rss, err)
			}
			if fi, err := os.Stat(s.DataDir()); err != nil || !fi.IsDir() {
				t.Fatalf("DataDir %s: %v", s.DataDir(), err)
			}
			if conf, err := s.FourLetterWord("conf"); err != nil || !strings.Contains(conf, "maxClientCnxns=50") {
				t.Errorf("Extra line not applied; conf = %q, %v", conf, err)
			}
			r, err := ConnectRaw(s.Addr(), 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := r.Call(proto.OpCreate, &proto.CreateRequest{Path: "/survives", Data: []byte("x"), ACL: proto.OpenACL}, &proto.PathResponse{})
			if err != nil || rep.Header.Err != proto.ErrOK {
				t.Fatalf("create: %v %v", rep.Header.Err, err)
			}
			r.Close()

			addr, pid := s.Addr(), s.Pid()
			s.Restart()
			if s.Addr() != addr || s.Pid() == pid || s.Pid() == 0 {
				t.Fatalf("after Restart: addr %s (was %s), pid %d (was %d)", s.Addr(), addr, s.Pid(), pid)
			}
			r, err = ConnectRaw(s.Addr(), 10*time.Second)
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
			if _, err := FourLetterWord(s.Addr(), "ruok", time.Second); err == nil {
				t.Fatalf("killed server still answers on %s", s.Addr())
			}
		})
	}
}
