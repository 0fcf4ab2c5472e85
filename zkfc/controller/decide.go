package controller

import (
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/zkfc/elector"
)

// decide is the decision step, run once per cycle of the loop after the
// cycle's input (health, event, request, clock) was applied. Its guard
// clauses run in a fixed order; the first that applies acts, or declines
// to, and returns the sentence that says why this node is where it is
// ("standby: lock held by nn2"). The loop keeps it as the node's reason,
// which 'zkfc status' shows and role transitions record.
func (c *Controller) decide(now time.Time) string {
	h := c.svc.health
	if c.fatal != nil {
		return "stopped: " + c.fatal.Error()
	}
	if c.sess.pause.Paused {
		if c.svc.role == Initializing {
			return c.adopt(now)
		}
		return fmt.Sprintf("paused (generation %d): no election step; the service stays %s whatever its health",
			c.sess.pause.Generation, c.svc.role)
	}
	if !c.sess.checked {
		c.checkFormatted()
		switch {
		case c.sess.checked:
			return "cluster znode found"
		case !c.sess.connected:
			return "waiting for zookeeper: not connected"
		}
		return "waiting for the cluster znode ('zkfc format'): " + c.lastErr
	}
	if c.sess.pauseUnknown {
		if c.sess.connected {
			c.refreshPause()
		}
		if c.sess.pauseUnknown {
			return "no election step: the pause flag could not be read since the connection"
		}
		return fmt.Sprintf("pause flag read: paused=%v", c.sess.pause.Paused)
	}
	if why := c.restartInPlace(now); why != "" {
		return why
	}
	if c.elec.joined && !c.elec.holdsLock && c.svc.role != Active {
		if why := c.rejoinOwed(); why != "" {
			c.quit(false, why)
		}
	}
	if c.elec.joined && h.Known && !h.Healthy {
		// Hadoop's quitElection(needFence=true): the breadcrumb stays so
		// the next active fences this service. Level-triggered, so a
		// service that failed while paused quits on resume. What follows
		// says why it does not join again.
		c.quit(true, "service "+h.State)
	}
	if !c.sess.connected {
		return fmt.Sprintf("waiting for zookeeper: disconnected (the service is %s)%s", c.svc.role, c.failsafeReason())
	}
	c.settleRelease()
	if !c.elec.joined {
		if why := c.notJoining(now); why != "" {
			if c.svc.role == Initializing && h.Known {
				// The first outcome is known: the service must be standby.
				c.becomeStandby(why)
			}
			return why
		}
		c.join()
	}
	if !c.elec.wantAttempt {
		return c.standing()
	}
	if now.Before(c.elec.notBefore) {
		return fmt.Sprintf("in the election; next attempt in %s: %s", c.elec.notBefore.Sub(now).Round(time.Millisecond), c.elec.held)
	}
	return c.attempt(now)
}

// notJoining says why a node outside the election stays out, "" if
// nothing does.
func (c *Controller) notJoining(now time.Time) string {
	h := c.svc.health
	switch {
	case c.cfg.Self.NoFailover:
		return "not joining: no-failover tag"
	case c.rejoinOwed() != "":
		return "not joining: " + c.rejoinOwed()
	case !h.Known || !h.Healthy:
		return "not joining: service " + h.describe()
	case now.Before(c.elec.notBefore):
		return fmt.Sprintf("not joining for another %s: %s", c.elec.notBefore.Sub(now).Round(time.Millisecond), c.elec.held)
	}
	return ""
}

func (c *Controller) join() {
	// A lock still owned by this session is ours to use again.
	c.elec.releaseOwed = false
	c.elec.interrupted = 0
	c.elec.joined = true
	c.elec.wantAttempt = true
	c.register()
	c.lg.Info("joining the election")
}

// standing describes a node in the election with nothing to do.
func (c *Controller) standing() string {
	switch {
	case c.svc.role == Active:
		return fmt.Sprintf("active: holds the lock (token %d)%s", c.svc.token, c.failsafeReason())
	case c.elec.holder != nil && c.elec.holder.NodeID != c.cfg.Self.NodeID:
		return "standby: lock held by " + c.elec.holder.NodeID
	}
	return "in the election"
}

