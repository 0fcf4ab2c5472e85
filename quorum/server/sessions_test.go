package server

import (
	"context"
	"testing"
	"time"
)

// The expiry loop sleeps until the earliest live deadline (one millisecond
// past it), never longer than poll, and leaves sessions being closed or
// whose close failed to the poll.
func TestTrackerNextCheck(t *testing.T) {
	now := time.Unix(1000, 0)
	const poll = 750 * time.Millisecond
	at := func(d time.Duration) *liveness { return &liveness{deadline: now.Add(d)} }
	for _, tc := range []struct {
		name     string
		sessions map[int64]*liveness
		want     time.Duration
	}{
		{"none", nil, poll},
		{"all beyond poll", map[int64]*liveness{1: at(4 * time.Second)}, poll},
		{"earliest wins", map[int64]*liveness{1: at(300 * time.Millisecond), 2: at(30 * time.Millisecond), 3: at(2 * time.Second)}, 31 * time.Millisecond},
		{"due now", map[int64]*liveness{1: at(0)}, time.Millisecond},
		{"being expired", map[int64]*liveness{1: {deadline: now.Add(10 * time.Millisecond), expiring: true}}, poll},
		{"close failed, past due", map[int64]*liveness{1: at(-time.Second), 2: at(500 * time.Millisecond)}, 501 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTracker()
			for id, l := range tc.sessions {
				tr.sessions[id] = l
			}
			if got := tr.nextCheck(now, poll); got != tc.want {
				t.Fatalf("nextCheck = %s, want %s", got, tc.want)
			}
		})
	}
}

// every is the loop of every periodic job (session touches, reaping,
// autopurge, TLS reload): it must call its function on the ticks and
// return once its context ends.
func TestEveryTicksAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ticks := make(chan struct{}, 1)
	stopped := make(chan struct{})
	go func() {
		every(ctx, time.Millisecond, func(time.Time) {
			select {
			case ticks <- struct{}{}:
			default:
			}
		})
		close(stopped)
	}()
	select {
	case <-ticks:
	case <-time.After(10 * time.Second):
		t.Fatal("no tick within 10s of a 1ms period")
	}
	cancel()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("every did not return within 10s of its context ending")
	}
}
