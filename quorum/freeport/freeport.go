// Package freeport gives tests a loopback TCP port to bind. It is for
// tests only and never binds anything past the call.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
)

// The ports handed out lie below the kernel's ephemeral range (32768 and
// up on Linux), so no outgoing connection takes one between the choice
// and the caller's bind; a test binary walks them from a random start.
const (
	low  = 20000
	high = 32000
)

var (
	mu   sync.Mutex
	next = low + rand.IntN(high-low)
)

// Get returns a 127.0.0.1 TCP port that nothing listened on a moment ago,
// never the same one twice in one test binary. Another program may still
// bind it before the caller does; callers that start several servers at
// once retry on fresh ports then.
func Get(t testing.TB) int {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	for range high - low {
		p := next
		next++
		if next >= high {
			next = low
		}
		if ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", fmt.Sprint(p))); err == nil {
			ln.Close()
			return p
		}
	}
	t.Fatalf("no free port in %d-%d", low, high)
	return 0
}
