package tree

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

// Apply applies one committed entry and returns its outcome. The outcome
// depends only on the tree and the entry, so every member computes the
// same one. Apply keeps references to the entry's byte slices (data,
// passwords): the caller must not modify them afterwards.
//
// The checks, and their order, follow Apache ZooKeeper 3.8's
// PrepRequestProcessor, because the order decides which error a client
// sees when several apply (see the tests for the observations behind it).
// One deliberate difference: ZooKeeper decides at proposal time, this
// decides at apply time, so a write applied after its session was closed
// fails with SessionExpired, as in ZooKeeper a write behind a closing
// session does.
func (t *Tree) Apply(e *Entry) Result {
	if e.Zxid > t.lastZxid {
		t.lastZxid = e.Zxid
	}
	var res Result
	switch e.Op {
	case proto.OpCreate, proto.OpCreate2, proto.OpCreateContainer, proto.OpCreateTTL,
		proto.OpDelete, proto.OpSetData, proto.OpSetACL, proto.OpCheck:
		body, err := t.applyOp(e, e.Op, e.Req, &res.Events)
		res.Err = err
		if err == proto.ErrOK {
			res.Resp = body
		} else {
			res.Events = nil
		}
	case proto.OpMulti:
		req, ok := e.Req.(*proto.MultiRequest)
		if !ok {
			return Result{Err: proto.ErrMarshallingError}
		}
		return t.multi(e, req)
	case proto.OpCreateSession:
		req, ok := e.Req.(*CreateSession)
		if !ok {
			return Result{Err: proto.ErrMarshallingError}
		}
		t.createSession(req)
	case proto.OpCloseSession:
		res.Closed, res.Events = t.closeSession(e)
	case proto.OpReconfig:
		req, ok := e.Req.(*proto.ReconfigRequest)
		if !ok {
			return Result{Err: proto.ErrMarshallingError}
		}
		res.Resp = t.reconfig(e, req.NewMembers, &res.Events)
	case proto.OpDeleteContainer:
		req, ok := e.Req.(*proto.PathRequest)
		if !ok {
			return Result{Err: proto.ErrMarshallingError}
		}
		res.Err = t.deleteContainer(e, req.Path, &res.Events)
		if res.Err != proto.ErrOK {
			res.Events = nil
		}
	default:
		res.Err = proto.ErrUnimplemented
	}
	return res
}

// applyOp runs one write that may also appear inside a multi. On error
// nothing has changed (a multi rolls back the ops before it).
func (t *Tree) applyOp(e *Entry, op int32, req proto.Record, ev *[]Event) (proto.Record, proto.Err) {
	switch op {
	case proto.OpCreate, proto.OpCreate2, proto.OpCreateContainer:
		r, ok := req.(*proto.CreateRequest)
		if !ok {
			return nil, proto.ErrMarshallingError
		}
		return t.create(e, op, r.Path, r.Data, r.ACL, r.Flags, -1, ev)
	case proto.OpCreateTTL:
		r, ok := req.(*proto.CreateTTLRequest)
		if !ok {
			return nil, proto.ErrMarshallingError
		}
		return t.create(e, op, r.Path, r.Data, r.ACL, r.Flags, r.TTL, ev)
	case proto.OpDelete:
		r, ok := req.(*proto.PathVersionRequest)
		if !ok {
			return nil, proto.ErrMarshallingError
		}
		return nil, t.delete(e, r.Path, r.Version, ev)
	case proto.OpSetData:
		r, ok := req.(*proto.SetDataRequest)
		if !ok {
			return nil, proto.ErrMarshallingError
		}
		return t.setData(e, r, ev)
	case proto.OpSetACL:
		r, ok := req.(*proto.SetACLRequest)
		if !ok {
			return nil, proto.ErrMarshallingError
		}
		return t.setACL(e, r)
	case proto.OpCheck:
		r, ok := req.(*proto.PathVersionRequest)
		if !ok {
			return nil, proto.ErrMarshallingError
		}
		// A passing top-level check has no body. (Apache ZooKeeper 3.8
		// sends no reply at all: it fails serializing a null stat and the
		// client times out, observed with a raw client; the server layer
		// decides what to send.)
		return nil, t.check(e, r)
	}
	return nil, proto.ErrUnimplemented
}

