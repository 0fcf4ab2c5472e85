package controller

// Failsafe mode (failover.failsafe): an active that lost the quorum keeps
// its service active past its self-fencing deadline only while every
// other configured candidate answers, recently enough, that it is not
// active and cannot reach the quorum either, and promises not to promote
// for a while after each such answer. configs/README.md ("Failsafe mode")
// has the argument why this never gives two actives; in short:
//
//   - A round is one request to every peer, sent together at its start.
//     A complete round (every peer answered "not active, no quorum, I
//     promise P") counts as an acknowledgment sent at the round's start:
//     the self-fencing deadline becomes max(last quorum ack, last
//     complete round start) + min(session timeout, P) − self_fence_margin.
//   - A peer that answers so records "no promotion before answer + P"
//     (P: its own session timeout) before it replies, so every answer the
//     active counted is covered until after the active's hold has ended
//     and its self-fencing demote has had the margin to finish.
//   - A zkfc with failsafe on does not promote within P of its own start:
//     it may have answered in a previous life.
//   - Any other answer, or none, extends nothing: the active self-fences
//     at the deadline of its last acknowledgment or complete round, as
//     without failsafe.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// FailsafePeer is another candidate the active asks while it has no
// quorum (failover.failsafe_peers).
type FailsafePeer struct {
	ID  string `json:"id"`
	URL string `json:"url"`
}

// FailsafeAnswer is a peer's reply to POST /failsafe.
type FailsafeAnswer struct {
	Node string `json:"node"`
	// Active: the peer's service is active, or it is promoting it.
	Active bool `json:"active"`
	// QuorumReachable: the peer has a live, recently acknowledged session.
	QuorumReachable bool `json:"quorum_reachable"`
	// PromiseMs > 0: the peer will not promote for this long after it
	// answered (given only with Active and QuorumReachable both false).
	PromiseMs int64 `json:"promise_ms,omitempty"`
}

// FailsafeAsker sends POST /failsafe to a peer (the control client).
type FailsafeAsker interface {
	AskFailsafe(ctx context.Context, peer FailsafePeer, from string) (FailsafeAnswer, error)
}

// FailsafeConfig turns failsafe mode on (Peers non-empty) for the
// controller.
type FailsafeConfig struct {
	Peers []FailsafePeer
	Asker FailsafeAsker
	// Promise is how long this node promises not to promote after
	// answering (and after its own start); the session timeout.
	Promise time.Duration
}

func (f FailsafeConfig) enabled() bool { return len(f.Peers) > 0 && f.Asker != nil }

// ErrFailsafeOff answers a /failsafe request on a node without failsafe
// mode: it keeps no promise, so the asker must not count it.
var ErrFailsafeOff = errors.New("failover.failsafe is off on this node: it makes no promise; turn it on at every node listed in failover.failsafe_peers")

// FailsafePeerStatus is the last answer of one peer, for status.
type FailsafePeerStatus struct {
	ID     string    `json:"id"`
	At     time.Time `json:"at"`
	Answer string    `json:"answer"` // "no quorum, not active (promise 4s)", "quorum reachable", an error
	Counts bool      `json:"counts"`
}

// FailsafeStatus is failsafe mode as 'zkfc status' shows it.
type FailsafeStatus struct {
	// Holding: the service is active past the quorum's deadline because
	// every peer answered; Since is when that began.
	Holding bool      `json:"holding"`
	Since   time.Time `json:"since,omitempty"`
	// Until is the self-fencing deadline the last complete round gives.
	Until     time.Time `json:"until,omitempty"`
	LastRound time.Time `json:"last_round,omitempty"`
	// Peers: each peer's last answer, while the active asks.
	Peers []FailsafePeerStatus `json:"peers,omitempty"`
	// NoPromotionUntil: this node promised (or has just started) and
	// will not promote before then; PromisedTo names the last asker.
	NoPromotionUntil time.Time `json:"no_promotion_until,omitempty"`
	PromisedTo       string    `json:"promised_to,omitempty"`
}

// failsafe is the state shared by the loop, the asking goroutine and the
// control API's answers; mu guards all of it.
type failsafe struct {
	mu sync.Mutex
	// Written by the loop each tick, read by answers and the asker.
	active    bool // role active, or a promotion under way
	connected bool
	ask       bool // the active has missed acknowledgments: ask peers
	// Written by answers (and at start), read by the loop.
	noPromotionUntil time.Time
	promisedTo       string
	// Written by the asker, read by the loop.
	roundStart time.Time     // start of the last complete round
	granted    time.Duration // smallest promise in that round
	answers    map[string]FailsafePeerStatus
	// Loop only.
	holdingSince time.Time
	lostAt       time.Time // quorum unreachable since (zero while reachable)
}

func (c *Controller) initFailsafe() {
	c.fs.answers = map[string]FailsafePeerStatus{}
	if c.cfg.Failsafe.enabled() {
		// An earlier process on this node may have promised: keep it.
		c.fs.noPromotionUntil = c.now().Add(c.cfg.Failsafe.Promise)
		c.fs.promisedTo = "(start of this zkfc: an earlier process may have promised)"
	}
}

