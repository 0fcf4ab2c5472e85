// Package elector is zkfc's ActiveStandbyElector: the znodes under
// <parent>/<cluster>/ (the ephemeral lock, the persistent breadcrumb, the
// fencing-token counter, the pause flag, the member registry, for a
// replicated service the Position and Sync records (records.go), and the
// operator's records: the history log and the scheduled switchover,
// operator.go) and one ZooKeeper session at a time, numbered by an epoch.
//
// Every event it emits carries the epoch of the session it came from, so
// the controller can ignore callbacks from an old session. It also records
// the monotonic time of the last request the server acknowledged, from
// which the controller computes its self-fencing deadline.
//
// It must never decide anything: it does not promote, demote or fence, and
// it never changes roles; it only reports and performs znode operations the
// controller asks for.
package elector

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"go.uber.org/zap"
)

// Znode names under the cluster path. The first two are Hadoop's.
const (
	LockName       = "ActiveStandbyElectorLock"
	BreadcrumbName = "ActiveBreadCrumb"
	TokenName      = "FencingToken"
	PausedName     = "Paused"
	MembersName    = "members"
	// SessionsName holds one ephemeral marker per session that became
	// active (see MarkSession): its absence proves that session ended.
	SessionsName = "sessions"
)

// ErrNotFormatted means the cluster znode does not exist.
var ErrNotFormatted = errors.New("cluster znode does not exist")

// ErrNoSession: no session right now (a request made while disconnected),
// or a one-shot helper got none within its ConnectWait.
var ErrNoSession = errors.New("no zookeeper session")