// sessionOK is ZooKeeper's checkSession: a client write needs a live
// session. Session 0 is the server itself (reaping) and needs none, except
// to own an ephemeral.
func (t *Tree) sessionOK(id int64, ephemeral bool) bool {
	if id == 0 && !ephemeral {
		return true
	}
	_, ok := t.sessions[id]
	return ok
}

// isSpecialPath lists the nodes ZooKeeper refuses to delete (BadArguments).
func isSpecialPath(p string) bool {
	return p == "/" || p == pathZooKeeper || p == pathQuota || p == pathConfig
}

func (t *Tree) create(e *Entry, op int32, path string, data []byte, acl []proto.ACL, flags int32, ttl int64, ev *[]Event) (proto.Record, proto.Err) {
	if flags < proto.ModePersistent || flags > proto.ModeTTLSequential {
		return nil, proto.ErrBadArguments
	}
	isTTL := flags == proto.ModeTTL || flags == proto.ModeTTLSequential
	// ZooKeeper's EphemeralType.validateTTL: a TTL mode needs
	// 0 < ttl <= MaxTTL, any other mode needs ttl < 0 (create sends -1).
	// A createTTL op with a non-TTL mode would make 3.8 build a TTL txn
	// with an invalid ttl; it is refused here instead.
	if isTTL && (ttl <= 0 || ttl > proto.MaxTTL) ||
		!isTTL && ttl >= 0 ||
		op == proto.OpCreateTTL && !isTTL {
		return nil, proto.ErrBadArguments
	}
	ephemeral := flags == proto.ModeEphemeral || flags == proto.ModeEphemeralSequential
	if !t.sessionOK(e.Session, ephemeral) {
		return nil, proto.ErrSessionExpired
	}
	if strings.LastIndexByte(path, '/') < 0 || strings.IndexByte(path, 0) >= 0 {
		return nil, proto.ErrBadArguments
	}
	fixed, err := fixupACL(acl, e.Auth)
	if err != proto.ErrOK {
		return nil, err
	}
	parent, ok := t.lookupParent(path)
	if !ok {
		return nil, proto.ErrNoNode
	}
	if !allowed(parent.acl.acl, proto.PermCreate, e.Auth) {
		return nil, proto.ErrNoAuth
	}
	sequential := flags == proto.ModePersistentSequential || flags == proto.ModeEphemeralSequential ||
		flags == proto.ModeTTLSequential
	if sequential {
		// The suffix counts creates under the parent, not deletes: create
		// three, delete one, and the next is 0000000003 (observed on 3.8).
		path = fmt.Sprintf("%s%010d", path, parent.cversion)
	}
	if !validPath(path) {
		return nil, proto.ErrBadArguments
	}
	if t.lookup(path) != nil {
		return nil, proto.ErrNodeExists
	}
	if parent.kind() == kindEphemeral {
		return nil, proto.ErrNoChildrenForEphemerals
	}

	var owner int64
	switch {
	case op == proto.OpCreateContainer:
		owner = proto.ContainerEphemeralOwner
	case op == proto.OpCreateTTL:
		owner = proto.TTLEphemeralOwner(ttl)
	case ephemeral:
		owner = e.Session
	}
	// A container flag sent with a plain create makes a persistent node in
	// 3.8 (its CreateTxn only knows ephemeral or not); so it does here.

	t.saveFields(parent)
	parent.cversion++
	if e.Zxid > parent.pzxid {
		parent.pzxid = e.Zxid
	}
	n := &node{
		path: path, parent: parent, data: data,
		czxid: e.Zxid, mzxid: e.Zxid, pzxid: e.Zxid, ctime: e.Time, mtime: e.Time, owner: owner,
	}
	t.insert(n, t.acls.intern(fixed))
	t.quotaNodeCreated(n)
	t.quotaChanged(path, int64(len(data)), 1)
	*ev = append(*ev, Event{Type: proto.EventNodeCreated, Path: path},
		Event{Type: proto.EventNodeChildrenChanged, Path: parent.path})
	if op == proto.OpCreate {
		return &proto.PathResponse{Path: path}, proto.ErrOK
	}
	return &proto.Create2Response{Path: path, Stat: n.stat()}, proto.ErrOK
}

