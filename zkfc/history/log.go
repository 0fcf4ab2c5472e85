package history

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Store is where entries go: *elector.Elector on the cluster's session.
type Store interface {
	AppendHistory(data []byte, keep int) (int64, error)
}

// QueueLen bounds the entries waiting for the quorum: a node cut off from
// it records at most this many transitions for later (its own few: a
// node without the quorum cannot be promoted, and demotes at most once).
const QueueLen = 256

// retryEvery is how often a write that failed (the quorum away) is tried
// again.
const retryEvery = time.Second

// Log queues entries for the quorum. Record never blocks; Run writes.
type Log struct {
	store Store
	node  string
	keep  int
	lg    *zap.Logger
	now   func() time.Time

	// writing serializes flushes: Run's and Flush's.
	writing sync.Mutex

	mu      sync.Mutex
	queue   []queued
	next    uint64 // id of the next queued entry
	dropped int    // entries dropped from a full queue since the last report
	wake    chan struct{}
}

// queued is an entry waiting, with an id so that the writer removes the
// entry it wrote even if Record dropped the head meanwhile.
type queued struct {
	id uint64
	e  Entry
}

// NewLog returns a Log writing node's entries to store, keeping the newest
// keep (MaxEntries if keep <= 0).
func NewLog(store Store, node string, keep int, lg *zap.Logger) *Log {
	if keep <= 0 {
		keep = MaxEntries
	}
	return &Log{store: store, node: node, keep: keep, lg: lg, now: time.Now, wake: make(chan struct{}, 1)}
}

// Record queues e, stamped with this node and the time now (unless set).
// When the queue is full the oldest queued entry is dropped: the newest
// transitions matter most, and the drop is logged and noted in the log
// once the quorum is back.
func (l *Log) Record(e Entry) {
	if l == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	if e.Node == "" {
		e.Node = l.node
	}
	l.mu.Lock()
	if len(l.queue) >= QueueLen {
		l.queue = l.queue[1:]
		l.dropped++
		if l.dropped == 1 {
			l.lg.Warn("history queue full: dropping the oldest entries until the quorum takes them", zap.Int("queue", QueueLen))
		}
	}
	l.next++
	l.queue = append(l.queue, queued{id: l.next, e: e})
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Pending is the number of entries not yet written.
func (l *Log) Pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queue)
}

// Run writes queued entries in order until ctx ends; what is still queued
// then is lost, and logged as such.
func (l *Log) Run(ctx context.Context) {
	t := time.NewTimer(retryEvery)
	defer t.Stop()
	for {
		l.flush(ctx)
		if n := l.Pending(); n > 0 && ctx.Err() != nil {
			l.lg.Warn("history entries not written: stopping without the quorum", zap.Int("entries", n))
			return
		}
		t.Reset(retryEvery)
		select {
		case <-ctx.Done():
			// One last, bounded try: a clean shutdown's demotion is worth
			// writing.
			l.Flush(2 * time.Second)
			if n := l.Pending(); n > 0 {
				l.lg.Warn("history entries not written: stopping without the quorum", zap.Int("entries", n))
			}
			return
		case <-l.wake:
		case <-t.C:
		}
	}
}

// Flush writes what is queued, for at most d: a clean shutdown's last
// entries, before the session that writes them is closed.
func (l *Log) Flush(d time.Duration) {
	if l == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for l.Pending() > 0 && ctx.Err() == nil {
		l.flush(ctx)
		if l.Pending() > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// flush writes the queue's head until it is empty or a write fails.
func (l *Log) flush(ctx context.Context) {
	l.writing.Lock()
	defer l.writing.Unlock()
	for ctx.Err() == nil {
		l.mu.Lock()
		if len(l.queue) == 0 {
			l.mu.Unlock()
			return
		}
		head, dropped := l.queue[0], l.dropped
		l.mu.Unlock()
		if dropped > 0 {
			note := Entry{Time: head.e.Time, Node: l.node, Kind: Lost,
				Reason: fmt.Sprintf("%d entries lost before this time: the history queue (%d) overflowed while the quorum was unreachable", dropped, QueueLen)}
			if !l.write(note) {
				return
			}
			l.mu.Lock()
			l.dropped -= dropped
			l.mu.Unlock()
			l.lg.Warn("history entries were lost while the quorum was unreachable", zap.Int("entries", dropped))
			continue
		}
		if !l.write(head.e) {
			return
		}
		l.mu.Lock()
		if len(l.queue) > 0 && l.queue[0].id == head.id {
			l.queue = l.queue[1:]
		} else if l.dropped > 0 {
			// Record dropped it from a full queue while it was being
			// written: it reached the quorum after all, so it is not lost.
			l.dropped--
		}
		l.mu.Unlock()
	}
}

func (l *Log) write(e Entry) bool {
	b, err := encode(e)
	if err != nil {
		l.lg.Error("history entry not recorded", zap.String("kind", e.Kind), zap.Error(err))
		return true // never retried: it would never fit
	}
	if _, err := l.store.AppendHistory(b, l.keep); err != nil {
		l.lg.Debug("history write failed; retrying", zap.String("kind", e.Kind), zap.Error(err))
		return false
	}
	return true
}
