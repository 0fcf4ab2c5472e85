package server

import (
	"bufio"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/quorum/proto"
	"github.com/zkfc-project/zkfc/quorum/sasl"
	"github.com/zkfc-project/zkfc/quorum/tree"
)

// maxOutstanding bounds the requests of one connection that are read but not
// yet answered. Past it the connection's reader stops reading, so a client
// that floods the server is slowed by TCP back-pressure instead of growing
// a queue.
const maxOutstanding = 1000

// conn is one client connection. Its reader goroutine decodes requests and
// executes or proposes them in order; its writer goroutine sends replies in
// request order, with watch notifications slipped in as soon as they exist
// (always before any reply that could reflect the change).
type conn struct {
	s        *Server
	nc       net.Conn
	remoteIP string
	started  time.Time

	// Set during the handshake, then read-only.
	sessionID int64
	timeout   time.Duration
	// readOnly marks a read-only client's connection (readonly.go).
	readOnly atomic.Bool

	authMu sync.Mutex
	auth   []proto.Id
	// saslConv is the connection's SASL exchange, once the client starts
	// one; only the reader goroutine touches it.
	saslConv *sasl.Conversation

	// dec decodes the request being handled (reader goroutine only).
	dec proto.Decoder

	replies chan *reply
	// lastWrite is the newest write (or sync) still waiting for its
	// commit; a read waits for it so that a session sees its own writes.
	// lastGate, when lastWrite is a write, lets a read wait without
	// stopping the reader: the read runs the moment that write is applied
	// (see writeGate).
	lastWrite *reply
	lastGate  *writeGate

	// notes holds the watch notifications not yet written.
	notes *mailbox[proto.WatcherEvent]

	closeOnce sync.Once
	closed    chan struct{}
	// sentClose is set when this connection sends closeSession: the
	// reply must go out before the connection closes.
	sentClose atomic.Bool

	// maxReply bounds one reply (maxResponseBytes).
	maxReply int

	received    atomic.Int64
	sent        atomic.Int64
	fourLetter  atomic.Bool
	outstanding atomic.Int64
	lastZxid    atomic.Int64
	lastOp      atomic.Int32
	lastLatency atomic.Int64
	minLatency  atomic.Int64
	maxLatency  atomic.Int64
	sumLatency  atomic.Int64
	lastCxid    atomic.Int32
	lastActive  atomic.Int64
}

// reply is one answer, in request order. done is closed when hdr and body
// are final.
type reply struct {
	hdr        proto.ReplyHeader
	body       proto.Record
	done       chan struct{}
	start      time.Time
	op         int32
	closeAfter bool
	// errBody sends body although hdr.Err is set, as ZooKeeper does for
	// a multiRead that stopped at an op it cannot read.
	errBody bool
	// last is no reply: the writer closes the connection when it gets
	// there, after the replies queued before it (closeAfterReplies).
	last bool
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (s *Server) accept(ln net.Listener) error {
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				if backoff == 0 {
					backoff = 5 * time.Millisecond
				} else if backoff < time.Second {
					backoff *= 2
				}
				s.lg.Warn("accept", zap.Error(err), zap.Duration("retry_in", backoff))
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("accept clients: %w", err)
		}
		backoff = 0
		host, _, _ := net.SplitHostPort(nc.RemoteAddr().String())
		if !s.admitConn(host) {
			s.lg.Warn("too many connections from one address; closing",
				zap.String("ip", host), zap.Int("maxClientCnxns", s.cfg.MaxClientCnxns))
			s.metrics.refused.Inc()
			_ = nc.Close()
			continue
		}
		c := &conn{
			s: s, nc: nc, remoteIP: host, started: time.Now(),
			replies: make(chan *reply, maxOutstanding),
			notes:   newMailbox[proto.WatcherEvent](),
			closed:  make(chan struct{}),
			auth:    []proto.Id{{Scheme: "ip", ID: host}},
		}
		c.minLatency.Store(-1)
		c.maxReply = s.cfg.MaxResponseBytes
		if c.maxReply <= 0 {
			c.maxReply = 64 << 20
		}
		s.connMu.Lock()
		s.conns[c] = struct{}{}
		s.connMu.Unlock()
		go c.serve()
	}
}

func isTemporary(err error) bool {
	type temporary interface{ Temporary() bool }
	var t temporary
	return errors.As(err, &t) && t.Temporary()
}

// admitConn enforces maxClientCnxns per client address.
func (s *Server) admitConn(ip string) bool {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if s.cfg.MaxClientCnxns > 0 && s.perIP[ip] >= s.cfg.MaxClientCnxns {
		return false
	}
	s.perIP[ip]++
	return true
}

