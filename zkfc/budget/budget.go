// Package budget computes, from a zkfc configuration, the worst-case time
// from a failure to a new active service for each kind of failure, naming
// every term, so that an operator can predict a failover before it
// happens and compare it with the measured ones (zkfc history).
//
// The formulas are the bounds the README derives and the integration
// tests measure (TestKillActiveZKFCBound, the drills): a change to one
// must change the other. It must never read the clock or the network.
package budget

import (
	"fmt"
	"strings"
	"time"
)

// Kinds of failure, as status and history name them.
const (
	ServiceUnhealthy = "service unhealthy"
	ServiceHung      = "service hung"
	ZKFCKilled       = "zkfc killed"
	HostLost         = "host dead or cut off"
	Switchover       = "switchover"
)

// Method is one fencing method and its timeout.
type Method struct {
	Type    string
	Timeout time.Duration
}

// Inputs are the configuration's terms.
type Inputs struct {
	HealthInterval  time.Duration // health.interval
	Fall            int           // health.fall
	ProbeTimeout    time.Duration // health.timeout
	SessionTimeout  time.Duration // zookeeper.session_timeout
	SelfFenceMargin time.Duration // zookeeper.self_fence_margin
	// TickTime is the quorum's tickTime; 0 when zkfc does not know it (an
	// external ensemble, or quorum.config_file): then the largest a
	// quorum granting SessionTimeout can have, SessionTimeout/2.
	TickTime time.Duration
	// Embedded: the quorum is zkfc's own, whose leader expires a session
	// within tickTime/2 of its deadline; Apache ZooKeeper's leader checks
	// on tickTime boundaries, adding a tick.
	Embedded       bool
	Methods        []Method      // fencing.methods in order
	PromoteTimeout time.Duration // actions.promote.timeout
	DemoteTimeout  time.Duration // actions.demote.timeout
	LBDrain        time.Duration // control.lb_drain
	// LoopTick is the controller's clock: a lock freed is seen, and acted
	// on, within one tick at most.
	LoopTick time.Duration
}

// Kind is one kind of failure's worst case.
type Kind struct {
	Kind    string `json:"kind"`
	WorstMs int64  `json:"worst_ms"`
	// Terms spells the sum: "health.interval 1s × fall 2 + ...".
	Terms string `json:"terms"`
}

// Budget is every kind, in a fixed order.
type Budget struct {
	Kinds []Kind `json:"kinds"`
}

// Of returns the entry for kind, false if there is none.
func (b Budget) Of(kind string) (Kind, bool) {
	for _, k := range b.Kinds {
		if k.Kind == kind {
			return k, true
		}
	}
	return Kind{}, false
}

type term struct {
	text string
	d    time.Duration
}

func sum(kind string, terms ...term) Kind {
	var total time.Duration
	parts := make([]string, 0, len(terms))
	for _, t := range terms {
		total += t.d
		parts = append(parts, t.text)
	}
	return Kind{Kind: kind, WorstMs: total.Milliseconds(), Terms: strings.Join(parts, " + ")}
}

// Compute returns the budget of in.
func Compute(in Inputs) Budget {
	detect := term{fmt.Sprintf("health.interval %s × fall %d", in.HealthInterval, in.Fall), time.Duration(in.Fall) * in.HealthInterval}
	probe := term{fmt.Sprintf("health.timeout %s", in.ProbeTimeout), in.ProbeTimeout}
	tick := term{fmt.Sprintf("loop tick %s", in.LoopTick), in.LoopTick}
	promote := term{fmt.Sprintf("actions.promote.timeout %s", in.PromoteTimeout), in.PromoteTimeout}
	fence := fenceTerm(in.Methods)
	lost := sessionTerm(in)
	return Budget{Kinds: []Kind{
		// Probes that fail answer at once: fall of them, an interval apart,
		// the first up to an interval after the failure.
		sum(ServiceUnhealthy, detect, tick, fence, promote),
		// A hung service's last probe only fails at its timeout.
		sum(ServiceHung, detect, probe, tick, fence, promote),
		// Nobody demotes: the lock goes with the session.
		sum(ZKFCKilled, lost, tick, fence, promote),
		// The old active's zkfc, if alive, demotes at session timeout -
		// margin; the lock is free at expiry all the same.
		sum(HostLost, lost, tick, fence, promote),
		// The old active drains and demotes, then releases; no fencing:
		// it removed its breadcrumb.
		sum(Switchover,
			term{fmt.Sprintf("control.lb_drain %s", in.LBDrain), in.LBDrain},
			term{fmt.Sprintf("actions.demote.timeout %s", in.DemoteTimeout), in.DemoteTimeout},
			tick, promote),
	}}
}

// fenceTerm: in the worst case every method but the last runs out of
// time, and the last confirms at its own timeout.
func fenceTerm(ms []Method) term {
	if len(ms) == 0 {
		return term{"no fencing method 0s", 0}
	}
	var d time.Duration
	parts := make([]string, 0, len(ms))
	for _, m := range ms {
		d += m.Timeout
		parts = append(parts, fmt.Sprintf("%s %s", m.Type, m.Timeout))
	}
	return term{"fencing (" + strings.Join(parts, " + ") + ")", d}
}

// sessionTerm is how long after a zkfc's last ping the quorum frees its
// lock: the session timeout, plus the delay of the expiry (README, "How
// long a dead zkfc holds the lock").
func sessionTerm(in Inputs) term {
	tick, known := in.TickTime, in.TickTime > 0
	if !known {
		tick = in.SessionTimeout / 2
	}
	tickText := fmt.Sprintf("tickTime %s", tick)
	if !known {
		tickText = fmt.Sprintf("tickTime ≤ session_timeout/2 = %s", tick)
	}
	margin := fmt.Sprintf(" (the old active demotes itself at %s - self_fence_margin %s)", in.SessionTimeout, in.SelfFenceMargin)
	if in.Embedded {
		return term{fmt.Sprintf("zookeeper.session_timeout %s + %s/2%s", in.SessionTimeout, tickText, margin), in.SessionTimeout + tick/2}
	}
	return term{fmt.Sprintf("zookeeper.session_timeout %s + 1.5 × %s%s", in.SessionTimeout, tickText, margin), in.SessionTimeout + tick + tick/2}
}