// Unavailable reports whether err means the quorum is not serving (yet):
// no session, or a connection lost mid-request. Worth retrying, unlike a
// refusal such as an ACL or an existing znode.
func Unavailable(err error) bool {
	for _, e := range []error{ErrNoSession, zk.ErrConnectionClosed, zk.ErrNoServer, zk.ErrSessionExpired, zk.ErrClosing} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// ConnectionLost reports whether err means the connection dropped while
// the session may live on: a request made while disconnected, or one in
// flight when the connection closed. What the session owns (the lock) is
// still owned once the library reconnects within the session timeout.
func ConnectionLost(err error) bool {
	return errors.Is(err, ErrNoSession) || errors.Is(err, zk.ErrConnectionClosed)
}

// Info identifies a node: the content of the lock, the breadcrumb and the
// member registry, JSON encoded.
type Info struct {
	NodeID     string `json:"node_id"`
	Host       string `json:"host,omitempty"`
	Port       int    `json:"port,omitempty"`
	ControlURL string `json:"control_url,omitempty"`
	Token      uint64 `json:"token,omitempty"`
	Priority   int    `json:"priority,omitempty"`
	NoFailover bool   `json:"no_failover,omitempty"`
	// Candidate: in the member registry, whether the node is in the
	// election right now (healthy, not ceded, not backing off).
	Candidate bool `json:"candidate,omitempty"`
	// Session: in the breadcrumb, the ZooKeeper session the node was
	// active under (0 if written by a zkfc that did not record it). The
	// lease_expired fencing method proves that session ended.
	Session int64 `json:"session,omitempty"`
	// Position: in the member registry, the node's replication position
	// as actions.position last printed it (nil: not recorded).
	Position *uint64 `json:"position,omitempty"`
	// FailsafePeers: in the breadcrumb, the nodes the active asks in
	// failsafe mode (nil: failsafe off). A node not among them cannot rely
	// on the end of Session (fencing.Target.LeaseUnproven).
	FailsafePeers []string `json:"failsafe_peers,omitempty"`
}

// Kind is what happened.
type Kind int

const (
	// Connected: the session is usable (new, or back after a disconnection).
	Connected Kind = iota + 1
	// Disconnected: the connection was lost; the session may survive.
	Disconnected
	// Expired: the server expired the session; its lock is gone.
	Expired
	// LockChanged: the lock znode was deleted, created or changed.
	LockChanged
	// PauseChanged: the pause flag was set or cleared.
	PauseChanged
	// ClusterCreated: the cluster znode, missing at CheckFormatted, now
	// exists ('zkfc format' ran).
	ClusterCreated
)

func (k Kind) String() string {
	switch k {
	case Connected:
		return "connected"
	case Disconnected:
		return "disconnected"
	case Expired:
		return "expired"
	case LockChanged:
		return "lock-changed"
	case PauseChanged:
		return "pause-changed"
	case ClusterCreated:
		return "cluster-created"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Event is one notification, tagged with the session epoch it belongs to.
type Event struct {
	Epoch uint64
	Kind  Kind
}

// Config configures an Elector.
type Config struct {
	Servers        []string
	SessionTimeout time.Duration
	// ClusterPath is <parent>/<cluster>.
	ClusterPath string
	// PingInterval is how often an idle session is probed to refresh the
	// acknowledgment time; default SessionTimeout/5.
	PingInterval time.Duration

	// ACL is set on every znode the elector creates; nil means
	// world:anyone with all permissions.
	ACL []zk.ACL
	// Auth is sent with addAuth on every session before it is reported
	// Connected (the library re-sends it after a reconnection).
	Auth []Auth
	// RefuseWorldWritable makes CheckFormatted fail while the cluster
	// znode's ACL lets anyone write it.
	RefuseWorldWritable bool
	// Dialer replaces the plain TCP dialer (TLS to a secure client port).
	Dialer zk.Dialer
	// ConnectWait bounds how long the one-shot helpers (Format, Exists,
	// Lookup) wait for a session; default DefaultConnectWait.
	ConnectWait time.Duration
}

// DefaultConnectWait is generous: a loaded machine or a quorum still
// electing can take many seconds to grant a session.
const DefaultConnectWait = 30 * time.Second

// Auth is one credential for addAuth, e.g. scheme "digest" with
// "user:password". Its String never shows the credential.
type Auth struct {
	Scheme string
	Cred   []byte
}

func (a Auth) String() string { return a.Scheme + ":[redacted]" }

// MarshalJSON keeps the credential out of reflective loggers (zap.Any).
func (a Auth) MarshalJSON() ([]byte, error) { return json.Marshal(a.String()) }

// Format keeps it out of every fmt verb.
func (a Auth) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(a.String())) }

// acl is the ACL of new znodes.
func (e *Elector) acl() []zk.ACL {
	if len(e.cfg.ACL) == 0 {
		return zk.WorldACL(zk.PermAll)
	}
	return e.cfg.ACL
}

// Elector owns the ZooKeeper session. Its methods are safe for concurrent
// use but are meant to be called from the controller's goroutine.
type Elector struct {
	cfg    Config
	lg     *zap.Logger
	events chan Event
	base   time.Time // monotonic origin for lastAck

	mu       sync.Mutex
	conn     *zk.Conn
	epoch    uint64
	stopSess chan struct{} // closed when the current session is abandoned
	// createdWatch: the epoch whose session watches for the cluster
	// znode's creation (see watchCreated), 0 if none.
	createdWatch uint64
	wg           sync.WaitGroup

	lastAck    atomic.Int64 // ns since base of the send time of the last acknowledged request; 0 = none
	negotiated atomic.Int64 // negotiated session timeout in ms; 0 = unknown
	// silenceMargin arms BreakAfterSilence (silence.go); 0 = disarmed.
	silenceMargin atomic.Int64

	// pauseReads serializes reads of the pause flag: requests of one
	// session are answered in order, so with one read in flight at a time
	// a read that finishes later saw a state at least as new, and a slow
	// watch reread can never overwrite a fresher RefreshPause.
	pauseReads sync.Mutex
	pause      atomic.Pointer[PauseState]
}

// PauseState is the cluster-wide pause flag as last read.
type PauseState struct {
	Paused bool `json:"paused"`
	// Generation names one pause: the zxid that created the Paused znode
	// (0 when not paused). Each 'zkfc pause' that finds no pause in place
	// starts a new generation, so an acknowledgment cannot be confused
	// with one for an earlier pause.
	Generation int64 `json:"generation,omitempty"`
}

// New returns an Elector; call Open to start a session.
func New(cfg Config, lg *zap.Logger) *Elector {
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = cfg.SessionTimeout / 5
	}
	e := &Elector{cfg: cfg, lg: lg, events: make(chan Event, 64), base: time.Now()}
	e.pause.Store(&PauseState{})
	return e
}

// Events delivers session, lock and pause events. It is never closed.
func (e *Elector) Events() <-chan Event { return e.events }

// Epoch is the number of the current session (0 before Open).
func (e *Elector) Epoch() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.epoch
}

func (e *Elector) path(name string) string { return e.cfg.ClusterPath + "/" + name }

// zkLogger routes go-zookeeper's chatter to zap at debug level and picks
// the negotiated session timeout out of its "authenticated" line, which is
// the only place the library exposes it.
type zkLogger struct{ e *Elector }

func (l zkLogger) Printf(format string, args ...any) {
	if strings.HasPrefix(format, "authenticated: id=%d, timeout=%d") && len(args) == 2 {
		if ms, ok := args[1].(int32); ok {
			l.e.negotiated.Store(int64(ms))
		}
	}
	l.e.lg.Debug("zk: " + fmt.Sprintf(format, args...))
}

