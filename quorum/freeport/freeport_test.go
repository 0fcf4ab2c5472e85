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
