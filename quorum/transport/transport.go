// Package transport carries Raft messages between quorum members over TCP:
// one outbound connection per peer with a bounded queue, length-prefixed
// frames, and reconnection with backoff. Raft tolerates lost messages, so a
// full queue or a broken connection drops messages rather than blocking the
// raft loop. It must never interpret messages beyond framing them.
package transport

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	gproto "google.golang.org/protobuf/proto"
)

// maxFrame bounds one message (a snapshot included) so a peer cannot make
// us allocate without limit.
const maxFrame = 512 << 20

// hello is the first frame of every connection: who is calling, for which
// cluster.
const helloMagic = 0x7a6b6663 // "zkfc"

// Handler receives what the transport learns. Its methods are called from
// transport goroutines and must not block for long.
type Handler interface {
	// Receive is called for every raft message from a peer.
	Receive(m *raftpb.Message)
	// ReceiveApp is called for every application message (SendApp) from a
	// peer; payload is only valid during the call.
	ReceiveApp(from uint64, payload []byte)
	// Unreachable is called when a message to peer could not be sent.
	Unreachable(peer uint64)
	// SnapshotSent reports whether a snapshot message reached peer.
	SnapshotSent(peer uint64, ok bool)
	// PeerLost is called when an inbound connection from peer ended with
	// an EOF or reset and the peer's port then refused a new connection:
	// the sign of a dead process rather than a cut connection or a silent
	// network.
	PeerLost(peer uint64)
}

// Config describes this member and its peers.
type Config struct {
	ID         uint64
	ListenAddr string
	Peers      map[uint64]string // id -> host:port, without this member
	// TLS, when set, is used for both directions (mutual TLS).
	ServerTLS *tls.Config
	ClientTLS *tls.Config
	QueueSize int
	// ProbeTimeout bounds the connection attempt that confirms a peer is
	// gone after its connection dropped (default 200ms).
	ProbeTimeout time.Duration
}

// Transport is safe for concurrent use.
type Transport struct {
	cfg      Config
	h        Handler
	lg       *zap.Logger
	ln       net.Listener
	peersMu  sync.RWMutex
	peers    map[uint64]*peer
	started  bool
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	mu       sync.Mutex
	inbound  map[net.Conn]struct{}
	conns    map[uint64]int // live inbound connections per peer
}

func New(cfg Config, h Handler, lg *zap.Logger) *Transport {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 4096
	}
	t := &Transport{cfg: cfg, h: h, lg: lg, peers: map[uint64]*peer{}, stop: make(chan struct{}),
		inbound: map[net.Conn]struct{}{}}
	for id, addr := range cfg.Peers {
		t.peers[id] = &peer{t: t, id: id, addr: addr, q: make(chan *raftpb.Message, cfg.QueueSize)}
	}
	return t
}

// Start listens for peers and starts the outbound senders.
func (t *Transport) Start() error {
	ln, err := net.Listen("tcp", t.cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen for peers on %s: %w", t.cfg.ListenAddr, err)
	}
	if t.cfg.ServerTLS != nil {
		ln = tls.NewListener(ln, t.cfg.ServerTLS)
	}
	t.ln = ln
	t.wg.Add(1)
	go t.accept()
	t.peersMu.Lock()
	t.started = true
	for _, p := range t.peers {
		t.wg.Add(1)
		go p.run()
	}
	t.peersMu.Unlock()
	return nil
}

// SetPeer adds a member, or moves one to a new address, after a
// membership change. A member that left keeps its entry: raft sends it
// nothing, and a connection from it is harmless.
func (t *Transport) SetPeer(id uint64, addr string) {
	if id == t.cfg.ID {
		return
	}
	t.peersMu.Lock()
	defer t.peersMu.Unlock()
	if p := t.peers[id]; p != nil {
		p.mu.Lock()
		moved := p.addr != addr
		p.addr = addr
		p.mu.Unlock()
		if moved {
			t.lg.Info("peer moved", zap.Uint64("peer", id), zap.String("address", addr))
			p.closeConn()
		}
		return
	}
	select {
	case <-t.stop:
		return
	default:
	}
	p := &peer{t: t, id: id, addr: addr, q: make(chan *raftpb.Message, t.cfg.QueueSize)}
	t.peers[id] = p
	t.lg.Info("peer added", zap.Uint64("peer", id), zap.String("address", addr))
	if t.started {
		t.wg.Add(1)
		go p.run()
	}
}

func (t *Transport) peer(id uint64) *peer {
	t.peersMu.RLock()
	defer t.peersMu.RUnlock()
	return t.peers[id]
}

// Addr is the listening address.
func (t *Transport) Addr() net.Addr { return t.ln.Addr() }

// Stop closes every connection and waits for the goroutines.
func (t *Transport) Stop() {
	t.stopOnce.Do(t.doStop)
}

