package controller

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/zkfc/elector"
)

// The mechanisms of a replicated service (configs/README.md, "Replicated
// services"), each off by default:
//
//   - positions: every node runs actions.position each
//     replication.position_interval; the active records its answer in the
//     Position znode (which outlives it), every other node its own in its
//     members/ entry;
//   - eligibility: a candidate that won the lock checks, before it fences
//     the old active and again after, that it is fit to take over
//     (replication.max_lag, replication.durable); unfit, it gives the lock
//     back and backs off;
//   - durable mode: the active keeps one standby synchronous and records
//     it in the Sync znode (sync.go);
//   - rejoin (rejoin.go) and restart in place (restart.go).
//
// The commands run off the loop, as jobs: the loop starts one and hears of
// its end on repl.results, so a slow pg_rewind never holds back the
// self-fencing deadline or a health failure. At most one job that changes
// the service (rejoin, restart, sync_on, sync_off) runs at a time, and a
// demote cancels it first; a position query may run beside it.

// ReplicaActions are the optional commands of a replicated service
// (*action.Replica). The controller calls only the configured ones.
type ReplicaActions interface {
	DoRejoin(ctx context.Context, node, host string, port int, token uint64) error
	QueryPosition(ctx context.Context) (uint64, error)
	DoSyncOn(ctx context.Context, standby string, token uint64) error
	DoSyncOff(ctx context.Context, token uint64) error
	DoRestart(ctx context.Context, role string, token uint64) error
}

// Records are the znodes of a replicated service (*elector.Elector).
type Records interface {
	ReadPosition() (*elector.Position, error)
	WritePosition(elector.Position) error
	ReadSync() (*elector.Sync, error)
	WriteSync(elector.Sync) error
}

// Replication configures the mechanisms above; the zero value turns them
// all off.
type Replication struct {
	Actions ReplicaActions
	Records Records
	// Rejoin and Position: actions.rejoin and actions.position are set.
	Rejoin   bool
	Position bool
	// PositionInterval: replication.position_interval (default 1s).
	PositionInterval time.Duration
	// MaxLag: replication.max_lag; nil: no check.
	MaxLag *uint64
	// Durable: replication.durable (needs Position and sync_on/sync_off);
	// WhenAloneBlock: replication.when_alone is block.
	Durable        bool
	WhenAloneBlock bool
	// RestartAttempts within RestartWindow: restart.max_attempts (0: off)
	// and restart.window.
	RestartAttempts int
	RestartWindow   time.Duration
	// RestartSettle bounds how long a restarted service may take to pass
	// a health probe before the attempt counts as failed.
	RestartSettle time.Duration
}

// ReplicationStatus is the replication part of Status: each field is a
// sentence, empty when its mechanism is off.
type ReplicationStatus struct {
	// Position: the service's position as last queried.
	Position *uint64 `json:"position,omitempty"`
	// PositionError: why the last query failed.
	PositionError string `json:"position_error,omitempty"`
	// Eligibility: the verdict of the last promotion-eligibility check.
	Eligibility string `json:"eligibility,omitempty"`
	Rejoin      string `json:"rejoin,omitempty"`
	Sync        string `json:"sync,omitempty"`
	Restart     string `json:"restart,omitempty"`
}

type jobKind int

const (
	jobPosition jobKind = iota
	jobRejoin
	jobRestart
	jobSyncOn
	jobSyncOff
)

func (k jobKind) String() string {
	return [...]string{"position", "rejoin", "restart", "sync_on", "sync_off"}[k]
}

// job is a command running off the loop.
type job struct {
	seq    uint64
	kind   jobKind
	cancel context.CancelFunc
	done   chan struct{}
}

// jobResult is a job's end, delivered to the loop.
type jobResult struct {
	seq  uint64
	kind jobKind
	err  error
	pos  uint64 // jobPosition; jobSyncOn: the active's position read after sync_on
	// started: when the job started (a position is as old as its query)
	started time.Time
	// what the job was started for
	token   uint64
	standby string
}

