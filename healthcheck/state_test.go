package healthcheck

import (
	"strings"
	"testing"
)

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{
		Initializing:  "INITIALIZING",
		Healthy:       "SERVICE_HEALTHY",
		Unhealthy:     "SERVICE_UNHEALTHY",
		NotResponding: "SERVICE_NOT_RESPONDING",
		MonitorFailed: "HEALTH_MONITOR_FAILED",
		State(42):     "State(42)",
	} {
		if got := s.String(); got != want {
			t.Errorf("State(%d).String() = %q, want %q", int(s), got, want)
		}
	}
}

// TestTracker drives the rise/fall machine with outcome sequences and checks
// the state after every probe. Letters: o ok, f failed, t timed out,
// e check error. States: I, H, U, N, M.
func TestTracker(t *testing.T) {
	letters := map[byte]Outcome{'o': OK, 'f': Failed, 't': TimedOut, 'e': CheckError}
	short := map[State]string{Initializing: "I", Healthy: "H", Unhealthy: "U", NotResponding: "N", MonitorFailed: "M"}
	cases := []struct {
		name       string
		rise, fall int
		probes     string
		want       string // state after each probe
	}{
		{"first success decides", 2, 2, "o", "H"},
		{"first failure decides", 2, 2, "f", "U"},
		{"first timeout decides", 2, 2, "t", "N"},
		{"first check error decides", 2, 2, "e", "M"},
		{"one failure does not leave healthy", 2, 2, "ofo", "HHH"},
		{"fall failures leave healthy", 2, 2, "off", "HHU"},
		{"fall timeouts give not responding", 2, 2, "ott", "HHN"},
		{"mixed failures count together, latest kind wins", 2, 2, "oft", "HHN"},
		{"mixed the other way", 2, 2, "otf", "HHU"},
		{"alternating never leaves healthy", 2, 2, "ofofofofo", "HHHHHHHHH"},
		{"rise successes to come back", 3, 2, "offoooo", "HHUUUHH"},
		{"an interrupted rise starts over", 2, 2, "offofoo", "HHUUUUH"},
		{"fall 1 leaves on the first failure", 2, 1, "of", "HU"},
		{"rise 1 comes back on the first success", 1, 2, "offo", "HHUH"},
		{"bad kind changes only after fall probes of it", 2, 2, "fftfttff", "UUUUUNNU"},
		{"monitor failure leaves healthy after fall", 2, 2, "oee", "HHM"},
		{"slow flapping between bad kinds is damped", 2, 3, "ftftftft", "UUUUUUUU"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTracker(tc.rise, tc.fall)
			var got strings.Builder
			for i := 0; i < len(tc.probes); i++ {
				_, cur := tr.observe(letters[tc.probes[i]])
				got.WriteString(short[cur])
			}
			if got.String() != tc.want {
				t.Fatalf("probes %s (rise %d fall %d): states %s, want %s",
					tc.probes, tc.rise, tc.fall, got.String(), tc.want)
			}
		})
	}
}

// TestTrackerProgress checks the run reported after each probe sequence.
func TestTrackerProgress(t *testing.T) {
	letters := map[byte]Outcome{'o': OK, 'f': Failed, 't': TimedOut}
	cases := []struct {
		rise, fall int
		probes     string
		want       string // Progress.String() after the last probe
	}{
		{2, 3, "o", ""},
		{2, 3, "f", ""}, // Initializing decides at once: no run
		{2, 3, "of", "fall 1 of 3"},
		{2, 3, "oft", "fall 2 of 3"}, // kinds count together toward fall
		{2, 3, "offf", ""},           // fall completed: Unhealthy
		{2, 3, "ofo", ""},            // the fall run was broken
		{3, 2, "offo", "rise 1 of 3"},
		{3, 2, "offoo", "rise 2 of 3"},
		{3, 2, "offooo", ""}, // rise completed: Healthy
		{3, 2, "offoof", ""}, // the rise run was broken
		{3, 2, "ffttt", ""},  // moving between bad states is not rise or fall
	}
	for _, tc := range cases {
		tr := newTracker(tc.rise, tc.fall)
		for i := 0; i < len(tc.probes); i++ {
			tr.observe(letters[tc.probes[i]])
		}
		if got := tr.progress().String(); got != tc.want {
			t.Errorf("probes %s (rise %d fall %d): progress %q, want %q", tc.probes, tc.rise, tc.fall, got, tc.want)
		}
	}
}

func TestCombine(t *testing.T) {
	cases := []struct {
		in   []Outcome
		want Outcome
	}{
		{nil, OK},
		{[]Outcome{OK, OK}, OK},
		{[]Outcome{OK, CheckError}, CheckError},
		{[]Outcome{CheckError, TimedOut}, TimedOut},
		{[]Outcome{TimedOut, Failed, OK}, Failed},
	}
	for _, tc := range cases {
		var checks []CheckResult
		for _, o := range tc.in {
			checks = append(checks, CheckResult{Outcome: o})
		}
		if got := combine(checks); got != tc.want {
			t.Errorf("combine(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
