package pgenv

import (
	"strings"
	"testing"
	"time"
)

// The checker is itself tested on histories made to fail: each broken
// property must be reported, and a clean history must pass.
func TestCheck(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	clean := []Ack{
		{ID: 0, Server: "pg1", Token: 1, At: at(0)},
		{ID: 1, Server: "pg1", Token: 1, At: at(10)},
		{ID: 2, Server: "pg2", Token: 2, At: at(500)},
		{ID: 3, Server: "pg2", Token: 2, At: at(510)},
	}
	rows := func(acks []Ack) map[int64]Row {
		m := map[int64]Row{}
		for _, a := range acks {
			m[a.ID] = Row{Server: a.Server, Token: a.Token}
		}
		return m
	}
	cases := []struct {
		name  string
		acks  []Ack
		final map[int64]Row
		want  string // "" = no violation
	}{
		{"clean", clean, rows(clean), ""},
		{"lost commit", clean, func() map[int64]Row { m := rows(clean); delete(m, 1); return m }(), "row 1 (by pg1, token 1"},
		{"row rewritten", clean, func() map[int64]Row { m := rows(clean); m[3] = Row{Server: "pg1", Token: 1}; return m }(), "row 3 reads (pg1, token 1)"},
		{"overlapping primaries", append(clean[:2:2], Ack{ID: 2, Server: "pg2", Token: 2, At: at(5)}, Ack{ID: 3, Server: "pg2", Token: 2, At: at(510)}),
			nil, "pg1 (token 1) accepted writes until"},
		{"one token on two servers", []Ack{{ID: 0, Server: "pg1", Token: 1, At: at(0)}, {ID: 1, Server: "pg2", Token: 1, At: at(5)}}, nil,
			"token 1 accepted by two servers"},
		{"token went back", []Ack{{ID: 0, Server: "pg2", Token: 2, At: at(0)}, {ID: 1, Server: "pg1", Token: 1, At: at(5)}}, nil,
			"token went back"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			final := c.final
			if final == nil {
				final = rows(c.acks)
			}
			bad := Check(History{Acks: c.acks}, final)
			if c.want == "" {
				if len(bad) > 0 {
					t.Fatalf("clean history judged bad: %v", bad)
				}
				return
			}
			if !strings.Contains(strings.Join(bad, "\n"), c.want) {
				t.Fatalf("want a violation containing %q, got %q", c.want, bad)
			}
		})
	}
}

func TestOutage(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	acks := []Ack{{At: at(0)}, {At: at(10)}, {At: at(20)}, {At: at(1020)}, {At: at(1030)}, {At: at(1500)}, {At: at(1510)}}
	if got := Outage(acks, at(15), at(1600)); got != time.Second {
		t.Errorf("outage %v, want 1s (last ack before the fault at 10ms... first after at 1020ms)", got)
	}
	if got := Outage(acks[:3], at(15), at(3000)); got != 2980*time.Millisecond {
		t.Errorf("outage with no recovery %v, want until the end", got)
	}
}