// replState is the loop's state of the replication mechanisms.
type replState struct {
	results chan jobResult
	seq     uint64
	svcJob  *job // the one job that changes the service, nil if none
	posJob  *job

	nextPos  time.Time
	position *uint64
	// posFrom: when the query that answered position started; svcMoved:
	// when a rejoin or restart last started or ended, or the health check
	// last failed. A position only grows while the service runs on, but a
	// rewind (ours, or an operator's while the service was down) may take
	// it back: one from before proves nothing.
	posFrom    time.Time
	svcMoved   time.Time
	posErr     string
	posWritten elector.Position // the last Position record this node wrote
	eligible   string

	rejoin  rejoinState
	sync    syncState
	restart restartState
}

func newReplState() replState {
	return replState{results: make(chan jobResult, 4)}
}

// startJob runs f off the loop; its end reaches jobDone through the loop.
// A service job is refused while another runs.
// Every action has its own deadline (actions.*.timeout).
func (c *Controller) startJob(kind jobKind, r jobResult, f func(ctx context.Context, r *jobResult)) bool {
	slot := &c.repl.svcJob
	if kind == jobPosition {
		slot = &c.repl.posJob
	}
	if *slot != nil {
		return false
	}
	c.repl.seq++
	ctx, cancel := context.WithCancel(context.Background())
	j := &job{seq: c.repl.seq, kind: kind, cancel: cancel, done: make(chan struct{})}
	*slot = j
	r.seq, r.kind, r.started = j.seq, kind, c.now()
	if kind == jobRejoin || kind == jobRestart {
		c.repl.svcMoved = r.started
	}
	c.lg.Debug("job started", zap.Stringer("job", kind), zap.Uint64("seq", j.seq))
	go func() {
		defer close(j.done)
		defer cancel()
		f(ctx, &r)
		c.repl.results <- r
	}()
	return true
}

// jobDone applies a job's end, if it is still the job the loop waits for.
func (c *Controller) jobDone(r jobResult) {
	slot := &c.repl.svcJob
	if r.kind == jobPosition {
		slot = &c.repl.posJob
	}
	if *slot == nil || (*slot).seq != r.seq {
		return // cancelled by stopServiceJob; already accounted for
	}
	*slot = nil
	c.lg.Debug("job ended", zap.Stringer("job", r.kind), zap.Uint64("seq", r.seq), zap.Error(r.err))
	if r.kind == jobRejoin || r.kind == jobRestart {
		c.repl.svcMoved = c.now()
	}
	switch r.kind {
	case jobPosition:
		c.positionDone(r)
	case jobRejoin:
		c.rejoinDone(r)
	case jobRestart:
		c.restartDone(r)
	case jobSyncOn, jobSyncOff:
		c.syncJobDone(r)
	}
}

// stopServiceJob cancels the service job in flight and waits (bounded)
// for its command to end: a demote must never race a restart or a rejoin
// that would start the service again behind it.
func (c *Controller) stopServiceJob(why string) {
	j := c.repl.svcJob
	if j == nil {
		return
	}
	c.repl.svcJob = nil
	c.lg.Warn("cancelling the service job in flight", zap.Stringer("job", j.kind), zap.String("reason", why))
	defer func() { c.repl.svcMoved = c.now() }()
	j.cancel()
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-j.done:
	case <-t.C:
		c.lg.Error("the cancelled job did not end within 10s", zap.Stringer("job", j.kind))
	}
	switch j.kind {
	case jobRestart:
		c.restartCancelled()
	case jobSyncOn, jobSyncOff:
		c.repl.sync.reset()
	}
}

// replicate runs once per cycle after the decision step: the periodic
// position query, the rejoin of a new active, the active's durable mode.
func (c *Controller) replicate(now time.Time) {
	if c.cfg.Replication.Actions == nil || c.fatal != nil || !c.sess.connected || !c.sess.checked || c.sess.pause.Paused || c.sess.pauseUnknown {
		return
	}
	if c.cfg.Replication.Position && !now.Before(c.repl.nextPos) && c.svc.role != Initializing && c.svc.health.Healthy {
		c.repl.nextPos = now.Add(c.posInterval())
		c.queryPosition()
	}
	if c.cfg.Replication.Rejoin {
		c.rejoinStep(now)
	}
	if c.cfg.Replication.Durable {
		c.syncStep(now)
	}
}

