package healthcheck

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

type change struct {
	from, to State
	p        Progress
}

// startMonitor runs a monitor over svc with a short interval and returns
// the channel of its reports: changes of state or of progress. The monitor
// stops with the test.
func startMonitor(t *testing.T, cfg Config) (*Monitor, <-chan change) {
	t.Helper()
	changes := make(chan change, 64)
	m, err := NewMonitor(cfg, zaptest.NewLogger(t), func(old, cur State, p Progress) {
		changes <- change{old, cur, p}
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); m.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return m, changes
}

// startHealthyHTTP runs a monitor that probes a new service every 5ms with
// the given timeout, rise and fall 2, and waits for it to become Healthy.
func startHealthyHTTP(t *testing.T, timeout time.Duration) (*service, *Monitor, <-chan change) {
	t.Helper()
	svc := newService(t)
	m, changes := startMonitor(t, Config{
		Interval: 5 * time.Millisecond, Timeout: timeout, Rise: 2, Fall: 2,
		HTTP: &HTTPCheck{URL: svc.URL},
	})
	expect(t, changes, Initializing, Healthy)
	return svc, m, changes
}

// next returns the next report. The bound only keeps a broken test
// from hanging; it is not what the test asserts.
func next(t *testing.T, changes <-chan change) change {
	t.Helper()
	select {
	case c := <-changes:
		return c
	case <-time.After(30 * time.Second):
		t.Fatal("no report from the monitor")
		return change{}
	}
}

// expect skips reports of progress alone and checks the next state change.
func expect(t *testing.T, changes <-chan change, from, to State) {
	t.Helper()
	c := next(t, changes)
	for c.from == c.to {
		c = next(t, changes)
	}
	if c.from != from || c.to != to {
		t.Fatalf("change %v -> %v, want %v -> %v", c.from, c.to, from, to)
	}
}

// waitHits waits until the service has seen n more probes.
func waitHits(t *testing.T, svc *service, n int64) {
	t.Helper()
	target := svc.hits.Load() + n
	for i := 0; svc.hits.Load() < target; i++ {
		if i > 3000 {
			t.Fatalf("service saw %d probes, want %d", svc.hits.Load(), target)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMonitorStateSequence(t *testing.T) {
	svc, m, changes := startHealthyHTTP(t, 10*time.Second)
	if m.State() != Healthy || m.Last().Outcome != OK {
		t.Fatalf("State() = %v, Last() = %+v", m.State(), m.Last())
	}

	svc.set(500, "broken", 0, false)
	expect(t, changes, Healthy, Unhealthy)
	if last := m.Last(); last.Outcome != Failed || last.Err() == "" {
		t.Fatalf("Last() after failure = %+v", last)
	}

	svc.set(200, "ok", 0, false)
	expect(t, changes, Unhealthy, Healthy)
}

// Every step of a rise or fall run is reported with its progress, and the
// step that completes the run reports the new state with none.
func TestMonitorReportsProgress(t *testing.T) {
	svc := newService(t)
	_, changes := startMonitor(t, Config{
		Interval: 5 * time.Millisecond, Timeout: 10 * time.Second, Rise: 3, Fall: 2,
		HTTP: &HTTPCheck{URL: svc.URL},
	})
	expectReports := func(want ...change) {
		t.Helper()
		for _, w := range want {
			if c := next(t, changes); c != w {
				t.Fatalf("report %v -> %v (%q), want %v -> %v (%q)", c.from, c.to, c.p, w.from, w.to, w.p)
			}
		}
	}
	expectReports(change{Initializing, Healthy, Progress{}})
	svc.set(500, "broken", 0, false)
	expectReports(change{Healthy, Healthy, Progress{"fall", 1, 2}}, change{Healthy, Unhealthy, Progress{}})
	svc.set(200, "ok", 0, false)
	expectReports(change{Unhealthy, Unhealthy, Progress{"rise", 1, 3}}, change{Unhealthy, Unhealthy, Progress{"rise", 2, 3}},
		change{Unhealthy, Healthy, Progress{}})
}

// Requests that never get an answer time out: not responding, not
// unhealthy. The hang is unbounded, so the timeout always wins.
func TestMonitorNotResponding(t *testing.T) {
	svc, _, changes := startHealthyHTTP(t, time.Second)
	svc.set(200, "ok", 0, true)
	expect(t, changes, Healthy, NotResponding)
	svc.set(200, "ok", 0, false)
	expect(t, changes, NotResponding, Healthy)
}

// A service slower than the probe interval but within the timeout stays
// Healthy: no flapping because of a GC pause.
func TestMonitorSlowButSuccessfulStaysHealthy(t *testing.T) {
	svc, _, changes := startHealthyHTTP(t, time.Minute)
	svc.set(200, "ok", 50*time.Millisecond, false)
	waitHits(t, svc, 10)
	svc.set(500, "now really broken", 0, false)
	// The first change after the slow phase must be the real failure.
	expect(t, changes, Healthy, Unhealthy)
}

func TestMonitorAllChecksMustPass(t *testing.T) {
	svc := newService(t)
	_, changes := startMonitor(t, Config{
		Interval: 5 * time.Millisecond, Timeout: 10 * time.Second, Fall: 1,
		HTTP: &HTTPCheck{URL: svc.URL},
		Exec: &ExecCheck{Command: []string{"/bin/sh", "-c", "exit 1"}},
	})
	expect(t, changes, Initializing, Unhealthy)
}

func TestMonitorMissingBinaryIsMonitorFailure(t *testing.T) {
	_, changes := startMonitor(t, Config{
		Interval: 5 * time.Millisecond, Timeout: 10 * time.Second,
		Exec: &ExecCheck{Command: []string{"/nonexistent/zkfc-check"}},
	})
	expect(t, changes, Initializing, MonitorFailed)
}

func TestCheckNowLeavesStateAlone(t *testing.T) {
	svc := newService(t)
	svc.set(503, "no", 0, false)
	m, err := NewMonitor(Config{HTTP: &HTTPCheck{URL: svc.URL}}, zaptest.NewLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := m.CheckNow(context.Background())
	if r.Outcome != Failed || len(r.Checks) != 1 || r.Checks[0].Check != "http" {
		t.Fatalf("CheckNow() = %+v", r)
	}
	if m.State() != Initializing || !m.Last().Time.IsZero() {
		t.Fatalf("CheckNow changed the monitor: state %v, last %+v", m.State(), m.Last())
	}
}

func TestNewMonitorRejectsBadConfig(t *testing.T) {
	if _, err := NewMonitor(Config{}, nil, nil); err == nil {
		t.Fatal("NewMonitor with no checks succeeded")
	}
}
