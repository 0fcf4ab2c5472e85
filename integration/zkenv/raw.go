package zkenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

// RawConn is a synchronous, single-goroutine ZooKeeper client over the wire
// codec. It exists for what the Go client library cannot do or hides:
// opcodes it lacks (multiRead, addWatch, whoAmI...), crafted handshakes, the
// exact order of notifications relative to replies, and malformed frames.
// Every read and write carries a deadline.
type RawConn struct {
	c        net.Conn
	timeout  time.Duration
	xid      int32
	buf      []byte
	pending  []proto.WatcherEvent // notifications read but not yet handed out
	Session  proto.ConnectResponse
	LastZxid int64
}

// DialRaw opens a TCP connection without any handshake.
func DialRaw(addr string, timeout time.Duration) (*RawConn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return &RawConn{c: c, timeout: timeout}, nil
}

// ConnectRaw dials and opens a new session asking for sessionTimeout.
func ConnectRaw(addr string, sessionTimeout time.Duration) (*RawConn, error) {
	r, err := DialRaw(addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	resp, err := r.Handshake(proto.ConnectRequest{
		TimeOut: int32(sessionTimeout.Milliseconds()),
		Passwd:  make([]byte, 16),
	})
	if err != nil {
		r.Close()
		return nil, err
	}
	if resp.SessionID == 0 {
		r.Close()
		return nil, errors.New("handshake refused: session id 0")
	}
	return r, nil
}

// ResumeRaw dials addr and asks to resume session s there, with the
// client's last seen zxid lastZxid, as a client does after losing its
// connection. It returns the server's answer: a server may refuse (session
// id 0, or a closed connection) and the caller judges.
func ResumeRaw(addr string, s proto.ConnectResponse, lastZxid int64) (*RawConn, proto.ConnectResponse, error) {
	r, err := DialRaw(addr, 10*time.Second)
	if err != nil {
		return nil, proto.ConnectResponse{}, err
	}
	resp, err := r.Handshake(proto.ConnectRequest{TimeOut: s.TimeOut, SessionID: s.SessionID, Passwd: s.Passwd, LastZxidSeen: lastZxid})
	if err != nil {
		r.Close()
		return nil, resp, err
	}
	return r, resp, nil
}

// Handshake sends a ConnectRequest and reads the ConnectResponse.
func (r *RawConn) Handshake(req proto.ConnectRequest) (proto.ConnectResponse, error) {
	if err := r.WriteFrame(proto.AppendFrame(nil, &req)); err != nil {
		return proto.ConnectResponse{}, err
	}
	f, err := r.ReadFrame()
	if err != nil {
		return proto.ConnectResponse{}, fmt.Errorf("read connect response: %w", err)
	}
	var resp proto.ConnectResponse
	if err := proto.Unmarshal(f, &resp); err != nil {
		return resp, fmt.Errorf("decode connect response: %w", err)
	}
	r.Session = resp
	return resp, nil
}

// WriteFrame writes raw bytes (a frame built by the caller, possibly a
// malformed one) with the write deadline.
func (r *RawConn) WriteFrame(b []byte) error {
	_ = r.c.SetWriteDeadline(time.Now().Add(r.timeout))
	if _, err := r.c.Write(b); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	return nil
}

// ReadFrame reads one length-prefixed frame with the read deadline.
func (r *RawConn) ReadFrame() ([]byte, error) {
	_ = r.c.SetReadDeadline(time.Now().Add(r.timeout))
	f, err := proto.ReadFrame(r.c, r.buf, 16<<20)
	if err != nil {
		return nil, err
	}
	r.buf = f[:0]
	return f, nil
}

// Reply is one reply as read off the wire.
type Reply struct {
	Header proto.ReplyHeader
	// Events are the notifications that arrived before this reply, in order.
	Events []proto.WatcherEvent
}

// Call sends one request and reads frames until the reply with its xid,
// decoding the body into resp when the reply carries no error. Notifications
// that arrive first are returned in Reply.Events; pings are skipped.
func (r *RawConn) Call(op int32, req, resp proto.Record) (Reply, error) {
	r.xid++
	return r.CallXid(r.xid, op, req, resp)
}

// CallXid is Call with a caller-chosen xid (e.g. -4 for auth, -8 for setWatches).
func (r *RawConn) CallXid(xid, op int32, req, resp proto.Record) (Reply, error) {
	hdr := proto.RequestHeader{Xid: xid, Type: op}
	recs := []proto.Record{&hdr}
	if req != nil {
		recs = append(recs, req)
	}
	if err := r.WriteFrame(proto.AppendFrame(nil, recs...)); err != nil {
		return Reply{}, err
	}
	return r.ReadReply(xid, resp)
}

// ReadReply reads until the reply for xid, collecting notifications.
func (r *RawConn) ReadReply(xid int32, resp proto.Record) (Reply, error) {
	rep := Reply{Events: r.pending}
	r.pending = nil
	for i := 0; i < 10000; i++ {
		f, err := r.ReadFrame()
		if err != nil {
			return rep, fmt.Errorf("read reply xid %d: %w", xid, err)
		}
		d := proto.NewDecoder(f)
		var h proto.ReplyHeader
		h.Decode(d)
		if d.Err() != nil {
			return rep, fmt.Errorf("decode reply header: %w", d.Err())
		}
		if h.Zxid > r.LastZxid {
			r.LastZxid = h.Zxid
		}
		switch {
		case h.Xid == proto.XidNotification:
			var ev proto.WatcherEvent
			ev.Decode(d)
			rep.Events = append(rep.Events, ev)
			continue
		case h.Xid == proto.XidPing && xid != proto.XidPing:
			continue
		case h.Xid != xid:
			return rep, fmt.Errorf("reply xid %d while waiting for %d", h.Xid, xid)
		}
		rep.Header = h
		if h.Err == proto.ErrOK && resp != nil {
			resp.Decode(d)
			if d.Err() != nil {
				return rep, fmt.Errorf("decode reply body for xid %d: %w", xid, d.Err())
			}
		}
		return rep, nil
	}
	return rep, errors.New("no reply after 10000 frames")
}

// NextEvent waits up to timeout for a notification; pings are skipped.
// ok is false when none arrived in time.
func (r *RawConn) NextEvent(timeout time.Duration) (ev proto.WatcherEvent, ok bool, err error) {
	if len(r.pending) > 0 {
		ev, r.pending = r.pending[0], r.pending[1:]
		return ev, true, nil
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		_ = r.c.SetReadDeadline(deadline)
		f, err := proto.ReadFrame(r.c, r.buf, 16<<20)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return ev, false, nil
		}
		if err != nil {
			return ev, false, fmt.Errorf("read event: %w", err)
		}
		d := proto.NewDecoder(f)
		var h proto.ReplyHeader
		h.Decode(d)
		if h.Xid != proto.XidNotification {
			continue
		}
		ev.Decode(d)
		return ev, true, d.Err()
	}
	return ev, false, nil
}

// Ping sends a ping and waits for its reply; it keeps a raw session alive
// and flushes notifications that precede it into Reply.Events.
func (r *RawConn) Ping() (Reply, error) {
	return r.CallXid(proto.XidPing, proto.OpPing, nil, nil)
}

// WaitClosed reports whether the server closes the connection within
// timeout (reading and discarding anything it sends first).
func (r *RawConn) WaitClosed(timeout time.Duration) bool {
	_ = r.c.SetReadDeadline(time.Now().Add(timeout))
	b := make([]byte, 4096)
	for i := 0; i < 1<<16; i++ {
		if _, err := r.c.Read(b); err != nil {
			return !errors.Is(err, os.ErrDeadlineExceeded)
		}
	}
	return false
}

// CloseSession sends closeSession, waits for its reply, and closes the socket.
func (r *RawConn) CloseSession() error {
	_, err := r.Call(proto.OpCloseSession, nil, nil)
	r.Close()
	return err
}

// Close drops the TCP connection without closing the session.
func (r *RawConn) Close() { _ = r.c.Close() }

// LocalPort is the client-side port, which cons and stat list.
func (r *RawConn) LocalPort() int { return r.c.LocalAddr().(*net.TCPAddr).Port }