func (t *Transport) doStop() {
	close(t.stop)
	if t.ln != nil {
		_ = t.ln.Close()
	}
	t.mu.Lock()
	for c := range t.inbound {
		_ = c.Close()
	}
	t.mu.Unlock()
	t.peersMu.RLock()
	for _, p := range t.peers {
		p.closeConn()
	}
	t.peersMu.RUnlock()
	t.wg.Wait()
}

// Send queues messages; a message to a peer whose queue is full is dropped
// and the peer reported unreachable.
func (t *Transport) Send(msgs []*raftpb.Message) {
	for _, m := range msgs {
		p := t.peer(m.GetTo())
		if p == nil {
			continue
		}
		select {
		case p.q <- m:
		default:
			t.h.Unreachable(m.GetTo())
			if m.GetType() == raftpb.MessageType_MsgSnap {
				t.h.SnapshotSent(m.GetTo(), false)
			}
		}
	}
}

// appMessageType marks queue items that carry an application payload rather
// than a raft message; raft never produces this type.
const appMessageType raftpb.MessageType = -1

// SendApp queues an application payload (e.g. session touches) to a peer.
// Like raft messages it may be dropped when the peer is unreachable.
func (t *Transport) SendApp(to uint64, payload []byte) {
	p := t.peer(to)
	if p == nil {
		return
	}
	typ := appMessageType
	m := &raftpb.Message{Type: &typ, To: &to, Context: payload}
	select {
	case p.q <- m:
	default:
	}
}

func (t *Transport) accept() {
	defer t.wg.Done()
	for {
		c, err := t.ln.Accept()
		if err != nil {
			select {
			case <-t.stop:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		t.mu.Lock()
		t.inbound[c] = struct{}{}
		t.mu.Unlock()
		t.wg.Add(1)
		go t.serveInbound(c)
	}
}

func (t *Transport) serveInbound(c net.Conn) {
	defer t.wg.Done()
	defer func() {
		t.mu.Lock()
		delete(t.inbound, c)
		t.mu.Unlock()
		_ = c.Close()
	}()
	br := bufio.NewReaderSize(c, 256<<10)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var hdr [12]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return
	}
	if binary.BigEndian.Uint32(hdr[:4]) != helloMagic {
		t.lg.Warn("peer connection without hello; closing", zap.String("remote", c.RemoteAddr().String()))
		return
	}
	from := binary.BigEndian.Uint64(hdr[4:])
	if t.peer(from) == nil {
		t.lg.Warn("connection from an unknown member id; closing", zap.Uint64("id", from), zap.String("remote", c.RemoteAddr().String()))
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	var buf []byte
	for {
		var lb [4]byte
		if _, err := io.ReadFull(br, lb[:]); err != nil {
			t.lost(from, err)
			return
		}
		n := binary.BigEndian.Uint32(lb[:])
		if n > maxFrame {
			t.lg.Warn("oversized frame from peer; closing", zap.Uint64("peer", from), zap.Uint32("bytes", n))
			return
		}
		if cap(buf) < int(n) {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(br, buf); err != nil {
			t.lost(from, err)
			return
		}
		if n == 0 {
			continue
		}
		if buf[0] == frameApp {
			t.h.ReceiveApp(from, buf[1:])
			continue
		}
		m := &raftpb.Message{}
		if err := gproto.Unmarshal(buf[1:], m); err != nil {
			t.lg.Warn("undecodable message from peer; closing", zap.Uint64("peer", from), zap.Error(err))
			return
		}
		if len(buf) > 1<<20 {
			buf = nil // don't pin a snapshot-sized buffer
		}
		t.h.Receive(m)
	}
}

func (t *Transport) lost(from uint64, err error) {
	select {
	case <-t.stop:
		return
	default:
	}
	if !(errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isReset(err)) {
		return
	}
	// A dropped connection alone is not proof of death: a live member
	// closes a connection whose writes timed out, and a proxy or a
	// firewall may cut one. Its listening port tells: the host of a dead
	// process refuses at once, a live one accepts. Anything else (a
	// timeout) proves nothing, and the election timeout decides.
	if p := t.peer(from); p != nil {
		if dead, seen := refuses(p.address(), t.probeTimeout(), probeSettle); !dead {
			t.lg.Info("peer connection dropped but the peer still accepts connections; not treating it as dead",
				zap.Uint64("peer", from), zap.Error(err), zap.String("probe", seen))
			return
		}
	}
	t.h.PeerLost(from)
}

func (t *Transport) probeTimeout() time.Duration {
	if t.cfg.ProbeTimeout > 0 {
		return t.cfg.ProbeTimeout
	}
	return 200 * time.Millisecond
}

// refuses reports whether addr actively refused a TCP connection within
// timeout: nothing listens there. The probe sends nothing; a member that
// accepts it sees a connection without hello and holds it, waiting for
// one, until the probe closes it.
//
// A connection can also complete in the kernel's backlog of a listener
// whose process is being killed at that moment (its peer connections are
// closed a little before its listener): the dial succeeds, then the
// listener's close resets it. So a dial that succeeds is watched for
// settle: a reset or an end of stream then means the process is gone
// (a probe fired within a millisecond of a kill can be accepted this way,
// and taking that for life would make the survivors wait out an election
// timeout); silence means it is alive.
//
// seen says what the probe saw, for the log.
func refuses(addr string, timeout, settle time.Duration) (dead bool, seen string) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return errors.Is(err, syscall.ECONNREFUSED), "dial: " + err.Error()
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(settle))
	var b [1]byte
	n, err := c.Read(b[:])
	if err == nil {
		return false, fmt.Sprintf("connected; read %d bytes", n)
	}
	return errors.Is(err, io.EOF) || isReset(err), "connected; then " + err.Error()
}

// probeSettle is how long a probe that connected watches for the reset of
// a dying listener.
const probeSettle = 100 * time.Millisecond

type peer struct {
	t    *Transport
	id   uint64
	addr string
	q    chan *raftpb.Message
	mu   sync.Mutex
	conn net.Conn
}

func (p *peer) address() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr
}

