// Package controller is zkfc's state machine: it ties the health of the
// local service, the election, fencing, the promote/demote actions, the
// self-fencing deadline and cede requests together.
//
// One goroutine, Run's, changes the role; every input (health changes,
// elector events, control requests, the clock) reaches it through a channel
// and is handled to completion before the next. It must never promote
// without holding the lock, having fenced the previous active and written
// the breadcrumb, and it must never keep the service active past the
// self-fencing deadline.
package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/zkfc/elector"
)

// Role is what zkfc believes the local service is.
type Role int

const (
	Initializing Role = iota
	Standby
	Active
)

func (r Role) String() string {
	switch r {
	case Standby:
		return "standby"
	case Active:
		return "active"
	}
	return "initializing"
}

// Elector is the part of *elector.Elector the controller uses.
type Elector interface {
	Open() (uint64, error)
	Close()
	Events() <-chan elector.Event
	CheckFormatted() error
	TryAcquire(self elector.Info) (bool, *elector.Info, error)
	Release() error
	Breadcrumb() (*elector.Info, int32, error)
	// MarkSession proves the lock is this session's and leaves a marker
	// only the session's end removes; it returns the session id.
	MarkSession(nodeID string) (int64, error)
	WriteBreadcrumb(info elector.Info, version int32) error
	DeleteBreadcrumb(nodeID string) error
	NextToken() (uint64, error)
	Paused() bool
	SetPaused(on bool) error
	LastAck() (time.Time, time.Duration, bool)
	Register(self elector.Info) error
	Unregister(nodeID string) error
	Members() ([]elector.Info, error)
	Holder() (*elector.Info, error)
}

// Fencer fences an old active; an error means it may still be running.
type Fencer interface {
	Fence(ctx context.Context, target elector.Info) error
}

// Actions changes or reads the local service's role.
type Actions interface {
	DoPromote(ctx context.Context, token uint64) error
	DoDemote(ctx context.Context, token uint64) error
	// QueryRole returns "active" or "standby"; ErrNoRoleCheck if the
	// service cannot be asked.
	QueryRole(ctx context.Context) (string, error)
}

// ErrNoRoleCheck disables role-drift detection.
var ErrNoRoleCheck = errors.New("no role check")

// Config tunes a Controller. Zero durations take the documented defaults
// of package config.
type Config struct {
	Self            elector.Info
	Cluster         string
	SelfFenceMargin time.Duration
	CedePeriod      time.Duration
	BackoffInitial  time.Duration
	BackoffMax      time.Duration
	PriorityDelay   time.Duration
	RoleInterval    time.Duration // 0 disables drift detection
	FenceTimeout    time.Duration // bound on one whole fencing attempt
	Tick            time.Duration // clock resolution of the loop; default 100ms

	// WaitFormatted: a missing cluster znode is retried instead of fatal.
	WaitFormatted bool

	// ExitOnFailedDemote: when the demote of a service that may be active
	// fails, Run returns ErrServiceStateUnknown at once, without closing
	// the session, and the process is to exit. Set when a peer may fence
	// this node with lease_expired, which trusts that a live zkfc demoted
	// its service before its session could expire: a zkfc that could not
	// demote leaves instead, so systemd's BindsTo= stops the service while
	// the session still lives (Pacemaker escalates a failed stop the same
	// way, to fencing).
	ExitOnFailedDemote bool

	// OnRole is called from the loop whenever the role changes, the first
	// call being the first election outcome (systemd READY=1, STATUS=).
	OnRole func(role Role, reason string)
	// OnTick is called from the loop on every tick: it stops being called
	// when the loop stalls (systemd WATCHDOG=1).
	OnTick func()
}

