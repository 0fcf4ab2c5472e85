package pgenv

import (
	"fmt"
	"sort"
	"time"
)

// Check judges a writer's history against the rows the final primary
// holds and returns every violation (none: the drill kept its promises):
//   - every acknowledged row is present on the final primary, as written;
//   - no two servers accepted writes in overlapping intervals: the
//     acknowledged commits under one token form an interval, one token
//     belongs to one server, and the interval of a lower token ends
//     before that of a higher token begins;
//   - fencing tokens only grew: in the order the acknowledgments arrived,
//     no token is lower than one acknowledged before it.
func Check(h History, final map[int64]Row) []string {
	var bad []string
	lost := 0
	for _, a := range h.Acks {
		r, ok := final[a.ID]
		switch {
		case !ok:
			lost++
			if lost <= 5 {
				bad = append(bad, fmt.Sprintf("acknowledged row %d (by %s, token %d, at %s) is missing on the final primary",
					a.ID, a.Server, a.Token, a.At.Format("15:04:05.000")))
			}
		case r.Server != a.Server || r.Token != a.Token:
			bad = append(bad, fmt.Sprintf("row %d reads (%s, token %d) on the final primary, acknowledged as (%s, token %d)",
				a.ID, r.Server, r.Token, a.Server, a.Token))
		}
	}
	if lost > 5 {
		bad = append(bad, fmt.Sprintf("%d acknowledged rows missing in all", lost))
	}
	for _, iv := range overlaps(h.Acks) {
		bad = append(bad, iv)
	}
	acks := append([]Ack(nil), h.Acks...)
	sort.SliceStable(acks, func(i, j int) bool { return acks[i].At.Before(acks[j].At) })
	var top Ack
	for i, a := range acks {
		if i > 0 && a.Token < top.Token {
			bad = append(bad, fmt.Sprintf("token went back: row %d on %s under token %d acknowledged at %s, after row %d on %s under token %d at %s",
				a.ID, a.Server, a.Token, a.At.Format("15:04:05.000"), top.ID, top.Server, top.Token, top.At.Format("15:04:05.000")))
		}
		if a.Token >= top.Token {
			top = a
		}
	}
	return bad
}

// interval is the span of acknowledged commits under one token.
type interval struct {
	server      string
	token       int64
	first, last time.Time
}

func overlaps(acks []Ack) []string {
	var bad []string
	by := map[int64]*interval{}
	for _, a := range acks {
		iv := by[a.Token]
		if iv == nil {
			by[a.Token] = &interval{server: a.Server, token: a.Token, first: a.At, last: a.At}
			continue
		}
		if iv.server != a.Server {
			bad = append(bad, fmt.Sprintf("token %d accepted by two servers: %s and %s", a.Token, iv.server, a.Server))
		}
		if a.At.Before(iv.first) {
			iv.first = a.At
		}
		if a.At.After(iv.last) {
			iv.last = a.At
		}
	}
	var ivs []*interval
	for _, iv := range by {
		ivs = append(ivs, iv)
	}
	sort.Slice(ivs, func(i, j int) bool { return ivs[i].token < ivs[j].token })
	for i := 1; i < len(ivs); i++ {
		p, n := ivs[i-1], ivs[i]
		if !p.last.Before(n.first) {
			bad = append(bad, fmt.Sprintf("%s (token %d) accepted writes until %s, after %s (token %d) began accepting at %s",
				p.server, p.token, p.last.Format("15:04:05.000"), n.server, n.token, n.first.Format("15:04:05.000")))
		}
	}
	return bad
}

// Outage is the client-observed write outage around a fault at fault:
// from the last acknowledged commit before it, the longest time without
// an acknowledged commit until end (to end itself if writes never came
// back).
func Outage(acks []Ack, fault, end time.Time) time.Duration {
	var ts []time.Time
	for _, a := range acks {
		ts = append(ts, a.At)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	prev := fault
	for _, at := range ts {
		if !at.After(fault) {
			prev = at
		}
	}
	var worst time.Duration
	for _, at := range ts {
		if !at.After(prev) {
			continue
		}
		if at.After(end) {
			break
		}
		worst = max(worst, at.Sub(prev))
		prev = at
	}
	return max(worst, end.Sub(prev))
}