// deletePathOK is ZooKeeper's getParentPathAndValidate for delete and
// deleteContainer: no '/', a NUL or a special node is BadArguments.
func deletePathOK(p string) bool {
	return strings.LastIndexByte(p, '/') >= 0 && strings.IndexByte(p, 0) < 0 && !isSpecialPath(p)
}

func (t *Tree) delete(e *Entry, path string, version int32, ev *[]Event) proto.Err {
	if !t.sessionOK(e.Session, false) {
		return proto.ErrSessionExpired
	}
	if !deletePathOK(path) {
		return proto.ErrBadArguments
	}
	parent, ok := t.lookupParent(path)
	if !ok {
		return proto.ErrNoNode
	}
	// DELETE on the parent is checked before the node's existence, as 3.8
	// does: without it a caller learns nothing about the children.
	if !allowed(parent.acl.acl, proto.PermDelete, e.Auth) {
		return proto.ErrNoAuth
	}
	n := t.lookup(path)
	if n == nil {
		return proto.ErrNoNode
	}
	if version != -1 && version != n.version {
		return proto.ErrBadVersion
	}
	if len(n.children) > 0 {
		return proto.ErrNotEmpty
	}
	t.unlink(n, e.Zxid, ev)
	return proto.ErrOK
}

// unlink removes a childless node and records it on its parent: pzxid
// moves, the stored cversion does not (the visible one grows by itself,
// being derived from the child count).
func (t *Tree) unlink(n *node, zxid int64, ev *[]Event) {
	p := n.parent
	t.quotaChanged(n.path, -int64(len(n.data)), -1)
	t.saveFields(p)
	if zxid > p.pzxid {
		p.pzxid = zxid
	}
	t.remove(n)
	*ev = append(*ev, Event{Type: proto.EventNodeDeleted, Path: n.path},
		Event{Type: proto.EventNodeChildrenChanged, Path: p.path})
}

func (t *Tree) setData(e *Entry, r *proto.SetDataRequest, ev *[]Event) (proto.Record, proto.Err) {
	if !t.sessionOK(e.Session, false) {
		return nil, proto.ErrSessionExpired
	}
	if !validPath(r.Path) {
		return nil, proto.ErrBadArguments
	}
	n, err := t.permitted(r.Path, proto.PermWrite, e.Auth)
	if err != proto.ErrOK {
		return nil, err
	}
	if r.Version != -1 && r.Version != n.version {
		return nil, proto.ErrBadVersion
	}
	t.quotaChanged(n.path, int64(len(r.Data)-len(n.data)), 0)
	t.saveFields(n)
	t.dataSize += int64(len(r.Data) - len(n.data))
	n.data = r.Data
	n.version++
	n.mtime = e.Time
	n.mzxid = e.Zxid
	*ev = append(*ev, Event{Type: proto.EventNodeDataChanged, Path: n.path})
	return &proto.StatResponse{Stat: n.stat()}, proto.ErrOK
}

func (t *Tree) setACL(e *Entry, r *proto.SetACLRequest) (proto.Record, proto.Err) {
	if !t.sessionOK(e.Session, false) {
		return nil, proto.ErrSessionExpired
	}
	if !validPath(r.Path) {
		return nil, proto.ErrBadArguments
	}
	fixed, err := fixupACL(r.ACL, e.Auth)
	if err != proto.ErrOK {
		return nil, err
	}
	n, err := t.permitted(r.Path, proto.PermAdmin, e.Auth)
	if err != proto.ErrOK {
		return nil, err
	}
	if r.Version != -1 && r.Version != n.aversion {
		return nil, proto.ErrBadVersion
	}
	t.saveFields(n)
	l := t.acls.intern(fixed)
	t.acls.acquire(l)
	t.acls.release(n.acl)
	n.acl = l
	n.aversion++
	// setACL fires no watch in ZooKeeper.
	return &proto.StatResponse{Stat: n.stat()}, proto.ErrOK
}

