package drill

import (
	"testing"
	"time"
)

func TestOutage(t *testing.T) {
	t0 := time.Unix(100, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	iv := func(a, b float64) Interval { e := at(b); return Interval{Start: at(a), End: &e} }
	cases := []struct {
		name string
		ivs  []Interval
		want time.Duration
	}{
		{"covered throughout", []Interval{iv(-5, 20)}, 0},
		{"nothing active", nil, 10 * time.Second},
		{"a gap between two actives", []Interval{iv(-5, 3), iv(4.5, 20)}, 1500 * time.Millisecond},
		{"active ends early", []Interval{iv(-5, 7)}, 3 * time.Second},
		{"overlapping intervals count once", []Interval{iv(2, 6), iv(-1, 4)}, 4 * time.Second},
	}
	for _, c := range cases {
		if got := Outage(c.ivs, at(0), at(10)); got != c.want {
			t.Errorf("%s: outage %v, want %v", c.name, got, c.want)
		}
	}
}
