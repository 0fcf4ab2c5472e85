package server

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/quorum/proto"
	"github.com/zkfc-project/zkfc/quorum/tree"
)

// tracker holds the liveness deadline of every session. It is local state:
// the member that leads expires sessions by proposing closeSession, so an
// expiry is a replicated fact like any other write.
type tracker struct {
	mu       sync.Mutex
	sessions map[int64]*liveness
	// touched collects sessions touched since the last takeTouched, for a
	// follower to forward to the leader.
	touched map[int64]struct{}
}

type liveness struct {
	timeout  time.Duration
	deadline time.Time
	expiring bool
}

func newTracker() *tracker {
	return &tracker{sessions: map[int64]*liveness{}, touched: map[int64]struct{}{}}
}

// renewAll gives every session a full timeout from now.
func (t *tracker) renewAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	for _, l := range t.sessions {
		l.deadline = now.Add(l.timeout)
		l.expiring = false
	}
}

func (t *tracker) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sessions = map[int64]*liveness{}
}

func (t *tracker) takeTouched() []int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]int64, 0, len(t.touched))
	for id := range t.touched {
		out = append(out, id)
	}
	clear(t.touched)
	return out
}

func (t *tracker) add(id int64, timeout time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sessions[id] = &liveness{timeout: timeout, deadline: time.Now().Add(timeout)}
}

func (t *tracker) remove(id int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.sessions, id)
}

// touch extends a session's deadline; it reports false when the session is
// unknown or already being expired.
func (t *tracker) touch(id int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.sessions[id]
	if l == nil || l.expiring {
		return false
	}
	t.touched[id] = struct{}{}
	l.deadline = time.Now().Add(l.timeout)
	return true
}

func (t *tracker) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.sessions)
}

// expiry is a session past its deadline, and by how much.
type expiry struct {
	id   int64
	late time.Duration
}

// expired marks and returns the sessions past their deadline.
func (t *tracker) expired(now time.Time) []expiry {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []expiry
	for id, l := range t.sessions {
		if !l.expiring && now.After(l.deadline) {
			l.expiring = true
			out = append(out, expiry{id: id, late: now.Sub(l.deadline)})
		}
	}
	return out
}

// nextCheck is how long the expiry loop may sleep after now: until the
// earliest deadline of a session not being expired, but no longer than
// poll. poll bounds the sleep for sessions created or renewed while it
// lasts; their deadlines lie at least a minimum session timeout (two
// ticks) ahead, so a poll shorter than that never makes an expiry late.
func (t *tracker) nextCheck(now time.Time, poll time.Duration) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	wait := poll
	for _, l := range t.sessions {
		d := l.deadline.Sub(now)
		if l.expiring || d < 0 {
			// Being closed, or a close that failed: retried at poll,
			// not in a tight loop while the quorum cannot commit.
			continue
		}
		// One millisecond past: the deadline itself is not yet expired
		// (expired uses After).
		wait = min(wait, d+time.Millisecond)
	}
	return wait
}

// unmark lets a session be expired again after a failed close proposal.
func (t *tracker) unmark(id int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if l := t.sessions[id]; l != nil {
		l.expiring = false
	}
}

// expireSessions proposes closeSession for every session whose client went
// silent for its whole timeout. It sleeps until the earliest deadline, so
// that an expiry is proposed within about a millisecond of it instead of
// on tick boundaries as Apache ZooKeeper does.
func (s *Server) expireSessions(ctx context.Context) {
	poll := max(s.cfg.TickTime/4, 10*time.Millisecond)
	t := time.NewTimer(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		s.expireReadOnly(now)
		if !s.IsLeader() {
			// Only the leader expires; a follower's deadlines may lie in
			// the past for good.
			t.Reset(poll)
			continue
		}
		for _, x := range s.sessions.expired(now) {
			id := x.id
			s.lg.Info("session expired", zap.String("session", sessionHex(id)), zap.Duration("after_deadline", x.late))
			s.metrics.expired.Inc()
			e := &tree.Entry{Time: now.UnixMilli(), Session: id, Op: proto.OpCloseSession, Req: proto.Empty{}}
			s.propose(e, func(_ int64, _ tree.Result, err error) {
				if err != nil {
					s.sessions.unmark(id)
				}
			})
		}
		t.Reset(s.sessions.nextCheck(time.Now(), poll))
	}
}

// reapContainers deletes empty containers and expired TTL nodes every
// znode.container.checkIntervalMs, through the log like any delete.
func (s *Server) reapContainers(ctx context.Context) {
	interval := s.cfg.ContainerCheckInterval
	if interval <= 0 {
		interval = time.Minute
	}
	every(ctx, interval, func(now time.Time) {
		if !s.IsLeader() {
			return
		}
		s.mu.RLock()
		paths := s.tree.ReapCandidates(now.UnixMilli())
		s.mu.RUnlock()
		// Bound the work per pass, as ZooKeeper's maxPerMinute does.
		if len(paths) > 10000 {
			paths = paths[:10000]
		}
		for _, p := range paths {
			e := &tree.Entry{Time: now.UnixMilli(), Op: proto.OpDeleteContainer, Req: &proto.PathRequest{Path: p}}
			s.propose(e, func(int64, tree.Result, error) {})
		}
	})
}

// autopurge removes old snapshots and log segments every
// autopurge.purgeInterval, keeping autopurge.snapRetainCount snapshots.
func (s *Server) autopurge(ctx context.Context) {
	if s.cfg.AutopurgePurgeInterval <= 0 {
		return
	}
	every(ctx, s.cfg.AutopurgePurgeInterval, func(time.Time) { s.purge() })
}

// every calls f with the tick's time every d until ctx is done.
func every(ctx context.Context, d time.Duration, f func(now time.Time)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			f(now)
		}
	}
}

// purge keeps the newest autopurge.snapRetainCount snapshots and the log
// segments they need.
func (s *Server) purge() {
	keep := s.cfg.AutopurgeSnapRetainCount
	if keep < 3 {
		keep = 3
	}
	s.rep.purge(keep)
}

// deadline is when the session expires unless touched, for dump.
func (t *tracker) deadline(id int64) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	if l := t.sessions[id]; l != nil {
		return l.deadline
	}
	return time.Time{}
}