// Open abandons the current session, if any (its ephemeral lock goes with
// it), and starts a new one under a new epoch. It does not wait for the
// session to be established: a Connected event says so.
func (e *Elector) Open() (uint64, error) {
	// Do not wait for the old session's goroutines: on a frozen server a
	// request of theirs may hang until the library's receive timeout, and
	// the controller must not. They exit on their own once stopSess is
	// closed and the library flushes their requests; Close waits for them.
	e.closeLocked(false)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lastAck.Store(0)
	e.negotiated.Store(0)
	dial := e.cfg.Dialer
	if dial == nil {
		dial = net.DialTimeout
	}
	tcp := &tcpConn{}
	conn, ch, err := zk.Connect(e.cfg.Servers, e.cfg.SessionTimeout, zk.WithLogger(zkLogger{e}), zk.WithLogInfo(true), zk.WithDialer(tcp.dialer(dial)))
	if err != nil {
		return e.epoch, fmt.Errorf("connect to zookeeper %v: %w", e.cfg.Servers, err)
	}
	e.epoch++
	e.conn = conn
	e.stopSess = make(chan struct{})
	epoch, stop := e.epoch, e.stopSess
	e.wg.Add(4)
	go e.forwardSession(epoch, conn, ch, stop)
	go e.ping(epoch, conn, stop)
	go e.watchPause(epoch, conn, stop)
	go e.watchSilence(conn, tcp, stop)
	return epoch, nil
}

// Close ends the session and stops the elector's goroutines.
func (e *Elector) Close() { e.closeLocked(true) }

func (e *Elector) closeLocked(wait bool) {
	e.mu.Lock()
	conn, stop := e.conn, e.stopSess
	e.conn, e.stopSess = nil, nil
	e.mu.Unlock()
	if stop != nil {
		close(stop)
	}
	if conn != nil {
		conn.Close()
	}
	if wait {
		e.wg.Wait()
	}
}

func (e *Elector) emit(ev Event, stop <-chan struct{}) {
	select {
	case e.events <- ev:
	case <-stop:
	}
}

// forwardSession turns go-zookeeper session states into events. It ends
// when the connection's channel closes (after Close) or the session is
// abandoned.
func (e *Elector) forwardSession(epoch uint64, conn *zk.Conn, ch <-chan zk.Event, stop <-chan struct{}) {
	defer e.wg.Done()
	authed := len(e.cfg.Auth) == 0
	for {
		var ev zk.Event
		var ok bool
		select {
		case ev, ok = <-ch:
		case <-stop:
			// Drain so the library's goroutine is never blocked on us.
			go func() {
				for range ch {
				}
			}()
			return
		}
		if !ok {
			return
		}
		if ev.Type != zk.EventSession {
			continue
		}
		switch ev.State {
		case zk.StateHasSession:
			if !authed {
				// Before Connected: the controller's first request must
				// already carry the identity the ACLs name. Later
				// reconnections re-send it inside the library.
				if err := e.addAuth(conn); err != nil {
					e.lg.Warn("zookeeper addAuth failed; retrying on the next connection", zap.Error(err))
					continue
				}
				authed = true
			}
			e.emit(Event{Epoch: epoch, Kind: Connected}, stop)
		case zk.StateDisconnected:
			e.emit(Event{Epoch: epoch, Kind: Disconnected}, stop)
		case zk.StateExpired:
			e.emit(Event{Epoch: epoch, Kind: Expired}, stop)
		}
	}
}

func (e *Elector) addAuth(conn *zk.Conn) error {
	for _, a := range e.cfg.Auth {
		if err := conn.AddAuth(a.Scheme, a.Cred); err != nil {
			// The error never includes the credential.
			return fmt.Errorf("addAuth scheme %s: %w", a.Scheme, err)
		}
	}
	return nil
}

// ping keeps the acknowledgment time fresh.
//
// The acknowledgment is a sync, not a read: a member answers reads from
// its own copy, even while cut off from the leader (until it notices and
// closes its clients), and only the leader expires sessions. A sync is
// answered only after the leader confirmed its leadership after the sync
// arrived, so the member that took our request was in touch with the
// leader then; the session touches it forwards lag by at most its
// forwarding period (ZooKeeper and the embedded quorum: tickTime/2).
func (e *Elector) ping(epoch uint64, conn *zk.Conn, stop <-chan struct{}) {
	defer e.wg.Done()
	t := time.NewTicker(e.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if conn.State() != zk.StateHasSession {
			continue
		}
		sent := time.Now()
		if _, err := conn.Sync(e.cfg.ClusterPath); err != nil {
			continue
		}
		e.ack(sent)
	}
}

// watchPause keeps a watch on the pause flag and emits PauseChanged when
// a reread finds it changed: every zkfc learns of a pause within a round
// trip of its write, not a polling period later. A failed read (no
// connection) is retried every ping interval; the library sets pending
// watches again after a reconnection.
func (e *Elector) watchPause(epoch uint64, conn *zk.Conn, stop <-chan struct{}) {
	defer e.wg.Done()
	for {
		ch, _, err := e.readPause(conn, true, true, epoch, stop)
		if err != nil {
			select {
			case <-stop:
				return
			case <-time.After(e.cfg.PingInterval):
			}
			continue
		}
		select {
		case <-stop:
			return
		case <-ch:
		}
	}
}

