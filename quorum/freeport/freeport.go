// Package freeport gives unit tests a loopback TCP port to bind. It is for
// tests only and never binds anything past the call.
package freeport

import (
	"net"
	"testing"
)

// Get returns a 127.0.0.1 TCP port that nothing listened on a moment ago:
// the kernel picks it for a listener that is closed at once. Another
// program may still take it before the caller binds it.
func Get(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