func (s *Server) forgetConn(c *conn) {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if _, ok := s.conns[c]; !ok {
		return
	}
	delete(s.conns, c)
	s.perIP[c.remoteIP]--
	if s.perIP[c.remoteIP] <= 0 {
		delete(s.perIP, c.remoteIP)
	}
	if c.sessionID != 0 && s.bySession[c.sessionID] == c {
		delete(s.bySession, c.sessionID)
	}
}

// drainConns closes every connection, giving replies already committed a
// moment to go out.
func (s *Server) drainConns(wait time.Duration) {
	s.connMu.Lock()
	cs := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		cs = append(cs, c)
	}
	s.connMu.Unlock()
	deadline := time.Now().Add(wait)
	for _, c := range cs {
		for c.outstanding.Load() > 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		c.close()
	}
}

func (c *conn) close() {
	c.closeOnce.Do(func() {
		close(c.closed)
		_ = c.nc.Close()
		c.s.watches.RemoveWatcher(c)
		c.s.forgetConn(c)
	})
}

// sessionClosed is called when this connection's session was closed or
// expired: ZooKeeper closes the connection, and the client, reconnecting,
// learns that its session expired. A session closed elsewhere (expired, or
// moved to another member and closed there) loses its connection at once,
// before it can answer anything more, as ZooKeeper's does.
func (c *conn) sessionClosed() {
	if !c.sentClose.Load() {
		c.close()
		return
	}
	// The writer closes the connection after the closeSession reply; this
	// bounds the wait should the reply never be written.
	go func() {
		select {
		case <-c.closed:
		case <-time.After(200 * time.Millisecond):
			c.close()
		}
	}()
}

func (c *conn) serve() {
	defer c.close()
	br := bufio.NewReaderSize(c.nc, 64<<10)
	maxBuf := c.s.cfg.MaxBuffer
	if maxBuf <= 0 {
		maxBuf = proto.DefaultMaxBuffer
	}
	// The first four bytes are a frame length or a four-letter word.
	_ = c.nc.SetReadDeadline(time.Now().Add(c.handshakeTimeout()))
	var first [4]byte
	if _, err := io.ReadFull(br, first[:]); err != nil {
		return
	}
	c.tlsIdentity()
	if c.s.isFourLetterWord(first[:]) {
		// As in ZooKeeper, the command counts as a received packet and
		// the connection is listed (by stat, cons) without a session.
		c.fourLetter.Store(true)
		c.received.Add(1)
		c.s.serveFourLetterWord(c.nc, string(first[:]))
		return
	}
	n := int32(binary.BigEndian.Uint32(first[:]))
	if n < 0 || int(n) > maxBuf {
		c.s.lg.Info("closing connection: bad handshake length", zap.String("client", c.nc.RemoteAddr().String()), zap.Int32("length", n))
		return
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(br, buf); err != nil {
		return
	}
	if !c.handshake(buf) {
		return
	}
	_ = c.nc.SetReadDeadline(time.Time{})
	writerDone := make(chan struct{})
	go func() { defer close(writerDone); c.writeLoop() }()
	if c.readLoop(br, maxBuf) {
		// closeSession or a failed auth: let the writer send the last
		// replies, which end with one that closes the connection.
		select {
		case <-writerDone:
		case <-time.After(5 * time.Second):
		}
	}
}

func (c *conn) handshakeTimeout() time.Duration {
	t := 2 * c.s.cfg.TickTime
	if t < 2*time.Second {
		t = 2 * time.Second
	}
	return t
}

// handshake answers the ConnectRequest. It creates a session through the
// log, or resumes one after checking its password.
func (c *conn) handshake(buf []byte) bool {
	var req proto.ConnectRequest
	if err := proto.Unmarshal(buf, &req); err != nil {
		c.s.lg.Info("closing connection: malformed ConnectRequest", zap.String("client", c.nc.RemoteAddr().String()), zap.Error(err))
		return false
	}
	if c.s.readOnly() {
		return c.handshakeReadOnly(req)
	}
	if !c.s.serving.Load() || !c.s.ready.Load() || c.s.removed.Load() {
		c.s.lg.Info("refusing client: this member has no leader", zap.String("client", c.nc.RemoteAddr().String()))
		return false
	}
	last := c.s.lastZxid()
	if req.LastZxidSeen > last {
		c.s.lg.Info("refusing session request: client has seen a newer zxid; client must try another server",
			zap.String("client", c.nc.RemoteAddr().String()),
			zap.String("client_zxid", fmt.Sprintf("0x%x", req.LastZxidSeen)),
			zap.String("our_zxid", fmt.Sprintf("0x%x", last)))
		return false
	}
	resp := proto.ConnectResponse{HasReadOnly: req.HasReadOnly}
	if req.SessionID == 0 {
		to := c.s.negotiateTimeout(req.TimeOut)
		id := c.s.newSessionID()
		pw := randomPasswd()
		e := &tree.Entry{Time: time.Now().UnixMilli(), Session: id, Op: proto.OpCreateSession,
			Req: &tree.CreateSession{ID: id, Timeout: int32(to / time.Millisecond), Passwd: pw}}
		_, res, err := c.s.proposeWait(e, c.handshakeTimeout())
		if err != nil || res.Err != proto.ErrOK {
			c.s.lg.Warn("could not create session", zap.Error(err), zap.String("code", res.Err.Error()))
			return false
		}
		c.sessionID, c.timeout = id, to
		resp.TimeOut, resp.SessionID, resp.Passwd = int32(to/time.Millisecond), id, pw
		c.s.lg.Debug("session created", zap.String("session", sessionHex(id)), zap.Duration("timeout", to))
	} else if !c.resume(req, &resp, func() bool { return c.s.sessions.touch(req.SessionID) }) {
		return false
	}
	c.s.bindSession(c)
	return c.writeRaw(proto.AppendFrame(nil, &resp))
}

// resume takes up the session a ConnectRequest names if this member knows
// it, the password matches and alive says it lives, filling resp. Otherwise
// it answers as for an expired or unknown session: timeOut 0, id 0, zero
// password, then close, which clients read as session expired.
func (c *conn) resume(req proto.ConnectRequest, resp *proto.ConnectResponse, alive func() bool) bool {
	c.s.mu.RLock()
	si, ok := c.s.tree.Session(req.SessionID)
	c.s.mu.RUnlock()
	if !ok || subtle.ConstantTimeCompare(si.Passwd, req.Passwd) != 1 || !alive() {
		resp.Passwd = make([]byte, 16)
		c.writeRaw(proto.AppendFrame(nil, resp))
		return false
	}
	c.sessionID, c.timeout = si.ID, time.Duration(si.Timeout)*time.Millisecond
	resp.TimeOut, resp.SessionID, resp.Passwd = si.Timeout, si.ID, si.Passwd
	return true
}

func (c *conn) writeRaw(b []byte) bool {
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.handshakeTimeout()))
	_, err := c.nc.Write(b)
	_ = c.nc.SetWriteDeadline(time.Time{})
	return err == nil
}

