package server

import (
	"crypto/sha1"
	"encoding/base64"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/quorum/proto"
	"github.com/zkfc-project/zkfc/quorum/tree"
	"github.com/zkfc-project/zkfc/quorum/watch"
)

// handle executes or proposes one request. It returns false when the
// connection must be closed (malformed request, failed auth, closeSession).
func (c *conn) handle(frame []byte) bool {
	// The connection's own decoder, reset per request: only the reader
	// goroutine runs handle, and a fresh one per request would be a heap
	// allocation (the records decode through an interface).
	c.dec = proto.Decoder{Buf: frame}
	d := &c.dec
	var hdr proto.RequestHeader
	hdr.Decode(d)
	if d.Err() != nil {
		// Not even a header: ZooKeeper drops the connection.
		c.close()
		return false
	}
	start := time.Now()
	c.lastCxid.Store(hdr.Xid)
	c.lastOp.Store(hdr.Type)
	c.s.metrics.countRequest(hdr.Type)

	switch hdr.Type {
	case proto.OpDeleteContainer:
		// Only the server reaps containers.
		return c.answer(c.errReply(hdr, proto.ErrBadArguments, start))
	case proto.OpCreateSession:
		// A session is created by the handshake; ZooKeeper cannot decode
		// this one's body.
		return c.answer(c.errReply(hdr, proto.ErrMarshallingError, start))
	}
	rec := proto.NewRequestRecord(hdr.Type)
	if rec == nil {
		// ZooKeeper answers an unknown type outside its pipeline, with the
		// request's unset zxid, -1, and drops the connection.
		c.s.lg.Info("closing connection: unknown request type", zap.String("client", c.nc.RemoteAddr().String()),
			zap.Int32("type", hdr.Type), zap.String("session", sessionHex(c.sessionID)))
		c.answer(&reply{hdr: proto.ReplyHeader{Xid: hdr.Xid, Zxid: -1, Err: proto.ErrUnimplemented}, start: start, closeAfter: true})
		return false
	}
	rec.Decode(d)
	if d.Err() != nil {
		// A body that does not decode (a bogus length or count) gets
		// MarshallingError and the session goes on, as in ZooKeeper; the
		// framing is intact, so the next request is read normally.
		c.s.lg.Info("malformed request", zap.String("client", c.nc.RemoteAddr().String()),
			zap.String("op", proto.OpName(hdr.Type)), zap.Error(d.Err()))
		return c.answer(c.errReply(hdr, proto.ErrMarshallingError, start))
	}
	if p := requestPath(rec); p != nil && *p == "" && !proto.IsWrite(hdr.Type) {
		// ZooKeeper's data tree keys its root under "" too, so reads of
		// the empty path see the root.
		*p = "/"
	}

	if c.readOnly.Load() {
		switch {
		case hdr.Type == proto.OpCloseSession:
			// The session is this member's alone: nothing to log.
			c.s.roSessions.remove(c.sessionID)
			c.sentClose.Store(true)
			c.answer(&reply{hdr: proto.ReplyHeader{Xid: hdr.Xid, Zxid: c.s.lastZxid()}, start: start, op: hdr.Type, closeAfter: true})
			return false
		case refusedReadOnly(hdr.Type):
			return c.answer(c.errReply(hdr, proto.ErrNotReadOnly, start))
		}
	}
	switch hdr.Type {
	case proto.OpPing:
		return c.answer(&reply{hdr: proto.ReplyHeader{Xid: proto.XidPing, Zxid: c.s.lastZxid()}, start: start, op: hdr.Type})
	case proto.OpAuth:
		return c.handleAuth(hdr, rec.(*proto.AuthPacket), start)
	case proto.OpSASL:
		return c.handleSASL(hdr, rec.(*proto.SASLRequest), start)
	case proto.OpCloseSession:
		c.sentClose.Store(true)
		return c.proposeWrite(hdr, &tree.Entry{Op: proto.OpCloseSession, Req: proto.Empty{}}, start, true)
	case proto.OpReconfig:
		return c.handleReconfig(hdr, rec.(*proto.ReconfigRequest), start)
	case proto.OpSync:
		return c.sync(hdr, rec.(*proto.PathRequest), start)
	}

	if proto.IsWrite(hdr.Type) {
		if code := c.s.checkWrite(hdr.Type, rec); code != proto.ErrOK {
			return c.answer(c.errReply(hdr, code, start))
		}
		return c.proposeWrite(hdr, &tree.Entry{Op: hdr.Type, Req: rec}, start, false)
	}
	// A read must see this session's earlier writes.
	if c.lastGate != nil {
		r := &reply{hdr: proto.ReplyHeader{Xid: hdr.Xid}, done: make(chan struct{}), start: start, op: hdr.Type}
		if !c.enqueue(r) {
			return false
		}
		deferred := c.lastGate.defer_(func(failed, locked bool) {
			switch {
			case failed:
				r.hdr.Err = proto.ErrConnectionLoss
				r.hdr.Zxid = c.s.lastZxid()
				r.closeAfter = true
			case locked:
				c.readLocked(hdr, rec, r)
			default:
				c.s.mu.RLock()
				c.readLocked(hdr, rec, r)
				c.s.mu.RUnlock()
			}
			close(r.done)
		})
		if deferred {
			// The reader goes on: later requests of the session, writes
			// included, are proposed while this read waits, and the read
			// still sees exactly the writes issued before it.
			return true
		}
		// The write was applied already; the read is served now.
		c.lastGate, c.lastWrite = nil, nil
		c.s.mu.RLock()
		c.readLocked(hdr, rec, r)
		c.s.mu.RUnlock()
		close(r.done)
		return true
	}
	if c.lastWrite != nil {
		select {
		case <-c.lastWrite.done:
		case <-c.closed:
			return false
		}
		c.lastWrite = nil
	}
	r := c.read(hdr, rec, start)
	return c.answer(r)
}

