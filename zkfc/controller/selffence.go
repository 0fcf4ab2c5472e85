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
// must be down before. In failsafe mode a complete round of peer answers
// counts as an acknowledgment too (failsafe.go). It then abandons the
// session for a new one.
func (c *Controller) checkSelfFenceDeadline(now time.Time) {
	if c.svc.role != Active {
		return
	}
	at, timeout, _ := c.el.LastAck()
	deadline, ok := c.selfFenceDeadline()
	if !ok || now.Before(deadline) {
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
	limit := 500 * time.Millisecond
	if deadline, ok := c.selfFenceDeadline(); ok {
		limit = max(limit, time.Until(deadline.Add(c.cfg.SelfFenceMargin)))
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
		c.openFailed(err)
		return
	}
	c.sess.epoch = epoch
	c.sess.openFailed = false
}