// bindSession makes c the connection of its session; an older connection of
// the same session is closed, as ZooKeeper does.
func (s *Server) bindSession(c *conn) {
	s.connMu.Lock()
	old := s.bySession[c.sessionID]
	s.bySession[c.sessionID] = c
	s.connMu.Unlock()
	if old != nil && old != c {
		old.close()
	}
}

func (s *Server) negotiateTimeout(requested int32) time.Duration {
	to := time.Duration(requested) * time.Millisecond
	minT, maxT := s.cfg.MinSessionTimeout, s.cfg.MaxSessionTimeout
	if minT <= 0 {
		minT = 2 * s.cfg.TickTime
	}
	if maxT <= 0 {
		maxT = 20 * s.cfg.TickTime
	}
	if to < minT {
		to = minT
	}
	if to > maxT {
		to = maxT
	}
	return to
}

// readLoop reads requests until the connection ends. It returns true when
// the connection ends on purpose (closeSession, failed auth), so the
// replies already queued must still be written.
func (c *conn) readLoop(br *bufio.Reader, maxBuf int) bool {
	var buf []byte
	for {
		frame, err := proto.ReadFrame(br, buf, maxBuf)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				c.s.lg.Info("closing connection", zap.String("client", c.nc.RemoteAddr().String()),
					zap.String("session", sessionHex(c.sessionID)), zap.Error(err))
			}
			return false
		}
		if cap(frame) <= 1<<16 {
			buf = frame[:0]
		} else {
			buf = nil
		}
		c.received.Add(1)
		c.s.stats.received.Add(1)
		c.lastActive.Store(time.Now().UnixMilli())
		if c.readOnly.Load() {
			c.s.roSessions.touch(c.sessionID)
		} else {
			c.s.sessions.touch(c.sessionID)
		}
		if !c.handle(frame) {
			return true
		}
	}
}

// enqueue adds a reply in request order; it blocks when maxOutstanding
// replies are waiting, which stops this connection's reader.
// closeAfterReplies closes the connection once the replies already
// queued are written (at once if the queue is full).
func (c *conn) closeAfterReplies() {
	select {
	case c.replies <- &reply{last: true, done: closedChan}:
	case <-c.closed:
	default:
		c.close()
	}
}

func (c *conn) enqueue(r *reply) bool {
	c.outstanding.Add(1)
	c.s.stats.outstanding.Add(1)
	select {
	case c.replies <- r:
		return true
	case <-c.closed:
		c.outstanding.Add(-1)
		c.s.stats.outstanding.Add(-1)
		return false
	}
}