// writeGate orders a session's reads after its pending write without
// blocking the connection's reader. A read that arrives while the write is
// pending is deferred on the gate; the raft goroutine runs the deferred
// reads right after it applied that write's entry and before it applies
// the next entry, with the tree still locked, so each read sees the
// session's earlier writes and none of its later ones, as if it had waited.
type writeGate struct {
	mu     sync.Mutex
	open   bool
	failed bool
	reads  []func(failed, locked bool)
}

// defer_ queues read to run when the gate opens and reports true, or
// reports false if the gate is open already (the caller reads at once).
func (g *writeGate) defer_(read func(failed, locked bool)) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open && !g.failed {
		return false
	}
	if g.open { // failed: answer as the write was answered
		read(true, false)
		return true
	}
	g.reads = append(g.reads, read)
	return true
}

// release opens the gate and runs the deferred reads in order. locked says
// the caller holds the tree lock (the raft goroutine during apply). Only
// the first call counts.
func (g *writeGate) release(failed, locked bool) {
	g.mu.Lock()
	if g.open {
		g.mu.Unlock()
		return
	}
	g.open, g.failed = true, failed
	reads := g.reads
	g.reads = nil
	g.mu.Unlock()
	for _, read := range reads {
		read(failed, locked)
	}
}

func (c *conn) errReply(hdr proto.RequestHeader, code proto.Err, start time.Time) *reply {
	return &reply{hdr: proto.ReplyHeader{Xid: hdr.Xid, Zxid: c.s.lastZxid(), Err: code}, start: start, op: hdr.Type}
}

// answer queues a reply that is already final.
func (c *conn) answer(r *reply) bool {
	r.done = closedChan
	return c.enqueue(r)
}

func (c *conn) proposeWrite(hdr proto.RequestHeader, e *tree.Entry, start time.Time, closeAfter bool) bool {
	return c.submitWrite(hdr, e, start, closeAfter, nil)
}

// submitWrite proposes e and answers when it is applied; conf, for a
// reconfig, is the membership it asks for.
func (c *conn) submitWrite(hdr proto.RequestHeader, e *tree.Entry, start time.Time, closeAfter bool, conf []member) bool {
	e.Time = time.Now().UnixMilli()
	e.Session = c.sessionID
	e.Auth = c.authIDs()
	r := &reply{hdr: proto.ReplyHeader{Xid: hdr.Xid}, done: make(chan struct{}), start: start, op: hdr.Type, closeAfter: closeAfter}
	if !c.enqueue(r) {
		return false
	}
	gate := &writeGate{}
	c.lastWrite, c.lastGate = r, gate
	p := &proposal{data: encodeProposal(e), applied: func() { gate.release(false, true) }, conf: conf}
	p.done = func(zxid int64, res tree.Result, err error) {
		// Normally the gate opened when the entry was applied; a write
		// that failed, or that was applied without this member knowing it
		// as its own, opens it here.
		defer gate.release(err != nil, false)
		if err != nil {
			// The outcome is unknown: close the connection, as ZooKeeper
			// does, so the client sees a connection loss, not a lie.
			r.hdr.Err = proto.ErrConnectionLoss
			r.hdr.Zxid = c.s.lastZxid()
			r.closeAfter = true
			close(r.done)
			return
		}
		r.hdr.Zxid = zxid
		r.hdr.Err = res.Err
		r.body = res.Resp
		if r.op == proto.OpCheck && res.Err == proto.ErrOK {
			r.body = nil
		}
		close(r.done)
	}
	if err := c.s.rep.propose(p, c.closed); err != nil {
		p.done(0, tree.Result{}, err)
		return false
	}
	return !closeAfter
}

