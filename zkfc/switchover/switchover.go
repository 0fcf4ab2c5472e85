// Package switchover is the scheduled switchover: one record in the quorum
// (<parent>/<cluster>/ScheduledSwitchover) naming a target node and a time,
// and the runner every zkfc starts, of which only the active acts: at the
// time it claims the record (a versioned delete, so only one node ever
// runs it) and runs the graceful failover, as `zkfc failover --to` would.
//
// If the active changed between scheduling and the time (an unplanned
// failover), the switchover is cancelled, not run: it was asked of a
// cluster in another state (Patroni does the same). One found more than
// Stale after its time (no active meanwhile) is cancelled too. Every
// outcome is recorded in the history.
//
// It must never fail over by itself: it only calls the failover it is
// given, on the node that is active.
package switchover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/zkfc/history"
)

// Stale: a switchover found this long after its time is cancelled.
const Stale = 5 * time.Minute

// MaxAhead bounds how far ahead a switchover may be scheduled.
const MaxAhead = 30 * 24 * time.Hour

// Switchover is the stored record.
type Switchover struct {
	To string    `json:"to"`
	At time.Time `json:"at"`
	// From is the active when it was scheduled; RequestedAt when.
	From        string    `json:"from,omitempty"`
	RequestedAt time.Time `json:"requested_at,omitempty"`
}

// ParseAt reads a switchover's time: RFC 3339, in the future, at most
// MaxAhead away.
func ParseAt(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("missing time: want RFC 3339, e.g. " + now.Add(time.Hour).UTC().Format(time.RFC3339))
	}
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: want RFC 3339, e.g. %s", s, now.Add(time.Hour).UTC().Format(time.RFC3339))
	}
	switch {
	case !at.After(now):
		return time.Time{}, fmt.Errorf("time %s is in the past (now %s)", at.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	case at.Sub(now) > MaxAhead:
		return time.Time{}, fmt.Errorf("time %s is more than %s ahead", at.UTC().Format(time.RFC3339), MaxAhead)
	}
	return at, nil
}

// Store is where the record lives: *elector.Elector.
type Store interface {
	Schedule() ([]byte, int32, error)
	CreateSchedule(data []byte) error
	DeleteSchedule(version int32) (bool, error)
}

// Read returns the scheduled switchover and its version; nil if none.
func Read(s Store) (*Switchover, int32, error) {
	raw, v, err := s.Schedule()
	if err != nil || raw == nil {
		return nil, v, err
	}
	var sw Switchover
	if err := json.Unmarshal(raw, &sw); err != nil {
		return nil, v, fmt.Errorf("decode the scheduled switchover %q: %w", raw, err)
	}
	return &sw, v, nil
}

// Create stores sw; elector.ErrScheduleExists if one is scheduled.
func Create(s Store, sw Switchover) error {
	b, err := json.Marshal(sw)
	if err != nil {
		return err
	}
	return s.CreateSchedule(b)
}

// Node is what the runner needs of its zkfc.
type Node struct {
	ID string
	// Active: this node's service is active and it holds the lock.
	Active func() bool
	// Paused: automatic failover is paused.
	Paused func() bool
	// Failover runs the graceful failover to a node and waits for it.
	Failover func(ctx context.Context, to string) error
}

// Runner checks the record every Every and runs it when due.
type Runner struct {
	store Store
	node  Node
	rec   interface{ Record(history.Entry) }
	lg    *zap.Logger
	now   func() time.Time
	Every time.Duration
}

// NewRunner returns a Runner; rec may be nil.
func NewRunner(store Store, node Node, rec interface{ Record(history.Entry) }, lg *zap.Logger) *Runner {
	return &Runner{store: store, node: node, rec: rec, lg: lg, now: time.Now, Every: time.Second}
}

// Run checks until ctx ends.
func (r *Runner) Run(ctx context.Context) {
	t := time.NewTicker(r.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := r.Check(ctx); err != nil {
			r.lg.Debug("scheduled switchover check", zap.Error(err))
		}
	}
}

// Check runs the scheduled switchover if it is due and this node is the
// active; it returns what went wrong reading or claiming it.
func (r *Runner) Check(ctx context.Context) error {
	if !r.node.Active() {
		return nil
	}
	sw, v, err := Read(r.store)
	if err != nil || sw == nil {
		return err
	}
	now := r.now()
	if now.Before(sw.At) {
		return nil
	}
	why := ""
	switch {
	case sw.From != "" && sw.From != r.node.ID:
		why = fmt.Sprintf("not run: the active changed from %s to %s since it was scheduled", sw.From, r.node.ID)
	case sw.To == r.node.ID:
		why = fmt.Sprintf("not run: %s is already active", sw.To)
	case now.Sub(sw.At) > Stale:
		why = fmt.Sprintf("not run: found %s after its time (no active meanwhile)", now.Sub(sw.At).Round(time.Second))
	case r.node.Paused():
		why = "not run: automatic failover is paused"
	}
	claimed, err := r.store.DeleteSchedule(v)
	if err != nil || !claimed {
		return err // another node claimed it, or it was cancelled
	}
	desc := fmt.Sprintf("scheduled switchover to %s due at %s", sw.To, sw.At.UTC().Format(time.RFC3339))
	if why != "" {
		r.lg.Warn("scheduled switchover cancelled", zap.String("switchover", desc), zap.String("why", why))
		r.record(history.Entry{Kind: history.SwitchoverCancelled, Reason: desc + ": " + why})
		return nil
	}
	r.lg.Info("running the scheduled switchover", zap.String("to", sw.To), zap.Time("at", sw.At))
	r.record(history.Entry{Kind: history.FailoverRequest, Reason: desc + ": running"})
	if err := r.node.Failover(ctx, sw.To); err != nil {
		r.lg.Error("scheduled switchover failed", zap.String("to", sw.To), zap.Error(err))
		r.record(history.Entry{Kind: history.SwitchoverCancelled, Reason: desc + ": failed: " + err.Error()})
	}
	return nil
}

func (r *Runner) record(e history.Entry) {
	if r.rec != nil {
		r.rec.Record(e)
	}
}