// readPause reads the pause flag (leaving a watch if watch) and stores
// it; emit: send PauseChanged if it differs from the stored state (never
// from the controller's own goroutine, which consumes the events).
func (e *Elector) readPause(conn *zk.Conn, watch, emit bool, epoch uint64, stop <-chan struct{}) (<-chan zk.Event, PauseState, error) {
	e.pauseReads.Lock()
	p := e.path(PausedName)
	var (
		ok  bool
		st  *zk.Stat
		ch  <-chan zk.Event
		err error
	)
	if watch {
		ok, st, ch, err = conn.ExistsW(p)
	} else {
		ok, st, err = conn.Exists(p)
	}
	if err != nil {
		e.pauseReads.Unlock()
		return nil, PauseState{}, fmt.Errorf("read %s: %w", p, err)
	}
	now := PauseState{}
	if ok {
		now = PauseState{Paused: true, Generation: st.Czxid}
	}
	old := e.pause.Swap(&now)
	e.pauseReads.Unlock()
	if emit && *old != now {
		e.emit(Event{Epoch: epoch, Kind: PauseChanged}, stop)
	}
	return ch, now, nil
}

// ack records that the server answered a request sent at sent. The send
// time, not the reply time, is what bounds the server's expiry clock: the
// server heard from us no earlier than that.
func (e *Elector) ack(sent time.Time) {
	ns := sent.Sub(e.base).Nanoseconds()
	if ns <= 0 {
		ns = 1
	}
	for {
		old := e.lastAck.Load()
		if ns <= old || e.lastAck.CompareAndSwap(old, ns) {
			return
		}
	}
}

// LastAck returns the monotonic time of the last acknowledged request of
// the current session and the negotiated session timeout (the requested one
// until the server's answer is known). ok is false before any ack.
func (e *Elector) LastAck() (at time.Time, timeout time.Duration, ok bool) {
	timeout = e.cfg.SessionTimeout
	if ms := e.negotiated.Load(); ms > 0 {
		timeout = time.Duration(ms) * time.Millisecond
	}
	ns := e.lastAck.Load()
	if ns == 0 {
		return time.Time{}, timeout, false
	}
	return e.base.Add(time.Duration(ns)), timeout, true
}

// Pause is the last observed state of the pause flag.
func (e *Elector) Pause() PauseState { return *e.pause.Load() }

// RefreshPause reads the pause flag now. The controller calls it on every
// connection before it takes any election step, so a node that was away
// while a pause was set cannot act on the state it last saw.
func (e *Elector) RefreshPause() (PauseState, error) {
	c, epoch, stop, err := e.current()
	if err != nil {
		return PauseState{}, err
	}
	_, st, err := e.readPause(c, false, false, epoch, stop)
	return st, err
}

func (e *Elector) current() (*zk.Conn, uint64, <-chan struct{}, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn == nil {
		return nil, e.epoch, nil, errors.New("no zookeeper session (elector not open)")
	}
	return e.conn, e.epoch, e.stopSess, nil
}

// connected is the current session's connection if it is connected now,
// else ErrNoSession. The library would hold a request made while it is
// not until it reconnects or has tried every server (a second or more
// each), and its caller with it: the controller's loop, which must
// self-fence on time, among them.
func (e *Elector) connected() (*zk.Conn, error) {
	c, _, _, err := e.current()
	if err != nil {
		return nil, err
	}
	if st := c.State(); st != zk.StateHasSession {
		return nil, fmt.Errorf("%w (%s)", ErrNoSession, st)
	}
	return c, nil
}

// do runs requests on the current session. It records no acknowledgment:
// a read may be answered by a member cut off from the leader, and an
// error reply may never have reached the leader (see ping).
func (e *Elector) do(f func(c *zk.Conn) error) error {
	c, err := e.connected()
	if err != nil {
		return err
	}
	return f(c)
}

// write runs one write request on the current session and counts its
// success as an acknowledgment: a committed write went through the leader
// after we sent it.
func (e *Elector) write(f func(c *zk.Conn) error) error {
	c, err := e.connected()
	if err != nil {
		return err
	}
	sent := time.Now()
	err = f(c)
	if err == nil {
		e.ack(sent)
	}
	return err
}

// CheckFormatted returns ErrNotFormatted if the cluster znode is missing;
// then a watch emits ClusterCreated once 'zkfc format' creates it, so a
// daemon waiting for the format need not poll.
func (e *Elector) CheckFormatted() error {
	c, epoch, stop, err := e.current()
	if err != nil {
		return fmt.Errorf("check %s: %w", e.cfg.ClusterPath, err)
	}
	ok, _, ch, err := c.ExistsW(e.cfg.ClusterPath)
	if err != nil {
		return fmt.Errorf("check %s: %w", e.cfg.ClusterPath, err)
	}
	if !ok {
		e.watchCreated(epoch, ch, stop)
		return fmt.Errorf("%s: %w; run 'zkfc format' once for this cluster", e.cfg.ClusterPath, ErrNotFormatted)
	}
	if e.cfg.RefuseWorldWritable {
		var acl []zk.ACL
		err := e.do(func(c *zk.Conn) (err error) { acl, _, err = c.GetACL(e.cfg.ClusterPath); return })
		if err != nil {
			return fmt.Errorf("read the ACL of %s: %w (do zookeeper.auth_file's credentials match the ACL 'zkfc format' set?)", e.cfg.ClusterPath, err)
		}
		if WorldWritable(acl) {
			return fmt.Errorf("%s: %w: anyone could take or delete the lock; re-create it with 'zkfc format --force' after setting zookeeper.acl, or set zookeeper.allow_world_writable: true", e.cfg.ClusterPath, ErrWorldWritable)
		}
	}
	return nil
}

