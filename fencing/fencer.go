// Package fencing makes sure a former active node can no longer serve
// before another node is promoted, trying the methods in the order the
// operator lists them: typically asking it to step down (graceful), then
// killing its service over SSH, then a local command such as a power-off
// (shell).
//
// A method reports success only on positive confirmation that the target is
// fenced. This package must never turn doubt into success: an unreachable
// host, a missing tool, an unknown host key or a timeout is a failure, and
// when every method fails the Fencer fails. Every method runs under its own
// deadline, and nothing it starts outlives that deadline.
package fencing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Target is the node to fence.
type Target struct {
	NodeID     string `json:"node_id"`
	Host       string `json:"host"`
	Port       int    `json:"port"`        // the guarded service's port
	ControlURL string `json:"control_url"` // the old active's zkfc control API base URL
	Token      uint64 `json:"token"`       // the token the target was active under (its breadcrumb's)
	// Session is the ZooKeeper session the target was active under, from
	// its breadcrumb (0: unknown); lease_expired checks it ended.
	Session int64 `json:"session,omitempty"`
}

// Address is host:port of the target's service.
func (t Target) Address() string {
	return joinHostPort(t.Host, t.Port)
}

// Method is one way to fence.
type Method interface {
	// Name is "lease_expired", "graceful", "ssh" or "shell".
	Name() string
	// Fence returns nil only when the target is confirmed fenced.
	Fence(ctx context.Context, t Target) error
	// Check tests that the method could run against t (reachability,
	// credentials, tools) without fencing anything.
	Check(ctx context.Context, t Target) error
}

// GracefulClient asks the old active's zkfc to step down. The daemon's
// control-API client implements it; nil error means it confirmed.
type GracefulClient interface {
	Demote(ctx context.Context, controlURL string, token uint64) error
}

// GracefulPinger may be implemented by a GracefulClient so that Check can
// test the control API without demoting anyone.
type GracefulPinger interface {
	Ping(ctx context.Context, controlURL string) error
}

// ErrNotFenced is wrapped by Fencer.Fence's error when no method succeeded.
var ErrNotFenced = errors.New("target not fenced")

// ErrSuperseded: the target answered that it is active under a newer
// fencing token than the one it was asked to give up. All the fencer
// learns is that its own view (the breadcrumb it read) is out of date: the
// target is not the old active it meant, but it is active, so this is no
// fence. Fence stops at once: a harsher method would take down the newer
// active, and promoting would make two. The caller is to give up its
// promotion and read the breadcrumb again.
var ErrSuperseded = errors.New("the target is active under a newer fencing token")

// Attempt is one method's try in a Report.
type Attempt struct {
	Index    int           `json:"index"` // position in fencing.methods
	Method   string        `json:"method"`
	Duration time.Duration `json:"duration"`
	Err      error         `json:"-"`
	Error    string        `json:"error,omitempty"` // Err's text, for JSON
}

// Report lists what the Fencer tried, in order.
type Report struct {
	Target   Target    `json:"target"`
	Attempts []Attempt `json:"attempts"`
	// FencedBy names the method that confirmed the fence; "" if none did
	// (always "" for Check).
	FencedBy string `json:"fenced_by,omitempty"`
}

// String renders the report for logs and the CLI.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fencing %s (%s):", r.Target.NodeID, r.Target.Address())
	for _, a := range r.Attempts {
		res := "ok"
		if a.Err != nil {
			res = a.Err.Error()
		}
		fmt.Fprintf(&b, " [%d] %s %s: %s;", a.Index, a.Method, a.Duration.Round(time.Millisecond), res)
	}
	if r.FencedBy != "" {
		fmt.Fprintf(&b, " fenced by %s", r.FencedBy)
	}
	return b.String()
}

type step struct {
	method  Method
	timeout time.Duration
}

// Fencer tries its methods in configured order.
type Fencer struct {
	steps []step
	lg    *zap.Logger
}

// Option adds a dependency some methods need.
type Option func(*deps)

type deps struct {
	sessions SessionOracle
}

// WithSessions gives lease_expired the quorum to ask.
func WithSessions(o SessionOracle) Option { return func(d *deps) { d.sessions = o } }