func (t *Tree) check(e *Entry, r *proto.PathVersionRequest) proto.Err {
	if !t.sessionOK(e.Session, false) {
		return proto.ErrSessionExpired
	}
	if !validPath(r.Path) {
		return proto.ErrBadArguments
	}
	n, err := t.permitted(r.Path, proto.PermRead, e.Auth)
	if err != proto.ErrOK {
		return err
	}
	if r.Version != -1 && r.Version != n.version {
		return proto.ErrBadVersion
	}
	return proto.ErrOK
}

// deleteContainer reaps a container or TTL node. ZooKeeper's reaper picks
// candidates and then deletes whatever non-ephemeral childless node is
// there; here the rule is rechecked at apply time, so a node that gained
// a child, was written since, or was replaced by a persistent node
// between the reaper's pick and the commit survives: NotEmpty or
// BadVersion, and nothing changes.
func (t *Tree) deleteContainer(e *Entry, path string, ev *[]Event) proto.Err {
	if !deletePathOK(path) {
		return proto.ErrBadArguments
	}
	n := t.lookup(path)
	if n == nil {
		return proto.ErrNoNode
	}
	if len(n.children) > 0 {
		return proto.ErrNotEmpty
	}
	switch n.kind() {
	case kindContainer:
	case kindTTL:
		if !ttlExpired(n, e.Time) {
			return proto.ErrBadVersion
		}
	default:
		return proto.ErrBadVersion
	}
	t.unlink(n, e.Zxid, ev)
	return proto.ErrOK
}

func (t *Tree) createSession(r *CreateSession) {
	if s := t.sessions[r.ID]; s != nil {
		s.timeout = r.Timeout
		s.passwd = r.Passwd
		return
	}
	t.sessions[r.ID] = &session{id: r.ID, timeout: r.Timeout, passwd: r.Passwd, ephemerals: make(map[string]struct{})}
}

