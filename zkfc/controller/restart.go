package controller

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Restart in place (restart.max_attempts, restart.window, actions.restart):
// when the active's service fails its health check (health.fall reached),
// zkfc first runs actions.restart, up to max_attempts times within the
// window, keeping the lock, its token and its role; only then does it
// fail over as without it (Pacemaker's migration-threshold). A standby is
// never restarted: its service comes back through rejoin or the operator.
//
// After a successful restart action the service must pass health.rise
// probes, as any recovering service, within RestartSettle; otherwise the
// attempt counts as failed. The rise costs clients nothing: zkfc holds the
// lock throughout, so the service serves as soon as it is up, and the
// rise only decides when zkfc counts the restart a success.

type restartState struct {
	attempts []time.Time // starts of the attempts within the window
	// recovering: the restart action succeeded; the service has until
	// settleUntil to become healthy.
	recovering  bool
	settleUntil time.Time
	note        string
	exhausted   bool
}

// restartInPlace is the decision step's guard for a failed active: it
// returns the decision's sentence while a restart is under way, "" when
// the step goes on (healthy service, restarts off or exhausted).
func (c *Controller) restartInPlace(now time.Time) string {
	rc := c.cfg.Replication
	st := &c.repl.restart
	if rc.RestartAttempts == 0 || c.svc.role != Active || !c.svc.drillUntil.IsZero() {
		st.recovering = false
		return ""
	}
	h := c.svc.health
	if j := c.repl.svcJob; j != nil && j.kind == jobRestart {
		return st.note + ": running actions.restart"
	}
	if st.recovering {
		switch {
		case h.Healthy:
			st.recovering = false
			c.lg.Info("the service is healthy again after its restart in place", zap.Int("attempt", len(st.attempts)))
			st.note = fmt.Sprintf("restarted in place at attempt %d of %d", len(st.attempts), rc.RestartAttempts)
			return ""
		case now.Before(st.settleUntil):
			return fmt.Sprintf("%s: restarted, waiting for the service to pass its health check (%s)", st.note, h.describe())
		}
		st.recovering = false
		c.lg.Warn("the restarted service did not pass its health check in time", zap.Duration("settle", rc.RestartSettle))
	}
	if !h.Known || h.Healthy {
		return ""
	}
	kept := st.attempts[:0]
	for _, t := range st.attempts {
		if now.Sub(t) < rc.RestartWindow {
			kept = append(kept, t)
		}
	}
	st.attempts = kept
	if len(st.attempts) >= rc.RestartAttempts {
		if !st.exhausted {
			c.lg.Warn("restart in place exhausted; failing over", zap.Int("attempts", len(st.attempts)), zap.Duration("window", rc.RestartWindow))
		}
		st.exhausted = true
		st.note = fmt.Sprintf("restart in place exhausted: %d attempts in %s; failing over", len(st.attempts), short(rc.RestartWindow))
		return ""
	}
	st.exhausted = false
	// A sync_on or sync_off of the dead service is moot: the restart goes
	// first (durable mode records nobody in sync again before sync_off).
	c.stopServiceJob("restart in place")
	st.attempts = append(st.attempts, now)
	st.note = fmt.Sprintf("restarting in place: attempt %d of %d in %s", len(st.attempts), rc.RestartAttempts, short(rc.RestartWindow))
	c.lg.Warn(st.note, zap.String("health", h.State), zap.Uint64("token", c.svc.token))
	act, token := rc.Actions, c.svc.token
	c.startJob(jobRestart, jobResult{token: token}, func(ctx context.Context, r *jobResult) {
		r.err = act.DoRestart(ctx, "active", token)
	})
	return st.note + ": running actions.restart"
}

func (c *Controller) restartDone(r jobResult) {
	st := &c.repl.restart
	if r.err != nil {
		c.lg.Warn("restart in place failed", zap.Error(r.err))
		st.note += ": failed: " + r.err.Error()
		return
	}
	if c.svc.role != Active || c.svc.token != r.token {
		return // demoted meanwhile: the demote cancelled the restart first
	}
	st.recovering = true
	st.settleUntil = c.now().Add(c.cfg.Replication.RestartSettle)
}

func (c *Controller) restartCancelled() { c.repl.restart.recovering = false }

func (c *Controller) restartText() string {
	st := &c.repl.restart
	if st.note == "" {
		return "no restart so far"
	}
	return st.note
}

// short writes a window as an operator would: 10m, not 10m0s.
func short(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
