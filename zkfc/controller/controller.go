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
//
// Where things are:
//
//	controller.go  the types, the loop's state (session, election, service), New
//	api.go         what other goroutines call: health, status, requests
//	loop.go        Run and the handling of each input
//	decide.go      the decision step: ordered guards, each naming its decision
//	promote.go     fence the previous active, take a token, promote
//	demote.go      quitting the election, demotes, role drift
//	adopt.go       restarts while paused: keep the service, adopt its role
//	selffence.go   the self-fencing deadline and a new session
//	status.go      the status snapshot and role transitions
//	replication.go positions, promotion eligibility, the jobs run off the loop
//	rejoin.go      following a new active; sync.go durable mode;
//	restart.go     restart in place
//	history.go     what the loop tells the durable history (never waits)
package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/zkfc/elector"
	"github.com/zkfc-project/zkfc/zkfc/history"
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
	CurrentToken() (uint64, error)
	// Pause is the pause flag as last read; RefreshPause reads it now.
	Pause() elector.PauseState
	RefreshPause() (elector.PauseState, error)
	SetPaused(on bool) (elector.PauseState, error)
	LastAck() (time.Time, time.Duration, bool)
	// BreakAfterSilence (margin > 0) closes a connection whose last
	// acknowledgment is the session timeout minus margin old, so that no
	// request can hold the loop past the self-fence deadline; 0 disarms.
	BreakAfterSilence(margin time.Duration)
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
	// LBDrain: before demoting an active service (except when
	// self-fencing), report it as not active for this long, so that load
	// balancers polling /active stop sending it clients first (control.lb_drain).
	LBDrain time.Duration

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

	// KeepServiceWhenPaused: while failover is paused, stopping leaves the
	// service in its role (see adopt.go). Leave it off when a peer may
	// fence this node with lease_expired, which trusts that a zkfc
	// demotes its service before its session ends.
	KeepServiceWhenPaused bool

	// OnRole is called from the loop whenever the role changes, the first
	// call being the first election outcome (systemd READY=1, STATUS=).
	OnRole func(role Role, reason string)
	// OnTick is called from the loop on every tick: it stops being called
	// when the loop stalls (systemd WATCHDOG=1).
	OnTick func()

	// Replication: rejoin, positions, eligibility, durable mode, restart
	// in place (replication.go); the zero value turns them off.
	Replication Replication
	// Failsafe: keep an active service through a quorum outage while
	// every peer promises (failsafe.go); off when it has no peers.
	Failsafe FailsafeConfig
	// History, if set, is told of every promotion, demotion and
	// self-fence (history.go); it must not block.
	History Recorder
}

// TokenMismatchError refuses a graceful-fence request that names a
// fencing token other than the one this node is active under: a late
// request from an older round must not demote a newer active.
type TokenMismatchError struct {
	Node      string
	Requested uint64
	Current   uint64
}

func (e *TokenMismatchError) Error() string {
	return fmt.Sprintf("graceful fence refused: %s is active under fencing token %d, the request names token %d",
		e.Node, e.Current, e.Requested)
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

// DefaultTick is the loop's clock resolution when Config.Tick is unset.
const DefaultTick = 100 * time.Millisecond

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
	healthIn Health
	// roleQuery cancels the role check the loop is running, nil if none:
	// a health failure or a lock change ends it (see checkDrift), saying
	// why in roleAbandon.
	roleQuery   context.CancelFunc
	roleAbandon string
	healthSig   chan struct{}
	reqs        chan request

	// Loop state: touched only by the loop goroutine (or by tests driving
	// the handlers directly), grouped by what it is about.
	sess session
	elec election
	svc  service
	repl replState
	// reason is the decision step's sentence for this cycle: why the node
	// is in its role and what it waits for (status, transitions).
	reason  string
	lastErr string
	fatal   error
	// abandoned: fatal is ErrServiceStateUnknown; Run leaves the session
	// open (it expires on its own) and demotes nothing more.
	abandoned   bool
	transitions []Transition
	lastFence   *FenceRecord
	// phases of the promotion under way, recorded with it (history.go).
	phases *history.Phases

	statusMu sync.Mutex
	status   Status

	// op is the demote the loop is running, nil if none; opStarted is
	// closed when the next one starts.
	opMu      sync.Mutex
	op        *demoteOp
	opStarted chan struct{}

	fs failsafe
}

// session is the ZooKeeper session as the loop knows it.
type session struct {
	epoch     uint64
	connected bool
	// disconnectedAt: when the connection to the quorum was lost (zero
	// while connected), for the reconnection's log line.
	disconnectedAt time.Time
	checked        bool // cluster znode verified after the first connection
	nextCheck      time.Time
	pause          elector.PauseState
	// pauseUnknown: connected, but the pause flag could not be read since
	// the connection: no election step until it is (see refreshPause).
	pauseUnknown bool
	// openFailed: the last Open failed; retried at nextOpen (reconnect.go).
	openFailed bool
	nextOpen   time.Time
	openWait   time.Duration
}

// election is this node's part in the election.
type election struct {
	joined      bool
	holdsLock   bool
	wantAttempt bool
	// releaseOwed: this session may still own the lock although the node
	// left the election (its release failed or could not be sent). Left
	// alone, the lock would outlive the election in a live session and no
	// other node could ever win; it is released as soon as possible.
	releaseOwed bool
	holder      *elector.Info // who held the lock at the last attempt
	// interrupted counts the promotions in a row that a lost connection
	// cut short (see interruptPromotion).
	interrupted int
	lockSince   time.Time
	// freeSeen: when the lock last changed while this node did not hold
	// it, the start of a promotion's lock phase (history).
	freeSeen time.Time
	// notBefore: no joining or attempt before then (cede, backoff), and
	// held says why, for the decision's sentence.
	notBefore time.Time
	held      string
	backoff   time.Duration
	// prioWait: until then the node defers to the higher-priority prioWho.
	prioWait time.Time
	prioWho  string
}

// service is the local service: its health, its role and the actions run
// on it.
type service struct {
	health      Health
	healthSince time.Time
	healthLog   []HealthChange // the last maxHealthLog changes, oldest first
	drillUntil  time.Time      // health overridden as failing until then
	role        Role
	token       uint64 // of the last successful promotion
	// demoteErr is the last failure of the demote action since the
	// service was last healthy (nil once a demote succeeded).
	demoteErr    error
	draining     bool // in the load-balancer drain before a demote
	nextRole     time.Time
	roleCheckOff bool
	// failingSince: the first failed probe of the current run (health
	// Progress "fall"), the start of a demotion's detection phase.
	failingSince time.Time
}

// New returns a Controller; m may be nil.
func New(cfg Config, el Elector, fencer Fencer, actions Actions, m *Metrics, lg *zap.Logger) *Controller {
	if cfg.Tick <= 0 {
		cfg.Tick = DefaultTick
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
		svc:       service{health: Health{State: "INITIALIZING"}},
		healthIn:  Health{State: "INITIALIZING"},
		elec:      election{backoff: cfg.BackoffInitial},
		opStarted: make(chan struct{}),
		repl:      newReplState(),
	}
	if c.cfg.Replication.RestartSettle <= 0 {
		c.cfg.Replication.RestartSettle = 10 * time.Second
	}
	c.initFailsafe()
	c.publish()
	return c
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