// settleRelease gives back a lock this session may still own although the
// node left the election (see election.releaseOwed).
func (c *Controller) settleRelease() {
	if !c.elec.releaseOwed || c.elec.joined {
		return
	}
	if err := c.el.Release(); err != nil {
		c.lg.Warn("release lock", zap.Error(err))
		return
	}
	c.elec.releaseOwed = false
	c.lg.Info("released the lock left over by a failed release")
}

// holdOff keeps the node from joining or attempting until then, for why.
func (c *Controller) holdOff(until time.Time, why string) {
	c.elec.notBefore = until
	c.elec.held = why
}

// attempt tries to take the lock; holding it, it promotes.
func (c *Controller) attempt(now time.Time) string {
	c.elec.wantAttempt = false
	if !c.elec.holdsLock && c.cfg.PriorityDelay > 0 {
		if who := c.higherPriorityWaiting(now); who != "" {
			c.elec.wantAttempt = true
			return "in the election; giving the higher-priority " + who + " the first chance at the lock"
		}
	}
	held, holder, err := c.el.TryAcquire(c.cfg.Self)
	if err != nil {
		c.lastErr = err.Error()
		c.lg.Warn("election attempt failed", zap.Error(err))
		c.elec.wantAttempt = true
		if elector.ConnectionLost(err) {
			// The connection dropped (its event is on the way): decide
			// waits for the reconnection, then attempts at once.
			return "in the election; attempt failed: " + err.Error()
		}
		c.holdOff(now.Add(c.cfg.BackoffInitial), "the last attempt failed: "+err.Error())
		return "in the election; attempt failed: " + err.Error()
	}
	c.elec.prioWait, c.elec.prioWho = time.Time{}, ""
	if !held {
		c.elec.holdsLock = false
		c.elec.holder = holder
		if holder == nil {
			c.elec.wantAttempt = true // freed in between: try again
			return "in the election; the lock was freed meanwhile"
		}
		why := "standby: lock held by " + holder.NodeID
		c.becomeStandby(why)
		return why
	}
	if !c.elec.holdsLock {
		c.elec.lockSince = c.now()
	}
	c.elec.holdsLock = true
	c.elec.holder = &c.cfg.Self
	if c.svc.role == Active {
		return c.standing() // still ours, e.g. after a reconnection
	}
	if why := c.failsafeGate(now); why != "" {
		return why
	}
	return c.promote(now)
}

// higherPriorityWaiting names a registered candidate with a higher
// priority that should get the first chance at a free lock ("" if none);
// it starts one priority delay the first time it is asked.
func (c *Controller) higherPriorityWaiting(now time.Time) string {
	if !c.elec.prioWait.IsZero() {
		if now.Before(c.elec.prioWait) {
			return c.elec.prioWho
		}
		return ""
	}
	members, err := c.el.Members()
	if err != nil {
		return ""
	}
	for _, m := range members {
		if m.NodeID != c.cfg.Self.NodeID && m.Candidate && !m.NoFailover && m.Priority > c.cfg.Self.Priority {
			c.elec.prioWait, c.elec.prioWho = now.Add(c.cfg.PriorityDelay), m.NodeID
			c.lg.Info("deferring to a higher-priority candidate", zap.String("candidate", m.NodeID), zap.Duration("for", c.cfg.PriorityDelay))
			return m.NodeID
		}
	}
	c.elec.prioWait = now.Add(-time.Nanosecond)
	return ""
}

// register publishes this node in the member registry, with whether it is
// currently a candidate.
func (c *Controller) register() {
	if !c.sess.connected {
		return
	}
	self := c.cfg.Self
	self.Candidate = c.elec.joined
	// An active registers its token: a rejoin follows only an active
	// whose promotion finished (rejoin.go).
	if c.svc.role == Active {
		self.Token = c.svc.token
	}
	self.Position = c.repl.position
	if err := c.el.Register(self); err != nil {
		c.lg.Warn("member registration", zap.Error(err))
	}
}
