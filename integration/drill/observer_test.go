package drill

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCheck covers the polls; the roles-file properties are roles.Check's
// and tested there, so one case of each shows they are part of the verdict.
func TestCheck(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	iv := func(name string, tok uint64, from, to int) Interval {
		e := at(to)
		return Interval{Role: "active", Name: name, Token: tok, Start: at(from), End: &e}
	}
	poll := func(name, role string, sent, recv int) Sample {
		return Sample{Name: name, Role: role, Sent: at(sent), Recv: at(recv)}
	}
	cases := []struct {
		name    string
		ivs     []Interval
		samples []Sample
		want    []string // substrings, one per expected violation
	}{
		{"clean handover", []Interval{iv("a", 1, 0, 100), iv("b", 2, 150, 300)},
			[]Sample{poll("a", "active", 10, 20), poll("b", "standby", 110, 120), poll("b", "active", 200, 210)}, nil},
		{"overlap", []Interval{iv("a", 1, 0, 200), iv("b", 2, 150, 300)}, nil, []string{"two actives overlap"}},
		{"token did not grow", []Interval{iv("a", 2, 0, 100), iv("b", 2, 150, 300)}, nil, []string{"token did not grow"}},
		{"active poll outside the log", []Interval{iv("a", 1, 0, 100)}, []Sample{poll("a", "active", 120, 130)}, []string{"outside every interval"}},
		{"active poll straddling the end is fine", []Interval{iv("a", 1, 0, 100)}, []Sample{poll("a", "active", 95, 105)}, nil},
		{"standby poll inside an interval", []Interval{iv("a", 1, 0, 100)}, []Sample{poll("a", "standby", 40, 50)}, []string{"inside an active interval"}},
		{"standby poll straddling the start is fine", []Interval{iv("a", 1, 0, 100)}, []Sample{poll("a", "standby", -5, 5)}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := Check(c.ivs, c.samples)
			if len(v.Violations) != len(c.want) {
				t.Fatalf("violations %q, want %d matching %q", v.Violations, len(c.want), c.want)
			}
			for i, w := range c.want {
				if !strings.Contains(v.Violations[i], w) {
					t.Errorf("violation %q does not contain %q", v.Violations[i], w)
				}
			}
		})
	}
}

func TestTimingsAppendAccumulates(t *testing.T) {
	p := filepath.Join(t.TempDir(), "timings.json")
	settings := File{HealthInterval: 500 * time.Millisecond, SessionTimeout: 4 * time.Second}
	for i, d := range []string{"service-crash", "partition"} {
		if err := Append(p, settings, Timing{Drill: d, Run: 1, Total: time.Duration(i+1) * time.Second, Promoted: true}); err != nil {
			t.Fatal(err)
		}
	}
	f, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Runs) != 2 || f.Runs[0].Drill != "service-crash" || f.Runs[1].Total != 2*time.Second || f.SessionTimeout != 4*time.Second {
		t.Fatalf("read back %+v", f)
	}
}

// Runs appended by separate tests come back in order; a blank line is
// skipped and a line that does not decode is named.
func TestJSONLinesAccumulate(t *testing.T) {
	p := filepath.Join(t.TempDir(), "outages.jsonl")
	for _, c := range []string{"service fails", "zkfc killed"} {
		if err := AppendJSONLine(p, LBOutage{Case: c, Requests: 3}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ReadJSONLines[LBOutage](p)
	if err != nil || len(got) != 2 || got[0].Case != "service fails" || got[1].Case != "zkfc killed" {
		t.Fatalf("read back %+v, %v", got, err)
	}
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("\n{not json\n")
	f.Close()
	if _, err := ReadJSONLines[LBOutage](p); err == nil || !strings.Contains(err.Error(), "line 4") {
		t.Fatalf("a broken line 4: %v", err)
	}
}

func TestReadLogAndFirstLog(t *testing.T) {
	log := `not json
{"level":"info","ts":"2026-01-01T00:00:01.500Z","msg":"health changed","from":"SERVICE_HEALTHY","to":"SERVICE_UNHEALTHY"}
{"level":"info","ts":"2026-01-01T00:00:02.000Z","msg":"target fenced","method":"shell"}
`
	evs := ReadLog(log)
	if len(evs) != 2 {
		t.Fatalf("got %d events, want 2", len(evs))
	}
	from := time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC)
	e, ok := FirstLog(evs, from, "health changed", map[string]string{"from": "SERVICE_HEALTHY"})
	if !ok || !e.At.Equal(from.Add(500*time.Millisecond)) {
		t.Fatalf("health changed: %v %v", e, ok)
	}
	if _, ok := FirstLog(evs, from, "target fenced", map[string]string{"method": "ssh"}); ok {
		t.Fatal("matched a shell fence as ssh")
	}
	if _, ok := FirstLog(evs, from.Add(2*time.Second), "target fenced", nil); ok {
		t.Fatal("matched an event before from")
	}
}