// closeSession ends e.Session and deletes its ephemerals in path order
// (ZooKeeper uses HashSet order; sorted keeps members identical).
// Closing an unknown session changes nothing.
func (t *Tree) closeSession(e *Entry) ([]string, []Event) {
	s := t.sessions[e.Session]
	if s == nil {
		return nil, nil
	}
	paths := make([]string, 0, len(s.ephemerals))
	for p := range s.ephemerals {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var ev []Event
	for _, p := range paths {
		if n := t.lookup(p); n != nil {
			t.unlink(n, e.Zxid, &ev)
		}
	}
	delete(t.sessions, e.Session)
	return paths, ev
}

// multi applies every op or none. As ZooKeeper 3.8: the reply header says
// OK either way; on failure ops before the failing one report OK, the
// failing one its error, later ones RuntimeInconsistency, all as error
// results; every op sees the effects of the ones before it; one zxid for
// all; events only if it succeeded.
func (t *Tree) multi(e *Entry, req *proto.MultiRequest) Result {
	for _, op := range req.Ops {
		switch op.Type {
		case proto.OpCreate, proto.OpCreate2, proto.OpCreateContainer, proto.OpCreateTTL,
			proto.OpDelete, proto.OpSetData, proto.OpCheck:
		default:
			// ZooKeeper refuses to decode a multi that mixes reads and
			// writes ("Mixing different kind of ops") and drops the
			// connection; the server should never propose one.
			return Result{Err: proto.ErrMarshallingError}
		}
	}
	var journal []undo
	t.journal = &journal
	defer func() { t.journal = nil }()

	results := make([]proto.MultiResult, 0, len(req.Ops))
	var events []Event
	for i, op := range req.Ops {
		body, err := t.applyOp(e, op.Type, op.Op, &events)
		if err != proto.ErrOK {
			t.rollback(journal)
			return Result{Resp: failedMulti(len(req.Ops), i, err)}
		}
		results = append(results, multiResult(op.Type, body))
	}
	return Result{Resp: &proto.MultiResponse{Results: results}, Events: events}
}

func multiResult(op int32, body proto.Record) proto.MultiResult {
	switch op {
	case proto.OpCreate2:
		// Inside a multi, 3.8 answers create2 like create: the path only
		// (observed with a raw client; TestDifferentialAgainstZooKeeper).
		return proto.MultiResult{Type: proto.OpCreate, Body: &proto.PathResponse{Path: body.(*proto.Create2Response).Path}}
	case proto.OpCreateContainer, proto.OpCreateTTL:
		// ZooKeeper's CreateResult with a stat always says create2.
		return proto.MultiResult{Type: proto.OpCreate2, Body: body}
	case proto.OpSetData:
		return proto.MultiResult{Type: proto.OpSetData, Body: body}
	case proto.OpCreate:
		return proto.MultiResult{Type: proto.OpCreate, Body: body}
	}
	return proto.MultiResult{Type: op}
}

func failedMulti(n, failed int, err proto.Err) *proto.MultiResponse {
	out := make([]proto.MultiResult, n)
	for i := range out {
		code := proto.ErrOK
		switch {
		case i == failed:
			code = err
		case i > failed:
			code = proto.ErrRuntimeInconsistency
		}
		out[i] = proto.MultiResult{Type: proto.OpError, Err: code}
	}
	return &proto.MultiResponse{Results: out}
}

type undoOp uint8

const (
	undoInsert undoOp = iota // the node was inserted: remove it
	undoRemove               // the node was removed: insert it again
	undoFields               // the node's fields changed: restore saved
)

type undo struct {
	op    undoOp
	n     *node
	saved nodeFields
}

// nodeFields is what a write may change on an existing node; links
// (parent, children) are restored by undoing inserts and removes.
type nodeFields struct {
	data                []byte
	acl                 *aclList
	czxid, mzxid, pzxid int64
	ctime, mtime        int64
	owner               int64
	version             int32
	cversion            int32
	aversion            int32
}

func (t *Tree) logUndo(u undo) {
	if t.journal != nil {
		*t.journal = append(*t.journal, u)
	}
}

func (t *Tree) saveFields(n *node) {
	if t.journal == nil {
		return
	}
	t.logUndo(undo{op: undoFields, n: n, saved: nodeFields{
		data: n.data, acl: n.acl, czxid: n.czxid, mzxid: n.mzxid, pzxid: n.pzxid,
		ctime: n.ctime, mtime: n.mtime, owner: n.owner,
		version: n.version, cversion: n.cversion, aversion: n.aversion,
	}})
}

func (t *Tree) rollback(journal []undo) {
	t.journal = nil
	for i := len(journal) - 1; i >= 0; i-- {
		u := journal[i]
		n := u.n
		switch u.op {
		case undoInsert:
			t.remove(n)
		case undoRemove:
			t.insert(n, n.acl)
		case undoFields:
			s := u.saved
			if s.acl != n.acl {
				t.acls.acquire(s.acl)
				t.acls.release(n.acl)
			}
			t.dataSize += int64(len(s.data) - len(n.data))
			n.data, n.acl = s.data, s.acl
			n.czxid, n.mzxid, n.pzxid = s.czxid, s.mzxid, s.pzxid
			n.ctime, n.mtime, n.owner = s.ctime, s.mtime, s.owner
			n.version, n.cversion, n.aversion = s.version, s.cversion, s.aversion
		}
	}
}

// reconfig sets /zookeeper/config to a new membership, as ZooKeeper's
// committed reconfig does: members (server.N lines, each ending in a
// newline) then version=<hex zxid>, the zxid of this entry being the
// configuration's version; the data version is -1. The proposer has
// checked the request; every member applies the entry the same way.
func (t *Tree) reconfig(e *Entry, members string, ev *[]Event) proto.Record {
	n := t.lookup(pathConfig)
	data := []byte(members + "version=" + strconv.FormatInt(e.Zxid, 16))
	t.dataSize += int64(len(data) - len(n.data))
	n.data = data
	n.version = -1
	n.mtime = e.Time
	n.mzxid = e.Zxid
	*ev = append(*ev, Event{Type: proto.EventNodeDataChanged, Path: n.path})
	return &proto.GetDataResponse{Data: data, Stat: n.stat()}
}
