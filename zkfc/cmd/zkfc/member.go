package main

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/zkfc/config"
)

// memberRef is the embedded quorum member currently running: zkfc starts
// it again when it fails instead of exiting, since exiting would demote a
// healthy active (or take the witness's vote away) for as long as nobody
// restarts zkfc.
type memberRef struct {
	mu sync.Mutex
	m  Member
}

func (r *memberRef) get() Member { r.mu.Lock(); defer r.mu.Unlock(); return r.m }

func (r *memberRef) Mode() string                 { return r.get().Mode() }
func (r *memberRef) Serving() bool                { return r.get().Serving() }
func (r *memberRef) Metrics() prometheus.Gatherer { return r.get().Metrics() }

// Member restarts: the first after a second, doubling up to half a minute.
const (
	memberRestartInitial = time.Second
	memberRestartMax     = 30 * time.Second
)

// superviseMember waits for the member to stop and starts it again, with
// backoff, until ctx ends. A member that stops while ctx lives has failed
// (its storage, its listeners): its log says why.
func superviseMember(ctx context.Context, q config.Quorum, ref *memberRef, done <-chan error, lg *zap.Logger) {
	wait := memberRestartInitial
	for {
		select {
		case <-ctx.Done():
			return
		case err := <-done:
			if ctx.Err() != nil {
				return
			}
			lg.Error("embedded quorum member stopped; zkfc keeps running and starts it again", zap.Error(err), zap.Duration("in", wait))
		}
		for {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			wait = min(2*wait, memberRestartMax)
			m, _, d, err := EmbeddedQuorum(ctx, q, lg)
			if err != nil {
				lg.Error("restart embedded quorum member; trying again", zap.Error(err), zap.Duration("in", wait))
				continue
			}
			ref.mu.Lock()
			ref.m = m
			ref.mu.Unlock()
			done = d
			lg.Info("embedded quorum member started again")
			break
		}
	}
}
