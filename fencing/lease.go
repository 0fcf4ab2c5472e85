package fencing

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DefaultLeaseTimeout bounds one lease_expired check: a sync and a few
// reads on the new active's own session.
const DefaultLeaseTimeout = 3 * time.Second

// SessionOracle answers, from the quorum's own records, whether the
// ZooKeeper session an old active was active under has ended. The daemon's
// elector implements it on its live session.
type SessionOracle interface {
	// SessionEnded returns ended=true only on positive evidence, read
	// after a sync, that the session no longer exists; evidence says what
	// was seen either way. An error means the quorum could not be asked.
	SessionEnded(nodeID string, session int64) (ended bool, evidence string, err error)
}

// leaseMethod confirms the old active fenced without contacting its host:
// its session has ended on the quorum, which the quorum does no earlier
// than the session timeout after it last heard from the old zkfc, while
// that zkfc demotes its service by the session timeout minus
// self_fence_margin after the send time of its last acknowledged request.
// So once the session is gone the old service has been demoted for at
// least the margin. That holds only if the old zkfc lived to self-fence or
// its service died with it (systemd BindsTo= and WatchdogSec=), which is
// why it is an opt-in method that configuration validation guards.
type leaseMethod struct {
	oracle SessionOracle
}

func (l *leaseMethod) Name() string { return "lease_expired" }

func (l *leaseMethod) Fence(ctx context.Context, t Target) error {
	if l.oracle == nil {
		return errors.New("lease_expired: no zookeeper session to ask (fencing.WithSessions not given)")
	}
	if t.LeaseUnproven != "" {
		return fmt.Errorf("lease_expired cannot vouch for %s: %s", t.NodeID, t.LeaseUnproven)
	}
	if t.Session == 0 {
		return fmt.Errorf("the breadcrumb of %s names no zookeeper session (written by an older zkfc?): its lease cannot be proven expired", t.NodeID)
	}
	type answer struct {
		ended    bool
		evidence string
		err      error
	}
	// The oracle's client calls take no context; they end with the
	// session's own request timeout. Do not wait for them past ctx.
	ch := make(chan answer, 1)
	go func() {
		ended, ev, err := l.oracle.SessionEnded(t.NodeID, t.Session)
		ch <- answer{ended, ev, err}
	}()
	select {
	case <-ctx.Done():
		return fmt.Errorf("asking the quorum whether session 0x%016x of %s ended: %w", uint64(t.Session), t.NodeID, ctx.Err())
	case a := <-ch:
		switch {
		case a.err != nil:
			return fmt.Errorf("asking the quorum whether session 0x%016x of %s ended: %w", uint64(t.Session), t.NodeID, a.err)
		case !a.ended:
			return fmt.Errorf("%s; it may still serve (e.g. it quit the election while connected): not fenced", a.evidence)
		}
		return nil
	}
}

// Check has nothing to reach on the target: the quorum is asked at
// fencing time, on the daemon's own session.
func (l *leaseMethod) Check(context.Context, Target) error { return nil }