// quorumFresh: the session is connected and no ping was missed: the
// last acknowledgment is younger than 3/10 of the timeout (the elector
// pings every 1/5). The active starts asking, and a peer stops answering
// "quorum reachable", that early, so that rounds can complete before the
// active's deadline.
func (c *Controller) quorumFresh(connected bool, now time.Time) bool {
	at, timeout, ok := c.el.LastAck()
	return connected && ok && now.Sub(at) <= 3*timeout/10
}

// failsafeTick runs in the loop each cycle: it publishes the loop's state
// to answers and the asker, tracks how long the quorum has been gone and
// whether failsafe holds the role.
func (c *Controller) failsafeTick(now time.Time) {
	fresh := c.quorumFresh(c.sess.connected, now)
	switch {
	case fresh:
		c.fs.lostAt = time.Time{}
	case c.fs.lostAt.IsZero():
		c.fs.lostAt = now
		if at, _, ok := c.el.LastAck(); ok && at.Before(now) {
			c.fs.lostAt = at
		}
	}
	unreachable := time.Duration(0)
	if !c.fs.lostAt.IsZero() {
		unreachable = now.Sub(c.fs.lostAt)
	}
	c.m.quorumUnreachable.Set(unreachable.Seconds())

	c.fs.mu.Lock()
	c.fs.active = c.svc.role == Active
	c.fs.connected = c.sess.connected
	c.fs.ask = c.cfg.Failsafe.enabled() && c.svc.role == Active && !fresh
	c.fs.mu.Unlock()

	ackDeadline, _ := c.ackDeadline()
	hold := c.failsafeDeadline()
	holding := c.svc.role == Active && !hold.IsZero() && now.After(ackDeadline) && now.Before(hold)
	switch {
	case holding && c.fs.holdingSince.IsZero():
		c.fs.holdingSince = now
		c.lg.Warn("failsafe: keeping the service active without the quorum: every peer answered that it is not active and cannot reach the quorum",
			zap.Time("until", hold))
	case !holding && !c.fs.holdingSince.IsZero():
		c.lg.Info("failsafe: no longer holding the role", zap.Duration("held_for", now.Sub(c.fs.holdingSince)),
			zap.String("role", c.svc.role.String()), zap.Bool("quorum", fresh))
		c.fs.holdingSince = time.Time{}
	}
	c.m.failsafeHolding.Set(b2f(holding))
}

// ackDeadline is the self-fencing deadline the quorum's last
// acknowledgment gives; ok is false before any.
func (c *Controller) ackDeadline() (time.Time, bool) {
	at, timeout, ok := c.el.LastAck()
	if !ok {
		return time.Time{}, false
	}
	return at.Add(timeout - c.cfg.SelfFenceMargin), true
}

// failsafeDeadline is the self-fencing deadline the last complete round
// of answers gives (zero if none): the round counts as an acknowledgment
// sent at its start, bounded by the smallest promise it was given.
func (c *Controller) failsafeDeadline() time.Time {
	if !c.cfg.Failsafe.enabled() {
		return time.Time{}
	}
	c.fs.mu.Lock()
	start, granted := c.fs.roundStart, c.fs.granted
	c.fs.mu.Unlock()
	if start.IsZero() {
		return time.Time{}
	}
	_, timeout, _ := c.el.LastAck()
	return start.Add(min(timeout, granted) - c.cfg.SelfFenceMargin)
}

// selfFenceDeadline is when an active must self-fence: the later of the
// quorum's and failsafe's deadlines; ok is false before any ack.
func (c *Controller) selfFenceDeadline() (time.Time, bool) {
	d, ok := c.ackDeadline()
	if !ok {
		return d, false
	}
	if h := c.failsafeDeadline(); h.After(d) {
		d = h
	}
	return d, true
}

// failsafeGate is asked right before a promotion: "" lets it go ahead
// (and from then on answers say "active"); otherwise the sentence says
// until when a promise holds it back.
func (c *Controller) failsafeGate(now time.Time) string {
	c.fs.mu.Lock()
	defer c.fs.mu.Unlock()
	if now.Before(c.fs.noPromotionUntil) {
		until, to := c.fs.noPromotionUntil, c.fs.promisedTo
		c.holdOff(until, "failsafe promise to "+to)
		c.elec.wantAttempt = true
		return fmt.Sprintf("holds the lock; no promotion for another %s: failsafe promise to %s",
			until.Sub(now).Round(time.Millisecond), to)
	}
	c.fs.active = true
	return ""
}

