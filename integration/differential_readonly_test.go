package integration

// Read-only mode (-Dreadonlymode.enabled=true) against Apache ZooKeeper
// 3.8 and ours: a 3-member ensemble loses two members, the survivor serves
// clients that can be read-only from its last state, and moves them on
// when the majority is back. The same calls must get the same answers.

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/integration/harness"
	"github.com/zkfc-project/zkfc/integration/zkenv"
	"github.com/zkfc-project/zkfc/quorum/proto"
)

func isroOf(s *harness.Server) string {
	out, err := s.FourLetterWord("isro")
	if err != nil {
		return "error"
	}
	return strings.TrimSpace(out)
}

// roHandshake opens a session asking readOnly, and records the answer.
func roHandshake(tr *zkenv.Transcript, addr, label string, readOnly bool) *zkenv.RawConn {
	r, err := zkenv.DialRaw(addr, 5*time.Second)
	if err != nil {
		tr.Printf("%s -> dial failed", label)
		return nil
	}
	if err := r.WriteFrame(proto.AppendFrame(nil, &proto.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16), ReadOnly: readOnly, HasReadOnly: true})); err != nil {
		tr.Printf("%s -> refused", label)
		return nil
	}
	f, err := r.ReadFrame()
	var resp proto.ConnectResponse
	if err == nil {
		err = proto.Unmarshal(f, &resp)
	}
	if err != nil || resp.SessionID == 0 {
		tr.Printf("%s -> refused", label)
		r.Close()
		return nil
	}
	tr.Printf("%s -> session readOnly=%v timeout=%d", label, resp.ReadOnly, resp.TimeOut)
	return r
}

func scenarioReadOnly(e *harness.Ensemble, tr *zkenv.Transcript) error {
	m := e.Members[0]
	w, err := zkenv.ConnectRaw(m.Addr(), 10*time.Second)
	if err != nil {
		return err
	}
	if _, err := rcall(tr, w, "create /ro", proto.OpCreate, &proto.CreateRequest{Path: "/ro", Data: []byte("before"), ACL: proto.OpenACL}, &proto.PathResponse{}); err != nil {
		return err
	}
	w.CloseSession()
	tr.Printf("isro with a majority -> %s", isroOf(m))
	e.Members[1].Kill()
	e.Members[2].Kill()
	deadline := time.Now().Add(60 * time.Second)
	for isroOf(m) != "ro" {
		if time.Now().After(deadline) {
			return fmt.Errorf("member 1 never became read-only (isro %s)", isroOf(m))
		}
		time.Sleep(100 * time.Millisecond)
	}
	tr.Printf("isro alone -> ro")
	roHandshake(tr, m.Addr(), "handshake readOnly=false", false)
	r := roHandshake(tr, m.Addr(), "handshake readOnly=true", true)
	if r == nil {
		return fmt.Errorf("no read-only session")
	}
	calls := []struct {
		label string
		op    int32
		req   proto.Record
		resp  proto.Record
	}{
		{"getData /ro", proto.OpGetData, &proto.PathWatchRequest{Path: "/ro"}, &proto.GetDataResponse{}},
		{"exists /ro", proto.OpExists, &proto.PathWatchRequest{Path: "/ro"}, &proto.StatResponse{}},
		{"getChildren /", proto.OpGetChildren, &proto.PathWatchRequest{Path: "/"}, &proto.GetChildrenResponse{}},
		{"create /ro/x", proto.OpCreate, &proto.CreateRequest{Path: "/ro/x", ACL: proto.OpenACL}, &proto.PathResponse{}},
		{"setData /ro", proto.OpSetData, &proto.SetDataRequest{Path: "/ro", Data: []byte("x"), Version: -1}, &proto.StatResponse{}},
		{"delete /ro", proto.OpDelete, &proto.PathVersionRequest{Path: "/ro", Version: -1}, nil},
		{"sync /ro", proto.OpSync, &proto.PathRequest{Path: "/ro"}, &proto.PathResponse{}},
	}
	for _, c := range calls {
		if _, err := rcall(tr, r, c.label, c.op, c.req, c.resp); err != nil {
			return err
		}
		if gd, ok := c.resp.(*proto.GetDataResponse); ok {
			tr.Printf("  data %q", gd.Data)
		}
	}
	if _, err := rcall(tr, r, "closeSession", proto.OpCloseSession, proto.Empty{}, nil); err != nil {
		return err
	}
	stay := roHandshake(tr, m.Addr(), "handshake readOnly=true before the majority returns", true)
	if stay == nil {
		return fmt.Errorf("no second read-only session")
	}
	for _, s := range e.Members[1:] {
		if err := s.Start(); err != nil {
			return err
		}
	}
	deadline = time.Now().Add(90 * time.Second)
	for isroOf(m) != "rw" {
		if time.Now().After(deadline) {
			return fmt.Errorf("member 1 never became read-write again (isro %s)", isroOf(m))
		}
		time.Sleep(100 * time.Millisecond)
	}
	tr.Printf("isro with the majority back -> rw")
	// The read-only connection is closed: its client must find a
	// read-write server.
	closed := false
	for i := 0; i < 50 && !closed; i++ {
		_, err := stay.Call(proto.OpExists, &proto.PathWatchRequest{Path: "/ro"}, &proto.StatResponse{})
		closed = err != nil
		if !closed {
			time.Sleep(100 * time.Millisecond)
		}
	}
	tr.Printf("read-only connection closed once the majority is back -> %v", closed)
	stay.Close()
	r2 := roHandshake(tr, m.Addr(), "handshake readOnly=true with the majority", true)
	if r2 != nil {
		r2.CloseSession()
	}
	return nil
}

// Sessions are local (localSessionsEnabled=true): with ZooKeeper's
// default, a read-only member cannot create a session at all (it answers
// the ConnectRequest with a NotReadOnly reply header), which ours does too.
func TestDifferentialReadOnly(t *testing.T) {
	opts := harness.Options{TickTime: 500 * time.Millisecond, JVMFlags: []string{"-Dreadonlymode.enabled=true"}, Extra: []string{"localSessionsEnabled=true"}}
	type side struct {
		name string
		e    *harness.Ensemble
		tr   zkenv.Transcript
		err  error
	}
	sides := []*side{{name: "apache"}, {name: "ours"}}
	sides[0].e = harness.StartEnsemble(t, harness.Apache, 3, opts)
	sides[1].e = harness.StartEnsemble(t, harness.Ours, 3, opts)
	var wg sync.WaitGroup
	for _, s := range sides {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.err = scenarioReadOnly(s.e, &s.tr)
		}()
	}
	wg.Wait()
	compareSides(t, sides[0].name, sides[0].tr.Lines(), sides[0].err, sides[1].name, sides[1].tr.Lines(), sides[1].err)
}
