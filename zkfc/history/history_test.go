package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/zkfc/budget"
)

// fakeStore stands in for the quorum: it can be made unreachable.
type fakeStore struct {
	mu      sync.Mutex
	down    bool
	entries []Entry
}

func (s *fakeStore) AppendHistory(data []byte, keep int) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return 0, errors.New("no zookeeper session")
	}
	var e Entry
	if err := json.Unmarshal(data, &e); err != nil {
		return 0, err
	}
	s.entries = append(s.entries, e)
	if len(s.entries) > keep {
		s.entries = s.entries[len(s.entries)-keep:]
	}
	return int64(len(s.entries)), nil
}

func (s *fakeStore) set(down bool) { s.mu.Lock(); s.down = down; s.mu.Unlock() }

func (s *fakeStore) kinds() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, e := range s.entries {
		out = append(out, e.Kind+":"+e.Reason)
	}
	return out
}

// Recording never blocks, even with the quorum gone and the queue full;
// the queue keeps the newest QueueLen entries, and once the quorum is
// back they are written in order after a note of how many were lost.
func TestLogBoundedWhileQuorumAway(t *testing.T) {
	st := &fakeStore{down: true}
	l := NewLog(st, "nn1", 0, zap.NewNop())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()

	start := time.Now()
	for i := range QueueLen + 10 {
		l.Record(Entry{Kind: Demotion, Reason: string(rune('a' + i%26))})
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("recording %d entries without a quorum took %s", QueueLen+10, d)
	}
	if n := l.Pending(); n != QueueLen {
		t.Fatalf("%d pending, want the bound %d", n, QueueLen)
	}
	st.set(false)
	l.Flush(10 * time.Second)
	// Run may have taken an entry or the drop count off the queue while
	// the quorum was away and written it once it was back: an entry a full
	// queue dropped meanwhile then counts as written, not lost, and the
	// note may come in two parts. Whatever the interleaving, every entry
	// is written or counted lost exactly once, in order, and the newest
	// QueueLen are all written, last.
	var lost, written int
	var demotions []string
	for _, k := range st.kinds() {
		switch {
		case strings.HasPrefix(k, Lost+":"):
			var n int
			if _, err := fmt.Sscanf(strings.TrimPrefix(k, Lost+":"), "%d entries lost", &n); err != nil {
				t.Fatalf("note %q: %v", k, err)
			}
			lost += n
		case strings.HasPrefix(k, Demotion+":"):
			written++
			demotions = append(demotions, strings.TrimPrefix(k, Demotion+":"))
		default:
			t.Fatalf("unexpected entry %q", k)
		}
	}
	if lost+written != QueueLen+10 || lost == 0 {
		t.Fatalf("%d written and %d noted lost, want %d in all, some lost", written, lost, QueueLen+10)
	}
	if len(demotions) < QueueLen {
		t.Fatalf("%d entries written, want at least the queue's %d", len(demotions), QueueLen)
	}
	for i, d := range demotions[len(demotions)-QueueLen:] {
		if want := string(rune('a' + (i+10)%26)); d != want {
			t.Fatalf("newest entry %d written as %q, want %q (the newest %d, in order)", i, d, want, QueueLen)
		}
	}
	cancel()
	<-done
}

// An entry is stamped with the node and the time it was recorded, not
// the time it was written.
func TestLogStampsRecordTime(t *testing.T) {
	st := &fakeStore{down: true}
	l := NewLog(st, "nn2", 0, zap.NewNop())
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	l.now = func() time.Time { return at }
	l.Record(Entry{Kind: Promotion, Token: 7})
	st.set(false)
	l.Flush(5 * time.Second)
	if len(st.entries) != 1 || st.entries[0].Node != "nn2" || !st.entries[0].Time.Equal(at) || st.entries[0].Token != 7 {
		t.Fatalf("written %+v", st.entries)
	}
}