// sync answers once this member has applied every write committed before
// the sync reached the leader (raft's ReadIndex), so reads after it on this
// connection see them. Later reads of this connection wait for it, like
// they wait for its writes.
func (c *conn) sync(hdr proto.RequestHeader, q *proto.PathRequest, start time.Time) bool {
	r := &reply{hdr: proto.ReplyHeader{Xid: hdr.Xid}, done: make(chan struct{}), start: start, op: hdr.Type}
	if !c.enqueue(r) {
		return false
	}
	c.lastWrite, c.lastGate = r, nil
	finish := func(ok bool) {
		r.hdr.Zxid = c.s.lastZxid()
		if ok {
			r.body = &proto.PathResponse{Path: q.Path}
		} else {
			r.hdr.Err = proto.ErrConnectionLoss
			r.closeAfter = true
		}
		close(r.done)
	}
	return c.s.rep.sync(finish, c.closed)
}

// checkWrite refuses, before they reach the log, writes that depend on this
// member's configuration rather than on the tree.
func (s *Server) checkWrite(op int32, rec proto.Record) proto.Err {
	ttl := func(flags int32) bool { return flags == proto.ModeTTL || flags == proto.ModeTTLSequential }
	switch r := rec.(type) {
	case *proto.CreateTTLRequest:
		if !s.cfg.ExtendedTypesEnabled {
			return proto.ErrUnimplemented
		}
		return s.checkACLSchemes(r.ACL)
	case *proto.CreateRequest:
		if ttl(r.Flags) {
			return proto.ErrBadArguments
		}
		return s.checkACLSchemes(r.ACL)
	case *proto.SetACLRequest:
		return s.checkACLSchemes(r.ACL)
	case *proto.MultiRequest:
		for _, o := range r.Ops {
			switch op := o.Op.(type) {
			case *proto.CreateTTLRequest:
				if !s.cfg.ExtendedTypesEnabled {
					return proto.ErrUnimplemented
				}
			case *proto.CreateRequest:
				if code := s.checkACLSchemes(op.ACL); code != proto.ErrOK {
					return code
				}
			}
		}
	}
	return proto.ErrOK
}

func (c *conn) handleAuth(hdr proto.RequestHeader, a *proto.AuthPacket, start time.Time) bool {
	// ZooKeeper answers auth outside the request pipeline, with zxid 0.
	rh := proto.ReplyHeader{Xid: proto.XidAuth}
	if hdr.Xid != proto.XidAuth {
		rh.Xid = hdr.Xid // go-zookeeper/zk sends auth with an ordinary xid
	}
	switch a.Scheme {
	case "digest":
		// As ZooKeeper's DigestAuthenticationProvider: the id is the part
		// before the first colon, then the SHA-1 of the whole credential;
		// a credential without a colon is accepted too.
		cred := string(a.Auth)
		user, _, _ := strings.Cut(cred, ":")
		sum := sha1.Sum(a.Auth)
		id := user + ":" + base64.StdEncoding.EncodeToString(sum[:])
		if c.s.cfg.SuperDigest != "" && id == c.s.cfg.SuperDigest {
			c.addAuth(proto.Id{Scheme: "super", ID: ""})
		}
		c.addAuth(proto.Id{Scheme: "digest", ID: id})
	case "ip":
		c.addAuth(proto.Id{Scheme: "ip", ID: c.remoteIP})
	default:
		rh.Err = proto.ErrAuthFailed
	}
	if rh.Err != proto.ErrOK {
		c.s.lg.Info("authentication failed; closing connection", zap.String("scheme", a.Scheme),
			zap.String("session", sessionHex(c.sessionID)))
		c.answer(&reply{hdr: rh, start: start, op: proto.OpAuth, closeAfter: true})
		return false
	}
	return c.answer(&reply{hdr: rh, start: start, op: proto.OpAuth})
}

