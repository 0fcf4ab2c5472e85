package healthcheck

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// CheckResult is the outcome of one check within a probe.
type CheckResult struct {
	Check    string        `json:"check"` // "http", "tcp" or "exec"
	Outcome  Outcome       `json:"outcome"`
	Duration time.Duration `json:"duration"`
	Err      string        `json:"error,omitempty"`
}

// Result is one probe: every configured check, run in parallel.
type Result struct {
	Time     time.Time     `json:"time"` // start of the probe
	Duration time.Duration `json:"duration"`
	Outcome  Outcome       `json:"outcome"`
	Checks   []CheckResult `json:"checks"`
}

// Err joins the error texts of the checks that did not pass; "" if all did.
func (r Result) Err() string {
	var parts []string
	for _, c := range r.Checks {
		if c.Err != "" {
			parts = append(parts, c.Check+": "+c.Err)
		}
	}
	return strings.Join(parts, "; ")
}

// combine decides a probe's outcome from its checks. A wrong answer is the
// strongest evidence about the service, then silence; a check the monitor
// could not run only matters when nothing else failed.
func combine(checks []CheckResult) Outcome {
	rank := map[Outcome]int{OK: 0, CheckError: 1, TimedOut: 2, Failed: 3}
	o := OK
	for _, c := range checks {
		if rank[c.Outcome] > rank[o] {
			o = c.Outcome
		}
	}
	return o
}

// Monitor probes the service on a fixed interval and keeps its State.
type Monitor struct {
	cfg      Config
	lg       *zap.Logger
	onChange func(old, cur State, p Progress)
	checks   []checker
	running  atomic.Bool

	mu    sync.Mutex
	state State
	last  Result
}

// NewMonitor validates cfg and builds a monitor in state Initializing.
// onChange, if not nil, is called from Run's goroutine on every change of
// the state or of its rise/fall progress, so a caller can say how far a
// recovering service has got.
func NewMonitor(cfg Config, lg *zap.Logger, onChange func(old, cur State, p Progress)) (*Monitor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if lg == nil {
		lg = zap.NewNop()
	}
	cfg = cfg.withDefaults()
	m := &Monitor{cfg: cfg, lg: lg, onChange: onChange, state: Initializing}
	if cfg.HTTP != nil {
		c, err := newHTTPChecker(*cfg.HTTP)
		if err != nil {
			return nil, err
		}
		m.checks = append(m.checks, c)
	}
	if cfg.TCP != nil {
		m.checks = append(m.checks, &tcpChecker{addr: cfg.TCP.Address})
	}
	if cfg.Exec != nil {
		e := *cfg.Exec
		e.Command = append([]string(nil), e.Command...)
		e.Env = append([]string(nil), e.Env...)
		m.checks = append(m.checks, &execChecker{cfg: e})
	}
	return m, nil
}

// Run probes every Interval until ctx is done. Probes never overlap. Only
// one Run may be active per monitor; a second call returns at once.
func (m *Monitor) Run(ctx context.Context) {
	if !m.running.CompareAndSwap(false, true) {
		m.lg.Error("health monitor: Run called twice; ignoring the second call")
		return
	}
	defer m.running.Store(false)

	tr := newTracker(m.cfg.Rise, m.cfg.Fall)
	timer := time.NewTimer(0)
	defer timer.Stop()
	var lastErr string
	var lastProgress Progress
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		res := m.CheckNow(ctx)
		if ctx.Err() != nil {
			// A probe cut short by shutdown says nothing about the service.
			return
		}
		old, cur := tr.observe(res.Outcome)
		m.mu.Lock()
		m.last, m.state = res, cur
		m.mu.Unlock()
		if res.Outcome != OK {
			// Warn when the failure is new or different; repeating the
			// same one every second would bury everything else.
			lvl := zap.DebugLevel
			if res.Err() != lastErr {
				lvl = zap.WarnLevel
			}
			m.lg.Log(lvl, "health probe did not pass",
				zap.Stringer("outcome", res.Outcome), zap.String("error", res.Err()),
				zap.Duration("took", res.Duration), zap.Stringer("state", cur))
		}
		lastErr = res.Err()
		p := tr.progress()
		if old != cur {
			m.lg.Info("health state changed", zap.Stringer("from", old), zap.Stringer("to", cur),
				zap.String("last_error", res.Err()))
		}
		if (old != cur || p != lastProgress) && m.onChange != nil {
			m.onChange(old, cur, p)
		}
		lastProgress = p
		timer.Reset(max(0, m.cfg.Interval-time.Since(res.Time)))
	}
}

// State returns the current health state.
func (m *Monitor) State() State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state
}

// Last returns the latest probe Run recorded (zero before the first).
func (m *Monitor) Last() Result {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}

// CheckNow runs one probe of every check and returns it without touching
// the monitor's state. Each check gets the configured Timeout.
func (m *Monitor) CheckNow(ctx context.Context) Result {
	start := time.Now()
	res := Result{Time: start, Checks: make([]CheckResult, len(m.checks))}
	var wg sync.WaitGroup
	for i, c := range m.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res.Checks[i] = runCheck(ctx, c, m.cfg.Timeout)
		}()
	}
	wg.Wait()
	res.Duration = time.Since(start)
	res.Outcome = combine(res.Checks)
	return res
}

func runCheck(ctx context.Context, c checker, timeout time.Duration) CheckResult {
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	o, err := c.probe(pctx)
	r := CheckResult{Check: c.name(), Outcome: o, Duration: time.Since(start)}
	if err != nil {
		r.Err = err.Error()
		if o == TimedOut {
			r.Err = fmt.Sprintf("no answer within %s: %s", timeout, r.Err)
		}
	} else if o != OK {
		r.Err = o.String()
	}
	return r
}