// Notify queues a watch notification; it never blocks (watch.Watcher).
// Its callers hold the tree lock (Trigger while an entry is applied,
// setWatches while reading), so the tree can be read here.
func (c *conn) Notify(ev proto.WatcherEvent) {
	if _, ok := c.s.tree.Session(c.sessionID); !ok {
		// The session ended in the entry being applied: its connection
		// is about to close and must not report the deletion of its own
		// ephemerals (ZooKeeper closes it before they are deleted).
		return
	}
	c.notes.put(ev)
}

func (c *conn) writeLoop() {
	defer c.close()
	bw := bufio.NewWriterSize(c.nc, 64<<10)
	var out []byte
	// One encoder for the connection's life: proto.AppendFrame would put
	// a new one (and its argument slice) on the heap for every reply.
	enc := &proto.Encoder{}
	frame := func(dst []byte, hdr *proto.ReplyHeader, body proto.Record) []byte {
		enc.Buf = append(dst, 0, 0, 0, 0)
		hdr.Encode(enc)
		if body != nil {
			body.Encode(enc)
		}
		binary.BigEndian.PutUint32(enc.Buf[len(dst):], uint32(len(enc.Buf)-len(dst)-4))
		return enc.Buf
	}
	flushNotes := func() {
		for _, ev := range c.notes.take() {
			ev := ev
			hdr := proto.ReplyHeader{Xid: proto.XidNotification, Zxid: -1}
			out = frame(out[:0], &hdr, &ev)
			_, _ = bw.Write(out)
			c.sent.Add(1)
			c.s.stats.sent.Add(1)
		}
	}
	flush := func() bool {
		if err := bw.Flush(); err != nil {
			return false
		}
		return true
	}
	for {
		var r *reply
		select {
		case <-c.closed:
			return
		case <-c.notes.wake():
			flushNotes()
			if !flush() {
				return
			}
			continue
		case r = <-c.replies:
		}
		select {
		case <-r.done:
		default:
			// The next reply waits for its commit: send the ones already
			// written before waiting, or a client with several requests in
			// flight would get an answer only when a later one commits.
			if bw.Buffered() > 0 && !flush() {
				return
			}
		}
	wait:
		for {
			select {
			case <-r.done:
				break wait
			case <-c.notes.wake():
				flushNotes()
				if !flush() {
					return
				}
			case <-c.closed:
				return
			}
		}
		flushNotes()
		if r.last {
			flush()
			return
		}
		if r.body != nil && (r.hdr.Err == proto.ErrOK || r.errBody) {
			out = frame(out[:0], &r.hdr, r.body)
			if len(out)-4 > c.maxReply {
				// Bound what one request can make the server build and
				// send (a listing of very many children, typically);
				// ZooKeeper itself has no such bound.
				c.s.lg.Warn("reply larger than maxResponseBytes refused", zap.String("op", proto.OpName(r.op)),
					zap.Int("bytes", len(out)-4), zap.Int("maxResponseBytes", c.maxReply))
				r.hdr.Err = proto.ErrMarshallingError
				out = frame(out[:0], &r.hdr, nil)
			}
		} else {
			out = frame(out[:0], &r.hdr, nil)
		}
		if _, err := bw.Write(out); err != nil {
			return
		}
		c.sent.Add(1)
		c.s.stats.sent.Add(1)
		c.outstanding.Add(-1)
		c.s.stats.outstanding.Add(-1)
		c.lastZxid.Store(r.hdr.Zxid)
		if r.hdr.Xid != proto.XidPing {
			c.recordLatency(time.Since(r.start))
		}
		if cap(out) > 1<<20 {
			out = nil
		}
		if r.closeAfter {
			flush()
			return
		}
		if len(c.replies) == 0 {
			if !flush() {
				return
			}
		}
	}
}

func (c *conn) recordLatency(d time.Duration) {
	ms := d.Microseconds()
	c.lastLatency.Store(ms)
	c.sumLatency.Add(ms)
	if m := c.minLatency.Load(); m < 0 || ms < m {
		c.minLatency.Store(ms)
	}
	if ms > c.maxLatency.Load() {
		c.maxLatency.Store(ms)
	}
	c.s.stats.observeLatency(ms)
	c.s.metrics.latency.Observe(d.Seconds())
}

// authIDs returns the connection's identities. The slice is shared, not
// copied (every request reads it): addAuth only ever appends, past the
// length of any slice handed out, and the capacity is clipped so a caller
// that appends gets its own array.
func (c *conn) authIDs() []proto.Id {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	return c.auth[:len(c.auth):len(c.auth)]
}

func (c *conn) addAuth(ids ...proto.Id) {
	c.authMu.Lock()
	defer c.authMu.Unlock()
outer:
	for _, id := range ids {
		for _, have := range c.auth {
			if have == id {
				continue outer
			}
		}
		c.auth = append(c.auth, id)
	}
}