// read serves a read-only request from the local tree. The tree lock is held
// across the read and the watch registration so that no change can slip
// between them.
func (c *conn) read(hdr proto.RequestHeader, rec proto.Record, start time.Time) *reply {
	r := &reply{hdr: proto.ReplyHeader{Xid: hdr.Xid}, start: start, op: hdr.Type}
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	c.readLocked(hdr, rec, r)
	return r
}

// readLocked is read into r, with the tree lock held by the caller (for
// reading, or for writing by the raft goroutine running deferred reads).
func (c *conn) readLocked(hdr proto.RequestHeader, rec proto.Record, r *reply) {
	s := c.s
	auth := c.authIDs()
	r.hdr.Zxid = s.lastZxid()
	switch hdr.Type {
	case proto.OpExists:
		q := rec.(*proto.PathWatchRequest)
		st, ok := s.tree.Exists(q.Path)
		if q.Watch {
			s.watches.Add(watch.Data, q.Path, c)
		}
		if !ok {
			r.hdr.Err = proto.ErrNoNode
			break
		}
		r.body = &proto.StatResponse{Stat: st}
	case proto.OpGetData:
		q := rec.(*proto.PathWatchRequest)
		data, st, err := s.tree.Get(q.Path, auth)
		if err != proto.ErrOK {
			r.hdr.Err = err
			break
		}
		if q.Watch {
			s.watches.Add(watch.Data, q.Path, c)
		}
		r.body = &proto.GetDataResponse{Data: data, Stat: st}
	case proto.OpGetChildren, proto.OpGetChildren2:
		q := rec.(*proto.PathWatchRequest)
		kids, st, err := s.tree.Children(q.Path, auth)
		if err != proto.ErrOK {
			r.hdr.Err = err
			break
		}
		if q.Watch {
			s.watches.Add(watch.Child, q.Path, c)
		}
		if hdr.Type == proto.OpGetChildren {
			r.body = &proto.GetChildrenResponse{Children: kids}
		} else {
			r.body = &proto.GetChildren2Response{Children: kids, Stat: st}
		}
	case proto.OpGetACL:
		q := rec.(*proto.PathRequest)
		acl, st, err := s.tree.GetACL(q.Path, auth)
		if err != proto.ErrOK {
			r.hdr.Err = err
			break
		}
		r.body = &proto.GetACLResponse{ACL: acl, Stat: st}
	case proto.OpGetAllChildrenNumber:
		q := rec.(*proto.PathRequest)
		n, err := s.tree.AllChildrenNumber(q.Path, auth)
		if err != proto.ErrOK {
			r.hdr.Err = err
			break
		}
		r.body = &proto.IntResponse{Value: n}
	case proto.OpGetEphemerals:
		q := rec.(*proto.PathRequest)
		r.body = &proto.StringsResponse{Values: nonNil(s.tree.Ephemerals(c.sessionID, q.Path))}
	case proto.OpMultiRead:
		q := rec.(*proto.MultiRequest)
		resp := &proto.MultiResponse{}
		reads := 0
		for _, op := range q.Ops {
			if op.Type == proto.OpGetData || op.Type == proto.OpGetChildren {
				reads++
			}
		}
		if reads > 0 && reads < len(q.Ops) {
			// ZooKeeper refuses to decode a multi that mixes reads and
			// writes: MarshallingError, no body.
			r.hdr.Err = proto.ErrMarshallingError
			break
		}
		for _, op := range q.Ops {
			p, ok := op.Op.(*proto.PathWatchRequest)
			if !ok || (op.Type != proto.OpGetData && op.Type != proto.OpGetChildren) {
				// Only writes: ZooKeeper decodes them, stops at the first
				// and answers MarshallingError with the (empty) results.
				r.hdr.Err = proto.ErrMarshallingError
				r.body, r.errBody = resp, true
				return
			}
			switch op.Type {
			case proto.OpGetData:
				data, st, err := s.tree.Get(p.Path, auth)
				if err != proto.ErrOK {
					resp.Results = append(resp.Results, proto.MultiResult{Type: proto.OpError, Err: err})
					continue
				}
				resp.Results = append(resp.Results, proto.MultiResult{Type: op.Type, Body: &proto.GetDataResponse{Data: data, Stat: st}})
			case proto.OpGetChildren:
				kids, _, err := s.tree.Children(p.Path, auth)
				if err != proto.ErrOK {
					resp.Results = append(resp.Results, proto.MultiResult{Type: proto.OpError, Err: err})
					continue
				}
				resp.Results = append(resp.Results, proto.MultiResult{Type: op.Type, Body: &proto.GetChildrenResponse{Children: kids}})
			}
		}
		r.body = resp
	case proto.OpSetWatches:
		q := rec.(*proto.SetWatchesRequest)
		c.setWatches(q.RelativeZxid, q.DataWatches, q.ExistWatches, q.ChildWatches, nil, nil)
		if hdr.Xid == proto.XidSetWatches {
			r.hdr.Xid = proto.XidSetWatches
		}
	case proto.OpSetWatches2:
		q := rec.(*proto.SetWatches2Request)
		c.setWatches(q.RelativeZxid, q.DataWatches, q.ExistWatches, q.ChildWatches, q.PersistentWatches, q.PersistentRecursiveWatches)
	case proto.OpAddWatch:
		q := rec.(*proto.AddWatchRequest)
		switch q.Mode {
		case proto.AddWatchPersistent:
			s.watches.Add(watch.Persistent, q.Path, c)
		case proto.AddWatchPersistentRecursive:
			s.watches.Add(watch.Recursive, q.Path, c)
		default:
			// ZooKeeper fails to map the mode (an exception that
			// FinalRequestProcessor answers as MarshallingError).
			r.hdr.Err = proto.ErrMarshallingError
		}
		// ZooKeeper answers addWatch with an ErrorResponse body (err 0),
		// and the Java client reads it: without it the client reads the
		// next frame as that body and drops the connection.
		r.body = &proto.IntResponse{}
	case proto.OpCheckWatches, proto.OpRemoveWatches:
		q := rec.(*proto.WatchesRequest)
		kinds := watch.Kinds(q.Type)
		if kinds == nil {
			// As addWatch's mode: ZooKeeper's WatcherType.fromInt throws.
			r.hdr.Err = proto.ErrMarshallingError
			break
		}
		var found bool
		if hdr.Type == proto.OpCheckWatches {
			found = s.watches.Check(kinds, q.Path, c)
		} else {
			found = s.watches.Remove(kinds, q.Path, c)
		}
		if !found {
			r.hdr.Err = proto.ErrNoWatcher
		}
	case proto.OpWhoAmI:
		resp := &proto.WhoAmIResponse{}
		for _, id := range auth {
			user := id.ID
			if id.Scheme == "digest" {
				user, _, _ = strings.Cut(id.ID, ":")
			}
			resp.ClientInfo = append(resp.ClientInfo, proto.ClientInfo{AuthScheme: id.Scheme, User: user})
		}
		r.body = resp
	default:
		r.hdr.Err = proto.ErrUnimplemented
	}
}