func (c *Controller) posInterval() time.Duration {
	if d := c.cfg.Replication.PositionInterval; d > 0 {
		return d
	}
	return time.Second
}

func (c *Controller) queryPosition() {
	act := c.cfg.Replication.Actions
	c.startJob(jobPosition, jobResult{token: c.svc.token}, func(ctx context.Context, r *jobResult) {
		r.pos, r.err = act.QueryPosition(ctx)
	})
}

// positionDone records the position: the active (still active under the
// token the query was started for) in the Position znode, any other node
// in its members/ entry.
func (c *Controller) positionDone(r jobResult) {
	if r.err != nil {
		if c.repl.posErr != r.err.Error() {
			c.lg.Warn("position query failed", zap.Error(r.err))
		}
		c.repl.posErr = r.err.Error()
		return
	}
	c.repl.posErr = ""
	changed := c.repl.position == nil || *c.repl.position != r.pos
	p := r.pos
	c.repl.position, c.repl.posFrom = &p, r.started
	if c.svc.role == Active && c.elec.holdsLock && r.token == c.svc.token && c.svc.token > 0 {
		if w := c.repl.posWritten; w.Token == c.svc.token && w.Position == r.pos {
			return
		}
		rec := elector.Position{Node: c.cfg.Self.NodeID, Token: c.svc.token, Position: r.pos, Time: c.now().UTC()}
		if err := c.cfg.Replication.Records.WritePosition(rec); err != nil {
			c.lg.Warn("record the active's position", zap.Error(err))
			return
		}
		c.repl.posWritten = rec
		return
	}
	if changed && c.svc.role != Active {
		c.register()
	}
}

// ownPosition queries the service's position now, on the loop: the
// candidate's check needs a fresh answer, and the loop is in the
// promotion anyway.
func (c *Controller) ownPosition() (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.FenceTimeout)
	defer cancel()
	start := c.now()
	p, err := c.cfg.Replication.Actions.QueryPosition(ctx)
	if err != nil {
		return 0, err
	}
	c.repl.position, c.repl.posFrom = &p, start
	return p, nil
}

// ineligible says why this node must not be promoted now ("" if it may):
// called holding the lock, before the old active is fenced (so a node
// that cannot take over does not take the old active down for nothing)
// and again after (when the old active can no longer move its position,
// the check that counts).
//
// clears, when not nil, is a position answered earlier: the periodic
// query's at the first check, one started beside the fencing after it.
// Both are lower bounds of the position now (see lastPosition and
// positionBesideFence), and every rule asks for a position at least some
// recorded one, so they may clear the node, sparing a query on the
// failover's path; only a query started now may find it unfit. The
// records are always read now.
func (c *Controller) ineligible(clears *uint64) string {
	rc := c.cfg.Replication
	if rc.Actions == nil || (rc.MaxLag == nil && !rc.Durable) {
		return ""
	}
	why := c.eligibility(clears)
	if why == "" {
		c.repl.eligible = "eligible at " + c.now().UTC().Format(time.RFC3339)
	} else {
		c.repl.eligible = why
	}
	return why
}

func (c *Controller) eligibility(clears *uint64) string {
	rc := c.cfg.Replication
	old, err := rc.Records.ReadPosition()
	if err != nil {
		return "not eligible: the old active's position cannot be read: " + err.Error()
	}
	var s *elector.Sync
	if rc.Durable {
		if s, err = rc.Records.ReadSync(); err != nil {
			return "not eligible: the Sync record cannot be read: " + err.Error()
		}
	}
	if clears != nil && c.fit(*clears, old, s) == "" {
		return ""
	}
	mine, err := c.ownPosition()
	if err != nil {
		return "not eligible: own position unknown: " + err.Error()
	}
	return c.fit(mine, old, s)
}

