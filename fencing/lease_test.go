package fencing

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeSessions plays the quorum: the sessions it knows alive, or an error.
type fakeSessions struct {
	mu    sync.Mutex
	alive map[int64]bool
	err   error
	block chan struct{} // if set, answers only once closed
	asked []int64
}

func (f *fakeSessions) SessionEnded(nodeID string, session int64) (bool, string, error) {
	if f.block != nil {
		<-f.block
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, session)
	if f.err != nil {
		return false, "", f.err
	}
	if f.alive[session] {
		return false, nodeID + "'s session is alive", nil
	}
	return true, nodeID + "'s session has ended", nil
}

func TestLeaseExpiredRefusesWithoutProof(t *testing.T) {
	const old = int64(0x1234)
	for _, tc := range []struct {
		name     string
		oracle   *fakeSessions
		session  int64
		unproven string // Target.LeaseUnproven
		want     string // in the error; "" means fenced
		asks     bool   // whether the quorum must have been asked
	}{
		{"failsafe active that never asked us", &fakeSessions{}, old, "it runs in failsafe mode asking only nn3", "cannot vouch for", false},
		{"session gone", &fakeSessions{}, old, "", "", true},
		{"session alive", &fakeSessions{alive: map[int64]bool{old: true}}, old, "", "is alive", true},
		{"another session alive is no proof either way", &fakeSessions{alive: map[int64]bool{old + 1: true}}, old, "", "", true},
		{"breadcrumb without session", &fakeSessions{}, 0, "", "names no zookeeper session", false},
		{"quorum unreachable", &fakeSessions{err: errors.New("zk: could not connect to a server")}, old, "", "could not connect", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := mustNew(t, []MethodConfig{{Type: "lease_expired"}}, nil, WithSessions(tc.oracle))
			tg := target
			tg.Session, tg.LeaseUnproven = tc.session, tc.unproven
			rep, err := f.Fence(context.Background(), tg)
			if tc.want == "" {
				if err != nil || rep.FencedBy != "lease_expired" {
					t.Fatalf("Fence() = %v, report %s; want fenced by lease_expired", err, rep)
				}
			} else {
				if err == nil || !errors.Is(err, ErrNotFenced) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Fence() = %v; want a failure wrapping ErrNotFenced that mentions %q", err, tc.want)
				}
			}
			if got := len(tc.oracle.asked) > 0; got != tc.asks {
				t.Fatalf("quorum asked: %v, want %v", got, tc.asks)
			}
			if tc.asks && tc.oracle.asked[0] != tc.session {
				t.Fatalf("asked about session %x, want %x", tc.oracle.asked[0], tc.session)
			}
		})
	}
}

// A live old session (the old active quit the election but is still
// connected) must hand over to the next method, which then decides.
func TestLeaseExpiredFallsThroughToNextMethod(t *testing.T) {
	const old = int64(7)
	sess := &fakeSessions{alive: map[int64]bool{old: true}}
	win, winMark := marker(t, "win", "0")
	f := mustNew(t, []MethodConfig{{Type: "lease_expired"}, win}, nil, WithSessions(sess))
	tg := target
	tg.Session = old
	rep, err := f.Fence(context.Background(), tg)
	if err != nil || rep.FencedBy != "shell" || !exists(winMark) {
		t.Fatalf("Fence() = %v, report %s; want the shell method to fence after lease_expired refused", err, rep)
	}
	if rep.Attempts[0].Err == nil {
		t.Fatalf("lease_expired succeeded on a live session: %s", rep)
	}
}

// Without a session to ask (a CLI built the fencer), the method fails
// rather than guessing; a quorum that never answers fails at the deadline.
func TestLeaseExpiredNeedsAnAnsweringQuorum(t *testing.T) {
	f := mustNew(t, []MethodConfig{{Type: "lease_expired"}}, nil)
	tg := target
	tg.Session = 9
	if _, err := f.Fence(context.Background(), tg); err == nil {
		t.Fatal("lease_expired fenced without any zookeeper session to ask")
	}
	stuck := &fakeSessions{block: make(chan struct{})}
	defer close(stuck.block)
	f = mustNew(t, []MethodConfig{{Type: "lease_expired", Timeout: 50 * time.Millisecond}}, nil, WithSessions(stuck))
	if _, err := f.Fence(context.Background(), tg); err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Fatalf("Fence() against a silent quorum = %v, want a deadline failure", err)
	}
}
