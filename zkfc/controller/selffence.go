package controller

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// checkSelfFenceDeadline self-fences an active whose last acknowledged
// request is a session timeout minus the margin old: from then on the
// quorum may expire the session and let another node win, so the service
// must be down before. It then abandons the session for a new one.
func (c *Controller) checkSelfFenceDeadline(now time.Time) {
	if c.svc.role != Active {
		return
	}
	at, timeout, ok := c.el.LastAck()
	if !ok {
		return
	}
	if deadline := at.Add(timeout - c.cfg.SelfFenceMargin); now.Before(deadline) {
		return
	}
	c.selfFence(fmt.Sprintf("no acknowledgment from zookeeper for %s (session timeout %s, margin %s)",
		now.Sub(at).Round(time.Millisecond), timeout, c.cfg.SelfFenceMargin))
	c.reopen()
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
	if err := c.demote(ctx, false); err != nil {
		c.lg.Error("self-fencing demote failed; the service may still be active", zap.Error(err))
		c.lastErr = "self-fence demote failed: " + err.Error()
		c.demoteFailed(err)
	}
	cancel()
	c.elec.holdsLock = false
	c.elec.joined = false
	c.elec.wantAttempt = false
	c.setRole(Standby, selfFencedPrefix+reason)
}

// reopen abandons the session (dropping any lock it holds) for a new one;
// callbacks of the old one are ignored from here on. Not once the loop is
// ending abandoned (ErrServiceStateUnknown): zkfc is about to exit.
func (c *Controller) reopen() {
	if c.abandoned {
		return
	}
	c.sess.connected = false
	c.m.connected.Set(0)
	c.elec.holdsLock = false
	c.elec.releaseOwed = false // the lock goes with the abandoned session
	epoch, err := c.el.Open()
	if err != nil {
		c.lastErr = err.Error()
		c.lg.Error("reopen zookeeper session", zap.Error(err))
		return
	}
	c.sess.epoch = epoch
}