func TestEncodeBoundsEntry(t *testing.T) {
	b, err := encode(Entry{Kind: Demotion, Reason: strings.Repeat("x", 10000)})
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > MaxEntryBytes {
		t.Fatalf("%d bytes over the bound %d", len(b), MaxEntryBytes)
	}
}

func at(s int) time.Time { return time.Date(2026, 12, 2, 10, 0, s, 0, time.UTC) }

func TestAnnotateClassifiesFailovers(t *testing.T) {
	b := budget.Compute(budget.Inputs{HealthInterval: time.Second, Fall: 2, ProbeTimeout: 2 * time.Second,
		SessionTimeout: 4 * time.Second, TickTime: 2 * time.Second, Embedded: true})
	det := int64(900)
	entries := []Entry{
		{Seq: 1, Time: at(1), Node: "nn1", Kind: Promotion, Token: 1},
		{Seq: 2, Time: at(2), Node: "nn1", Kind: Demotion, Reason: "service SERVICE_UNHEALTHY", Phases: &Phases{Detection: &det}},
		{Seq: 3, Time: at(3), Node: "nn2", Kind: Fence, Reason: "fenced by graceful"},
		{Seq: 4, Time: at(4), Node: "nn2", Kind: Promotion, Token: 2, Phases: &Phases{Lock: Ms(5 * time.Millisecond)}},
		{Seq: 5, Time: at(5), Node: "nn1", Kind: FailoverRequest, Reason: "graceful failover to nn1"},
		{Seq: 6, Time: at(6), Node: "nn2", Kind: Demotion, Reason: "ceding for 5s"},
		{Seq: 7, Time: at(7), Node: "nn1", Kind: Promotion, Token: 3},
		{Seq: 8, Time: at(8), Node: "nn1", Kind: SelfFence, Reason: "self-fenced: no acknowledgment"},
		{Seq: 9, Time: at(9), Node: "nn2", Kind: Promotion, Token: 4},
		{Seq: 10, Time: at(10), Node: "nn1", Kind: Promotion, Token: 5},
		{Seq: 11, Time: at(11), Node: "nn1", Kind: Demotion, Reason: "service SERVICE_NOT_RESPONDING"},
		{Seq: 12, Time: at(12), Node: "nn2", Kind: Promotion, Token: 6},
	}
	Annotate(entries, b)
	want := map[int64]string{1: "", 4: budget.ServiceUnhealthy, 7: budget.Switchover, 9: budget.HostLost, 10: budget.ZKFCKilled, 12: budget.ServiceHung}
	for _, e := range entries {
		w, ok := want[e.Seq]
		if !ok {
			if e.Failure != "" {
				t.Errorf("entry %d (%s) annotated %q", e.Seq, e.Kind, e.Failure)
			}
			continue
		}
		if e.Failure != w {
			t.Errorf("promotion %d: failure %q, want %q", e.Seq, e.Failure, w)
		}
		if k, _ := b.Of(w); w != "" && e.BudgetMs != k.WorstMs {
			t.Errorf("promotion %d: budget %d, want %d", e.Seq, e.BudgetMs, k.WorstMs)
		}
	}
	if p := entries[3].Phases; p == nil || p.Detection == nil || *p.Detection != det || p.Lock == nil {
		t.Errorf("promotion 4 phases %+v: want the old active's detection beside its own lock phase", p)
	}
}

func TestDecodeSinceAndOrder(t *testing.T) {
	var data [][]byte
	for _, e := range []Entry{{Time: at(3), Kind: Pause}, {Time: at(1), Kind: Resume}} {
		b, _ := json.Marshal(e)
		data = append(data, b)
	}
	data = append(data, []byte("{not json"))
	got := Decode([]int64{9, 4, 12}, data, at(2))
	if len(got) != 1 || got[0].Seq != 9 || got[0].Kind != Pause {
		t.Fatalf("since at(2): %+v", got)
	}
	all := Decode([]int64{9, 4, 12}, data, time.Time{})
	if len(all) != 3 || all[0].Seq != 4 || all[2].Kind != "unreadable" {
		t.Fatalf("all: %+v", all)
	}
}
