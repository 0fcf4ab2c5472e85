package drill

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/examples/demo-service/roles"
)

// Interval is one active period of a service, from its roles file.
type Interval = roles.Interval

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

// Check proves, from the roles files and the polls: what roles.Check
// proves (no two actives overlap, tokens grow), and that every poll that saw a service active
// falls in an active interval of its roles file, and no poll saw it
// standby in the middle of one (so the file is a faithful record).
func Check(ivs []Interval, samples []Sample) Verdict {
	v := Verdict{Intervals: ivs, Violations: roles.Check(ivs)}
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
