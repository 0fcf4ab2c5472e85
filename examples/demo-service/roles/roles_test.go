package roles

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// writeHistory writes a roles file the way demo-service does: a start
// line per interval, and an end line for those given an end (end < 0:
// the service never closed it).
func writeHistory(t *testing.T, ivs []struct {
	name       string
	pid        int
	token      uint64
	start, end int
}) string {
	t.Helper()
	var b []byte
	for _, h := range ivs {
		iv := Interval{Role: "active", Name: h.name, PID: h.pid, Token: h.token, Start: at(h.start)}
		b = append(b, Line(iv)...)
		if h.end >= 0 {
			e := at(h.end)
			iv.End = &e
			b = append(b, Line(iv)...)
		}
	}
	p := filepath.Join(t.TempDir(), "roles.jsonl")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCheckCraftedHistories runs the checker over histories written to
// disk and read back, so the reader's merge and kill rule are under test
// with it. Each unsafe history must be caught; each safe one must pass.
func TestCheckCraftedHistories(t *testing.T) {
	type h = struct {
		name       string
		pid        int
		token      uint64
		start, end int
	}
	now := at(60_000)
	cases := []struct {
		name    string
		history []h
		killed  map[string]time.Time
		want    []string // substrings, one per expected violation, in order
	}{
		{name: "clean handover", history: []h{{"a", 1, 1, 0, 100}, {"b", 2, 2, 150, 300}}},
		{name: "touching ends do not overlap", history: []h{{"a", 1, 1, 0, 100}, {"b", 2, 2, 100, 300}}},
		{name: "an overlap of 1 ms", history: []h{{"a", 1, 1, 0, 101}, {"b", 2, 2, 100, 300}},
			want: []string{"two actives overlap: a token 1"}},
		{name: "an overlap with a later, non-adjacent interval", history: []h{{"a", 1, 1, 0, 1000}, {"a", 1, 2, 100, 200}, {"b", 2, 3, 500, 600}},
			want: []string{"two actives overlap: a token 1"}},
		{name: "the same service re-promoted", history: []h{{"a", 1, 1, 0, 100}, {"a", 1, 2, 100, 200}}},
		{name: "the same service restarted in place under its token", history: []h{{"a", 1, 1, 0, -1}, {"a", 3, 1, 150, 300}},
			killed: map[string]time.Time{"a": at(140)}},
		{name: "the same service back under an older token", history: []h{{"a", 1, 2, 0, 100}, {"a", 3, 1, 150, 300}},
			want: []string{"fencing token did not grow: a token 1"}},
		{name: "a token that does not grow", history: []h{{"a", 1, 2, 0, 100}, {"b", 2, 2, 150, 300}},
			want: []string{"fencing token did not grow: b token 2"}},
		{name: "a token that goes down", history: []h{{"a", 1, 3, 0, 100}, {"b", 2, 1, 150, 300}},
			want: []string{"fencing token did not grow: b token 1"}},
		{name: "an interval left open by a kill after the next promotion", history: []h{{"a", 1, 1, 0, -1}, {"b", 2, 2, 150, 300}},
			killed: map[string]time.Time{"a": at(151)}, want: []string{"two actives overlap: a token 1"}},
		{name: "an interval left open by a kill before the next promotion", history: []h{{"a", 1, 1, 0, -1}, {"b", 2, 2, 150, 300}},
			killed: map[string]time.Time{"a": at(149)}},
		{name: "an open interval with no kill runs to now", history: []h{{"a", 1, 1, 0, -1}, {"b", 2, 2, 150, 300}},
			want: []string{"two actives overlap: a token 1"}},
		{name: "a kill before an interval started does not end it", history: []h{{"a", 1, 1, 0, 100}, {"a", 3, 2, 200, -1}, {"b", 2, 3, 500, 600}},
			killed: map[string]time.Time{"a": at(150)}, want: []string{"two actives overlap: a token 2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ivs, err := Read(writeHistory(t, c.history), now, c.killed)
			if err != nil {
				t.Fatal(err)
			}
			if len(ivs) != len(c.history) {
				t.Fatalf("read %d intervals from %d written", len(ivs), len(c.history))
			}
			v := Check(ivs)
			if len(v) != len(c.want) {
				t.Fatalf("violations %q, want %d matching %q", v, len(c.want), c.want)
			}
			for i, w := range c.want {
				if !strings.Contains(v[i], w) {
					t.Errorf("violation %q does not contain %q", v[i], w)
				}
			}
		})
	}
}

func TestReadMergesAndClosesByKillRule(t *testing.T) {
	p := filepath.Join(t.TempDir(), "roles.jsonl")
	lines := `{"role":"active","token":1,"start":"2026-01-01T00:00:00Z","end":null,"pid":10,"name":"a"}
{"role":"active","token":1,"start":"2026-01-01T00:00:00Z","end":"2026-01-01T00:00:01Z","pid":10,"name":"a"}
{"role":"active","token":2,"start":"2026-01-01T00:00:02Z","end":null,"pid":11,"name":"b"}
{"role":"active","token":3,"start":"2026-01-01T00:00:05Z","end":null,"pid":12,"name":"a"}
`
	if err := os.WriteFile(p, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Minute)
	ivs, err := Read(p, now, map[string]time.Time{"b": t0.Add(3 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if len(ivs) != 3 {
		t.Fatalf("got %d intervals, want 3 (start and end lines merged)", len(ivs))
	}
	want := []struct {
		end  time.Time
		open bool
	}{{t0.Add(time.Second), false}, {t0.Add(3 * time.Second), true}, {now, true}}
	for i, w := range want {
		if !ivs[i].End.Equal(w.end) || ivs[i].Open != w.open {
			t.Errorf("interval %d: end %s open %v, want %s %v", i, ivs[i].End, ivs[i].Open, w.end, w.open)
		}
	}
	if _, err := Read(filepath.Join(t.TempDir(), "missing"), now, nil); err == nil {
		t.Error("a missing roles file read as an empty history")
	}
}

func TestReadKillsKeepsTheLatest(t *testing.T) {
	p := filepath.Join(t.TempDir(), "kills.txt")
	if err := os.WriteFile(p, []byte("a 2000000000\nb 1000000000\na 1000000000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	k, err := ReadKills(p)
	if err != nil {
		t.Fatal(err)
	}
	if !k["a"].Equal(time.Unix(2, 0)) || !k["b"].Equal(time.Unix(1, 0)) {
		t.Fatalf("kills %v", k)
	}
	if k, err := ReadKills(filepath.Join(t.TempDir(), "missing")); err != nil || len(k) != 0 {
		t.Fatalf("missing kills file: %v %v", k, err)
	}
}