// ErrWorldWritable: the cluster znode's ACL lets anyone write it.
var ErrWorldWritable = errors.New("cluster znode is world-writable")

// WorldWritable reports whether acl grants world:anyone more than READ:
// then any client can change, create, delete or re-ACL the znodes, and so
// steal or drop the lock. The configuration refuses such an ACL unless
// zookeeper.allow_world_writable, and CheckFormatted refuses such a
// cluster znode when RefuseWorldWritable.
func WorldWritable(acl []zk.ACL) bool {
	for _, a := range acl {
		if a.Scheme == "world" && a.ID == "anyone" && a.Perms&^zk.PermRead != 0 {
			return true
		}
	}
	return false
}

// TryAcquire tries to create the lock holding self. It returns held=true if
// the lock is this session's (just created, or already ours), else the
// current holder. Either way a watch on the lock is left that emits
// LockChanged once.
func (e *Elector) TryAcquire(self Info) (held bool, holder *Info, err error) {
	c, epoch, stop, err := e.current()
	if err != nil {
		return false, nil, err
	}
	if st := c.State(); st != zk.StateHasSession {
		return false, nil, fmt.Errorf("%w (%s)", ErrNoSession, st)
	}
	data, _ := json.Marshal(self)
	lock := e.path(LockName)
	sent := time.Now()
	_, err = c.Create(lock, data, zk.FlagEphemeral, e.acl())
	switch {
	case err == nil:
		e.ack(sent)
	case errors.Is(err, zk.ErrNodeExists):
	case errors.Is(err, zk.ErrNoNode):
		return false, nil, fmt.Errorf("create %s: %w; run 'zkfc format'", lock, ErrNotFormatted)
	default:
		return false, nil, fmt.Errorf("create %s: %w", lock, err)
	}
	raw, st, ch, err := c.GetW(lock)
	if errors.Is(err, zk.ErrNoNode) {
		// Deleted between our create and get: let the caller retry at once.
		ok, _, ch2, err2 := c.ExistsW(lock)
		if err2 != nil {
			return false, nil, fmt.Errorf("watch %s: %w", lock, err2)
		}
		e.watch(epoch, ch2, stop)
		_ = ok
		return false, nil, nil
	}
	if err != nil {
		return false, nil, fmt.Errorf("read %s: %w", lock, err)
	}
	e.watch(epoch, ch, stop)
	if st.EphemeralOwner == c.SessionID() {
		return true, &self, nil
	}
	var h Info
	if err := json.Unmarshal(raw, &h); err != nil {
		h = Info{NodeID: fmt.Sprintf("(unreadable lock data %q)", raw)}
	}
	return false, &h, nil
}

// watchCreated emits ClusterCreated when the watch of a missing cluster
// znode fires with its creation. One watch per session is enough: later
// checks find it pending and set no other.
func (e *Elector) watchCreated(epoch uint64, ch <-chan zk.Event, stop <-chan struct{}) {
	e.mu.Lock()
	if e.createdWatch == epoch {
		e.mu.Unlock()
		return
	}
	e.createdWatch = epoch
	e.wg.Add(1)
	e.mu.Unlock()
	go func() {
		defer e.wg.Done()
		select {
		case ev, ok := <-ch:
			if ok && ev.Type == zk.EventNodeCreated {
				e.emit(Event{Epoch: epoch, Kind: ClusterCreated}, stop)
			}
		case <-stop:
		}
		e.mu.Lock()
		if e.createdWatch == epoch {
			e.createdWatch = 0 // a later check may set a new one
		}
		e.mu.Unlock()
	}()
}

func (e *Elector) watch(epoch uint64, ch <-chan zk.Event, stop <-chan struct{}) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		select {
		case ev, ok := <-ch:
			if ok && ev.Type != zk.EventNotWatching {
				e.emit(Event{Epoch: epoch, Kind: LockChanged}, stop)
			}
		case <-stop:
		}
	}()
}

// Holder reads the lock without watching it; nil if free.
func (e *Elector) Holder() (*Info, error) {
	h, _, err := readJSON[Info](e, LockName)
	return h, err
}

