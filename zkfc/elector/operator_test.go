package elector

import (
	"errors"
	"fmt"
	"testing"
)

// The history keeps the newest entries only, in order, across writers;
// the schedule is created once and claimed by exactly one versioned
// delete.
func TestOperatorRecordsAgainstServer(t *testing.T) {
	cfg := testCluster(t, Config{ClusterPath: "/zkfc/operator-records"})
	a, _ := openConnected(t, cfg)
	b, _ := openConnected(t, cfg)

	const keep = 5
	var last int64
	for i := range 12 {
		w := a
		if i%2 == 1 {
			w = b
		}
		seq, err := w.AppendHistory([]byte(fmt.Sprint(i)), keep)
		if err != nil {
			t.Fatal(err)
		}
		if seq <= last && i > 0 {
			t.Fatalf("entry %d got seq %d after %d", i, seq, last)
		}
		last = seq
	}
	recs, err := b.History()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != keep {
		t.Fatalf("%d entries kept, want %d", len(recs), keep)
	}
	for i, r := range recs {
		if want := fmt.Sprint(12 - keep + i); string(r.Data) != want {
			t.Errorf("entry %d: %q, want %q (the newest, oldest first)", i, r.Data, want)
		}
	}

	if raw, v, err := a.Schedule(); err != nil || raw != nil || v != -1 {
		t.Fatalf("empty schedule: %q %d %v", raw, v, err)
	}
	if err := a.CreateSchedule([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateSchedule([]byte("y")); !errors.Is(err, ErrScheduleExists) {
		t.Fatalf("second schedule: %v, want ErrScheduleExists", err)
	}
	raw, v, err := b.Schedule()
	if err != nil || string(raw) != "x" {
		t.Fatalf("schedule: %q %v", raw, err)
	}
	okA, errA := a.DeleteSchedule(v)
	okB, errB := b.DeleteSchedule(v)
	if errA != nil || errB != nil || !okA || okB {
		t.Fatalf("claims: a=%v,%v b=%v,%v; want exactly the first to claim it", okA, errA, okB, errB)
	}
}
