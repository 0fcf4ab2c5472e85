package drill

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

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
		{"touching intervals do not overlap", []Interval{iv("a", 1, 0, 100), iv("b", 2, 100, 300)}, nil, nil},
		{"overlap", []Interval{iv("a", 1, 0, 200), iv("b", 2, 150, 300)}, nil, []string{"two actives overlap"}},
		{"overlap with a later, non-adjacent interval", []Interval{iv("a", 1, 0, 1000), iv("a", 2, 100, 200), iv("b", 3, 500, 600)}, nil,
			[]string{"two actives overlap: a token 1"}},
		{"same service re-promoted", []Interval{iv("a", 1, 0, 100), iv("a", 2, 100, 200)}, nil, nil},
		{"token did not grow", []Interval{iv("a", 2, 0, 100), iv("b", 2, 150, 300)}, nil, []string{"token did not grow"}},
		{"token went down", []Interval{iv("a", 3, 0, 100), iv("b", 1, 150, 300)}, nil, []string{"token did not grow"}},
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

func TestReadRolesClosesKilledIntervals(t *testing.T) {
	p := filepath.Join(t.TempDir(), "roles.jsonl")
	lines := `{"role":"active","token":1,"start":"2026-01-01T00:00:00Z","end":null,"pid":10,"name":"a"}
{"role":"active","token":1,"start":"2026-01-01T00:00:00Z","end":"2026-01-01T00:00:01Z","pid":10,"name":"a"}
{"role":"active","token":2,"start":"2026-01-01T00:00:02Z","end":null,"pid":11,"name":"b"}
{"role":"active","token":3,"start":"2026-01-01T00:00:05Z","end":null,"pid":12,"name":"a"}
`
	if err := os.WriteFile(p, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := base.Add(time.Minute)
	ivs, err := ReadRoles(p, now, map[string]time.Time{"b": base.Add(3 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if len(ivs) != 3 {
		t.Fatalf("got %d intervals, want 3 (start and end lines merged)", len(ivs))
	}
	want := []struct {
		end  time.Time
		open bool
	}{{base.Add(time.Second), false}, {base.Add(3 * time.Second), true}, {now, true}}
	for i, w := range want {
		if !ivs[i].End.Equal(w.end) || ivs[i].Open != w.open {
			t.Errorf("interval %d: end %s open %v, want %s %v", i, ivs[i].End, ivs[i].Open, w.end, w.open)
		}
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
