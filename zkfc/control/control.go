// Package control is zkfc's HTTP control API: the server each daemon runs on
// its admin address, and the client the CLI and graceful fencing use.
//
// Endpoints (JSON unless noted):
//
//	GET  /status               role, health, token, lock holder, transitions
//	GET  /health               200 if the guarded service is healthy, else 503
//	GET  /role                 text: active | standby | initializing
//	GET  /members              registered candidates
//	POST /failover?to=NODE     graceful failover to NODE (forwarded to NODE's zkfc);
//	                           with &at=RFC3339 scheduled instead (operator.go)
//	POST /cede?period=10s      leave the election for a period (demotes if active)
//	POST /demote?token=N       graceful fencing: demote the local service now;
//	                           N is the token of the active to demote (400
//	                           if missing or malformed): an active under
//	                           another token answers 409 with both tokens
//	POST /pause, /resume       cluster-wide pause of automatic failover; the
//	                           reply names the pause generation each node's
//	                           /status reports once its loop applied it
//	POST /drill/fail-health?duration=30s
//	                           treat the service as unhealthy for a while
//	                           (fencing drills; duration=0 ends it early)
//	POST /failsafe?from=NODE   failsafe mode: is this node active, does it
//	                           reach the quorum; a "neither" answer carries a
//	                           promise not to promote (failsafe.go)
//	GET  /metrics              Prometheus
//	GET  /history?since=T      the durable history (operator.go; not on a witness)
//	POST /failover/cancel      cancel the scheduled switchover (operator.go)
//
// For load balancers, GET or HEAD, text, without credentials (lb.go):
//
//	/active (alias /isActive)  200 while the service is active and this
//	                           node holds the lock, else 503
//	/standby                   200 while the service is healthy and standby
//	/healthz                   200 while the service is healthy
//
// The web console (console.go): the page at / and /console/*, without
// credentials since they hold no data; its data under /console/api/.
//
// Every other request passes guard (security.go) first: size limits, the
// refusal of cross-site requests that change state, then a bearer token
// or a verified client certificate when either is configured.
//
// It must never change the role itself: every state change goes through
// the controller's loop; and it must never let a request reach the
// backend before guard has accepted it.
package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/fencing"
	"github.com/zkfc-project/zkfc/zkfc/controller"
	"github.com/zkfc-project/zkfc/zkfc/elector"
	"github.com/zkfc-project/zkfc/zkfc/history"
)

// Backend is what the server exposes; *controller.Controller implements it.
type Backend interface {
	Status() controller.Status
	Self() elector.Info
	Cede(ctx context.Context, d time.Duration) error
	GracefulDemote(ctx context.Context, token uint64) error
	PrepareFailover(ctx context.Context) error
	SetPaused(on bool) (elector.PauseState, error)
	ClusterToken() (uint64, error)
	Members() ([]elector.Info, error)
	Holder() (*elector.Info, error)
	FailHealth(ctx context.Context, d time.Duration) error
}

// Server serves the control API.
type Server struct {
	b          Backend
	client     *Client
	lg         *zap.Logger
	cedePeriod time.Duration
	mux        *http.ServeMux
	sec        Security
	con        *console
	op         Operator // nil on a witness (operator.go)
}

// NewServer builds the handler; gatherer may be nil (no /metrics).
func NewServer(b Backend, cedePeriod time.Duration, gatherer prometheus.Gatherer, lg *zap.Logger) *Server {
	s := &Server{b: b, client: NewClient(), lg: lg, cedePeriod: cedePeriod, mux: http.NewServeMux(), con: newConsole()}
	s.mux.HandleFunc("GET /status", s.status)
	s.mux.HandleFunc("GET /health", s.health)
	s.mux.HandleFunc("GET /role", s.role)
	s.mux.HandleFunc("GET /members", s.members)
	s.mux.HandleFunc("POST /failover", s.failover)
	s.mux.HandleFunc("POST /cede", s.cede)
	s.mux.HandleFunc("POST /demote", s.demote)
	s.mux.HandleFunc("POST /pause", func(w http.ResponseWriter, r *http.Request) { s.pause(w, true) })
	s.mux.HandleFunc("POST /resume", func(w http.ResponseWriter, r *http.Request) { s.pause(w, false) })
	s.mux.HandleFunc("POST /drill/fail-health", s.failHealth)
	s.mux.HandleFunc("POST /failsafe", s.failsafe)
	s.operatorRoutes()
	if gatherer != nil {
		s.mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	}
	return s
}