// Release deletes the lock if this session owns it.
func (e *Elector) Release() error {
	return e.do(func(c *zk.Conn) error {
		lock := e.path(LockName)
		_, st, err := c.Get(lock)
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", lock, err)
		}
		if st.EphemeralOwner != c.SessionID() {
			return nil
		}
		if err := c.Delete(lock, st.Version); err != nil && !errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("delete %s: %w", lock, err)
		}
		return nil
	})
}

// Breadcrumb reads ActiveBreadCrumb: nil and version -1 if absent.
func (e *Elector) Breadcrumb() (*Info, int32, error) { return readJSON[Info](e, BreadcrumbName) }

// WriteBreadcrumb stores info as the last active. version is what
// Breadcrumb returned: -1 creates, otherwise a versioned set, so a
// concurrent writer makes this fail rather than be overwritten.
func (e *Elector) WriteBreadcrumb(info Info, version int32) error {
	data, _ := json.Marshal(info)
	return e.write(func(c *zk.Conn) error {
		var err error
		if version < 0 {
			_, err = c.Create(e.path(BreadcrumbName), data, 0, e.acl())
		} else {
			_, err = c.Set(e.path(BreadcrumbName), data, version)
		}
		if err != nil {
			return fmt.Errorf("write breadcrumb: %w", err)
		}
		return nil
	})
}

// DeleteBreadcrumb removes the breadcrumb if it names nodeID (a graceful
// quit: nobody needs to fence us).
func (e *Elector) DeleteBreadcrumb(nodeID string) error {
	b, v, err := e.Breadcrumb()
	if err != nil || b == nil || b.NodeID != nodeID {
		return err
	}
	return e.do(func(c *zk.Conn) error {
		if err := c.Delete(e.path(BreadcrumbName), v); err != nil && !errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("delete breadcrumb: %w", err)
		}
		return nil
	})
}

// CurrentToken reads the fencing-token counter: the last token issued in
// the cluster (0 if none yet).
func (e *Elector) CurrentToken() (uint64, error) {
	n, _, err := e.readToken()
	return n, err
}

// readToken reads the fencing-token counter and its version: 0 and -1
// if none was issued yet. The counter is a decimal number.
func (e *Elector) readToken() (uint64, int32, error) {
	raw, version, err := e.readZnode(TokenName)
	if err != nil || version == -1 {
		return 0, version, err
	}
	var n uint64
	if _, err := fmt.Sscan(string(raw), &n); err != nil {
		return 0, 0, fmt.Errorf("decode %s %q: %w", e.path(TokenName), raw, err)
	}
	return n, version, nil
}

// NextToken increments the fencing-token counter with a versioned set
// (compare-and-swap) and returns the new value.
func (e *Elector) NextToken() (uint64, error) {
	p := e.path(TokenName)
	for attempt := 0; attempt < 10; attempt++ {
		n, version, err := e.readToken()
		if err != nil {
			return 0, err
		}
		if version == -1 {
			err = e.write(func(c *zk.Conn) error {
				_, err := c.Create(p, []byte("1"), 0, e.acl())
				return err
			})
			if err == nil {
				return 1, nil
			}
			if errors.Is(err, zk.ErrNodeExists) {
				continue
			}
			return 0, fmt.Errorf("create %s: %w", p, err)
		}
		n++
		err = e.write(func(c *zk.Conn) error {
			_, err := c.Set(p, []byte(fmt.Sprint(n)), version)
			return err
		})
		if errors.Is(err, zk.ErrBadVersion) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("update %s: %w", p, err)
		}
		return n, nil
	}
	return 0, fmt.Errorf("update %s: too many concurrent writers", p)
}

// SetPaused sets or clears the cluster-wide pause flag and returns the
// state it wrote: for a pause, the generation of the Paused znode (an
// existing pause is kept, with its generation). The stored state is left
// to watchPause, which emits PauseChanged here as on every other node.
func (e *Elector) SetPaused(on bool) (PauseState, error) {
	p := e.path(PausedName)
	var st PauseState
	err := e.do(func(c *zk.Conn) error {
		if !on {
			if err := c.Delete(p, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
				return err
			}
			return nil
		}
		if _, err := c.Create(p, nil, 0, e.acl()); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return err
		}
		ok, stat, err := c.Exists(p)
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("removed again at once: a concurrent 'zkfc resume'")
		}
		st = PauseState{Paused: true, Generation: stat.Czxid}
		return nil
	})
	if err != nil {
		return PauseState{}, fmt.Errorf("set %s to %v: %w", p, on, err)
	}
	return st, nil
}

// Register publishes self as a candidate (an ephemeral member znode).
func (e *Elector) Register(self Info) error { return e.register(MembersName, self) }

