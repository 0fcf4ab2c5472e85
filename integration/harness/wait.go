package harness

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"
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

var (
	portMu   sync.Mutex
	portNext = 20000 + rand.IntN(8000)
)

// FreePort returns a 127.0.0.1 TCP port that was free a moment ago. It
// picks below the kernel's ephemeral range (32768 and up), so no outgoing
// connection takes the port between the choice and the server's bind, and
// never hands out a port twice in one test binary. Another program can
// still bind it meanwhile; StartEnsemble retries on fresh ports then.
func FreePort(t testing.TB) int {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	for i := 0; i < 1000; i++ {
		p := portNext
		portNext++
		if portNext >= 32000 {
			portNext = 20000
		}
		if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", fmt.Sprint(p))); err == nil {
			l.Close()
			return p
		}
	}
	t.Fatal("no free port in 20000-32000")
	return 0
}