// New builds a Fencer from the fencing.methods configuration. graceful may
// be nil when no "graceful" method is configured. Errors name the config
// key, e.g. "fencing.methods[1].ssh.key_file: ...".
func New(methods []MethodConfig, graceful GracefulClient, lg *zap.Logger, opts ...Option) (*Fencer, error) {
	var d deps
	for _, o := range opts {
		o(&d)
	}
	if lg == nil {
		lg = zap.NewNop()
	}
	var errs []error
	Validate("fencing.methods", methods, func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	f := &Fencer{lg: lg}
	for i, mc := range methods {
		m, timeout, err := build(i, mc, graceful, d, lg)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		f.steps = append(f.steps, step{method: m, timeout: timeout})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return f, nil
}

// Fence tries the methods in order, each under its own timeout, until one
// confirms. It returns an error wrapping ErrNotFenced if none did; the
// Report lists every attempt either way.
func (f *Fencer) Fence(ctx context.Context, t Target) (Report, error) {
	rep := Report{Target: t}
	lg := f.lg.With(zap.String("target", t.NodeID), zap.String("address", t.Address()),
		zap.Uint64("token", t.Token))
	for i, s := range f.steps {
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("fence %s: stopped before method %d (%s): %w: %w",
				t.NodeID, i, s.method.Name(), ErrNotFenced, err)
		}
		lg.Info("fencing attempt", zap.Int("index", i), zap.String("method", s.method.Name()),
			zap.Duration("timeout", s.timeout))
		a := run(ctx, i, s, t, s.method.Fence)
		rep.Attempts = append(rep.Attempts, a)
		if a.Err == nil {
			rep.FencedBy = s.method.Name()
			lg.Info("target fenced", zap.Int("index", i), zap.String("method", s.method.Name()),
				zap.Duration("took", a.Duration))
			return rep, nil
		}
		lg.Warn("fencing method failed", zap.Int("index", i), zap.String("method", s.method.Name()),
			zap.Duration("took", a.Duration), zap.Error(a.Err))
		if errors.Is(a.Err, ErrSuperseded) {
			return rep, fmt.Errorf("fence %s: stopped after method %d (%s), no harsher method tried: %w: %w",
				t.NodeID, i, s.method.Name(), ErrNotFenced, a.Err)
		}
	}
	return rep, fmt.Errorf("fence %s: all %d methods failed: %w (%s)",
		t.NodeID, len(f.steps), ErrNotFenced, rep.String())
}

// Budget is the longest a Fence call can take: the sum of the methods'
// timeouts. Callers size their own deadlines from it.
func (f *Fencer) Budget() time.Duration {
	var d time.Duration
	for _, s := range f.steps {
		d += s.timeout
	}
	return d
}

// MethodTimeout is one configured method and its timeout.
type MethodTimeout struct {
	Method  string
	Timeout time.Duration
}

// Timeouts lists the methods in order with their timeouts (defaults
// applied): the terms of Budget.
func (f *Fencer) Timeouts() []MethodTimeout {
	out := make([]MethodTimeout, 0, len(f.steps))
	for _, s := range f.steps {
		out = append(out, MethodTimeout{Method: s.method.Name(), Timeout: s.timeout})
	}
	return out
}

// Check runs every method's Check (none fences) and reports each.
func (f *Fencer) Check(ctx context.Context, t Target) Report {
	rep := Report{Target: t}
	for i, s := range f.steps {
		rep.Attempts = append(rep.Attempts, run(ctx, i, s, t, s.method.Check))
	}
	return rep
}

func run(ctx context.Context, i int, s step, t Target, fn func(context.Context, Target) error) Attempt {
	mctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	start := time.Now()
	err := fn(mctx, t)
	if err != nil && mctx.Err() != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		// Say plainly that the method ran out of time, whatever error the
		// interrupted operation produced.
		err = fmt.Errorf("%w after %s: %w", context.Cause(mctx), s.timeout, err)
	}
	a := Attempt{Index: i, Method: s.method.Name(), Duration: time.Since(start), Err: err}
	if err != nil {
		a.Error = err.Error()
	}
	return a
}
