package history

import (
	"sort"
	"strings"

	"github.com/zkfc-project/zkfc/zkfc/budget"
)

// Annotate marks each promotion that ended a failover with the kind of
// failure it ended, that kind's worst case in b, and, when the old active
// measured it, the detection phase of its demotion. Entries are changed in
// place.
//
// The kind is read from what was recorded, by time, between the previous
// promotion and this one (by time, not by sequence: each node writes its
// own entries, and an old active's demotion may reach the quorum after the
// new active's promotion): a failover request is a switchover; the old active's
// demotion for its health is a service failure (hung when the service
// stopped answering); its self-fence a host cut off; and nothing at all
// from the old active a killed zkfc (a dead host records nothing either:
// both have the same budget). The first promotion in the log ended no
// known active and is left alone.
func Annotate(entries []Entry, b budget.Budget) {
	byTime := make([]*Entry, len(entries))
	for i := range entries {
		byTime[i] = &entries[i]
	}
	sort.SliceStable(byTime, func(i, j int) bool { return byTime[i].Time.Before(byTime[j].Time) })
	for i, e := range byTime {
		if e.Kind != Promotion {
			continue
		}
		kind, cause, ok := classify(byTime, i)
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
func classify(entries []*Entry, i int) (kind string, cause *Entry, ok bool) {
	node := entries[i].Node
	for j := i - 1; j >= 0; j-- {
		e := entries[j]
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