// AnswerFailsafe is the server side of POST /failsafe, asked by from.
// The promise is recorded before the answer leaves, under the same lock
// the loop takes before it promotes.
func (c *Controller) AnswerFailsafe(from string) (FailsafeAnswer, error) {
	if !c.cfg.Failsafe.enabled() {
		return FailsafeAnswer{}, ErrFailsafeOff
	}
	now := c.now()
	c.fs.mu.Lock()
	defer c.fs.mu.Unlock()
	a := FailsafeAnswer{Node: c.cfg.Self.NodeID, Active: c.fs.active, QuorumReachable: c.quorumFresh(c.fs.connected, now)}
	if a.Active || a.QuorumReachable {
		return a, nil
	}
	p := c.cfg.Failsafe.Promise
	if until := now.Add(p); until.After(c.fs.noPromotionUntil) {
		c.fs.noPromotionUntil = until
	}
	c.fs.promisedTo = from
	a.PromiseMs = p.Milliseconds()
	return a, nil
}

// runFailsafeAsker asks every peer, in rounds, while the loop says so
// (an active without fresh acknowledgments). It ends with ctx.
func (c *Controller) runFailsafeAsker(ctx context.Context) {
	_, timeout, _ := c.el.LastAck()
	// Rounds follow each other closely and each is bounded well inside
	// the time between the first missed ping and the deadline.
	t := time.NewTicker(max(timeout/20, 50*time.Millisecond))
	defer t.Stop()
	for ctx.Err() == nil {
		select {
		case <-t.C:
			if c.wantAsk() {
				c.askRound(ctx, timeout/5)
			}
		case <-ctx.Done():
		}
	}
}

// wantAsk: the loop last saw an active without fresh acknowledgments.
func (c *Controller) wantAsk() bool {
	c.fs.mu.Lock()
	defer c.fs.mu.Unlock()
	return c.fs.ask
}

// askRound sends one request to every peer at once and records the round
// as complete only if every answer promises.
func (c *Controller) askRound(ctx context.Context, limit time.Duration) {
	start := c.now()
	rctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	peers := c.cfg.Failsafe.Peers
	type reply struct {
		peer FailsafePeer
		a    FailsafeAnswer
		err  error
	}
	ch := make(chan reply, len(peers))
	for _, p := range peers {
		go func() {
			a, err := c.cfg.Failsafe.Asker.AskFailsafe(rctx, p, c.cfg.Self.NodeID)
			ch <- reply{p, a, err}
		}()
	}
	complete := true
	granted := time.Duration(0)
	got := make([]FailsafePeerStatus, 0, len(peers))
	for range peers {
		r := <-ch
		st := FailsafePeerStatus{ID: r.peer.ID, At: c.now()}
		switch {
		case r.err != nil:
			st.Answer = r.err.Error()
		case r.a.Node != r.peer.ID:
			st.Answer = fmt.Sprintf("answered as %q, not %q (check failover.failsafe_peers)", r.a.Node, r.peer.ID)
		case r.a.Active:
			st.Answer = "active"
		case r.a.QuorumReachable:
			st.Answer = "quorum reachable"
		case r.a.PromiseMs <= 0:
			st.Answer = "no promise"
		default:
			st.Counts = true
			p := time.Duration(r.a.PromiseMs) * time.Millisecond
			st.Answer = fmt.Sprintf("no quorum, not active (promise %s)", p)
			if granted == 0 || p < granted {
				granted = p
			}
		}
		complete = complete && st.Counts
		got = append(got, st)
	}
	c.fs.mu.Lock()
	for _, st := range got {
		if old := c.fs.answers[st.ID]; old.Answer != st.Answer {
			c.lg.Info("failsafe: peer answer", zap.String("peer", st.ID), zap.String("answer", st.Answer))
		}
		c.fs.answers[st.ID] = st
	}
	if complete && granted > 0 {
		c.fs.roundStart, c.fs.granted = start, granted
	}
	c.fs.mu.Unlock()
}

// failsafeStatus is the status block; nil when failsafe is off.
func (c *Controller) failsafeStatus(now time.Time) *FailsafeStatus {
	if !c.cfg.Failsafe.enabled() {
		return nil
	}
	s := &FailsafeStatus{Holding: !c.fs.holdingSince.IsZero(), Since: c.fs.holdingSince}
	if s.Holding {
		s.Until = c.failsafeDeadline()
	}
	c.fs.mu.Lock()
	defer c.fs.mu.Unlock()
	s.LastRound = c.fs.roundStart
	if now.Before(c.fs.noPromotionUntil) {
		s.NoPromotionUntil, s.PromisedTo = c.fs.noPromotionUntil, c.fs.promisedTo
	}
	if c.svc.role == Active {
		for _, p := range c.fs.answers {
			s.Peers = append(s.Peers, p)
		}
		sort.Slice(s.Peers, func(i, j int) bool { return s.Peers[i].ID < s.Peers[j].ID })
	}
	return s
}

// failsafeReason explains a hold in the decision's sentence ("" if none).
func (c *Controller) failsafeReason() string {
	if c.fs.holdingSince.IsZero() {
		return ""
	}
	var ids []string
	for _, p := range c.cfg.Failsafe.Peers {
		ids = append(ids, p.ID)
	}
	return fmt.Sprintf("; failsafe holds the role since %s: %s answered no quorum, not active",
		c.fs.holdingSince.Format(time.RFC3339), strings.Join(ids, ", "))
}