// register writes self as the ephemeral entry dir/<node> of this session,
// replacing one left by an earlier session.
func (e *Elector) register(dir string, self Info) error {
	data, _ := json.Marshal(self)
	p := e.path(dir)
	return e.do(func(c *zk.Conn) error {
		if _, err := c.Create(p, nil, 0, e.acl()); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("create %s: %w", p, err)
		}
		m := p + "/" + self.NodeID
		_, st, err := c.Exists(m)
		if err != nil {
			return fmt.Errorf("check %s: %w", m, err)
		}
		if st != nil && st.EphemeralOwner == c.SessionID() {
			_, err = c.Set(m, data, -1)
		} else {
			if st != nil {
				// Left over by our previous session; it would expire anyway.
				_ = c.Delete(m, -1)
			}
			_, err = c.Create(m, data, zk.FlagEphemeral, e.acl())
		}
		if err != nil {
			return fmt.Errorf("register %s: %w", m, err)
		}
		return nil
	})
}

// Unregister removes self from the candidates.
func (e *Elector) Unregister(nodeID string) error {
	m := e.path(MembersName) + "/" + nodeID
	return e.do(func(c *zk.Conn) error {
		_, st, err := c.Exists(m)
		if err != nil || st == nil || st.EphemeralOwner != c.SessionID() {
			return err
		}
		if err := c.Delete(m, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("unregister %s: %w", m, err)
		}
		return nil
	})
}

// SessionHex renders a session id as ZooKeeper's logs do.
func SessionHex(id int64) string { return fmt.Sprintf("0x%016x", uint64(id)) }

func (e *Elector) sessionMarker(nodeID string, session int64) string {
	return e.path(SessionsName) + "/" + nodeID + "-" + fmt.Sprintf("%016x", uint64(session))
}

// MarkSession creates the ephemeral marker sessions/<node>-<session> of
// the current session and returns the session's id, which the caller
// records in the breadcrumb. It fails unless the marker and the lock both
// belong to that session. zkfc never deletes a marker: only the end of its
// session (expiry or close) removes it, so once a breadcrumb names a
// session, the marker's absence proves the session is over.
func (e *Elector) MarkSession(nodeID string) (int64, error) {
	c, err := e.connected()
	if err != nil {
		return 0, err
	}
	sid := c.SessionID()
	if sid == 0 {
		return 0, errors.New("mark session: no zookeeper session")
	}
	dir := e.path(SessionsName)
	if _, err := c.Create(dir, nil, 0, e.acl()); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return 0, fmt.Errorf("create %s: %w", dir, err)
	}
	m := e.sessionMarker(nodeID, sid)
	sent := time.Now()
	_, err = c.Create(m, nil, zk.FlagEphemeral, e.acl())
	switch {
	case err == nil:
		e.ack(sent)
	case errors.Is(err, zk.ErrNodeExists): // marked by an earlier promotion of this session
	default:
		return 0, fmt.Errorf("create %s: %w", m, err)
	}
	// The library replaces an expired session on its own, so the session
	// that created the marker may not be the one read above: check owners.
	_, st, err := c.Exists(m)
	if err != nil {
		return 0, fmt.Errorf("check %s: %w", m, err)
	}
	if st == nil || st.EphemeralOwner != sid {
		return 0, fmt.Errorf("%s does not belong to session %s: the session changed under us", m, SessionHex(sid))
	}
	lock := e.path(LockName)
	_, st, err = c.Exists(lock)
	if err != nil {
		return 0, fmt.Errorf("check %s: %w", lock, err)
	}
	if st == nil || st.EphemeralOwner != sid {
		return 0, fmt.Errorf("%s no longer belongs to session %s", lock, SessionHex(sid))
	}
	return sid, nil
}

// SessionEnded reports whether session (which nodeID was active under,
// per the breadcrumb) no longer exists on the quorum. It syncs first, so
// the reads reflect every write the leader committed before, session
// expiries included. ended is true only if the session's marker is gone
// and neither the lock nor nodeID's member entry belongs to the session;
// evidence says what was seen. An error means the quorum could not be
// asked: nothing is known.
func (e *Elector) SessionEnded(nodeID string, session int64) (ended bool, evidence string, err error) {
	if session == 0 {
		return false, "", errors.New("no session id to check")
	}
	c, err := e.connected()
	if err != nil {
		return false, "", err
	}
	if _, err := c.Sync(e.cfg.ClusterPath); err != nil {
		return false, "", fmt.Errorf("sync %s: %w", e.cfg.ClusterPath, err)
	}
	sh := SessionHex(session)
	m := e.sessionMarker(nodeID, session)
	ok, _, err := c.Exists(m)
	if err != nil {
		return false, "", fmt.Errorf("check %s: %w", m, err)
	}
	if ok {
		return false, fmt.Sprintf("session %s of %s is alive: %s exists", sh, nodeID, m), nil
	}
	for _, p := range []string{e.path(LockName), e.path(MembersName) + "/" + nodeID} {
		_, st, err := c.Exists(p)
		if err != nil {
			return false, "", fmt.Errorf("check %s: %w", p, err)
		}
		if st != nil && st.EphemeralOwner == session {
			return false, fmt.Sprintf("session %s of %s is alive: it owns %s", sh, nodeID, p), nil
		}
	}
	return true, fmt.Sprintf("session %s of %s has ended: after a sync, %s is gone and it owns neither the lock nor its member entry", sh, nodeID, m), nil
}

