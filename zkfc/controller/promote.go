package controller

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/zkfc/elector"
	"github.com/zkfc-project/zkfc/zkfc/history"
)

// promote runs Hadoop's winner sequence, then the promote action: it
// fences the previous active named by the breadcrumb before anything
// else, and any failure releases the lock and backs off; nothing here
// reports active before the action succeeded. It returns the decision's
// sentence.
func (c *Controller) promote(now time.Time) string {
	if !c.svc.health.Healthy {
		return c.failPromotion(now, "service not healthy at promotion")
	}
	bc, version, err := c.el.Breadcrumb()
	if err != nil {
		return c.zkStepFailed(now, err)
	}
	if why := c.ineligible(c.lastPosition()); why != "" {
		return c.failPromotion(now, why)
	}
	c.promotionPhases()
	if bc != nil && bc.NodeID != c.cfg.Self.NodeID {
		c.lg.Info("fencing the previous active", zap.String("target", bc.NodeID), zap.Uint64("its_token", bc.Token))
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.FenceTimeout)
		start := c.now()
		pos := c.positionBesideFence()
		err := c.fencer.Fence(ctx, *bc)
		cancel()
		c.lastFence = &FenceRecord{At: start, Target: bc.NodeID, TargetToken: bc.Token, TookMs: c.now().Sub(start).Milliseconds()}
		c.phases.Fence = history.Ms(c.now().Sub(start))
		if err != nil {
			pos.answer(c, true)
			c.lastFence.Error = err.Error()
			c.m.fences.WithLabelValues("failure").Inc()
			return c.failPromotion(now, fmt.Sprintf("fencing %s failed: %v", bc.NodeID, err))
		}
		c.m.fences.WithLabelValues("success").Inc()
		// Fenced, the old active's position is final: the check that counts.
		if why := c.ineligible(pos.answer(c, false)); why != "" {
			return c.failPromotion(now, why)
		}
	}
	// The breadcrumb names the session we will be active under, so that
	// the next winner can prove it ended (lease_expired fencing) instead
	// of reaching for this host.
	promoteStart := c.now()
	session, err := c.el.MarkSession(c.cfg.Self.NodeID)
	if err != nil {
		return c.zkStepFailed(now, err)
	}
	token, err := c.el.NextToken()
	if err != nil {
		return c.zkStepFailed(now, err)
	}
	self := c.cfg.Self
	self.Token = token
	self.Session = session
	if err := c.el.WriteBreadcrumb(self, version); err != nil {
		return c.zkStepFailed(now, err)
	}
	if err := c.recordNobodyInSync(token); err != nil {
		return c.zkStepFailed(now, err)
	}
	if err := c.actions.DoPromote(context.Background(), token); err != nil {
		// The action may have half-worked: demote even if zkfc's role
		// already says standby.
		c.demoteService("promote action failed: "+err.Error(), true)
		return c.failPromotion(now, err.Error())
	}
	c.svc.token = token
	c.phases.Promote = history.Ms(c.now().Sub(promoteStart))
	c.elec.backoff = c.cfg.BackoffInitial
	c.elec.interrupted = 0
	c.m.token.Set(float64(token))
	c.m.promotions.WithLabelValues("success").Inc()
	why := fmt.Sprintf("active: won the election (token %d)", token)
	c.setRole(Active, why)
	c.register() // with the token: the active's promotion is complete
	return why
}

// maxInterrupted bounds the promotions in a row that keep the lock after
// a lost connection; the next failure gives the lock back.
const maxInterrupted = 3

// zkStepFailed ends a promotion whose ZooKeeper step (breadcrumb, session
// marker, token, replication record) failed: interrupted if the
// connection dropped under it, failed otherwise.
func (c *Controller) zkStepFailed(now time.Time, err error) string {
	if elector.ConnectionLost(err) && c.elec.interrupted < maxInterrupted {
		return c.interruptPromotion(err.Error())
	}
	return c.failPromotion(now, err.Error())
}

// interruptPromotion: the connection dropped during the promotion's
// ZooKeeper steps, before the promote action ran. The session, and the
// lock with it, outlives a reconnection, so the node keeps the lock and
// attempts again as soon as it is connected: the steps are safe to
// repeat (a breadcrumb already written names this session, a token taken
// twice leaves a gap). Releasing instead would hand a free lock to a
// node that may be restarting, and make it fence this one (Hadoop's
// elector likewise retries a step that lost its connection). If the
// session ended meanwhile, the lock went with it and the attempt finds
// it free or held.
func (c *Controller) interruptPromotion(reason string) string {
	c.elec.interrupted++
	why := "promotion interrupted, keeping the lock: " + reason
	c.lastErr = "promotion interrupted: " + reason
	c.lg.Warn("promotion interrupted by a lost connection; keeping the lock and trying again once connected",
		zap.String("reason", reason), zap.Int("in_a_row", c.elec.interrupted))
	c.becomeStandby(why)
	c.elec.wantAttempt = true
	return why
}

// failPromotion gives the lock back and backs off, after making sure the
// service is standby; it returns the decision's sentence.
func (c *Controller) failPromotion(now time.Time, reason string) string {
	why := "no promotion: " + reason
	c.elec.interrupted = 0
	c.m.promotions.WithLabelValues("failure").Inc()
	c.lastErr = "promotion failed: " + reason
	c.lg.Warn("promotion failed; releasing the lock", zap.String("reason", reason), zap.Duration("backoff", c.elec.backoff))
	// Demote before releasing: the service must be down before another
	// node can win.
	c.becomeStandby(why)
	if err := c.el.Release(); err != nil {
		c.lg.Warn("release lock; retrying once connected", zap.Error(err))
		c.elec.releaseOwed = true
	}
	c.elec.holdsLock = false
	c.elec.joined = false
	c.register()
	c.holdOff(now.Add(c.elec.backoff), why)
	c.elec.backoff = min(2*c.elec.backoff, c.cfg.BackoffMax)
	return why
}
