package elector

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// A request made while the session is disconnected fails at once with
// ErrNoSession. The library would hold it until it reconnected or had
// tried every server, and the controller's loop, which makes these
// requests (the active's Position, the durable mode's Sync and members),
// must stay free to self-fence on time: a PostgreSQL drill whose host was
// cut off saw the loop held 4.8 s by a Position write, self-fence late,
// and the old primary still running when the standby took over.
func TestRequestWhileDisconnectedFailsAtOnce(t *testing.T) {
	cfg := testCluster(t, Config{ClusterPath: "/zkfc/nosession"})
	p := newCutProxy(t, cfg.Servers[0])
	cfg.Servers = []string{p.addr()}
	e, epoch := openConnected(t, cfg)
	if _, err := e.ReadPosition(); err != nil {
		t.Fatalf("read while connected: %v", err)
	}
	p.cut()
	waitKind(t, e, epoch, Disconnected)
	done := make(chan error, 1)
	go func() { _, err := e.ReadPosition(); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNoSession) {
			t.Fatalf("read while disconnected: %v, want ErrNoSession", err)
		}
		if !Unavailable(err) {
			t.Errorf("%v is not reported as Unavailable (worth retrying)", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("read while disconnected did not return within 30s")
	}
	if err := e.WritePosition(Position{Node: "n1", Token: 1, Position: 1}); !errors.Is(err, ErrNoSession) {
		t.Fatalf("write while disconnected: %v, want ErrNoSession", err)
	}
}

// A request sent into a connection that went silent (here a proxy that
// drops everything, as a partition that drops packets does) fails once
// the last acknowledgment is the session timeout minus the armed margin
// old, not at the library's receive timeout (two thirds of the session
// timeout after the last byte read, later for this margin): the loop that
// sent it must be free to self-fence. The session, and its lock, survive.
func TestSilentConnectionIsBrokenAtTheSelfFenceDeadline(t *testing.T) {
	cfg := testCluster(t, Config{ClusterPath: "/zkfc/silence"})
	cfg.SessionTimeout = 9 * time.Second // the server grants up to 20 ticks, 10s
	p := newCutProxy(t, cfg.Servers[0])
	cfg.Servers = []string{p.addr()}
	e, epoch := openConnected(t, cfg)
	if held, _, err := e.TryAcquire(Info{NodeID: "n1"}); err != nil || !held {
		t.Fatalf("acquire: held %v, %v", held, err)
	}
	sid, err := e.MarkSession("n1")
	if err != nil {
		t.Fatal(err)
	}
	const margin = 6 * time.Second
	e.BreakAfterSilence(margin)
	p.freeze(true)
	done := make(chan error, 1)
	go func() { done <- e.WritePosition(Position{Node: "n1", Token: 1, Position: 1}) }()
	var werr error
	select {
	case werr = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the write into the silent connection did not return within 30s")
	}
	returned := time.Now()
	at, timeout, _ := e.LastAck()
	if timeout != cfg.SessionTimeout {
		t.Fatalf("negotiated session timeout %v, want %v", timeout, cfg.SessionTimeout)
	}
	// The library alone returns at the earliest its receive timeout (6s)
	// after the last byte read, which came no earlier than the last ack.
	deadline := at.Add(timeout - margin)
	if late := returned.Sub(deadline); late > time.Second {
		t.Errorf("the write returned %v after the self-fence deadline (last ack + %v): the silent connection was not broken", late.Round(time.Millisecond), timeout-margin)
	}
	if !errors.Is(werr, zk.ErrConnectionClosed) || !ConnectionLost(werr) {
		t.Errorf("the write into the silent connection: %v, want the connection closed", werr)
	}
	p.freeze(false)
	waitKind(t, e, epoch, Connected)
	if again, err := e.MarkSession("n1"); err != nil || again != sid {
		t.Fatalf("after the reconnection: session %x, %v; want the same session %x still holding the lock", again, err, sid)
	}
}

// cutProxy forwards to a server until cut, then refuses connections;
// while frozen it keeps every connection open but drops what they carry.
type cutProxy struct {
	ln     net.Listener
	mu     sync.Mutex
	conns  []net.Conn
	frozen atomic.Bool
}

func (p *cutProxy) freeze(on bool) { p.frozen.Store(on) }

// pipe copies from to to, dropping what arrives while p is frozen.
func (p *cutProxy) pipe(to, from net.Conn) {
	defer to.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := from.Read(buf)
		if n > 0 && !p.frozen.Load() {
			if _, werr := to.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func newCutProxy(t *testing.T, to string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln}
	t.Cleanup(p.cut)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", to)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go p.pipe(s, c)
			go p.pipe(c, s)
		}
	}()
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) cut() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
