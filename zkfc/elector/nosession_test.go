package elector

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
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

// cutProxy forwards to a server until cut, then refuses connections.
type cutProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
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
			go func() { _, _ = io.Copy(s, c); s.Close() }()
			go func() { _, _ = io.Copy(c, s); c.Close() }()
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
