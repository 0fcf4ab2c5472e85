package drill

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Interval is one active period of a service, from its roles file.
type Interval struct {
	Role  string     `json:"role"`
	Token uint64     `json:"token"`
	Start time.Time  `json:"start"`
	End   *time.Time `json:"end"`
	PID   int        `json:"pid"`
	Name  string     `json:"name"`
	// Open: the service never closed it (it was killed or still runs).
	Open bool `json:"-"`
}

// ReadRoles reads a roles file. An interval the service never closed ends
// at the time in killed for its name (a kill the test or the fencer made),
// else at now (the service still runs). Intervals come sorted by start.
func ReadRoles(path string, now time.Time, killed map[string]time.Time) ([]Interval, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
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

// ReadKills reads the fencer's kill notes ("<node> <unix ns>" lines).
func ReadKills(path string) (map[string]time.Time, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return map[string]time.Time{}, nil
	}
	if err != nil {
		return nil, err
	}
	m := map[string]time.Time{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			continue
		}
		ns, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("kills file %s: bad line %q", path, l)
		}
		if at := time.Unix(0, ns); at.After(m[f[0]]) {
			m[f[0]] = at
		}
	}
	return m, nil
}

// Sample is one poll of a service's /role: the answer held at some moment
// between Sent and Recv.
type Sample struct {
	Name       string
	Sent, Recv time.Time
	Role       string
}

// Observer polls every service's /role while a drill runs: a second
// source the roles files are checked against.
type Observer struct {
	mu      sync.Mutex
	samples []Sample
	stop    chan struct{}
	done    chan struct{}
}

// Watch polls each service (name -> host:port) every 100ms until Stop or
// the test's cleanup.
func Watch(t testing.TB, services map[string]string) *Observer {
	o := &Observer{stop: make(chan struct{}), done: make(chan struct{})}
	hc := &http.Client{Timeout: 700 * time.Millisecond}
	go func() {
		defer close(o.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-o.stop:
				return
			case <-tick.C:
			}
			for name, addr := range services {
				s := Sample{Name: name, Sent: time.Now()}
				resp, err := hc.Get("http://" + addr + "/role")
				if err != nil {
					continue // down, frozen or partitioned: no evidence either way
				}
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 64))
				resp.Body.Close()
				s.Recv, s.Role = time.Now(), strings.TrimSpace(string(b))
				o.mu.Lock()
				o.samples = append(o.samples, s)
				o.mu.Unlock()
			}
		}
	}()
	t.Cleanup(o.Stop)
	return o
}

// Stop ends polling; it is idempotent.
func (o *Observer) Stop() {
	select {
	case <-o.stop:
	default:
		close(o.stop)
	}
	<-o.done
}

// Samples returns the polls so far.
func (o *Observer) Samples() []Sample {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Sample(nil), o.samples...)
}

// Verdict is what the observer proved about one drill.
type Verdict struct {
	Intervals  []Interval
	Violations []string // empty when every property held
}

// Check proves, from the roles files and the polls: no two active
// intervals of different services overlap; every promotion's fencing token
// is higher than every earlier one; every poll that saw a service active
// falls in an active interval of its roles file, and no poll saw it
// standby in the middle of one (so the file is a faithful record).
func Check(ivs []Interval, samples []Sample) Verdict {
	v := Verdict{Intervals: ivs}
	for i := range ivs {
		for j := i + 1; j < len(ivs); j++ {
			a, b := ivs[i], ivs[j]
			if a.Name != b.Name && b.Start.Before(*a.End) {
				v.Violations = append(v.Violations, fmt.Sprintf("two actives overlap: %s token %d [%s, %s] and %s token %d from %s",
					a.Name, a.Token, ts(a.Start), ts(*a.End), b.Name, b.Token, ts(b.Start)))
			}
		}
		if i > 0 && ivs[i].Token <= ivs[i-1].Token {
			v.Violations = append(v.Violations, fmt.Sprintf("fencing token did not grow: %s token %d at %s after %s token %d",
				ivs[i].Name, ivs[i].Token, ts(ivs[i].Start), ivs[i-1].Name, ivs[i-1].Token))
		}
	}
	for _, s := range samples {
		in, inside := false, false
		for _, iv := range ivs {
			if iv.Name != s.Name {
				continue
			}
			if !s.Recv.Before(iv.Start) && !s.Sent.After(*iv.End) {
				in = true
			}
			if s.Sent.After(iv.Start) && s.Recv.Before(*iv.End) {
				inside = true
			}
		}
		switch {
		case s.Role == "active" && !in:
			v.Violations = append(v.Violations, fmt.Sprintf("%s answered active between %s and %s, outside every interval of its roles file",
				s.Name, ts(s.Sent), ts(s.Recv)))
		case s.Role == "standby" && inside:
			v.Violations = append(v.Violations, fmt.Sprintf("%s answered standby between %s and %s, inside an active interval of its roles file",
				s.Name, ts(s.Sent), ts(s.Recv)))
		}
	}
	return v
}

// FirstPromotionAfter is the first interval that starts after at, if any.
func FirstPromotionAfter(ivs []Interval, at time.Time) (Interval, bool) {
	for _, iv := range ivs {
		if iv.Start.After(at) {
			return iv, true
		}
	}
	return Interval{}, false
}

// LastBefore is the last interval that started before at, if any.
func LastBefore(ivs []Interval, at time.Time) (Interval, bool) {
	var out Interval
	ok := false
	for _, iv := range ivs {
		if iv.Start.Before(at) {
			out, ok = iv, true
		}
	}
	return out, ok
}

// LogEvent is one line of a zkfc's JSON log.
type LogEvent struct {
	At     time.Time
	Msg    string
	Fields map[string]any
}

// ReadLog parses a zkfc JSON log; lines that are not JSON are skipped.
func ReadLog(s string) []LogEvent {
	var out []LogEvent
	for _, l := range strings.Split(s, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) != nil {
			continue
		}
		tsStr, _ := m["ts"].(string)
		at, err := time.Parse("2006-01-02T15:04:05.000Z0700", tsStr)
		if err != nil {
			continue
		}
		msg, _ := m["msg"].(string)
		out = append(out, LogEvent{At: at, Msg: msg, Fields: m})
	}
	return out
}

// FirstLog is the first event at or after from whose message starts with
// prefix and whose fields match want (string values).
func FirstLog(evs []LogEvent, from time.Time, prefix string, want map[string]string) (LogEvent, bool) {
	for _, e := range evs {
		if e.At.Before(from.Truncate(time.Millisecond)) || !strings.HasPrefix(e.Msg, prefix) {
			continue
		}
		ok := true
		for k, v := range want {
			if fmt.Sprint(e.Fields[k]) != v {
				ok = false
			}
		}
		if ok {
			return e, true
		}
	}
	return LogEvent{}, false
}

func ts(t time.Time) string { return t.Format("15:04:05.000000") }
