package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/zkfc/elector"
)

// Run drives the state machine until ctx ends or a fatal error (such as an
// unformatted cluster znode). On the way out an active service is demoted
// and the lock released, so a peer can take over without fencing; while
// failover is paused the service is left as it is (see adopt.go).
func (c *Controller) Run(ctx context.Context) error {
	c.reopen()
	defer func() {
		if !c.abandoned {
			c.flushHistory()
			c.el.Close()
		}
	}()
	tick := time.NewTicker(c.cfg.Tick)
	defer tick.Stop()
	rctx, stopRelay := context.WithCancel(ctx)
	events, relayDone := c.relayEvents(rctx)
	defer func() { stopRelay(); <-relayDone }()
	if c.cfg.Failsafe.enabled() {
		actx, stopAsker := context.WithCancel(ctx)
		defer stopAsker()
		go c.runFailsafeAsker(actx)
	}
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
		case ev := <-events:
			c.handleEvent(ev)
		case r := <-c.reqs:
			r.reply <- c.handleRequest(r)
		case r := <-c.repl.results:
			c.jobDone(r)
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

// relayEvents passes the elector's events on to the loop until ctx ends
// (done is closed then). A lock change also ends a role check the loop is
// running: a free lock is a failover that a query (0.1 s to 0.5 s on a
// loaded host) must not hold back.
func (c *Controller) relayEvents(ctx context.Context) (<-chan elector.Event, <-chan struct{}) {
	out, done := make(chan elector.Event), make(chan struct{})
	go func() {
		defer close(done)
		for {
			var ev elector.Event
			select {
			case <-ctx.Done():
				return
			case ev = <-c.el.Events():
			}
			if ev.Kind == elector.LockChanged {
				c.healthMu.Lock()
				c.abandonRoleQuery("the lock changed meanwhile")
				c.healthMu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case out <- ev:
			}
		}
	}()
	return out, done
}

func (c *Controller) shutdown() {
	c.stopServiceJob("zkfc shutting down")
	if c.keepOnStop() {
		c.lg.Info("zkfc stopping while failover is paused: the service stays as it is",
			zap.String("role", c.svc.role.String()), zap.Uint64("token", c.svc.token))
	} else if c.svc.role == Active {
		c.quit(false, "zkfc shutting down")
	} else if c.elec.joined {
		c.quit(false, "zkfc shutting down")
	}
	c.publish()
}

func (c *Controller) handleHealth(h Health) {
	if !c.svc.drillUntil.IsZero() {
		return // endHealthDrill applies the monitor's latest state
	}
	c.applyHealth(h)
}

func (c *Controller) applyHealth(h Health) {
	was := c.svc.health
	c.svc.health = h
	c.noteProbes(h)
	if was.State != h.State {
		c.svc.healthSince = c.now()
		c.svc.healthLog = append(c.svc.healthLog, HealthChange{At: c.svc.healthSince, State: h.State})
		if len(c.svc.healthLog) > maxHealthLog {
			c.svc.healthLog = c.svc.healthLog[len(c.svc.healthLog)-maxHealthLog:]
		}
	}
	if h.Known && !h.Healthy {
		// Down or sick, the service may be rebuilt or rewound: no
		// position answered before counts for its eligibility.
		c.repl.svcMoved = c.now()
	}
	if h.Healthy {
		c.svc.demoteErr = nil
	}
	c.m.healthy.Set(b2f(h.Healthy))
	if was.State != h.State {
		c.lg.Info("health changed", zap.String("from", was.State), zap.String("to", h.State))
	}
}

// endHealthDrill returns to the monitor's latest state.
func (c *Controller) endHealthDrill() {
	if c.svc.drillUntil.IsZero() {
		return
	}
	c.svc.drillUntil = time.Time{}
	c.lg.Info("drill: health check override ended")
	c.healthMu.Lock()
	h := c.healthIn
	c.healthMu.Unlock()
	c.applyHealth(h)
}

func (c *Controller) handleEvent(ev elector.Event) {
	if ev.Epoch != c.sess.epoch {
		c.m.staleEvents.Inc()
		c.lg.Debug("ignoring event from an old session", zap.Uint64("event_epoch", ev.Epoch),
			zap.Uint64("epoch", c.sess.epoch), zap.Stringer("kind", ev.Kind))
		return
	}
	switch ev.Kind {
	case elector.Connected:
		c.sess.connected = true
		c.m.connected.Set(1)
		if !c.sess.disconnectedAt.IsZero() {
			c.lg.Info("reconnected to zookeeper", zap.Duration("disconnected_for", c.now().Sub(c.sess.disconnectedAt)),
				zap.Uint64("epoch", c.sess.epoch), zap.String("role", c.svc.role.String()))
			c.sess.disconnectedAt = time.Time{}
		}
		c.checkFormatted()
		if c.fatal != nil {
			return
		}
		c.refreshPause()
		// Registered for as long as the session lives, in the election or
		// not (ceded, unhealthy): failover --to finds nodes here.
		c.register()
		if c.elec.joined {
			c.elec.wantAttempt = true
		}
	case elector.Disconnected:
		c.sess.connected = false
		c.m.connected.Set(0)
		if c.sess.disconnectedAt.IsZero() {
			c.sess.disconnectedAt = c.now()
			c.lg.Warn("disconnected from zookeeper", zap.String("role", c.svc.role.String()))
		}
	case elector.Expired:
		if c.sess.disconnectedAt.IsZero() {
			c.sess.disconnectedAt = c.now()
		}
		c.lg.Warn("zookeeper session expired; opening a new one", zap.String("role", c.svc.role.String()),
			zap.Duration("disconnected_for", c.now().Sub(c.sess.disconnectedAt)))
		c.sess.connected = false
		c.m.connected.Set(0)
		c.elec.holdsLock = false
		if c.svc.role == Active {
			c.selfFence("zookeeper session expired")
		}
		c.reopen()
	case elector.LockChanged:
		if !c.elec.holdsLock {
			c.elec.freeSeen = c.now()
		}
		if c.elec.joined {
			c.elec.wantAttempt = true
		}
	case elector.PauseChanged:
		c.applyPause(c.el.Pause())
	case elector.ClusterCreated:
		c.sess.nextCheck = time.Time{} // 'zkfc format' ran: check now
	}
}

// refreshPause reads the pause flag on a (re)connection, before the loop
// takes any election step: a node that was away while a pause was set,
// or cleared, must not act on what it saw before.
func (c *Controller) refreshPause() {
	p, err := c.el.RefreshPause()
	if err != nil {
		if !c.sess.pauseUnknown {
			c.lg.Warn("cannot read the pause flag; no election step until it is read", zap.Error(err))
		}
		c.sess.pauseUnknown = true
		c.lastErr = "pause flag unknown: " + err.Error()
		return
	}
	c.sess.pauseUnknown = false
	c.applyPause(p)
}

func (c *Controller) applyPause(p elector.PauseState) {
	if p != c.sess.pause {
		c.lg.Info("automatic failover pause changed", zap.Bool("paused", p.Paused), zap.Int64("generation", p.Generation))
	}
	c.sess.pause = p
	c.m.paused.Set(b2f(p.Paused))
	if c.elec.joined {
		c.elec.wantAttempt = true
	}
}

// checkFormatted verifies the cluster znode exists. Missing, it is fatal
// unless WaitFormatted (an embedded quorum must stay up for 'zkfc format'
// to reach it); then the elector's watch (ClusterCreated) has it checked
// again at once, and every 2 seconds is the backstop.
func (c *Controller) checkFormatted() {
	if c.sess.checked || !c.sess.connected || c.now().Before(c.sess.nextCheck) {
		return
	}
	c.sess.nextCheck = c.now().Add(2 * time.Second)
	err := c.el.CheckFormatted()
	switch {
	case err == nil:
		c.sess.checked = true
		c.lastErr = "" // errors so far were about the missing cluster znode
		c.register()   // failed while the cluster znode was missing
	case errors.Is(err, elector.ErrNotFormatted) && !c.cfg.WaitFormatted:
		c.fatal = err
	default:
		if err.Error() != c.lastErr {
			// Once per distinct error: a daemon waiting for 'zkfc format'
			// is not failing, and the watch ends the wait.
			c.lg.Warn("cluster znode not usable yet; waiting", zap.Error(err))
		}
		c.lastErr = err.Error()
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
		if c.svc.role == Active || c.elec.joined {
			c.quit(false, fmt.Sprintf("ceding for %s", d))
		}
		c.holdOff(now.Add(d), fmt.Sprintf("ceded for %s", d))
		return nil
	case reqDemote:
		// Another node holds the lock and asks us to make sure our service
		// is standby. Run the demote even if we believe it already is,
		// unless this node is active under another token than the one the
		// request names: then the request is from an older (or a
		// different) round, and this active is not the one it means.
		if c.svc.role == Active && r.token != c.svc.token {
			c.lg.Warn("graceful fence refused: it names another fencing token",
				zap.Uint64("requested_token", r.token), zap.Uint64("token", c.svc.token))
			return &TokenMismatchError{Node: c.cfg.Self.NodeID, Requested: r.token, Current: c.svc.token}
		}
		if c.svc.demoteErr != nil && !c.svc.health.Healthy {
			// The sick service already failed to demote (typically hung):
			// a second try would only spend the caller's graceful timeout
			// before it reaches for a method that works without the service.
			return fmt.Errorf("graceful demote of %s: not tried again: the service is %s and its last demote failed: %w",
				c.cfg.Self.NodeID, c.svc.health.State, c.svc.demoteErr)
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.FenceTimeout)
		defer cancel()
		if err := c.demote(ctx, true); err != nil {
			return fmt.Errorf("graceful demote of %s: %w", c.cfg.Self.NodeID, err)
		}
		c.releaseLock()
		if c.svc.role != Standby {
			c.setRole(Standby, fmt.Sprintf("demoted by graceful fencing (fenced token %d)", r.token))
		}
		if c.elec.joined {
			c.elec.wantAttempt = true
		}
		return nil
	case reqPrepare:
		switch {
		case c.cfg.Self.NoFailover:
			return fmt.Errorf("%s carries the no-failover tag", c.cfg.Self.NodeID)
		case !c.svc.health.Healthy:
			return fmt.Errorf("%s is not healthy (%s)", c.cfg.Self.NodeID, c.svc.health.State)
		case c.sess.pause.Paused:
			return errors.New("automatic failover is paused; run 'zkfc resume' first")
		case !c.sess.connected:
			return errors.New("not connected to zookeeper")
		}
		c.elec.notBefore = time.Time{}
		c.elec.backoff = c.cfg.BackoffInitial
		c.elec.prioWait = now.Add(-time.Nanosecond) // a named target does not defer to priority
		return nil
	case reqFailHealth:
		if r.d <= 0 {
			c.endHealthDrill()
			return nil
		}
		c.lg.Warn("drill: health check overridden as failing", zap.Duration("for", r.d))
		c.svc.drillUntil = now.Add(r.d)
		c.applyHealth(Health{State: DrillHealthState, Known: true})
		return nil
	}
	return fmt.Errorf("unknown request %d", r.kind)
}

// tick ends each cycle of the loop: the self-fencing deadline first, then
// drift, then the decision step.
func (c *Controller) tick() {
	now := c.now()
	if !c.svc.drillUntil.IsZero() && !now.Before(c.svc.drillUntil) {
		c.endHealthDrill()
	}
	c.retryOpen(now)
	c.failsafeTick(now)
	c.checkSelfFenceDeadline(now)
	if c.cfg.RoleInterval > 0 && !c.svc.roleCheckOff && c.svc.role != Initializing && !now.Before(c.svc.nextRole) {
		c.svc.nextRole = now.Add(c.cfg.RoleInterval)
		// Never query the role of a sick service: a hung one answers
		// nothing, so the query would stall this loop for the action's
		// whole deadline, tick after tick, and hold back the health
		// failure the loop is about to act on (found by the SIGSTOP drill:
		// detection 0.5s, quit 8-12s later). The health path handles it;
		// checkDrift also skips, or cancels, the query on a failure the
		// monitor reported but this loop has not applied yet.
		if c.svc.health.Healthy {
			c.checkDrift()
		}
	}
	c.reason = c.decide(now)
	c.replicate(now)
	if c.cfg.OnTick != nil {
		c.cfg.OnTick()
	}
}
