package history

import (
	"strings"

	"github.com/zkfc-project/zkfc/zkfc/budget"
)

// Annotate marks each promotion that ended a failover with the kind of
// failure it ended, that kind's worst case in b, and, when the old active
// measured it, the detection phase of its demotion. Entries are oldest
// first; they are changed in place.
//
// The kind is read from what was recorded between the previous promotion
// and this one: a failover request is a switchover; the old active's
// demotion for its health is a service failure (hung when the service
// stopped answering); its self-fence a host cut off; and nothing at all
// from the old active a killed zkfc (a dead host records nothing either:
// both have the same budget). The first promotion in the log ended no
// known active and is left alone.
func Annotate(entries []Entry, b budget.Budget) {
	for i := range entries {
		e := &entries[i]
		if e.Kind != Promotion {
			continue
		}
		kind, cause, ok := classify(entries, i)
		if !ok {
			continue
		}
		e.Failure = kind
		if k, found := b.Of(kind); found {
			e.BudgetMs = k.WorstMs
		}
		if cause != nil && cause.Phases != nil && cause.Phases.Detection != nil {
			if e.Phases == nil {
				e.Phases = &Phases{}
			}
			if e.Phases.Detection == nil {
				d := *cause.Phases.Detection
				e.Phases.Detection = &d
			}
		}
	}
}

// classify names the failure promotion i ended and the entry that shows
// it (nil if none does); ok is false when there was no earlier active.
func classify(entries []Entry, i int) (kind string, cause *Entry, ok bool) {
	node := entries[i].Node
	for j := i - 1; j >= 0; j-- {
		e := &entries[j]
		switch {
		case e.Kind == FailoverRequest:
			return budget.Switchover, e, true
		case e.Kind == Promotion:
			if e.Node == node {
				// This node was active before and promotes again: what
				// came between says why it had stopped, if anything did.
				return "", nil, false
			}
			return budget.ZKFCKilled, nil, true
		case e.Node == node:
			continue
		case e.Kind == SelfFence:
			return budget.HostLost, e, true
		case e.Kind == Demotion:
			switch r := e.Reason; {
			case strings.HasPrefix(r, "demoted by graceful fencing"):
				continue // the effect of a takeover, not its cause
			case strings.Contains(r, "SERVICE_NOT_RESPONDING"):
				return budget.ServiceHung, e, true
			case strings.HasPrefix(r, "service ") || strings.HasPrefix(r, "role drift"):
				return budget.ServiceUnhealthy, e, true
			}
			return budget.Switchover, e, true
		}
	}
	return "", nil, false
}
