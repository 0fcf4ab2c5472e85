package integration

// Read-only mode (-Dreadonlymode.enabled=true) against Apache ZooKeeper
// 3.8 and ours, for a member cut off by a real network partition: member
// 1 of a 3-member ensemble runs in a network namespace of its own, the
// test drops its traffic with the two others (iptables), it serves the
// clients that can be read-only from its last state while the majority
// moves on, and moves them on when the partition heals. The same calls
// must get the same answers.

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/integration/drill"
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

// waitIsro polls isro on m until it answers want, calling each (may be
// nil) between polls, for at most d.
func waitIsro(m *harness.Server, want string, d time.Duration, each func()) error {
	deadline := time.Now().Add(d)
	for {
		got := isroOf(m)
		if got == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("member %d: isro still %q after %v, want %q", m.ID, got, d, want)
		}
		if each != nil {
			each()
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// roHandshake opens a connection with req (HasReadOnly set; the timeout
// 10 s and a zero password unless req says otherwise) and records the
// answer: refused (closed without an answer), a bare reply header (how
// ZooKeeper refuses a session it may not create), expired (session 0), or
// the session granted, whose connection it returns.
func roHandshake(tr *zkenv.Transcript, addr, label string, req proto.ConnectRequest) *zkenv.RawConn {
	r, err := zkenv.DialRaw(addr, 5*time.Second)
	if err != nil {
		tr.Printf("%s -> dial failed", label)
		return nil
	}
	req.HasReadOnly = true
	if req.TimeOut == 0 {
		req.TimeOut = 10000
	}
	if req.Passwd == nil {
		req.Passwd = make([]byte, 16)
	}
	var resp proto.ConnectResponse
	var hdr proto.ReplyHeader
	f, err := []byte(nil), r.WriteFrame(proto.AppendFrame(nil, &req))
	if err == nil {
		f, err = r.ReadFrame()
	}
	switch {
	case err != nil:
		tr.Printf("%s -> refused", label)
	case len(f) == 16 && proto.Unmarshal(f, &hdr) == nil:
		tr.Printf("%s -> reply header %s", label, hdr.Err)
	case proto.Unmarshal(f, &resp) != nil:
		tr.Printf("%s -> undecodable answer %x", label, f)
	case resp.SessionID == 0:
		tr.Printf("%s -> expired (timeout %d)", label, resp.TimeOut)
	default:
		r.Session = resp
		same := ""
		if req.SessionID != 0 {
			same = fmt.Sprintf(" same session %v", resp.SessionID == req.SessionID)
		}
		tr.Printf("%s -> session readOnly=%v timeout=%d%s", label, resp.ReadOnly, resp.TimeOut, same)
		return r
	}
	r.Close()
	return nil
}

// canBeRO asks for a new session from a client that can be read-only.
var canBeRO = proto.ConnectRequest{ReadOnly: true}

// resume asks again, as a client that can be read-only, for the session c
// holds (c's connection is left as it is).
func resume(tr *zkenv.Transcript, addr, label string, c *zkenv.RawConn) *zkenv.RawConn {
	return roHandshake(tr, addr, label, proto.ConnectRequest{SessionID: c.Session.SessionID, Passwd: c.Session.Passwd, ReadOnly: true})
}

// pingUntilClosed pings every conn (so no session times out) until the
// server has closed them all, for at most d; it reports whether it did.
func pingUntilClosed(d time.Duration, conns ...*zkenv.RawConn) bool {
	open := append([]*zkenv.RawConn(nil), conns...)
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		var still []*zkenv.RawConn
		for _, c := range open {
			if _, err := c.Ping(); err == nil {
				still = append(still, c)
			}
		}
		if open = still; len(open) == 0 {
			return true
		}
	}
	return false
}

// roSide is one backend's run: member 1 in ns, members 2 and 3 on the
// host end of ns's veth pair.
type roSide struct {
	name string
	ns   *drill.Netns
	e    *harness.Ensemble
	tr   zkenv.Transcript
	err  error
	// pre and owner are sessions opened on member 1 before the cut, owner
	// (with global sessions only) the owner of an ephemeral; stay one (if
	// the member grants one) still open when the partition heals.
	pre, owner, stay *zkenv.RawConn
	global           bool
	// kz is kazoo, a real client that can be read-only, connected to
	// member 1 alone (with local sessions only: ZooKeeper gives it no
	// read-only session otherwise, and it would retry until the heal).
	kz *zkenv.PyDriver
}

// kazoo sends the script commands to kazoo and records its answers.
func (s *roSide) kazoo(timeout time.Duration, commands ...string) error {
	if s.kz == nil {
		return nil
	}
	for _, c := range commands {
		a, err := s.kz.Do(c, timeout)
		if err != nil {
			return err
		}
		s.tr.Printf("kazoo %s: %s", c, a)
	}
	return nil
}

// A short timeout for the sessions of before the cut: the majority
// expires them during the partition, which lasts longer than that.
const preTimeout = 2000

// beforeCut: the data the member will serve, and sessions of clients
// that can be read-only, opened while the member has its majority.
func (s *roSide) beforeCut() error {
	m, tr := s.e.Members[0], &s.tr
	w, err := zkenv.ConnectRaw(m.Addr(), 10*time.Second)
	if err != nil {
		return err
	}
	if _, err := rcall(tr, w, "create /ro", proto.OpCreate, &proto.CreateRequest{Path: "/ro", Data: []byte("before"), ACL: proto.OpenACL}, &proto.PathResponse{}); err != nil {
		return err
	}
	if err := w.CloseSession(); err != nil {
		return err
	}
	tr.Printf("isro with a majority -> %s", isroOf(m))
	req := proto.ConnectRequest{ReadOnly: true, TimeOut: preTimeout}
	if s.pre = roHandshake(tr, m.Addr(), "handshake readOnly=true with a majority", req); s.pre == nil {
		return fmt.Errorf("no session before the cut")
	}
	if !s.global {
		if s.kz, err = zkenv.StartPython("kazoo_readonly.py", m.Addr()); err != nil {
			return err
		}
		if err := s.kazoo(40*time.Second, "wait CONNECTED 30"); err != nil {
			return err
		}
		// ZooKeeper refuses ephemerals to local sessions; ours are all
		// logged and do not (README, "What differs").
		return nil
	}
	if s.owner = roHandshake(tr, m.Addr(), "handshake readOnly=true with a majority (ephemeral owner)", req); s.owner == nil {
		return fmt.Errorf("no session before the cut")
	}
	_, err = rcall(tr, s.owner, "create /ro/owned ephemeral", proto.OpCreate, &proto.CreateRequest{Path: "/ro/owned", ACL: proto.OpenACL, Flags: 1}, &proto.PathResponse{})
	return err
}

// before lists the sessions of before the cut with their labels.
func (s *roSide) before() []labeled {
	out := []labeled{{"the session of before the cut", s.pre}}
	if s.owner != nil {
		out = append(out, labeled{"the ephemeral owner's session", s.owner})
	}
	return out
}

type labeled struct {
	label string
	conn  *zkenv.RawConn
}

// writeOnMajority sets /ro through member 2 or 3 once they have elected a
// leader among themselves (bounded retries: the election takes a while).
func (s *roSide) writeOnMajority(data string) error {
	var last error
	for i, end := 0, time.Now().Add(60*time.Second); time.Now().Before(end); i++ {
		m := s.e.Members[1+i%2]
		w, err := zkenv.ConnectRaw(m.Addr(), 10*time.Second)
		if err != nil {
			last = err
			time.Sleep(200 * time.Millisecond)
			continue
		}
		rep, err := w.Call(proto.OpSetData, &proto.SetDataRequest{Path: "/ro", Data: []byte(data), Version: -1}, &proto.StatResponse{})
		_ = w.CloseSession()
		if err == nil && rep.Header.Err == proto.ErrOK {
			s.tr.Printf("setData /ro %q on the majority side -> ok", data)
			return nil
		}
		last = fmt.Errorf("setData through member %d: %v %v", m.ID, rep.Header.Err, err)
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("the majority never took a write: %v", last)
}

// partitioned: member 1 drops its clients, turns read-only and answers
// from its last state while the majority writes on.
func (s *roSide) partitioned() error {
	m, tr := s.e.Members[0], &s.tr
	var conns []*zkenv.RawConn
	for _, b := range s.before() {
		conns = append(conns, b.conn)
	}
	tr.Printf("connections of before the cut closed by the member -> %v", pingUntilClosed(60*time.Second, conns...))
	if err := waitIsro(m, "ro", 60*time.Second, nil); err != nil {
		return err
	}
	tr.Printf("isro partitioned -> ro")
	if err := s.writeOnMajority("during"); err != nil {
		return err
	}
	// Its session of before the cut expired: kazoo opens a new one, read-only.
	if err := s.kazoo(70*time.Second, "wait CONNECTED_RO 60", "session", "get /ro", "set /ro kazoo"); err != nil {
		return err
	}
	roHandshake(tr, m.Addr(), "handshake readOnly=false", proto.ConnectRequest{})
	for _, b := range s.before() {
		if r := resume(tr, m.Addr(), "resume "+b.label, b.conn); r != nil {
			r.Close()
		}
	}
	if r := roHandshake(tr, m.Addr(), "handshake readOnly=true", canBeRO); r != nil {
		if err := s.readOnlySession(r); err != nil {
			return err
		}
	}
	// A local session expires on the member after its timeout without a
	// ping, as on any ZooKeeper server.
	if idle := roHandshake(tr, m.Addr(), "handshake readOnly=true timeout=1000", proto.ConnectRequest{ReadOnly: true, TimeOut: 1000}); idle != nil {
		tr.Printf("idle read-only session: connection closed by the member -> %v", idle.WaitClosed(20*time.Second))
		if c := resume(tr, m.Addr(), "resume the idle read-only session", idle); c != nil {
			c.Close()
		}
		idle.Close()
	}
	s.stay = roHandshake(tr, m.Addr(), "handshake readOnly=true before the heal", canBeRO)
	return nil
}

// readOnlySession: what a read-only session r may do, and where it lives.
func (s *roSide) readOnlySession(r *zkenv.RawConn) error {
	m, tr := s.e.Members[0], &s.tr
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
		{"create /ro/e ephemeral", proto.OpCreate, &proto.CreateRequest{Path: "/ro/e", ACL: proto.OpenACL, Flags: 1}, &proto.PathResponse{}},
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
	// The session lives on the member alone: the member takes it back on
	// a new connection, the majority has never heard of it.
	r.Close()
	back := resume(tr, m.Addr(), "resume the read-only session on member 1", r)
	if c := resume(tr, s.e.Members[1].Addr(), "resume the read-only session on member 2 (majority side)", r); c != nil {
		c.Close()
	}
	if back == nil {
		return nil
	}
	_, err := rcall(tr, back, "closeSession", proto.OpCloseSession, proto.Empty{}, nil)
	back.Close()
	if err == nil {
		if c := resume(tr, m.Addr(), "resume the closed read-only session", r); c != nil {
			c.Close()
		}
	}
	return err
}

// healed: member 1 rejoins, drops its read-only clients, and serves
// read-write sessions with the majority's data.
func (s *roSide) healed() error {
	m, tr := s.e.Members[0], &s.tr
	stayClosed := s.stay == nil
	keepAlive := func() {
		if !stayClosed {
			_, err := s.stay.Ping()
			stayClosed = err != nil
		}
	}
	if err := waitIsro(m, "rw", 120*time.Second, keepAlive); err != nil {
		return err
	}
	tr.Printf("isro after the heal -> rw")
	if s.stay != nil {
		stayClosed = stayClosed || pingUntilClosed(10*time.Second, s.stay)
		tr.Printf("read-only connection closed once the member is read-write -> %v", stayClosed)
	}
	// The member dropped kazoo's read-only session; kazoo, told that it
	// expired, opens a read-write one and reads what the majority wrote.
	if err := s.kazoo(130*time.Second, "wait CONNECTED 120", "session", "sync /ro", "get /ro"); err != nil {
		return err
	}
	rw := roHandshake(tr, m.Addr(), "handshake readOnly=true after the heal", canBeRO)
	if rw == nil {
		return fmt.Errorf("no session after the heal")
	}
	if _, err := rcall(tr, rw, "sync /ro", proto.OpSync, &proto.PathRequest{Path: "/ro"}, &proto.PathResponse{}); err != nil {
		return err
	}
	gd := &proto.GetDataResponse{}
	if _, err := rcall(tr, rw, "getData /ro", proto.OpGetData, &proto.PathWatchRequest{Path: "/ro"}, gd); err != nil {
		return err
	}
	tr.Printf("  data %q", gd.Data)
	if s.owner != nil {
		if _, err := rcall(tr, rw, "exists /ro/owned", proto.OpExists, &proto.PathWatchRequest{Path: "/ro/owned"}, &proto.StatResponse{}); err != nil {
			return err
		}
	}
	sessions := s.before()
	if s.stay != nil {
		sessions = append(sessions, labeled{"the read-only session", s.stay})
	}
	for _, b := range sessions {
		if r := resume(tr, m.Addr(), "resume "+b.label+" after the heal", b.conn); r != nil {
			r.Close()
		}
	}
	return rw.CloseSession()
}

// TestDifferentialReadOnly runs the same calls against both servers, each
// in its own namespace, cut and healed at the same moments. The cut
// keeps exactly one path: TCP connections from the host to member 1's
// client port, where the test's client (and isro) reach it, as a client
// on the member's side of a partition would. Everything else between the
// namespace and the host drops, above all the peer (quorum) and election
// ports both ways, so member 1 and its two peers cannot hear each other
// while the two peers, together on the host, remain a majority.
//
// Twice: with local sessions (localSessionsEnabled=true), the only way a
// read-only member creates sessions; and with ZooKeeper's default, global
// sessions, where it creates none (it answers the ConnectRequest with a
// NotReadOnly reply header) and only a client that had a session can go
// on.
func TestDifferentialReadOnly(t *testing.T) {
	t.Run("local sessions", func(t *testing.T) { readOnlyPartition(t, false) })
	t.Run("global sessions", func(t *testing.T) { readOnlyPartition(t, true) })
}

func readOnlyPartition(t *testing.T, global bool) {
	var extra []string
	if !global {
		extra = []string{"localSessionsEnabled=true"}
	}
	// Names and 10.N octets no other test uses: tests with other
	// namespaces may run at the same time.
	sides := []*roSide{
		{name: "apache", ns: drill.NewNetns(t, "zkfcroa", 83), global: global},
		{name: "ours", ns: drill.NewNetns(t, "zkfcrob", 84), global: global},
	}
	for i, b := range []harness.Backend{harness.Apache, harness.Ours} {
		ns := sides[i].ns
		sides[i].e = harness.StartEnsemble(t, b, 3, harness.Options{
			TickTime: 500 * time.Millisecond,
			JVMFlags: []string{"-Dreadonlymode.enabled=true"},
			Extra:    extra,
			Place: func(id int) (string, string) {
				if id == 1 {
					return ns.InnerIP, ns.Name
				}
				return ns.HostIP, ""
			},
		})
	}
	t.Cleanup(func() {
		for _, s := range sides {
			if s.kz != nil {
				s.kz.Close()
			}
		}
	})
	// Each phase runs on both sides at once; the cut and the heal happen
	// here, between phases, on the test's goroutine.
	phase := func(step func(*roSide) error) {
		var wg sync.WaitGroup
		for _, s := range sides {
			if s.err != nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.err = step(s)
			}()
		}
		wg.Wait()
	}
	phase((*roSide).beforeCut)
	for _, s := range sides {
		s.ns.CutExceptServing(t, s.e.Members[0].ClientPort)
	}
	phase((*roSide).partitioned)
	for _, s := range sides {
		s.ns.Flush(t)
	}
	phase((*roSide).healed)
	for _, s := range sides {
		for _, c := range []*zkenv.RawConn{s.pre, s.owner, s.stay} {
			if c != nil {
				c.Close()
			}
		}
	}
	compareSides(t, sides[0].name, sides[0].tr.Lines(), sides[0].err, sides[1].name, sides[1].tr.Lines(), sides[1].err)
}
