// Package roles is the roles file of the demo service: the service's own
// record of when it was active and with which fencing token, one JSON line
// per event. The service writes it; the tests read it and check it. It is
// the evidence for the product's central promise, that no two instances
// are ever active at once, so the format, the reader and the checker live
// here together and nowhere else.
//
// Format: a line is written when an active interval starts (end null) and
// a second line with the same name, pid and start closes it. An interval
// whose closing line never came was ended by a kill, or is still running.
//
// Kill rule: an interval left open ends at the kill recorded for its
// service, when that kill came after the interval started; otherwise the
// service is taken to still run and the interval ends at now. A kill time
// is a moment by which the process was certainly dead (reaped, or after
// SIGKILL was delivered), so the rule never ends an interval earlier than
// the evidence allows. When a service was killed more than once, the
// latest kill is kept: that can only lengthen earlier intervals, which may
// report an overlap that did not happen but never hides one.
package roles

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Interval is one line of the roles file: a period in a role. End is nil
// on the line written when the interval starts.
type Interval struct {
	Role  string     `json:"role"`
	Token uint64     `json:"token"`
	Start time.Time  `json:"start"`
	End   *time.Time `json:"end"`
	PID   int        `json:"pid"`
	Name  string     `json:"name"`
	// Open: the service never closed it (it was killed or still runs).
	// Read sets it; it is not part of the line.
	Open bool `json:"-"`
}

// Line encodes iv as one roles-file line, newline included. A writer
// appends it with a single write so that lines of several processes
// sharing the file (O_APPEND) stay whole.
func Line(iv Interval) []byte {
	b, _ := json.Marshal(iv) // only times, strings and numbers: cannot fail
	return append(b, '\n')
}

// Read reads a roles file and merges
// each interval's start and end lines. Open intervals end by the kill rule
// (see the package comment), with killed holding a kill time per service
// name and now the end of intervals of services still running. Intervals
// come sorted by start.
func Read(path string, now time.Time, killed map[string]time.Time) ([]Interval, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("roles file: %w (the demo service creates it when it starts with --roles-file)", err)
	}
	defer f.Close()
	byKey := map[string]*Interval{}
	var keys []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var iv Interval
		if err := json.Unmarshal(sc.Bytes(), &iv); err != nil {
			return nil, fmt.Errorf("roles file %s: bad line %q: %w", path, sc.Text(), err)
		}
		k := fmt.Sprintf("%s/%d/%d", iv.Name, iv.PID, iv.Start.UnixNano())
		if old, ok := byKey[k]; ok {
			old.End = iv.End
			continue
		}
		cp := iv
		byKey[k] = &cp
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("roles file %s: %w", path, err)
	}
	out := make([]Interval, 0, len(keys))
	for _, k := range keys {
		iv := *byKey[k]
		if iv.End == nil {
			e := now
			if at, ok := killed[iv.Name]; ok && at.After(iv.Start) {
				e = at
			}
			iv.End, iv.Open = &e, true
		}
		out = append(out, iv)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out, nil
}

// ReadKills reads a kills file: "<name> <unix ns>" lines, as a fencing
// script that kills a service appends them. The latest kill of each name
// is kept. A missing file records no kill.
func ReadKills(path string) (map[string]time.Time, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return map[string]time.Time{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("kills file: %w", err)
	}
	m := map[string]time.Time{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			continue
		}
		ns, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("kills file %s: bad line %q: want \"<name> <unix ns>\"", path, l)
		}
		if at := time.Unix(0, ns); at.After(m[f[0]]) {
			m[f[0]] = at
		}
	}
	return m, nil
}

// Check returns one sentence per broken promise in ivs (sorted by start,
// as Read returns them): two intervals of different services that overlap
// (touching ends do not), and a fencing token that does not grow from one
// promotion to the next (a service restarted in place continues its
// interval's token). No sentence means the history is safe.
func Check(ivs []Interval) []string {
	var v []string
	for i := range ivs {
		for j := i + 1; j < len(ivs); j++ {
			a, b := ivs[i], ivs[j]
			if a.Name != b.Name && b.Start.Before(*a.End) {
				v = append(v, fmt.Sprintf("two actives overlap: %s token %d [%s, %s] and %s token %d from %s",
					a.Name, a.Token, ts(a.Start), ts(*a.End), b.Name, b.Token, ts(b.Start)))
			}
		}
		// The same service again under the same token is one term
		// continued: zkfc restarted it in place (restart.max_attempts).
		sameTerm := i > 0 && ivs[i].Name == ivs[i-1].Name && ivs[i].Token == ivs[i-1].Token
		if i > 0 && ivs[i].Token <= ivs[i-1].Token && !sameTerm {
			v = append(v, fmt.Sprintf("fencing token did not grow: %s token %d at %s after %s token %d",
				ivs[i].Name, ivs[i].Token, ts(ivs[i].Start), ivs[i-1].Name, ivs[i-1].Token))
		}
	}
	return v
}

func ts(t time.Time) string { return t.Format("15:04:05.000000") }