// ServeHTTP authenticates and bounds the request (security.go), then
// routes it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.guard(w, r) }

type errorBody struct {
	Error string `json:"error"`
	// RequestedToken and CurrentToken: a refused graceful fence (409).
	RequestedToken *uint64 `json:"requested_token,omitempty"`
	CurrentToken   *uint64 `json:"current_token,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, errorBody{Error: err.Error()})
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	st := s.b.Status()
	if st.Connected {
		// The controller only learns the holder when it competes; a
		// ceded or unhealthy node asks ZooKeeper, briefly. The cluster's
		// token is read the same way.
		type res struct {
			h      *elector.Info
			herr   error
			tok    uint64
			tokErr error
		}
		ch := make(chan res, 1)
		go func() {
			var r res
			r.h, r.herr = s.b.Holder()
			r.tok, r.tokErr = s.b.ClusterToken()
			ch <- r
		}()
		select {
		case r := <-ch:
			if r.herr == nil {
				st.Active = r.h
			}
			if r.tokErr == nil {
				st.ClusterToken = r.tok
			}
		case <-time.After(500 * time.Millisecond):
		}
	}
	writeJSON(w, http.StatusOK, s.extend(st, st.Connected))
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	st := s.b.Status()
	code := http.StatusOK
	if !st.Healthy {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]any{"health": st.Health, "healthy": st.Healthy})
}

func (s *Server) role(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintln(w, s.b.Status().Role)
}

func (s *Server) members(w http.ResponseWriter, _ *http.Request) {
	m, err := s.b.Members()
	if err != nil {
		writeErr(w, http.StatusBadGateway, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

func (s *Server) pause(w http.ResponseWriter, on bool) {
	st, err := s.b.SetPaused(on)
	if err != nil {
		writeErr(w, http.StatusBadGateway, err)
		return
	}
	s.lg.Info("automatic failover pause set through the control API", zap.Bool("paused", on), zap.Int64("generation", st.Generation))
	s.record(history.Entry{Kind: map[bool]string{true: history.Pause, false: history.Resume}[on],
		Reason: fmt.Sprintf("automatic failover %s through the control API", map[bool]string{true: "paused", false: "resumed"}[on])})
	writeJSON(w, http.StatusOK, st)
}

// failHealth is the trigger of 'zkfc drill --mode fail-health': the
// service keeps running, only zkfc's view of its health fails, so the
// whole unhealthy-active path (quit, fence, promote) runs for real.
func (s *Server) failHealth(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Query().Get("duration")
	d, err := time.ParseDuration(p)
	if err != nil || d < 0 {
		writeErr(w, http.StatusBadRequest, fmt.Errorf("duration %q: want a duration like 30s (0 ends a running drill)", p))
		return
	}
	if err := s.b.FailHealth(r.Context(), d); err != nil {
		writeErr(w, http.StatusInternalServerError, err)
		return
	}
	s.lg.Warn("drill: health check failed on request through the control API", zap.Duration("duration", d))
	writeJSON(w, http.StatusOK, s.b.Status())
}

func (s *Server) cede(w http.ResponseWriter, r *http.Request) {
	d := s.cedePeriod
	if p := r.URL.Query().Get("period"); p != "" {
		v, err := time.ParseDuration(p)
		if err != nil || v <= 0 {
			writeErr(w, http.StatusBadRequest, fmt.Errorf("period %q: want a positive duration like 10s", p))
			return
		}
		d = v
	}
	if err := s.b.Cede(r.Context(), d); err != nil {
		writeErr(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, s.b.Status())
}

func (s *Server) demote(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Query().Get("token")
	tok, err := strconv.ParseUint(p, 10, 64)
	if err != nil {
		writeErr(w, http.StatusBadRequest, fmt.Errorf("token %q: want the fencing token of the active to demote, a decimal number", p))
		return
	}
	if err := s.b.GracefulDemote(r.Context(), tok); err != nil {
		var mm *controller.TokenMismatchError
		if errors.As(err, &mm) {
			writeJSON(w, http.StatusConflict, errorBody{Error: err.Error(), RequestedToken: &mm.Requested, CurrentToken: &mm.Current})
			return
		}
		writeErr(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, s.b.Status())
}

// failover makes NODE active: a request for another node is forwarded to
// that node's zkfc; on the target, every other candidate (the active
// first) is asked to cede, then the target waits to win.
func (s *Server) failover(w http.ResponseWriter, r *http.Request) {
	to := r.URL.Query().Get("to")
	if to == "" {
		writeErr(w, http.StatusBadRequest, errors.New("missing ?to=NODE"))
		return
	}
	if r.URL.Query().Has("at") {
		s.scheduleSwitchover(w, r, to)
		return
	}
	timeout := 30 * time.Second
	if t := r.URL.Query().Get("timeout"); t != "" {
		v, err := time.ParseDuration(t)
		if err != nil || v <= 0 || v > MaxFailoverTimeout {
			writeErr(w, http.StatusBadRequest, fmt.Errorf("timeout %q: want a positive duration up to %s", t, MaxFailoverTimeout))
			return
		}
		timeout = v
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	self := s.b.Self()
	members, err := s.b.Members()
	if err != nil {
		writeErr(w, http.StatusBadGateway, err)
		return
	}
	if to != self.NodeID {
		for _, m := range members {
			if m.NodeID == to {
				st, err := s.client.Failover(ctx, m.ControlURL, to, timeout)
				if err != nil {
					writeErr(w, http.StatusBadGateway, fmt.Errorf("via %s: %w", m.ControlURL, err))
					return
				}
				writeJSON(w, http.StatusOK, st)
				return
			}
		}
		writeErr(w, http.StatusNotFound, fmt.Errorf("%s is not a registered candidate (is its zkfc running, healthy and without no_failover?)", to))
		return
	}
	if st := s.b.Status(); st.Role == controller.Active.String() {
		writeJSON(w, http.StatusOK, st)
		return
	}
	if err := s.b.PrepareFailover(ctx); err != nil {
		writeErr(w, http.StatusConflict, fmt.Errorf("%s cannot become active: %w", to, err))
		return
	}
	s.record(history.Entry{Kind: history.FailoverRequest, Reason: "graceful failover to " + to + " requested through the control API"})
	// The current active first: it is the one that must step down.
	var targets []elector.Info
	if a := s.b.Status().Active; a != nil && a.NodeID != self.NodeID {
		targets = append(targets, *a)
	}
	for _, m := range members {
		if m.NodeID != self.NodeID && (len(targets) == 0 || m.NodeID != targets[0].NodeID) {
			targets = append(targets, m)
		}
	}
	for i, m := range targets {
		if m.ControlURL == "" {
			continue
		}
		if err := s.client.Cede(ctx, m.ControlURL, s.cedePeriod); err != nil {
			if i == 0 {
				writeErr(w, http.StatusBadGateway, fmt.Errorf("active %s refused to cede: %w", m.NodeID, err))
				return
			}
			s.lg.Warn("candidate did not cede", zap.String("candidate", m.NodeID), zap.Error(err))
		}
	}
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	for {
		st := s.b.Status()
		if st.Role == controller.Active.String() {
			writeJSON(w, http.StatusOK, st)
			return
		}
		select {
		case <-ctx.Done():
			writeErr(w, http.StatusGatewayTimeout, fmt.Errorf("%s did not become active within %s (last error: %s)", to, timeout, st.LastError))
			return
		case <-poll.C:
		}
	}
}

// Client talks to a zkfc's control API. It implements
// fencing.GracefulClient through Demote.
type Client struct {
	HTTP *http.Client
	// Token, if set, is sent as a bearer token (control.token_file).
	Token []byte
}

// NewClient returns a Client; every call also needs a context deadline.
func NewClient() *Client { return &Client{HTTP: &http.Client{Timeout: 2 * time.Minute}} }

// HTTPError is a reply other than 2xx.
type HTTPError struct {
	Method, URL string
	Code        int    // HTTP status code
	Status      string // e.g. "401 Unauthorized"
	Message     string // the server's error text, if any
	body        errorBody
}

func (e *HTTPError) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("%s %s: %s: %s", e.Method, e.URL, e.Status, e.Message)
	}
	return fmt.Sprintf("%s %s: %s", e.Method, e.URL, e.Status)
}

func (c *Client) do(ctx context.Context, method, base, path string, q url.Values, out any) error {
	u := strings.TrimRight(base, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, u, err)
	}
	if len(c.Token) > 0 {
		req.Header.Set("Authorization", "Bearer "+string(c.Token))
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read reply: %w", method, u, err)
	}
	if resp.StatusCode/100 != 2 {
		he := &HTTPError{Method: method, URL: u, Code: resp.StatusCode, Status: resp.Status}
		if json.Unmarshal(body, &he.body) == nil {
			he.Message = he.body.Error
		}
		return he
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("%s %s: decode reply: %w", method, u, err)
		}
	}
	return nil
}

// Status fetches /status.
func (c *Client) Status(ctx context.Context, base string) (controller.Status, error) {
	var st controller.Status
	err := c.do(ctx, http.MethodGet, base, "/status", nil, &st)
	return st, err
}

// Failover asks base to make node `to` active and waits up to timeout.
func (c *Client) Failover(ctx context.Context, base, to string, timeout time.Duration) (controller.Status, error) {
	var st controller.Status
	err := c.do(ctx, http.MethodPost, base, "/failover", url.Values{"to": {to}, "timeout": {timeout.String()}}, &st)
	return st, err
}

// Cede asks base to leave the election for d.
func (c *Client) Cede(ctx context.Context, base string, d time.Duration) error {
	return c.do(ctx, http.MethodPost, base, "/cede", url.Values{"period": {d.String()}}, nil)
}

// Demote is graceful fencing: ask the zkfc at controlURL to demote its
// service, naming the token it was active under; an error means it may
// still be active. A refusal because the target is active under a newer
// token wraps fencing.ErrSuperseded.
func (c *Client) Demote(ctx context.Context, controlURL string, token uint64) error {
	if controlURL == "" {
		return errors.New("graceful fencing: target has no control URL")
	}
	err := c.do(ctx, http.MethodPost, controlURL, "/demote", url.Values{"token": {strconv.FormatUint(token, 10)}}, nil)
	var he *HTTPError
	if errors.As(err, &he) && he.Code == http.StatusConflict && he.body.CurrentToken != nil && *he.body.CurrentToken > token {
		return fmt.Errorf("%w: %w", fencing.ErrSuperseded, err)
	}
	return err
}

// Ping checks that the zkfc at controlURL answers, without demoting
// anything (fencing.GracefulPinger, used by fence-test).
func (c *Client) Ping(ctx context.Context, controlURL string) error {
	_, err := c.Status(ctx, controlURL)
	return err
}

// SetPaused pauses or resumes automatic failover cluster-wide and returns
// the state written (for a pause, its generation).
func (c *Client) SetPaused(ctx context.Context, base string, on bool) (elector.PauseState, error) {
	p := "/resume"
	if on {
		p = "/pause"
	}
	var st elector.PauseState
	err := c.do(ctx, http.MethodPost, base, p, nil, &st)
	return st, err
}

// FailHealth asks the zkfc at base to treat its service as unhealthy for
// d (0 ends an override early).
func (c *Client) FailHealth(ctx context.Context, base string, d time.Duration) error {
	return c.do(ctx, http.MethodPost, base, "/drill/fail-health", url.Values{"duration": {d.String()}}, nil)
}

// Members lists the registered candidates.
func (c *Client) Members(ctx context.Context, base string) ([]elector.Info, error) {
	var m []elector.Info
	err := c.do(ctx, http.MethodGet, base, "/members", nil, &m)
	return m, err
}
