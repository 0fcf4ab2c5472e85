package controller

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/zkfc/elector"
)

// Rejoin: a node whose service is not active, while another node is the
// confirmed active, runs actions.rejoin once per active token, so that its
// service follows the active (PostgreSQL: pg_rewind, then start as its
// standby). The active is confirmed when it holds the lock, the breadcrumb
// names it with its token, and its members/ entry carries that token (it
// registers it once its promote action succeeded): a rejoin never follows
// a node that is still promoting, or failed to.
//
// Until its rejoin for that token has succeeded, the node is not a
// candidate: its data may hold writes the active never had (it was the old
// primary) or lack writes the active acknowledged; promoting it would lose
// the active's commits. It stays out while the rejoin fails, retrying with
// failover.backoff_*. The debt is kept in memory: it lasts while the
// active lives and after it dies, until this node rejoined it. (A zkfc
// restarted since knows of no debt until it sees an active; eligibility,
// replication.max_lag or replication.durable, is then the guard.)

type rejoinState struct {
	nextCheck time.Time
	// owed: the confirmed active this node has not rejoined (nil: none).
	owed *elector.Info
	// done: the token of the last active this node rejoined.
	done     uint64
	doneNode string
	failed   string // the last failure of the rejoin for owed
	next     time.Time
	backoff  time.Duration
}

// rejoinStep looks for a new confirmed active once per position interval
// and starts the rejoin it is owed.
func (c *Controller) rejoinStep(now time.Time) {
	st := &c.repl.rejoin
	if c.svc.role == Active {
		st.owed = nil
		return
	}
	if c.svc.role != Standby {
		return
	}
	if !now.Before(st.nextCheck) {
		st.nextCheck = now.Add(c.posInterval())
		a, err := c.confirmedActive()
		if err != nil {
			c.lg.Debug("rejoin: cannot tell who is active", zap.Error(err))
		} else if a != nil && a.Token != st.done && (st.owed == nil || st.owed.Token != a.Token) {
			st.owed, st.failed, st.next, st.backoff = a, "", time.Time{}, c.cfg.BackoffInitial
			c.lg.Info("rejoin owed to a new active", zap.String("active", a.NodeID), zap.Uint64("token", a.Token))
		}
	}
	if st.owed == nil || c.repl.svcJob != nil || now.Before(st.next) {
		return
	}
	a := *st.owed
	act := c.cfg.Replication.Actions
	c.startJob(jobRejoin, jobResult{token: a.Token, standby: a.NodeID}, func(ctx context.Context, r *jobResult) {
		r.err = act.DoRejoin(ctx, a.NodeID, a.Host, a.Port, a.Token)
	})
	c.lg.Info("rejoining the active", zap.String("active", a.NodeID), zap.String("host", a.Host), zap.Int("port", a.Port), zap.Uint64("token", a.Token))
}

// confirmedActive is the node that holds the lock and finished its
// promotion (see above), nil if none, or this node.
func (c *Controller) confirmedActive() (*elector.Info, error) {
	h, err := c.el.Holder()
	if err != nil || h == nil || h.NodeID == c.cfg.Self.NodeID {
		return nil, err
	}
	bc, _, err := c.el.Breadcrumb()
	if err != nil || bc == nil || bc.NodeID != h.NodeID || bc.Token == 0 {
		return nil, err
	}
	members, err := c.el.Members()
	if err != nil {
		return nil, err
	}
	for _, m := range members {
		if m.NodeID == bc.NodeID && m.Token == bc.Token {
			a := *bc
			if m.Host != "" {
				a.Host, a.Port = m.Host, m.Port
			}
			return &a, nil
		}
	}
	return nil, nil
}

func (c *Controller) rejoinDone(r jobResult) {
	st := &c.repl.rejoin
	if r.err != nil {
		st.failed = r.err.Error()
		st.next = c.now().Add(st.backoff)
		c.lg.Warn("rejoin failed; retrying after a backoff", zap.String("active", r.standby), zap.Uint64("token", r.token),
			zap.Duration("backoff", st.backoff), zap.Error(r.err))
		st.backoff = min(2*st.backoff, c.cfg.BackoffMax)
		return
	}
	st.done, st.doneNode = r.token, r.standby
	if st.owed != nil && st.owed.Token == r.token {
		st.owed, st.failed = nil, ""
	}
	c.lg.Info("rejoined the active", zap.String("active", r.standby), zap.Uint64("token", r.token))
}

// rejoinOwed says why this node may not be a candidate because of its
// rejoin ("" if it may).
func (c *Controller) rejoinOwed() string {
	st := &c.repl.rejoin
	if st.owed == nil || c.svc.role == Active {
		return ""
	}
	return fmt.Sprintf("rejoin of %s (token %d) %s", st.owed.NodeID, st.owed.Token, c.rejoinProgress())
}

func (c *Controller) rejoinProgress() string {
	st := &c.repl.rejoin
	switch {
	case c.repl.svcJob != nil && c.repl.svcJob.kind == jobRejoin:
		return "running"
	case st.failed != "":
		return fmt.Sprintf("failed: %s; next try in %s", st.failed, max(st.next.Sub(c.now()), 0).Round(time.Millisecond))
	}
	return "pending"
}

// rejoinText is the status: pending, running, failed or done for a token.
func (c *Controller) rejoinText() string {
	st := &c.repl.rejoin
	switch {
	case c.svc.role == Active:
		return "not needed: this node is active"
	case st.owed != nil:
		return fmt.Sprintf("%s for %s (token %d)", c.rejoinProgress(), st.owed.NodeID, st.owed.Token)
	case st.done > 0:
		return fmt.Sprintf("done for token %d (%s)", st.done, st.doneNode)
	}
	return "none: no other active seen"
}
