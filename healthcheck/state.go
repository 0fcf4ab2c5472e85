// Package healthcheck watches the local service that zkfc guards and turns
// a stream of probe results into one of Hadoop's five health states.
//
// It probes with HTTP, TCP and exec checks, all of which must pass, and
// smooths the results with rise/fall counters so that one slow or lost
// probe never flips the state. It only observes: it must never restart,
// signal or otherwise act on the service, and it must never report Healthy
// on anything short of a successful probe of every configured check.
package healthcheck

import "fmt"

// State is the health of the guarded service as the monitor sees it.
// Only Healthy lets the controller take part in the election.
type State int

const (
	// Initializing: no conclusive probe yet.
	Initializing State = iota
	// Healthy: the last Rise probes (one, right after start) all passed.
	Healthy
	// Unhealthy: the service answered, and the answer was bad.
	Unhealthy
	// NotResponding: probes ran out of time.
	NotResponding
	// MonitorFailed: the monitor could not run a check at all (a missing
	// exec binary, for instance), so it knows nothing about the service.
	MonitorFailed
)

var stateNames = [...]string{
	Initializing:  "INITIALIZING",
	Healthy:       "SERVICE_HEALTHY",
	Unhealthy:     "SERVICE_UNHEALTHY",
	NotResponding: "SERVICE_NOT_RESPONDING",
	MonitorFailed: "HEALTH_MONITOR_FAILED",
}

// String returns Hadoop's name for the state, which operators grep for.
func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return fmt.Sprintf("State(%d)", int(s))
	}
	return stateNames[s]
}

// MarshalText lets the state appear by name in JSON status documents.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Outcome classifies one probe of one check, or of all checks together.
type Outcome int

const (
	// OK: the check passed, however long it took within the timeout.
	OK Outcome = iota
	// Failed: the service answered wrongly (refused, bad status or body,
	// non-zero exit).
	Failed
	// TimedOut: no answer within the probe timeout.
	TimedOut
	// CheckError: the monitor could not run the check (binary missing,
	// not executable). It says nothing about the service.
	CheckError
)

var outcomeNames = [...]string{OK: "ok", Failed: "failed", TimedOut: "timeout", CheckError: "check-error"}

func (o Outcome) String() string {
	if o < 0 || int(o) >= len(outcomeNames) {
		return fmt.Sprintf("Outcome(%d)", int(o))
	}
	return outcomeNames[o]
}

// MarshalText lets the outcome appear by name in JSON status documents.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// stateFor maps a bad outcome to the state it leads to.
func stateFor(o Outcome) State {
	switch o {
	case OK:
		return Healthy
	case Failed:
		return Unhealthy
	case TimedOut:
		return NotResponding
	default:
		return MonitorFailed
	}
}

// Progress is how far the current run of probes has gone toward leaving
// the state: passing probes counted toward Rise while the state is bad,
// failing ones toward Fall while it is Healthy. It is zero when no such
// run is under way, which includes the moment a run completes.
type Progress struct {
	Dir   string // "rise" or "fall"; "" for none
	Count int    // probes so far in the run
	Of    int    // probes the run needs
}

// String reads "rise 1 of 2", or "" for no progress.
func (p Progress) String() string {
	if p.Dir == "" {
		return ""
	}
	return fmt.Sprintf("%s %d of %d", p.Dir, p.Count, p.Of)
}

// tracker is the rise/fall state machine, kept apart from the probing so
// it can be driven by outcome sequences in tests.
//
// Rules:
//   - From Initializing the first probe decides: nothing is at stake before
//     the controller has joined, and waiting Rise probes would only delay
//     start-up.
//   - Healthy is left after Fall consecutive bad probes of any kind; the
//     new state is the kind of the latest one. Mixing refusals and timeouts
//     must not keep a dead service Healthy.
//   - Any other state becomes Healthy after Rise consecutive OK probes.
//   - Between the bad states the monitor moves only after Fall consecutive
//     probes of the new kind, so an alternating fault does not flap.
type tracker struct {
	rise, fall int
	state      State
	okRun      int     // consecutive OK probes
	badRun     int     // consecutive non-OK probes of any kind
	kind       Outcome // kind of the latest probe
	kindRun    int     // consecutive probes of that kind
}

func newTracker(rise, fall int) tracker {
	return tracker{rise: rise, fall: fall, state: Initializing}
}

// observe folds one probe outcome in and returns the state before and after.
func (t *tracker) observe(o Outcome) (old, cur State) {
	old = t.state
	if o == t.kind {
		t.kindRun++
	} else {
		t.kind, t.kindRun = o, 1
	}
	if o == OK {
		t.okRun++
		t.badRun = 0
	} else {
		t.badRun++
		t.okRun = 0
	}
	switch {
	case t.state == Initializing:
		t.state = stateFor(o)
	case o == OK:
		if t.state != Healthy && t.okRun >= t.rise {
			t.state = Healthy
		}
	case t.state == Healthy:
		if t.badRun >= t.fall {
			t.state = stateFor(o)
		}
	default:
		if stateFor(o) != t.state && t.kindRun >= t.fall {
			t.state = stateFor(o)
		}
	}
	return old, t.state
}

// progress reports the run under way toward leaving the current state.
// Moves between the bad states are not reported: they change what is
// wrong, not whether the service may serve.
func (t *tracker) progress() Progress {
	switch {
	case t.state == Healthy && t.badRun > 0:
		return Progress{Dir: "fall", Count: t.badRun, Of: t.fall}
	case t.state != Healthy && t.state != Initializing && t.okRun > 0:
		return Progress{Dir: "rise", Count: t.okRun, Of: t.rise}
	}
	return Progress{}
}
