package switchover

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/zkfc/history"
)

type memStore struct {
	data    []byte
	version int32
}

func (m *memStore) Schedule() ([]byte, int32, error) {
	if m.data == nil {
		return nil, -1, nil
	}
	return m.data, m.version, nil
}
func (m *memStore) CreateSchedule(d []byte) error { m.data = d; return nil }
func (m *memStore) DeleteSchedule(v int32) (bool, error) {
	if m.data == nil || (v >= 0 && v != m.version) {
		return false, nil
	}
	m.data = nil
	return true, nil
}

type recs []history.Entry

func (r *recs) Record(e history.Entry) { *r = append(*r, e) }

func TestParseAt(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct{ in, err string }{
		{"", "missing time"},
		{"tomorrow", "want RFC 3339"},
		{"2026-12-02 13:00", "want RFC 3339"},
		{"2026-12-02T11:59:00Z", "in the past"},
		{"2026-12-02T12:00:00Z", "in the past"},
		{"2027-06-01T00:00:00Z", "ahead"},
		{"2026-12-02T13:00:00+01:00", "in the past"},
		{"2026-12-02T12:00:30Z", ""},
	} {
		_, err := ParseAt(c.in, now)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%q: %v", c.in, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: error %v, want one saying %q", c.in, err, c.err)
		}
	}
}

// The active runs a due switchover once, as a failover to its target;
// anything else cancels it, recorded with why; nothing runs before time
// or on a node that is not active.
func TestRunnerDecisions(t *testing.T) {
	due := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name       string
		sw         Switchover
		now        time.Time
		active     bool
		paused     bool
		wantRun    bool
		wantKept   bool
		wantReason string
	}{
		{name: "runs at its time", sw: Switchover{To: "nn2", At: due, From: "nn1"}, now: due, active: true, wantRun: true, wantReason: "running"},
		{name: "not before", sw: Switchover{To: "nn2", At: due, From: "nn1"}, now: due.Add(-time.Second), active: true, wantKept: true},
		{name: "not on a standby", sw: Switchover{To: "nn2", At: due, From: "nn1"}, now: due, active: false, wantKept: true},
		{name: "active changed", sw: Switchover{To: "nn3", At: due, From: "nn0"}, now: due, active: true, wantReason: "active changed from nn0 to nn1"},
		{name: "target already active", sw: Switchover{To: "nn1", At: due, From: "nn1"}, now: due, active: true, wantReason: "already active"},
		{name: "stale", sw: Switchover{To: "nn2", At: due, From: "nn1"}, now: due.Add(Stale + time.Second), active: true, wantReason: "after its time"},
		{name: "paused", sw: Switchover{To: "nn2", At: due, From: "nn1"}, now: due, active: true, paused: true, wantReason: "paused"},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := &memStore{}
			b, _ := json.Marshal(c.sw)
			st.data, st.version = b, 3
			var ran []string
			var rec recs
			r := NewRunner(st, Node{ID: "nn1", Active: func() bool { return c.active }, Paused: func() bool { return c.paused },
				Failover: func(_ context.Context, to string) error { ran = append(ran, to); return nil }}, &rec, zap.NewNop())
			r.now = func() time.Time { return c.now }
			if err := r.Check(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := len(ran) == 1 && ran[0] == c.sw.To; got != c.wantRun || (!c.wantRun && len(ran) > 0) {
				t.Errorf("ran %v, want run=%v", ran, c.wantRun)
			}
			if kept := st.data != nil; kept != c.wantKept {
				t.Errorf("record kept=%v, want %v", kept, c.wantKept)
			}
			if c.wantReason == "" {
				if len(rec) != 0 {
					t.Errorf("recorded %+v, want nothing", rec)
				}
				return
			}
			if len(rec) != 1 || !strings.Contains(rec[0].Reason, c.wantReason) {
				t.Errorf("recorded %+v, want one entry saying %q", rec, c.wantReason)
			}
			if err := r.Check(context.Background()); err != nil || len(ran) > 1 {
				t.Errorf("second check: ran %v, err %v: a claimed switchover must run once", ran, err)
			}
		})
	}
}

// claimedElsewhere is a record another node claims between this node's
// read and its delete.
type claimedElsewhere struct{ memStore }

func (c *claimedElsewhere) DeleteSchedule(int32) (bool, error) { c.data = nil; return false, nil }

// Two nodes that both believe they are active (one about to learn it is
// not) never both run it: only the one whose versioned delete succeeds.
func TestRunnerRunsOnlyWhatItClaimed(t *testing.T) {
	due := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	st := &claimedElsewhere{}
	st.data, _ = json.Marshal(Switchover{To: "nn2", At: due, From: "nn1"})
	var ran int
	var rec recs
	r := NewRunner(st, Node{ID: "nn1", Active: func() bool { return true }, Paused: func() bool { return false },
		Failover: func(context.Context, string) error { ran++; return nil }}, &rec, zap.NewNop())
	r.now = func() time.Time { return due }
	if err := r.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ran != 0 || len(rec) != 0 {
		t.Fatalf("ran %d times, recorded %+v: a switchover claimed by another node must not run here", ran, rec)
	}
}