// setWatches re-registers a reconnecting client's watches, firing at once
// those whose condition already changed after relativeZxid. Called with the
// tree read-locked.
func (c *conn) setWatches(rel int64, data, exist, child, persistent, recursive []string) {
	s := c.s
	c.rewatch(rel, data, func(st proto.Stat) int64 { return st.Mzxid }, proto.EventNodeDataChanged, watch.Data)
	for _, p := range exist {
		if _, ok := s.tree.Exists(p); ok {
			c.Notify(proto.WatcherEvent{Type: proto.EventNodeCreated, State: proto.StateSyncConnected, Path: p})
		} else {
			s.watches.Add(watch.Data, p, c)
		}
	}
	c.rewatch(rel, child, func(st proto.Stat) int64 { return st.Pzxid }, proto.EventNodeChildrenChanged, watch.Child)
	for _, p := range persistent {
		s.watches.Add(watch.Persistent, p, c)
	}
	for _, p := range recursive {
		s.watches.Add(watch.Recursive, p, c)
	}
}

// rewatch re-registers kind watches on paths that still exist and did not
// change after rel (by the zxid of the stat that the watch is about); for
// the others it fires NodeDeleted or changed at once.
func (c *conn) rewatch(rel int64, paths []string, zxid func(proto.Stat) int64, changed int32, kind watch.Kind) {
	for _, p := range paths {
		st, ok := c.s.tree.Exists(p)
		switch {
		case !ok:
			c.Notify(proto.WatcherEvent{Type: proto.EventNodeDeleted, State: proto.StateSyncConnected, Path: p})
		case zxid(st) > rel:
			c.Notify(proto.WatcherEvent{Type: changed, State: proto.StateSyncConnected, Path: p})
		default:
			c.s.watches.Add(kind, p, c)
		}
	}
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// requestPath points at a read request's path field, or nil.
func requestPath(rec proto.Record) *string {
	switch r := rec.(type) {
	case *proto.PathWatchRequest:
		return &r.Path
	case *proto.PathRequest:
		return &r.Path
	}
	return nil
}
