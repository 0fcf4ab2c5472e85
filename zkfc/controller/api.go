package controller

import (
	"context"
	"fmt"
	"time"

	"github.com/zkfc-project/zkfc/zkfc/elector"
)

// demoteOp is a run of the demote action by the loop, which graceful
// fencing requests join instead of queueing behind it.
type demoteOp struct {
	started time.Time
	done    chan struct{}
	err     error // set before done is closed
}

type reqKind int

const (
	reqCede reqKind = iota
	reqDemote
	reqPrepare
	reqFailHealth
)

type request struct {
	kind  reqKind
	d     time.Duration
	token uint64
	reply chan error
}

// Health is what the health monitor reports about the service.
type Health struct {
	State string // the monitor's state, e.g. SERVICE_UNHEALTHY
	// Progress says how far a run of probes has gone toward leaving
	// State, e.g. "rise 1 of 2"; "" when none is under way.
	Progress string
	Healthy  bool
	Known    bool // false while the monitor is initializing
}

// describe names the state and, while a run is under way, its progress:
// "SERVICE_UNHEALTHY (rise 1 of 2)".
func (h Health) describe() string {
	if h.Progress == "" {
		return h.State
	}
	return h.State + " (" + h.Progress + ")"
}

// SetHealth reports the health monitor's latest view. It never blocks;
// only the latest report counts.
func (c *Controller) SetHealth(h Health) {
	c.healthMu.Lock()
	c.healthIn = h
	if h.Known && !h.Healthy {
		c.abandonRoleQuery("the health check failed meanwhile")
	}
	c.healthMu.Unlock()
	select {
	case c.healthSig <- struct{}{}:
	default:
	}
}

// Status returns the latest snapshot.
func (c *Controller) Status() Status {
	c.statusMu.Lock()
	defer c.statusMu.Unlock()
	s := c.status
	s.Transitions = append([]Transition(nil), s.Transitions...)
	return s
}

// Cede makes this node leave the election for d (0: the configured cede
// period), demoting the service first if it is active. Used by graceful
// failover on the old active and on other candidates.
func (c *Controller) Cede(ctx context.Context, d time.Duration) error {
	return c.call(ctx, request{kind: reqCede, d: d})
}

// GracefulDemote is the server side of graceful fencing: demote the local
// service now; an error means the caller must try a harsher method.
//
// While the loop is itself demoting the service (a sick active quitting,
// self-fencing) the request does not queue behind that demote: it gets the
// in-flight demote's outcome, or, when the service does not even answer its
// health probes, an immediate refusal, so that the caller moves on to a
// method that works without the service instead of waiting out a demote
// that cannot finish.
func (c *Controller) GracefulDemote(ctx context.Context, token uint64) error {
	for {
		c.opMu.Lock()
		op, started := c.op, c.opStarted
		c.opMu.Unlock()
		if op != nil {
			return c.joinDemote(ctx, op)
		}
		r := request{kind: reqDemote, token: token, reply: make(chan error, 1)}
		select {
		case c.reqs <- r:
			select {
			case err := <-r.reply:
				return err
			case <-ctx.Done():
				return fmt.Errorf("waiting for the controller: %w", ctx.Err())
			}
		case <-started:
			// The loop began a demote meanwhile: join it rather than wait
			// for the loop.
		case <-ctx.Done():
			return fmt.Errorf("controller busy: %w", ctx.Err())
		}
	}
}

// joinDemote answers a graceful fencing request with the demote the loop
// is running.
func (c *Controller) joinDemote(ctx context.Context, op *demoteOp) error {
	c.healthMu.Lock()
	h := c.healthIn
	c.healthMu.Unlock()
	if h.Known && h.State == NotResponding {
		return fmt.Errorf("graceful demote of %s: not confirmed: the service is %s and a demote of it is still running since %s",
			c.cfg.Self.NodeID, h.State, op.started.Format(time.RFC3339Nano))
	}
	select {
	case <-op.done:
		if op.err != nil {
			return fmt.Errorf("graceful demote of %s: %w", c.cfg.Self.NodeID, op.err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("graceful demote of %s: waiting for the demote in flight: %w", c.cfg.Self.NodeID, ctx.Err())
	}
}

// PrepareFailover makes this node a candidate now (clearing a cede or
// backoff); it fails if the node cannot become active.
func (c *Controller) PrepareFailover(ctx context.Context) error {
	return c.call(ctx, request{kind: reqPrepare})
}

// FailHealth makes the controller treat its service as unhealthy for d,
// whatever the health check says, so that a drill can exercise the
// unhealthy-active path without breaking the service; d <= 0 ends an
// override early.
func (c *Controller) FailHealth(ctx context.Context, d time.Duration) error {
	return c.call(ctx, request{kind: reqFailHealth, d: d})
}

// SetPaused sets or clears the cluster-wide pause of automatic failover
// and returns the state written; each node's status reports when its loop
// has applied it.
func (c *Controller) SetPaused(on bool) (elector.PauseState, error) { return c.el.SetPaused(on) }

// ClusterToken reads the last fencing token issued in the cluster.
func (c *Controller) ClusterToken() (uint64, error) { return c.el.CurrentToken() }

// Members lists the registered candidates.
func (c *Controller) Members() ([]elector.Info, error) { return c.el.Members() }

// Holder reads who holds the lock.
func (c *Controller) Holder() (*elector.Info, error) { return c.el.Holder() }

// Self is this node's identity.
func (c *Controller) Self() elector.Info { return c.cfg.Self }

func (c *Controller) call(ctx context.Context, r request) error {
	r.reply = make(chan error, 1)
	select {
	case c.reqs <- r:
	case <-ctx.Done():
		return fmt.Errorf("controller busy: %w", ctx.Err())
	}
	select {
	case err := <-r.reply:
		return err
	case <-ctx.Done():
		return fmt.Errorf("waiting for the controller: %w", ctx.Err())
	}
}
