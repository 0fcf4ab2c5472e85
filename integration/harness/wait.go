package harness

import (
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/quorum/freeport"
)

// WaitFor polls cond every 50ms until it holds or d passes (then fails the
// test). d is a generous upper bound, never an assertion about speed.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// FreePort returns a 127.0.0.1 TCP port that was free a moment ago (see
// freeport.Get: below the kernel's ephemeral range, never twice in one
// test binary). Another program can still bind it meanwhile;
// StartEnsemble retries on fresh ports then.
func FreePort(t testing.TB) int {
	t.Helper()
	return freeport.Get(t)
}
