package controller

import (
	"strings"
	"time"

	"github.com/zkfc-project/zkfc/zkfc/history"
)

// selfFencedPrefix starts the reason of a self-fence's role change.
const selfFencedPrefix = "self-fenced: "

// Recorder takes history entries; *history.Log queues them without
// blocking, so recording never delays a decision.
type Recorder interface {
	Record(e history.Entry)
}

func (c *Controller) record(e history.Entry) {
	if c.cfg.History != nil {
		c.cfg.History.Record(e)
	}
}

// flushHistory gives the entries of a clean shutdown (the demotion) a
// bounded chance to be written before the session closes.
func (c *Controller) flushHistory() {
	if f, ok := c.cfg.History.(interface{ Flush(time.Duration) }); ok {
		f.Flush(historyFlush)
	}
}

// historyFlush bounds the wait for the history at shutdown.
const historyFlush = 2 * time.Second

// recordRole records a role change that matters to the cluster's history:
// a promotion, with the phases promote measured, and an active's demotion
// or self-fence, with the detection of the health failure that caused it.
func (c *Controller) recordRole(from, to Role, reason string) {
	e := history.Entry{Time: c.now(), Reason: reason, Token: c.svc.token}
	switch {
	case to == Active:
		e.Kind, e.Phases = history.Promotion, c.phases
		c.phases = nil
	case from == Active && strings.HasPrefix(reason, selfFencedPrefix):
		e.Kind = history.SelfFence
	case from == Active:
		e.Kind = history.Demotion
		if h := c.svc.health; h.Known && !h.Healthy && !c.svc.failingSince.IsZero() && !c.svc.healthSince.Before(c.svc.failingSince) {
			e.Phases = &history.Phases{Detection: history.Ms(c.svc.healthSince.Sub(c.svc.failingSince))}
		}
	default:
		return
	}
	c.record(e)
}

// noteProbes tracks the first failed probe of a run of failures: the
// monitor reports its progress ("fall 1 of 2") while the state is still
// healthy, then the unhealthy state.
func (c *Controller) noteProbes(h Health) {
	switch {
	case h.Healthy && !strings.HasPrefix(h.Progress, "fall"):
		c.svc.failingSince = time.Time{}
	case h.Known && c.svc.failingSince.IsZero():
		// The first failed probe: with fall 1 it is the state change.
		c.svc.failingSince = c.now()
	}
}

// promotionPhases starts the phases of a promotion: the lock phase ran
// from the lock's last change seen while this node did not hold it.
func (c *Controller) promotionPhases() {
	p := &history.Phases{}
	if !c.elec.freeSeen.IsZero() && !c.elec.lockSince.Before(c.elec.freeSeen) {
		p.Lock = history.Ms(c.elec.lockSince.Sub(c.elec.freeSeen))
	}
	c.phases = p
}
