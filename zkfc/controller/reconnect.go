package controller

import (
	"time"

	"go.uber.org/zap"
)

// zkfc never gives up on the quorum: a session that cannot even be opened
// (a connect string whose names do not resolve yet, say) is tried again
// with backoff for as long as zkfc runs, like a session that expired.
// Meanwhile the node is disconnected as far as the loop is concerned: an
// active self-fences at its deadline, a standby waits.

// openFailed records a failed Open and schedules the next try.
func (c *Controller) openFailed(err error) {
	c.sess.openFailed = true
	switch {
	case c.sess.openWait <= 0:
		c.sess.openWait = c.cfg.BackoffInitial
	default:
		c.sess.openWait = min(2*c.sess.openWait, c.cfg.BackoffMax)
	}
	c.sess.nextOpen = c.now().Add(c.sess.openWait)
	c.lastErr = "open zookeeper session: " + err.Error()
	c.lg.Error("cannot open a zookeeper session; retrying", zap.Error(err), zap.Duration("retry_in", c.sess.openWait))
}

// retryOpen tries again once the backoff has passed.
func (c *Controller) retryOpen(now time.Time) {
	if !c.sess.openFailed || now.Before(c.sess.nextOpen) {
		return
	}
	c.reopen()
	if !c.sess.openFailed {
		c.sess.openWait = 0
		c.lg.Info("zookeeper session opened after earlier failures", zap.Uint64("epoch", c.sess.epoch))
	}
}
