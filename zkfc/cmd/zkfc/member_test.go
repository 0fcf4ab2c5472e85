package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/zkfc/config"
)

// A member that fails is started again, and the witness's view of it
// (memberRef) follows; zkfc itself keeps running.
func TestFailedMemberIsStartedAgain(t *testing.T) {
	starts := make(chan struct{}, 4)
	saved := EmbeddedQuorum
	t.Cleanup(func() { EmbeddedQuorum = saved })
	EmbeddedQuorum = func(ctx context.Context, _ config.Quorum, _ *zap.Logger) (Member, string, <-chan error, error) {
		starts <- struct{}{}
		return fakeMember{mode: "follower", serving: true}, "127.0.0.1:1", make(chan error), nil
	}
	ref := &memberRef{m: fakeMember{mode: "leader", serving: true}}
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { superviseMember(ctx, config.Quorum{}, ref, done, zap.NewNop()); close(stopped) }()
	done <- errors.New("raft storage: disk full")
	select {
	case <-starts:
	case <-time.After(10 * time.Second):
		t.Fatal("the failed member was not started again")
	}
	for end := time.Now().Add(5 * time.Second); ref.Mode() != "follower" && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	if ref.Mode() != "follower" {
		t.Errorf("memberRef still shows the failed member (mode %s)", ref.Mode())
	}
	cancel()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("supervisor did not stop with its context")
	}
}
