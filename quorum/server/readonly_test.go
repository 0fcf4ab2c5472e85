package server

import (
	"slices"
	"testing"
	"time"
)

// A read-only session is taken back with its password only, renewed by
// traffic, expired once past its deadline (and then gone), and forgotten
// when the read-only period ends.
func TestReadOnlySessionTable(t *testing.T) {
	var tab roSessionTable
	pw := []byte("0123456789abcdef")
	tab.add(1, time.Second, pw)
	tab.add(2, time.Hour, pw)
	if _, ok := tab.take(1, []byte("fedcba9876543210")); ok {
		t.Fatal("took a session with the wrong password")
	}
	if to, ok := tab.take(1, pw); !ok || to != time.Second {
		t.Fatalf("take = %v, %v; want 1s, true", to, ok)
	}
	if _, ok := tab.take(3, pw); ok {
		t.Fatal("took a session never created")
	}
	if got := tab.expired(time.Now()); len(got) != 0 {
		t.Fatalf("expired right after a take: %v", got)
	}
	if got := tab.expired(time.Now().Add(2 * time.Second)); !slices.Equal(got, []int64{1}) {
		t.Fatalf("expired after 2s = %v, want [1]", got)
	}
	if _, ok := tab.take(1, pw); ok {
		t.Fatal("took an expired session")
	}
	tab.touch(2)
	tab.clear()
	if _, ok := tab.take(2, pw); ok {
		t.Fatal("took a session of a read-only period that ended")
	}
}
