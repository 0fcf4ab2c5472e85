package main

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/zkfc/elector"
)

// format retries while the quorum does not serve, and only then; each
// attempt's session wait fits in what is left of --wait.
func TestUntilServing(t *testing.T) {
	var ec elector.Config
	calls := 0
	err := untilServing("q:2181", time.Now().Add(time.Minute), &ec, func() error {
		calls++
		if ec.ConnectWait <= 0 || ec.ConnectWait > 3*time.Second {
			t.Fatalf("attempt %d: session wait %s", calls, ec.ConnectWait)
		}
		if calls < 3 {
			return fmt.Errorf("open: %w", elector.ErrNoSession)
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("untilServing = %v after %d calls, want success on the third", err, calls)
	}
	refused := errors.New("create /zkfc: not authenticated")
	calls = 0
	err = untilServing("q:2181", time.Now().Add(time.Minute), &ec, func() error { calls++; return refused })
	if !errors.Is(err, refused) || calls != 1 {
		t.Fatalf("a refusal was retried: %v after %d calls", err, calls)
	}
	calls = 0
	err = untilServing("q:2181", time.Now().Add(1500*time.Millisecond), &ec, func() error {
		calls++
		return elector.ErrNoSession
	})
	if !errors.Is(err, elector.ErrNoSession) || calls < 1 || calls > 3 {
		t.Fatalf("past the deadline: %v after %d calls", err, calls)
	}
}
