package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
)

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
	wasActive := c.svc.role == Active
	if wasActive && needFence {
		c.releaseLock()
	}
	if wasActive {
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.FenceTimeout)
		if err := c.demote(ctx, true); err != nil {
			c.lg.Error("demote failed while quitting the election", zap.Error(err))
			needFence = true
			c.demoteFailed(err)
		}
		cancel()
	}
	if c.sess.connected {
		// Breadcrumb first, while the lock is still ours: released first,
		// the next winner could read it and fence us needlessly.
		if !needFence && wasActive {
			if err := c.el.DeleteBreadcrumb(c.cfg.Self.NodeID); err != nil {
				c.lg.Warn("delete breadcrumb", zap.Error(err))
			}
		}
	}
	c.releaseLock()
	c.elec.joined = false
	c.elec.wantAttempt = false
	c.register()
	c.lg.Info("quit the election", zap.String("reason", reason), zap.Bool("need_fence", needFence))
	if c.svc.role != Standby {
		c.setRole(Standby, reason)
	}
}

// releaseLock gives up the lock if this node holds it; a release that
// cannot be sent now is owed and retried once connected.
func (c *Controller) releaseLock() {
	if !c.elec.holdsLock {
		return
	}
	c.elec.holdsLock = false
	if !c.sess.connected {
		c.elec.releaseOwed = true
		return
	}
	if err := c.el.Release(); err != nil {
		c.lg.Warn("release lock; retrying once connected", zap.Error(err))
		c.elec.releaseOwed = true
	}
}

func (c *Controller) becomeStandby(reason string) {
	if c.svc.role == Standby {
		return
	}
	c.demoteService(reason, c.svc.role == Active)
}

// demoteService runs the demote action and records the standby role.
// mayBeActive: the service may be active (this node was, or a promote
// half-worked), so a failed demote leaves its state unknown.
func (c *Controller) demoteService(reason string, mayBeActive bool) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.FenceTimeout)
	if err := c.demote(ctx, true); err != nil {
		c.lg.Error("demote to standby failed", zap.Error(err))
		c.lastErr = err.Error()
		if mayBeActive {
			c.demoteFailed(err)
		}
	}
	cancel()
	if c.svc.role != Standby {
		c.setRole(Standby, reason)
	}
}

// demote runs the demote action and remembers whether it failed; graceful
// fencing requests arriving meanwhile join it (GracefulDemote).
//
// drain (every caller but self-fencing, whose deadline is the session's)
// first takes an active service out of load balancers: Status.Draining
// makes /active answer 503 for cfg.LBDrain before the demote action runs,
// so that no client is sent to the service after it stopped being active.
func (c *Controller) demote(ctx context.Context, drain bool) error {
	c.stopServiceJob("demote")
	op := &demoteOp{started: c.now(), done: make(chan struct{})}
	c.opMu.Lock()
	c.op = op
	close(c.opStarted)
	c.opMu.Unlock()
	if drain && c.svc.role == Active && c.cfg.LBDrain > 0 {
		c.svc.draining = true
		c.publish()
		// The loop checks nothing while it waits: never past the moment
		// it would self-fence, after which a peer may be promoted.
		d := c.cfg.LBDrain
		if at, timeout, ok := c.el.LastAck(); ok {
			d = min(d, time.Until(at.Add(timeout-c.cfg.SelfFenceMargin)))
		}
		t := time.NewTimer(max(d, 0))
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	err := c.actions.DoDemote(ctx, c.svc.token)
	c.svc.draining = false
	op.err = err
	c.opMu.Lock()
	c.op = nil
	c.opStarted = make(chan struct{})
	c.opMu.Unlock()
	close(op.done)
	c.svc.demoteErr = err
	return err
}

// abandonRoleQuery cancels the role check in flight, if any, for why;
// the caller holds healthMu.
func (c *Controller) abandonRoleQuery(why string) {
	if c.roleQuery != nil && c.roleAbandon == "" {
		c.roleAbandon = why
		c.roleQuery()
	}
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

// checkDrift asks the service for its role. A health failure reported
// meanwhile cancels the query: a service that hangs during the query would
// otherwise hold this loop, and the failover, for the action's whole
// deadline (found by the SIGSTOP drill: the standby began fencing 1.2 s
// later than in runs where the hang missed the role check). A lock change
// cancels it too (relayEvents): a standby must not sit in a query while
// the lock is free; drift is checked again an interval later.
func (c *Controller) checkDrift() {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.FenceTimeout)
	c.healthMu.Lock()
	if c.healthIn.Known && !c.healthIn.Healthy {
		c.healthMu.Unlock()
		cancel()
		return // reported, not applied yet: never query a sick service
	}
	c.roleQuery, c.roleAbandon = cancel, ""
	c.healthMu.Unlock()
	got, err := c.actions.QueryRole(ctx)
	c.healthMu.Lock()
	c.roleQuery = nil
	c.healthMu.Unlock()
	interrupted := ctx.Err() == context.Canceled
	cancel()
	if errors.Is(err, ErrNoRoleCheck) {
		c.svc.roleCheckOff = true
		return
	}
	if interrupted {
		c.healthMu.Lock()
		why := c.roleAbandon
		c.healthMu.Unlock()
		c.lg.Info("role check abandoned: " + why)
		return
	}
	if err != nil {
		c.lg.Warn("role check failed", zap.Error(err))
		return
	}
	want := c.svc.role.String()
	if got == want {
		return
	}
	c.m.drifts.Inc()
	reason := fmt.Sprintf("service reports %s, zkfc expects %s", got, want)
	c.lg.Warn("role drift: quitting and rejoining", zap.String("reason", reason))
	if got == "active" && c.svc.role != Active {
		// An active service without the lock is the dangerous case.
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.FenceTimeout)
		if err := c.actions.DoDemote(ctx, c.svc.token); err != nil {
			c.lg.Error("demote after drift", zap.Error(err))
			c.demoteFailed(err)
		}
		cancel()
	}
	if c.elec.joined || c.svc.role == Active {
		c.quit(true, "role drift: "+reason)
	} else {
		c.setRole(Standby, "role drift: "+reason)
	}
	c.holdOff(c.now().Add(c.cfg.BackoffInitial), "role drift: "+reason)
}
