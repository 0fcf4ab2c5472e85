package freeport

import (
	"net"
	"strconv"
	"testing"
)

func TestGetIsBindable(t *testing.T) {
	p := Get(t)
	if p <= 0 || p > 65535 {
		t.Fatalf("port %d out of range", p)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		t.Fatalf("port %d from Get cannot be bound: %v", p, err)
	}
	ln.Close()
}

// Ports come from below the ephemeral range, and never twice.
func TestGetNeverRepeatsAndAvoidsEphemeralPorts(t *testing.T) {
	seen := map[int]bool{}
	for range 200 {
		p := Get(t)
		if p < low || p >= high {
			t.Fatalf("port %d outside %d-%d", p, low, high)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
}