// Members lists registered candidates.
func (e *Elector) Members() ([]Info, error) { return e.list(MembersName) }

// list reads the Info entries under the cluster's child dir.
func (e *Elector) list(dir string) ([]Info, error) {
	p := e.path(dir)
	var names []string
	err := e.do(func(c *zk.Conn) (err error) { names, _, err = c.Children(p); return })
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", p, err)
	}
	var out []Info
	for _, n := range names {
		var raw []byte
		err := e.do(func(c *zk.Conn) (err error) { raw, _, err = c.Get(p + "/" + n); return })
		if err != nil {
			continue // gone meanwhile
		}
		var i Info
		if json.Unmarshal(raw, &i) == nil {
			out = append(out, i)
		}
	}
	return out, nil
}

// Format creates cfg.ClusterPath, and each missing ancestor, with cfg.ACL.
// If it exists and force is false it returns an error wrapping
// zk.ErrNodeExists; with force it deletes the whole subtree first
// (Hadoop's -formatZK -force).
func Format(cfg Config, force bool, lg *zap.Logger) error {
	e, c, err := openOnce(cfg, lg)
	if err != nil {
		return err
	}
	defer e.Close()
	clusterPath := cfg.ClusterPath
	ok, _, err := c.Exists(clusterPath)
	if err != nil {
		return fmt.Errorf("check %s: %w", clusterPath, err)
	}
	if ok {
		if !force {
			return fmt.Errorf("%s already exists: %w (use --force to wipe it)", clusterPath, zk.ErrNodeExists)
		}
		if err := deleteTree(c, clusterPath, 0); err != nil {
			return err
		}
	}
	parts := strings.Split(strings.TrimPrefix(clusterPath, "/"), "/")
	cur := ""
	for _, p := range parts {
		cur += "/" + p
		if _, err := c.Create(cur, nil, 0, e.acl()); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("create %s: %w", cur, err)
		}
	}
	return nil
}

// Exists reports whether cfg.ClusterPath exists (for format's prompt).
func Exists(cfg Config, lg *zap.Logger) (bool, error) {
	e, c, err := openOnce(cfg, lg)
	if err != nil {
		return false, err
	}
	defer e.Close()
	ok, _, err := c.Exists(cfg.ClusterPath)
	if err != nil {
		return false, fmt.Errorf("check %s: %w", cfg.ClusterPath, err)
	}
	return ok, nil
}

// openOnce opens a session for a one-shot command and waits, at most
// cfg.ConnectWait, until it is usable (credentials sent).
func openOnce(cfg Config, lg *zap.Logger) (*Elector, *zk.Conn, error) {
	wait := cfg.ConnectWait
	if wait <= 0 {
		wait = DefaultConnectWait
	}
	e := New(cfg, lg)
	epoch, err := e.Open()
	if err != nil {
		return nil, nil, err
	}
	timeout := time.NewTimer(wait)
	defer timeout.Stop()
	for {
		select {
		case ev := <-e.Events():
			if ev.Epoch == epoch && ev.Kind == Connected {
				c, _, _, err := e.current()
				if err != nil {
					e.Close()
					return nil, nil, err
				}
				return e, c, nil
			}
		case <-timeout.C:
			e.Close()
			return nil, nil, fmt.Errorf("%w with %v within %s (is the ensemble up? check zookeeper.connect and zookeeper.tls)", ErrNoSession, cfg.Servers, wait)
		}
	}
}

// deleteTree removes p and everything below it; depth bounds the recursion.
func deleteTree(c *zk.Conn, p string, depth int) error {
	if depth > 64 {
		return fmt.Errorf("delete %s: tree deeper than 64 levels", p)
	}
	kids, _, err := c.Children(p)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list %s: %w", p, err)
	}
	for _, k := range kids {
		if err := deleteTree(c, path.Join(p, k), depth+1); err != nil {
			return err
		}
	}
	if err := c.Delete(p, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("delete %s: %w", p, err)
	}
	return nil
}

// Lookup finds node's identity in the member registry, the lock or the
// breadcrumb, in that order (for fence-test).
func Lookup(cfg Config, node string, lg *zap.Logger) (*Info, error) {
	e, _, err := openOnce(cfg, lg)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	clusterPath := cfg.ClusterPath
	members, err := e.Members()
	if err != nil {
		return nil, err
	}
	for _, m := range members {
		if m.NodeID == node {
			return &m, nil
		}
	}
	if h, err := e.Holder(); err == nil && h != nil && h.NodeID == node {
		return h, nil
	}
	if b, _, err := e.Breadcrumb(); err == nil && b != nil && b.NodeID == node {
		return b, nil
	}
	return nil, fmt.Errorf("%s is not registered under %s (its zkfc is not running as a candidate) and is neither lock holder nor in the breadcrumb", node, clusterPath)
}
