// Package zkfcenv is what zkfc's integration tests need beyond the
// harness: the zkfc and demo-service binaries, a zkfc daemon and a demo
// service as running processes with their own verbs, and a zkfc.yaml
// writer. Processes, servers, ports and waits come from package harness;
// the roles file from examples/demo-service/roles.
//
// It must never be imported by non-test code, and everything it starts is
// stopped by t.Cleanup.
package zkfcenv

import (
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/examples/demo-service/roles"
	"github.com/zkfc-project/zkfc/integration/harness"
)

// StartApache starts a standalone Apache ZooKeeper for zkfc: tickTime
// tick (sessions may range over 2..20 ticks), no limit on connections
// per client, and no fsync (the tests kill processes, not the machine).
func StartApache(t testing.TB, tick time.Duration) *harness.Server {
	t.Helper()
	return harness.StartApache(t, harness.Options{TickTime: tick, Extra: []string{"maxClientCnxns=0", "forceSync=no"}})
}

// Interval is a roles-file interval (package roles).
type Interval = roles.Interval

// ReadIntervals reads a roles file with roles.Read; an interval never
// closed ends at openEnd (now, for processes still running).
func ReadIntervals(t testing.TB, path string, openEnd time.Time) []Interval {
	t.Helper()
	return ReadIntervalsKilled(t, path, openEnd, nil)
}

// ReadIntervalsKilled is ReadIntervals where open intervals of the
// services named in killed end by the kill rule of package roles.
func ReadIntervalsKilled(t testing.TB, path string, openEnd time.Time, killed map[string]time.Time) []Interval {
	t.Helper()
	ivs, err := roles.Read(path, openEnd, killed)
	must(t, err)
	return ivs
}

// CheckNoOverlap fails the test for every violation roles.Check finds: two
// actives of different services overlapping, or a token that did not grow.
func CheckNoOverlap(t testing.TB, ivs []Interval) {
	t.Helper()
	for _, v := range roles.Check(ivs) {
		t.Error(v)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