// Transition is one recorded role change.
type Transition struct {
	At     time.Time `json:"at"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	Reason string    `json:"reason"`
	Token  uint64    `json:"token,omitempty"`
}

// Status is a snapshot for the control API.
type Status struct {
	NodeID           string        `json:"node_id"`
	Cluster          string        `json:"cluster"`
	Role             string        `json:"role"`
	Health           string        `json:"health"`
	Healthy          bool          `json:"healthy"`
	Connected        bool          `json:"zk_connected"`
	InElection       bool          `json:"in_election"`
	HoldsLock        bool          `json:"holds_lock"`
	Paused           bool          `json:"paused"`
	FencingToken     uint64        `json:"fencing_token"`
	SessionEpoch     uint64        `json:"session_epoch"`
	SessionTimeoutMs int64         `json:"session_timeout_ms"`
	LastAckAgeMs     int64         `json:"last_ack_age_ms"`
	SelfFenceInMs    int64         `json:"self_fence_in_ms,omitempty"`
	NotBefore        time.Time     `json:"not_before,omitempty"`
	Priority         int           `json:"priority"`
	NoFailover       bool          `json:"no_failover"`
	Active           *elector.Info `json:"active,omitempty"`
	LastError        string        `json:"last_error,omitempty"`
	Transitions      []Transition  `json:"transitions"`
	// LockSince is when this node last acquired the lock (zero while it
	// does not hold it); LastFence is the last fencing this node ran.
	// Both let 'zkfc drill' time a takeover from the outside.
	LockSince time.Time `json:"lock_since,omitempty"`
	// HealthSince is when the health state last changed.
	HealthSince time.Time    `json:"health_since,omitempty"`
	LastFence   *FenceRecord `json:"last_fence,omitempty"`
	// HealthDrillUntil: the health check is overridden as failing until
	// then ('zkfc drill --mode fail-health').
	HealthDrillUntil time.Time `json:"health_drill_until,omitempty"`
}

// FenceRecord is one fencing of a previous active, successful or not.
type FenceRecord struct {
	At          time.Time `json:"at"`
	Target      string    `json:"target"`
	TargetToken uint64    `json:"target_token,omitempty"`
	TookMs      int64     `json:"took_ms"`
	Error       string    `json:"error,omitempty"`
}

// DrillHealthState is the health state reported while a drill overrides
// the health check.
const DrillHealthState = "SERVICE_UNHEALTHY (drill)"

// ErrServiceStateUnknown ends Run when a demote failed and the
// configuration asks zkfc to leave rather than stay (ExitOnFailedDemote).
var ErrServiceStateUnknown = errors.New("the service may still be active: its demote failed")

// NotResponding is the health state (Hadoop's name, as package healthcheck
// reports it) of a service whose probes run out of time: a service that
// cannot answer a probe will not finish a demote either.
const NotResponding = "SERVICE_NOT_RESPONDING"

// demoteOp is a run of the demote action by the loop, which graceful
// fencing requests join instead of queueing behind it.
type demoteOp struct {
	started time.Time
	done    chan struct{}
	err     error // set before done is closed
}

type reqKind int

const (
	reqCede reqKind = iota
	reqDemote
	reqPrepare
	reqFailHealth
)

type request struct {
	kind  reqKind
	d     time.Duration
	token uint64
	reply chan error
}

// Controller is the state machine. Create with New, drive with Run.
type Controller struct {
	cfg     Config
	el      Elector
	fencer  Fencer
	actions Actions
	lg      *zap.Logger
	m       *Metrics
	now     func() time.Time

	healthMu sync.Mutex
	healthIn healthUpdate
	// roleQuery cancels the role check the loop is running, nil if none:
	// a health failure ends it (see checkDrift).
	roleQuery context.CancelFunc
	healthSig chan struct{}
	reqs      chan request

	// Loop state: touched only by the loop goroutine (or by tests driving
	// the handlers directly).
	health       healthUpdate
	epoch        uint64
	connected    bool
	checked      bool // cluster znode verified after the first connection
	nextCheck    time.Time
	joined       bool
	holdsLock    bool
	wantAttempt  bool
	role         Role
	token        uint64
	notBefore    time.Time
	backoff      time.Duration
	prioWait     time.Time
	nextRole     time.Time
	roleCheckOff bool
	paused       bool
	holder       *elector.Info
	lastErr      string
	fatal        error
	// abandoned: fatal is ErrServiceStateUnknown; Run leaves the session
	// open (it expires on its own) and demotes nothing more.
	abandoned   bool
	transitions []Transition
	lockSince   time.Time
	healthSince time.Time
	lastFence   *FenceRecord
	drillUntil  time.Time // health overridden as failing until then
	// demoteErr is the last failure of the demote action since the
	// service was last healthy (nil once a demote succeeded).
	demoteErr error
	// releaseOwed: this session may still own the lock although the node
	// left the election (its release failed or could not be sent). Left
	// alone, the lock would outlive the election in a live session and no
	// other node could ever win; it is released as soon as possible.
	releaseOwed bool

	statusMu sync.Mutex
	status   Status

	// op is the demote the loop is running, nil if none; opStarted is
	// closed when the next one starts.
	opMu      sync.Mutex
	op        *demoteOp
	opStarted chan struct{}
}

type healthUpdate struct {
	state   string
	healthy bool
	known   bool
}

const maxTransitions = 50

// New returns a Controller; m may be nil.
func New(cfg Config, el Elector, fencer Fencer, actions Actions, m *Metrics, lg *zap.Logger) *Controller {
	if cfg.Tick <= 0 {
		cfg.Tick = 100 * time.Millisecond
	}
	if cfg.BackoffInitial <= 0 {
		cfg.BackoffInitial = time.Second
	}
	if cfg.BackoffMax < cfg.BackoffInitial {
		cfg.BackoffMax = 30 * cfg.BackoffInitial
	}
	if cfg.CedePeriod <= 0 {
		cfg.CedePeriod = 10 * time.Second
	}
	if cfg.FenceTimeout <= 0 {
		cfg.FenceTimeout = 30 * time.Second
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	c := &Controller{
		cfg: cfg, el: el, fencer: fencer, actions: actions, lg: lg, m: m, now: time.Now,
		healthSig: make(chan struct{}, 1),
		reqs:      make(chan request),
		health:    healthUpdate{state: "INITIALIZING"},
		healthIn:  healthUpdate{state: "INITIALIZING"},
		backoff:   cfg.BackoffInitial,
		opStarted: make(chan struct{}),
	}
	c.publish()
	return c
}

// SetHealth reports the health monitor's state. It never blocks; only the
// latest state counts. known is false while the monitor is initializing.
func (c *Controller) SetHealth(state string, healthy, known bool) {
	c.healthMu.Lock()
	c.healthIn = healthUpdate{state: state, healthy: healthy, known: known}
	if known && !healthy && c.roleQuery != nil {
		c.roleQuery()
	}
	c.healthMu.Unlock()
	select {
	case c.healthSig <- struct{}{}:
	default:
	}
}

// Status returns the latest snapshot.
func (c *Controller) Status() Status {
	c.statusMu.Lock()
	defer c.statusMu.Unlock()
	s := c.status
	s.Transitions = append([]Transition(nil), s.Transitions...)
	return s
}

// Cede makes this node leave the election for d (0: the configured cede
// period), demoting the service first if it is active. Used by graceful
// failover on the old active and on other candidates.
func (c *Controller) Cede(ctx context.Context, d time.Duration) error {
	return c.call(ctx, request{kind: reqCede, d: d})
}

// GracefulDemote is the server side of graceful fencing: demote the local
// service now; an error means the caller must try a harsher method.
//
// While the loop is itself demoting the service (a sick active quitting,
// self-fencing) the request does not queue behind that demote: it gets the
// in-flight demote's outcome, or, when the service does not even answer its
// health probes, an immediate refusal, so that the caller moves on to a
// method that works without the service instead of waiting out a demote
// that cannot finish.
func (c *Controller) GracefulDemote(ctx context.Context, token uint64) error {
	for {
		c.opMu.Lock()
		op, started := c.op, c.opStarted
		c.opMu.Unlock()
		if op != nil {
			return c.joinDemote(ctx, op)
		}
		r := request{kind: reqDemote, token: token, reply: make(chan error, 1)}
		select {
		case c.reqs <- r:
			select {
			case err := <-r.reply:
				return err
			case <-ctx.Done():
				return fmt.Errorf("waiting for the controller: %w", ctx.Err())
			}
		case <-started:
			// The loop began a demote meanwhile: join it rather than wait
			// for the loop.
		case <-ctx.Done():
			return fmt.Errorf("controller busy: %w", ctx.Err())
		}
	}
}

// joinDemote answers a graceful fencing request with the demote the loop
// is running.
func (c *Controller) joinDemote(ctx context.Context, op *demoteOp) error {
	c.healthMu.Lock()
	h := c.healthIn
	c.healthMu.Unlock()
	if h.known && h.state == NotResponding {
		return fmt.Errorf("graceful demote of %s: not confirmed: the service is %s and a demote of it is still running since %s",
			c.cfg.Self.NodeID, h.state, op.started.Format(time.RFC3339Nano))
	}
	select {
	case <-op.done:
		if op.err != nil {
			return fmt.Errorf("graceful demote of %s: %w", c.cfg.Self.NodeID, op.err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("graceful demote of %s: waiting for the demote in flight: %w", c.cfg.Self.NodeID, ctx.Err())
	}
}

// PrepareFailover makes this node a candidate now (clearing a cede or
// backoff); it fails if the node cannot become active.
func (c *Controller) PrepareFailover(ctx context.Context) error {
	return c.call(ctx, request{kind: reqPrepare})
}

// FailHealth makes the controller treat its service as unhealthy for d,
// whatever the health check says, so that a drill can exercise the
// unhealthy-active path without breaking the service; d <= 0 ends an
// override early.
func (c *Controller) FailHealth(ctx context.Context, d time.Duration) error {
	return c.call(ctx, request{kind: reqFailHealth, d: d})
}

// SetPaused sets or clears the cluster-wide pause of automatic failover.
func (c *Controller) SetPaused(on bool) error { return c.el.SetPaused(on) }

// Members lists the registered candidates.
func (c *Controller) Members() ([]elector.Info, error) { return c.el.Members() }

// Holder reads who holds the lock.
func (c *Controller) Holder() (*elector.Info, error) { return c.el.Holder() }

// Self is this node's identity.
func (c *Controller) Self() elector.Info { return c.cfg.Self }

func (c *Controller) call(ctx context.Context, r request) error {
	r.reply = make(chan error, 1)
	select {
	case c.reqs <- r:
	case <-ctx.Done():
		return fmt.Errorf("controller busy: %w", ctx.Err())
	}
	select {
	case err := <-r.reply:
		return err
	case <-ctx.Done():
		return fmt.Errorf("waiting for the controller: %w", ctx.Err())
	}
}

// Run drives the state machine until ctx ends or a fatal error (such as an
// unformatted cluster znode). On the way out an active service is demoted
// and the lock released, so a peer can take over without fencing.
func (c *Controller) Run(ctx context.Context) error {
	epoch, err := c.el.Open()
	if err != nil {
		return err
	}
	c.epoch = epoch
	defer func() {
		if !c.abandoned {
			c.el.Close()
		}
	}()
	tick := time.NewTicker(c.cfg.Tick)
	defer tick.Stop()
	for c.fatal == nil {
		select {
		case <-ctx.Done():
			c.shutdown()
			return nil
		case <-c.healthSig:
			c.healthMu.Lock()
			h := c.healthIn
			c.healthMu.Unlock()
			c.handleHealth(h)
		case ev := <-c.el.Events():
			c.handleEvent(ev)
		case r := <-c.reqs:
			r.reply <- c.handleRequest(r)
		case <-tick.C:
		}
		c.tick()
		c.publish()
	}
	if !c.abandoned {
		c.shutdown()
	}
	return c.fatal
}

// demoteFailed records a failed demote of a service that may be active:
// with ExitOnFailedDemote, the loop ends (see ErrServiceStateUnknown).
func (c *Controller) demoteFailed(err error) {
	if !c.cfg.ExitOnFailedDemote || c.abandoned {
		return
	}
	c.abandoned = true
	c.fatal = fmt.Errorf("%w (%v); zkfc exits without closing its session so that the service, bound to zkfc, is stopped before the session can expire",
		ErrServiceStateUnknown, err)
	c.lastErr = c.fatal.Error()
}

func (c *Controller) shutdown() {
	if c.role == Active {
		c.quit(false, "zkfc shutting down")
	} else if c.joined {
		c.quit(false, "zkfc shutting down")
	}
	c.publish()
}

func (c *Controller) handleHealth(h healthUpdate) {
	if !c.drillUntil.IsZero() {
		return // endHealthDrill applies the monitor's latest state
	}
	c.applyHealth(h)
}

func (c *Controller) applyHealth(h healthUpdate) {
	was := c.health
	c.health = h
	if was.state != h.state {
		c.healthSince = c.now()
	}
	if h.healthy {
		c.demoteErr = nil
	}
	c.m.healthy.Set(b2f(h.healthy))
	if was.state != h.state {
		c.lg.Info("health changed", zap.String("from", was.state), zap.String("to", h.state))
	}
}

func (c *Controller) handleEvent(ev elector.Event) {
	if ev.Epoch != c.epoch {
		c.m.staleEvents.Inc()
		c.lg.Debug("ignoring event from an old session", zap.Uint64("event_epoch", ev.Epoch),
			zap.Uint64("epoch", c.epoch), zap.Stringer("kind", ev.Kind))
		return
	}
	switch ev.Kind {
	case elector.Connected:
		c.connected = true
		c.m.connected.Set(1)
		c.checkFormatted()
		if c.fatal != nil {
			return
		}
		c.paused = c.el.Paused()
		// Registered for as long as the session lives, in the election or
		// not (ceded, unhealthy): failover --to finds nodes here.
		c.register()
		if c.joined {
			c.wantAttempt = true
		}
	case elector.Disconnected:
		c.connected = false
		c.m.connected.Set(0)
		c.lg.Warn("disconnected from zookeeper", zap.String("role", c.role.String()))
	case elector.Expired:
		c.connected = false
		c.m.connected.Set(0)
		c.holdsLock = false
		if c.role == Active {
			c.selfFence("zookeeper session expired")
		}
		c.reopen()
	case elector.LockChanged:
		if c.joined {
			c.wantAttempt = true
		}
	case elector.PauseChanged:
		p := c.el.Paused()
		if p != c.paused {
			c.lg.Info("automatic failover pause changed", zap.Bool("paused", p))
		}
		c.paused = p
		c.m.paused.Set(b2f(p))
		if c.joined {
			c.wantAttempt = true
		}
	}
}

func (c *Controller) handleRequest(r request) error {
	now := c.now()
	switch r.kind {
	case reqCede:
		d := r.d
		if d <= 0 {
			d = c.cfg.CedePeriod
		}
		if c.role == Active || c.joined {
			c.quit(false, fmt.Sprintf("ceding for %s", d))
		}
		c.notBefore = now.Add(d)
		return nil
	case reqDemote:
		// Another node holds the lock and asks us to make sure our service
		// is standby. Run the demote even if we believe it already is.
		if c.demoteErr != nil && !c.health.healthy {
			// The sick service already failed to demote (typically hung):
			// a second try would only spend the caller's graceful timeout
			// before it reaches for a method that works without the service.
			return fmt.Errorf("graceful demote of %s: not tried again: the service is %s and its last demote failed: %w",
				c.cfg.Self.NodeID, c.health.state, c.demoteErr)
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.FenceTimeout)
		defer cancel()
		if err := c.demote(ctx); err != nil {
			return fmt.Errorf("graceful demote of %s: %w", c.cfg.Self.NodeID, err)
		}
		c.releaseLock()
		if c.role != Standby {
			c.setRole(Standby, fmt.Sprintf("demoted by graceful fencing (fenced token %d)", r.token))
		}
		if c.joined {
			c.wantAttempt = true
		}
		return nil
	case reqPrepare:
		switch {
		case c.cfg.Self.NoFailover:
			return fmt.Errorf("%s carries the no-failover tag", c.cfg.Self.NodeID)
		case !c.health.healthy:
			return fmt.Errorf("%s is not healthy (%s)", c.cfg.Self.NodeID, c.health.state)
		case c.paused:
			return errors.New("automatic failover is paused; run 'zkfc resume' first")
		case !c.connected:
			return errors.New("not connected to zookeeper")
		}
		c.notBefore = time.Time{}
		c.backoff = c.cfg.BackoffInitial
		c.prioWait = now.Add(-time.Nanosecond) // a named target does not defer to priority
		return nil
	case reqFailHealth:
		if r.d <= 0 {
			c.endHealthDrill()
			return nil
		}
		c.lg.Warn("drill: health check overridden as failing", zap.Duration("for", r.d))
		c.drillUntil = now.Add(r.d)
		c.applyHealth(healthUpdate{state: DrillHealthState, known: true})
		return nil
	}
	return fmt.Errorf("unknown request %d", r.kind)
}

// tick handles the clock: the self-fencing deadline first, then drift,
// then (re)joining.
func (c *Controller) tick() {
	now := c.now()
	if !c.drillUntil.IsZero() && !now.Before(c.drillUntil) {
		c.endHealthDrill()
	}
	if c.role == Active {
		at, timeout, ok := c.el.LastAck()
		if ok {
			deadline := at.Add(timeout - c.cfg.SelfFenceMargin)
			if !now.Before(deadline) {
				c.selfFence(fmt.Sprintf("no acknowledgment from zookeeper for %s (session timeout %s, margin %s)",
					now.Sub(at).Round(time.Millisecond), timeout, c.cfg.SelfFenceMargin))
				c.reopen()
			}
		}
	}
	if c.cfg.RoleInterval > 0 && !c.roleCheckOff && c.role != Initializing && !now.Before(c.nextRole) {
		c.nextRole = now.Add(c.cfg.RoleInterval)
		// Never query the role of a sick service: a hung one answers
		// nothing, so the query would stall this loop for the action's
		// whole deadline, tick after tick, and hold back the health
		// failure the loop is about to act on (found by the SIGSTOP drill:
		// detection 0.5s, quit 8-12s later). The health path handles it;
		// checkDrift also skips, or cancels, the query on a failure the
		// monitor reported but this loop has not applied yet.
		if c.health.healthy {
			c.checkDrift()
		}
	}
	c.reconcile(now)
	if c.cfg.OnTick != nil {
		c.cfg.OnTick()
	}
}

// endHealthDrill returns to the monitor's latest state.
func (c *Controller) endHealthDrill() {
	if c.drillUntil.IsZero() {
		return
	}
	c.drillUntil = time.Time{}
	c.lg.Info("drill: health check override ended")
	c.healthMu.Lock()
	h := c.healthIn
	c.healthMu.Unlock()
	c.applyHealth(h)
}

// checkFormatted verifies the cluster znode exists. Missing, it is fatal
// unless WaitFormatted (an embedded quorum must stay up for 'zkfc format'
// to reach it); then it is checked again every few seconds.
func (c *Controller) checkFormatted() {
	if c.checked || !c.connected || c.now().Before(c.nextCheck) {
		return
	}
	c.nextCheck = c.now().Add(2 * time.Second)
	err := c.el.CheckFormatted()
	switch {
	case err == nil:
		c.checked = true
		c.lastErr = "" // errors so far were about the missing cluster znode
		c.register()   // failed while the cluster znode was missing
	case errors.Is(err, elector.ErrNotFormatted) && !c.cfg.WaitFormatted:
		c.fatal = err
	default:
		c.lastErr = err.Error()
		c.lg.Error("cluster znode not usable yet", zap.Error(err))
	}
}

func (c *Controller) reconcile(now time.Time) {
	if c.fatal != nil || c.paused {
		return
	}
	if !c.checked {
		c.checkFormatted()
		return
	}
	if c.joined && c.health.known && !c.health.healthy {
		// Hadoop's quitElection(needFence=true): the breadcrumb stays so
		// the next active fences this service. Level-triggered, so a
		// service that failed while paused quits on resume.
		c.quit(true, "service "+c.health.state)
	}
	if !c.connected {
		return
	}
	if c.releaseOwed && !c.joined {
		if err := c.el.Release(); err != nil {
			c.lg.Warn("release lock", zap.Error(err))
		} else {
			c.releaseOwed = false
			c.lg.Info("released the lock left over by a failed release")
		}
	}
	if !c.joined {
		switch {
		case c.health.known && c.health.healthy && !c.cfg.Self.NoFailover && !now.Before(c.notBefore):
			// A lock still owned by this session is ours to use again.
			c.releaseOwed = false
			c.joined = true
			c.wantAttempt = true
			c.register()
			c.lg.Info("joining the election")
		case c.role == Initializing && c.health.known:
			// Not a candidate (unhealthy or no-failover): the first outcome
			// is known, and the service must be standby.
			reason := "not a candidate: service " + c.health.state
			if c.cfg.Self.NoFailover {
				reason = "not a candidate: no-failover tag"
			}
			c.becomeStandby(reason)
		}
		if !c.joined {
			return
		}
	}
	if c.wantAttempt && !now.Before(c.notBefore) {
		c.attempt(now)
	}
}

func (c *Controller) attempt(now time.Time) {
	c.wantAttempt = false
	if !c.holdsLock && c.cfg.PriorityDelay > 0 && c.higherPriorityWaiting(now) {
		c.wantAttempt = true
		return
	}
	held, holder, err := c.el.TryAcquire(c.cfg.Self)
	if err != nil {
		c.lastErr = err.Error()
		c.lg.Warn("election attempt failed", zap.Error(err))
		c.notBefore = now.Add(c.cfg.BackoffInitial)
		c.wantAttempt = true
		return
	}
	c.prioWait = time.Time{}
	if !held {
		c.holdsLock = false
		c.holder = holder
		if holder == nil {
			c.wantAttempt = true // freed in between: try again
			return
		}
		c.becomeStandby("lock held by " + holder.NodeID)
		return
	}
	if !c.holdsLock {
		c.lockSince = c.now()
	}
	c.holdsLock = true
	c.holder = &c.cfg.Self
	if c.role == Active {
		return // still ours, e.g. after a reconnection
	}
	c.promote(now)
}

// higherPriorityWaiting reports whether a registered candidate with a
// higher priority should get the first chance at a free lock; it starts
// one priority delay the first time it is asked.
func (c *Controller) higherPriorityWaiting(now time.Time) bool {
	if !c.prioWait.IsZero() {
		return now.Before(c.prioWait)
	}
	members, err := c.el.Members()
	if err != nil {
		return false
	}
	for _, m := range members {
		if m.NodeID != c.cfg.Self.NodeID && m.Candidate && !m.NoFailover && m.Priority > c.cfg.Self.Priority {
			c.prioWait = now.Add(c.cfg.PriorityDelay)
			c.lg.Info("deferring to a higher-priority candidate", zap.String("candidate", m.NodeID), zap.Duration("for", c.cfg.PriorityDelay))
			return true
		}
	}
	c.prioWait = now.Add(-time.Nanosecond)
	return false
}

// promote runs Hadoop's winner sequence, then the promote action. Any
// failure releases the lock and backs off; nothing here reports active
// before the action succeeded.
func (c *Controller) promote(now time.Time) {
	if !c.health.healthy {
		c.failPromotion(now, "service not healthy at promotion")
		return
	}
	bc, version, err := c.el.Breadcrumb()
	if err != nil {
		c.failPromotion(now, err.Error())
		return
	}
	if bc != nil && bc.NodeID != c.cfg.Self.NodeID {
		c.lg.Info("fencing the previous active", zap.String("target", bc.NodeID), zap.Uint64("its_token", bc.Token))
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.FenceTimeout)
		start := c.now()
		err := c.fencer.Fence(ctx, *bc)
		cancel()
		c.lastFence = &FenceRecord{At: start, Target: bc.NodeID, TargetToken: bc.Token, TookMs: c.now().Sub(start).Milliseconds()}
		if err != nil {
			c.lastFence.Error = err.Error()
			c.m.fences.WithLabelValues("failure").Inc()
			c.failPromotion(now, fmt.Sprintf("fencing %s failed: %v", bc.NodeID, err))
			return
		}
		c.m.fences.WithLabelValues("success").Inc()
	}
	// The breadcrumb names the session we will be active under, so that
	// the next winner can prove it ended (lease_expired fencing) instead
	// of reaching for this host.
	session, err := c.el.MarkSession(c.cfg.Self.NodeID)
	if err != nil {
		c.failPromotion(now, err.Error())
		return
	}
	token, err := c.el.NextToken()
	if err != nil {
		c.failPromotion(now, err.Error())
		return
	}
	self := c.cfg.Self
	self.Token = token
	self.Session = session
	if err := c.el.WriteBreadcrumb(self, version); err != nil {
		c.failPromotion(now, err.Error())
		return
	}
	if err := c.actions.DoPromote(context.Background(), token); err != nil {
		// The action may have half-worked: demote even if zkfc's role
		// already says standby.
		c.demoteService("promote action failed: "+err.Error(), true)
		c.failPromotion(now, err.Error())
		return
	}
	c.token = token
	c.backoff = c.cfg.BackoffInitial
	c.m.token.Set(float64(token))
	c.m.promotions.WithLabelValues("success").Inc()
	c.setRole(Active, fmt.Sprintf("won the election (token %d)", token))
}

func (c *Controller) failPromotion(now time.Time, reason string) {
	c.m.promotions.WithLabelValues("failure").Inc()
	c.lastErr = "promotion failed: " + reason
	c.lg.Warn("promotion failed; releasing the lock", zap.String("reason", reason), zap.Duration("backoff", c.backoff))
	// Demote before releasing: the service must be down before another
	// node can win.
	c.becomeStandby("promotion failed: " + reason)
	if err := c.el.Release(); err != nil {
		c.lg.Warn("release lock; retrying once connected", zap.Error(err))
		c.releaseOwed = true
	}
	c.holdsLock = false
	c.joined = false
	c.register()
	c.notBefore = now.Add(c.backoff)
	c.backoff = min(2*c.backoff, c.cfg.BackoffMax)
}

// quit leaves the election. needFence keeps this node's breadcrumb, so the
// next active fences it; otherwise (a graceful quit whose demote
// succeeded) the breadcrumb is removed.
//
// A sick active (needFence) gives up the lock before it tries to demote its
// service: the demote of a hung service only ends at its timeout, and the
// next candidate must fence this service before it promotes anyway, so it
// can start at once. Its graceful fencing joins the demote in flight
// (GracefulDemote) instead of waiting behind it.
func (c *Controller) quit(needFence bool, reason string) {
	wasActive := c.role == Active
	if wasActive && needFence {
		c.releaseLock()
	}
	if wasActive {
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.FenceTimeout)
		if err := c.demote(ctx); err != nil {
			c.lg.Error("demote failed while quitting the election", zap.Error(err))
			needFence = true
			c.demoteFailed(err)
		}
		cancel()
	}
	if c.connected {
		// Breadcrumb first, while the lock is still ours: released first,
		// the next winner could read it and fence us needlessly.
		if !needFence && wasActive {
			if err := c.el.DeleteBreadcrumb(c.cfg.Self.NodeID); err != nil {
				c.lg.Warn("delete breadcrumb", zap.Error(err))
			}
		}
	}
	c.releaseLock()
	c.joined = false
	c.wantAttempt = false
	c.register()
	c.lg.Info("quit the election", zap.String("reason", reason), zap.Bool("need_fence", needFence))
	if c.role != Standby {
		c.setRole(Standby, reason)
	}
}

// releaseLock gives up the lock if this node holds it; a release that
// cannot be sent now is owed and retried once connected.
func (c *Controller) releaseLock() {
	if !c.holdsLock {
		return
	}
	c.holdsLock = false
	if !c.connected {
		c.releaseOwed = true
		return
	}
	if err := c.el.Release(); err != nil {
		c.lg.Warn("release lock; retrying once connected", zap.Error(err))
		c.releaseOwed = true
	}
}

// selfFence demotes the service because the server may soon expire our
// session and let another node win. The demote gets until the earliest
// possible expiry.
func (c *Controller) selfFence(reason string) {
	c.m.selfFences.Inc()
	c.lg.Warn("self-fencing: demoting the local service", zap.String("reason", reason))
	at, timeout, ok := c.el.LastAck()
	limit := 500 * time.Millisecond
	if ok {
		limit = max(limit, time.Until(at.Add(timeout)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	if err := c.demote(ctx); err != nil {
		c.lg.Error("self-fencing demote failed; the service may still be active", zap.Error(err))
		c.lastErr = "self-fence demote failed: " + err.Error()
		c.demoteFailed(err)
	}
	cancel()
	c.holdsLock = false
	c.joined = false
	c.wantAttempt = false
	c.setRole(Standby, "self-fenced: "+reason)
}

// reopen abandons the session (dropping any lock it holds) for a new one;
// callbacks of the old one are ignored from here on. Not once the loop is
// ending abandoned (ErrServiceStateUnknown): zkfc is about to exit.
func (c *Controller) reopen() {
	if c.abandoned {
		return
	}
	c.connected = false
	c.m.connected.Set(0)
	c.holdsLock = false
	c.releaseOwed = false // the lock goes with the abandoned session
	epoch, err := c.el.Open()
	if err != nil {
		c.lastErr = err.Error()
		c.lg.Error("reopen zookeeper session", zap.Error(err))
		return
	}
	c.epoch = epoch
}

// register publishes this node in the member registry, with whether it is
// currently a candidate.
func (c *Controller) register() {
	if !c.connected {
		return
	}
	self := c.cfg.Self
	self.Candidate = c.joined
	if err := c.el.Register(self); err != nil {
		c.lg.Warn("member registration", zap.Error(err))
	}
}

// checkDrift asks the service for its role. A health failure reported
// meanwhile cancels the query: a service that hangs during the query would
// otherwise hold this loop, and the failover, for the action's whole
// deadline (found by the SIGSTOP drill: the standby began fencing 1.2 s
// later than in runs where the hang missed the role check).
func (c *Controller) checkDrift() {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.FenceTimeout)
	c.healthMu.Lock()
	if c.healthIn.known && !c.healthIn.healthy {
		c.healthMu.Unlock()
		cancel()
		return // reported, not applied yet: never query a sick service
	}
	c.roleQuery = cancel
	c.healthMu.Unlock()
	got, err := c.actions.QueryRole(ctx)
	c.healthMu.Lock()
	c.roleQuery = nil
	c.healthMu.Unlock()
	interrupted := ctx.Err() == context.Canceled
	cancel()
	if errors.Is(err, ErrNoRoleCheck) {
		c.roleCheckOff = true
		return
	}
	if interrupted {
		c.lg.Info("role check abandoned: the health check failed meanwhile")
		return
	}
	if err != nil {
		c.lg.Warn("role check failed", zap.Error(err))
		return
	}
	want := c.role.String()
	if got == want {
		return
	}
	c.m.drifts.Inc()
	reason := fmt.Sprintf("service reports %s, zkfc expects %s", got, want)
	c.lg.Warn("role drift: quitting and rejoining", zap.String("reason", reason))
	if got == "active" && c.role != Active {
		// An active service without the lock is the dangerous case.
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.FenceTimeout)
		if err := c.actions.DoDemote(ctx, c.token); err != nil {
			c.lg.Error("demote after drift", zap.Error(err))
			c.demoteFailed(err)
		}
		cancel()
	}
	if c.joined || c.role == Active {
		c.quit(true, "role drift: "+reason)
	} else {
		c.setRole(Standby, "role drift: "+reason)
	}
	c.notBefore = c.now().Add(c.cfg.BackoffInitial)
}

func (c *Controller) becomeStandby(reason string) {
	if c.role == Standby {
		return
	}
	c.demoteService(reason, c.role == Active)
}

// demoteService runs the demote action and records the standby role.
// mayBeActive: the service may be active (this node was, or a promote
// half-worked), so a failed demote leaves its state unknown.
func (c *Controller) demoteService(reason string, mayBeActive bool) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.FenceTimeout)
	if err := c.demote(ctx); err != nil {
		c.lg.Error("demote to standby failed", zap.Error(err))
		c.lastErr = err.Error()
		if mayBeActive {
			c.demoteFailed(err)
		}
	}
	cancel()
	if c.role != Standby {
		c.setRole(Standby, reason)
	}
}

// demote runs the demote action and remembers whether it failed; graceful
// fencing requests arriving meanwhile join it (GracefulDemote).
func (c *Controller) demote(ctx context.Context) error {
	op := &demoteOp{started: c.now(), done: make(chan struct{})}
	c.opMu.Lock()
	c.op = op
	close(c.opStarted)
	c.opMu.Unlock()
	err := c.actions.DoDemote(ctx, c.token)
	op.err = err
	c.opMu.Lock()
	c.op = nil
	c.opStarted = make(chan struct{})
	c.opMu.Unlock()
	close(op.done)
	c.demoteErr = err
	return err
}

func (c *Controller) setRole(r Role, reason string) {
	from := c.role
	c.role = r
	c.m.active.Set(b2f(r == Active))
	c.m.transitions.WithLabelValues(r.String()).Inc()
	t := Transition{At: c.now(), From: from.String(), To: r.String(), Reason: reason}
	if r == Active {
		t.Token = c.token
	}
	c.transitions = append(c.transitions, t)
	if len(c.transitions) > maxTransitions {
		c.transitions = c.transitions[len(c.transitions)-maxTransitions:]
	}
	c.lg.Info("role changed", zap.String("from", from.String()), zap.String("to", r.String()),
		zap.String("reason", reason), zap.Uint64("token", c.token))
	if c.cfg.OnRole != nil {
		c.cfg.OnRole(r, reason)
	}
}

func (c *Controller) publish() {
	s := Status{
		NodeID: c.cfg.Self.NodeID, Cluster: c.cfg.Cluster, Role: c.role.String(),
		Health: c.health.state, Healthy: c.health.healthy, Connected: c.connected,
		InElection: c.joined, HoldsLock: c.holdsLock, Paused: c.paused,
		FencingToken: c.token, SessionEpoch: c.epoch, NotBefore: c.notBefore,
		Priority: c.cfg.Self.Priority, NoFailover: c.cfg.Self.NoFailover,
		Active: c.holder, LastError: c.lastErr,
		Transitions:      append([]Transition(nil), c.transitions...),
		HealthDrillUntil: c.drillUntil, HealthSince: c.healthSince,
	}
	if c.holdsLock {
		s.LockSince = c.lockSince
	}
	if c.lastFence != nil {
		f := *c.lastFence
		s.LastFence = &f
	}
	if c.el != nil {
		at, timeout, ok := c.el.LastAck()
		s.SessionTimeoutMs = timeout.Milliseconds()
		if ok {
			s.LastAckAgeMs = c.now().Sub(at).Milliseconds()
			if c.role == Active {
				s.SelfFenceInMs = at.Add(timeout - c.cfg.SelfFenceMargin).Sub(c.now()).Milliseconds()
			}
		}
	}
	if c.role != Active && c.holder != nil && c.holder.NodeID == c.cfg.Self.NodeID {
		s.Active = nil
	}
	c.statusMu.Lock()
	c.status = s
	c.statusMu.Unlock()
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