// lastPosition is the last answer of a position query started within
// two position intervals, nil if there is none or the service may have
// moved back since (see replState.svcMoved).
func (c *Controller) lastPosition() *uint64 {
	if c.repl.position == nil || !c.repl.posFrom.After(c.repl.svcMoved) || c.now().Sub(c.repl.posFrom) > 2*c.posInterval() {
		return nil
	}
	p := *c.repl.position
	return &p
}

// posQuery is a position query running beside the fencing of the old
// active.
type posQuery struct {
	start  time.Time
	cancel context.CancelFunc
	done   chan struct{}
	pos    uint64
	err    error
}

// positionBesideFence starts a position query as the fencing starts (nil
// when no eligibility rule is on). Its answer is a lower bound of the
// position once fenced: nothing rewinds the service meanwhile, the loop
// being in the promotion; the records it is compared with are read after
// the fencing.
func (c *Controller) positionBesideFence() *posQuery {
	rc := c.cfg.Replication
	if rc.Actions == nil || (rc.MaxLag == nil && !rc.Durable) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.FenceTimeout)
	q := &posQuery{start: c.now(), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(q.done)
		q.pos, q.err = rc.Actions.QueryPosition(ctx)
	}()
	return q
}

// answer waits for the query (bounded by its deadline) and returns its
// answer, nil if it failed; stop, true when the answer is not wanted,
// kills it first.
func (q *posQuery) answer(c *Controller, stop bool) *uint64 {
	if q == nil {
		return nil
	}
	if stop {
		q.cancel()
	}
	<-q.done
	q.cancel()
	if stop || q.err != nil {
		return nil
	}
	p := q.pos
	c.repl.position, c.repl.posFrom = &p, q.start
	return &p
}

// fit applies the rules of replication.max_lag and replication.durable
// to this node's position mine, the old active's last recorded position
// old and the Sync record s.
func (c *Controller) fit(mine uint64, old *elector.Position, s *elector.Sync) string {
	rc := c.cfg.Replication
	self := c.cfg.Self.NodeID
	if rc.MaxLag != nil && old != nil && old.Node != self {
		if lag := *rc.MaxLag; mine+lag < old.Position {
			return fmt.Sprintf("not eligible: position %d behind the old active's %d by %d > replication.max_lag %d (recorded by %s under token %d)",
				mine, old.Position, old.Position-mine, lag, old.Node, old.Token)
		}
	}
	if !rc.Durable {
		return ""
	}
	switch {
	case s == nil && old == nil:
		return "" // nothing was ever acknowledged under durable mode
	case s == nil:
		return fmt.Sprintf("not eligible: durable mode, and no Sync record names a standby of %s (token %d)", old.Node, old.Token)
	case s.Active == self:
		return "" // this node was the last to promote: it holds every commit
	case s.Standby != self:
		who := "nobody"
		if s.Standby != "" {
			who = s.Standby
		}
		return fmt.Sprintf("not eligible: durable mode, and the Sync record names %s, not %s, as the synchronous standby of %s (token %d)",
			who, self, s.Active, s.Token)
	case mine < s.Position:
		return fmt.Sprintf("not eligible: durable mode, position %d is below %d, where %s was when %s recorded it in sync",
			mine, s.Position, self, s.Active)
	}
	return ""
}

// replStatus renders the replication part of the status; nil when off.
func (c *Controller) replStatus() *ReplicationStatus {
	rc := c.cfg.Replication
	if rc.Actions == nil {
		return nil
	}
	s := &ReplicationStatus{PositionError: c.repl.posErr, Eligibility: c.repl.eligible}
	if c.repl.position != nil {
		p := *c.repl.position
		s.Position = &p
	}
	if rc.Rejoin {
		s.Rejoin = c.rejoinText()
	}
	if rc.Durable {
		s.Sync = c.syncText()
	}
	if rc.RestartAttempts > 0 {
		s.Restart = c.restartText()
	}
	return s
}