func (p *peer) closeConn() {
	p.mu.Lock()
	if p.conn != nil {
		_ = p.conn.Close()
	}
	p.mu.Unlock()
}

func (p *peer) dial() (net.Conn, error) {
	d := net.Dialer{Timeout: 2 * time.Second, KeepAlive: 5 * time.Second}
	var c net.Conn
	var err error
	if p.t.cfg.ClientTLS != nil {
		c, err = tls.DialWithDialer(&d, "tcp", p.address(), p.t.cfg.ClientTLS)
	} else {
		c, err = d.Dial("tcp", p.address())
	}
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	var hello [12]byte
	binary.BigEndian.PutUint32(hello[:4], helloMagic)
	binary.BigEndian.PutUint64(hello[4:], p.t.cfg.ID)
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(hello[:]); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

func (p *peer) run() {
	defer p.t.wg.Done()
	var bw *bufio.Writer
	backoff := 20 * time.Millisecond
	var frame []byte
	for {
		var m *raftpb.Message
		select {
		case <-p.t.stop:
			p.closeConn()
			return
		case m = <-p.q:
		}
		p.mu.Lock()
		c := p.conn
		p.mu.Unlock()
		if c == nil {
			nc, err := p.dial()
			if err != nil {
				p.t.h.Unreachable(p.id)
				if m.GetType() == raftpb.MessageType_MsgSnap {
					p.t.h.SnapshotSent(p.id, false)
				}
				// Drop what queued up meanwhile: raft will resend.
				p.drain()
				select {
				case <-p.t.stop:
					return
				case <-time.After(backoff):
				}
				if backoff < 500*time.Millisecond {
					backoff *= 2
				}
				continue
			}
			backoff = 20 * time.Millisecond
			p.mu.Lock()
			p.conn = nc
			p.mu.Unlock()
			c = nc
			bw = bufio.NewWriterSize(c, 256<<10)
		}
		ok := true
		for {
			frame = appendMessage(frame[:0], m)
			if m.GetType() == raftpb.MessageType_MsgSnap {
				_ = c.SetWriteDeadline(time.Now().Add(60 * time.Second))
			} else {
				_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			}
			if _, err := bw.Write(frame); err != nil {
				ok = false
			}
			if m.GetType() == raftpb.MessageType_MsgSnap {
				if err := bw.Flush(); err != nil {
					ok = false
				}
				p.t.h.SnapshotSent(p.id, ok)
			}
			if !ok {
				break
			}
			// Batch what is already queued into one write.
			select {
			case m = <-p.q:
				continue
			default:
			}
			break
		}
		if ok {
			if err := bw.Flush(); err != nil {
				ok = false
			}
		}
		if cap(frame) > 1<<20 {
			frame = nil
		}
		if !ok {
			p.t.h.Unreachable(p.id)
			p.mu.Lock()
			_ = p.conn.Close()
			p.conn = nil
			p.mu.Unlock()
		}
	}
}

func (p *peer) drain() {
	for {
		select {
		case m := <-p.q:
			if m.GetType() == raftpb.MessageType_MsgSnap {
				p.t.h.SnapshotSent(p.id, false)
			}
		default:
			return
		}
	}
}

// Frame kinds: the byte after the length.
const (
	frameRaft byte = 0
	frameApp  byte = 1
)

func appendMessage(dst []byte, m *raftpb.Message) []byte {
	if m.GetType() == appMessageType {
		// An application message smuggled through the queue: its payload
		// rides in Context.
		dst = binary.BigEndian.AppendUint32(dst, uint32(1+len(m.Context)))
		dst = append(dst, frameApp)
		return append(dst, m.Context...)
	}
	dst = append(dst, 0, 0, 0, 0, frameRaft)
	out, err := gproto.MarshalOptions{}.MarshalAppend(dst, m)
	if err != nil {
		return dst[:0]
	}
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	return out
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET)
}
