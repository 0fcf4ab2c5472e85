package drill

import (
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"
)

// QuorumStop is how long the quorum-outage drills keep the quorum
// stopped: $ZKFC_QUORUM_STOP (a Go duration), default three session
// timeouts: long enough that every session would have expired and every
// active without failsafe would have self-fenced. `make bench` runs them
// with the 60s of issue 16.
func QuorumStop(t testing.TB, s Settings) time.Duration {
	t.Helper()
	v := os.Getenv("ZKFC_QUORUM_STOP")
	if v == "" {
		return 3 * s.SessionTimeout
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("ZKFC_QUORUM_STOP=%q: want a positive duration like 60s", v)
	}
	return d
}

// Outage is how much of [from, to] no interval covers: the time the
// cluster had no active service.
func Outage(ivs []Interval, from, to time.Time) time.Duration {
	sorted := append([]Interval(nil), ivs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Start.Before(sorted[j].Start) })
	var gap time.Duration
	cur := from
	for _, iv := range sorted {
		ivEnd := to // an interval Read left open runs on
		if iv.End != nil {
			ivEnd = *iv.End
		}
		if !ivEnd.After(cur) {
			continue
		}
		if iv.Start.After(cur) {
			end := iv.Start
			if end.After(to) {
				end = to
			}
			gap += end.Sub(cur)
		}
		cur = ivEnd
		if !cur.Before(to) {
			return gap
		}
	}
	if cur.Before(to) {
		gap += to.Sub(cur)
	}
	return gap
}

// Port is the port of a node's control API (for CutExcept).
func (n *Node) Port(t testing.TB) int {
	t.Helper()
	u, err := url.Parse(n.URL)
	if err != nil {
		t.Fatal(err)
	}
	return atoi(t, u.Port())
}

// DemoPort is the port of a node's demo service.
func (n *Node) DemoPort(t testing.TB) int {
	t.Helper()
	_, p, err := net.SplitHostPort(n.DemoAddr)
	if err != nil {
		t.Fatal(err)
	}
	return atoi(t, p)
}

func atoi(t testing.TB, s string) int {
	t.Helper()
	p, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// QuorumOutageRun is one measured quorum outage: a drill appends it to the
// file $QUORUM_OUTAGE_OUT names, one JSON object a line, and the bench
// report reads them.
type QuorumOutageRun struct {
	Drill    string `json:"drill"`
	Backend  string `json:"backend"`
	Failsafe bool   `json:"failsafe"`
	StopMs   int64  `json:"stop_ms"`
	// OutageMs: time without an active service from the stop until the
	// end of the drill, from the services' roles files.
	OutageMs int64 `json:"outage_ms"`
	// RecoveryMs: from the restart of the members until every member
	// serves and both zkfc have a fresh session again.
	RecoveryMs int64 `json:"recovery_ms"`
	Promotions int   `json:"promotions"`
}
