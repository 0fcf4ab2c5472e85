package control

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/zkfc/budget"
	"github.com/zkfc-project/zkfc/zkfc/controller"
	"github.com/zkfc-project/zkfc/zkfc/elector"
	"github.com/zkfc-project/zkfc/zkfc/history"
	"github.com/zkfc-project/zkfc/zkfc/switchover"
)

// Operator is the operator's records a zkfc (not a witness) serves:
//
//	GET  /history?since=RFC3339       the durable history, oldest first
//	POST /failover?to=NODE&at=RFC3339 schedule a switchover (stored in the quorum)
//	POST /failover/cancel             cancel the scheduled switchover
//
// and, in GET /status, "budget" and "scheduled".
type Operator interface {
	History(since time.Time) ([]history.Entry, error)
	Record(e history.Entry)
	Budget() budget.Budget
	switchover.Store
}

// StatusReply is GET /status: the controller's status, the failover
// budget and the scheduled switchover.
type StatusReply struct {
	controller.Status
	Budget    *budget.Budget         `json:"budget,omitempty"`
	Scheduled *switchover.Switchover `json:"scheduled,omitempty"`
}

// SetOperator adds the history, schedule and budget endpoints.
func (s *Server) SetOperator(op Operator) {
	s.op = op
	s.mux.HandleFunc("GET /history", s.history)
	s.mux.HandleFunc("POST /failover/cancel", s.cancelSwitchover)
}

func (s *Server) record(e history.Entry) {
	if s.op != nil {
		s.op.Record(e)
	}
}

// extend adds the operator's parts to a status reply.
func (s *Server) extend(st controller.Status, connected bool) StatusReply {
	r := StatusReply{Status: st}
	if s.op == nil {
		return r
	}
	b := s.op.Budget()
	r.Budget = &b
	if connected {
		if sw, _, err := switchover.Read(s.op); err == nil {
			r.Scheduled = sw
		}
	}
	return r
}

func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	var since time.Time
	if p := r.URL.Query().Get("since"); p != "" {
		t, err := time.Parse(time.RFC3339, p)
		if err != nil {
			writeErr(w, http.StatusBadRequest, fmt.Errorf("since %q: want RFC 3339, e.g. %s", p, time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)))
			return
		}
		since = t
	}
	entries, err := s.op.History(since)
	if err != nil {
		writeErr(w, http.StatusBadGateway, fmt.Errorf("read the history from zookeeper: %w", err))
		return
	}
	if entries == nil {
		entries = []history.Entry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": entries})
}

// scheduleSwitchover is POST /failover with at=: checked here, against
// the cluster as it is now, then stored; the active runs it at its time.
func (s *Server) scheduleSwitchover(w http.ResponseWriter, r *http.Request, to string) {
	if s.op == nil {
		writeErr(w, http.StatusNotImplemented, errors.New("this zkfc keeps no schedule (a witness): ask a zkfc guarding a service"))
		return
	}
	now := time.Now()
	at, err := switchover.ParseAt(r.URL.Query().Get("at"), now)
	if err != nil {
		writeErr(w, http.StatusBadRequest, fmt.Errorf("at: %w", err))
		return
	}
	st := s.b.Status()
	if st.Paused {
		writeErr(w, http.StatusConflict, errors.New("automatic failover is paused: run 'zkfc resume' first"))
		return
	}
	members, err := s.b.Members()
	if err != nil {
		writeErr(w, http.StatusBadGateway, err)
		return
	}
	var target *elector.Info
	for i := range members {
		if members[i].NodeID == to {
			target = &members[i]
		}
	}
	holder, err := s.b.Holder()
	if err != nil {
		writeErr(w, http.StatusBadGateway, err)
		return
	}
	switch {
	case target == nil:
		writeErr(w, http.StatusNotFound, fmt.Errorf("%s is not a registered node of the cluster (is its zkfc running?)", to))
		return
	case target.NoFailover:
		writeErr(w, http.StatusConflict, fmt.Errorf("%s carries the no-failover tag: it never becomes active", to))
		return
	case holder != nil && holder.NodeID == to:
		writeErr(w, http.StatusConflict, fmt.Errorf("%s is already active", to))
		return
	case holder == nil:
		writeErr(w, http.StatusConflict, errors.New("no node is active now: a switchover needs an active to run it"))
		return
	case !target.Candidate:
		writeErr(w, http.StatusConflict, fmt.Errorf("%s is not in the election (unhealthy, ceded or backing off): not eligible", to))
		return
	}
	if target.ControlURL != "" {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		tst, err := s.client.Status(ctx, target.ControlURL)
		cancel()
		switch {
		case err != nil:
			writeErr(w, http.StatusBadGateway, fmt.Errorf("%s's zkfc does not answer: %w", to, err))
			return
		case !tst.Healthy:
			writeErr(w, http.StatusConflict, fmt.Errorf("%s is not healthy (%s)", to, tst.Health))
			return
		}
	}
	sw := switchover.Switchover{To: to, At: at.UTC(), From: holder.NodeID, RequestedAt: now.UTC()}
	if err := switchover.Create(s.op, sw); err != nil {
		code := http.StatusBadGateway
		if errors.Is(err, elector.ErrScheduleExists) {
			code = http.StatusConflict
			err = fmt.Errorf("%w: cancel it first ('zkfc failover --cancel')", err)
		}
		writeErr(w, code, err)
		return
	}
	s.lg.Info("switchover scheduled", zap.String("to", to), zap.Time("at", at))
	s.record(history.Entry{Kind: history.SwitchoverScheduled,
		Reason: fmt.Sprintf("switchover from %s to %s scheduled for %s", holder.NodeID, to, sw.At.Format(time.RFC3339))})
	writeJSON(w, http.StatusOK, map[string]any{"scheduled": sw})
}

func (s *Server) cancelSwitchover(w http.ResponseWriter, _ *http.Request) {
	sw, v, err := switchover.Read(s.op)
	if err != nil {
		writeErr(w, http.StatusBadGateway, err)
		return
	}
	if sw == nil {
		writeErr(w, http.StatusNotFound, errors.New("no switchover is scheduled"))
		return
	}
	ok, err := s.op.DeleteSchedule(v)
	if err != nil {
		writeErr(w, http.StatusBadGateway, err)
		return
	}
	if !ok {
		writeErr(w, http.StatusConflict, errors.New("the scheduled switchover changed or ran meanwhile: look again with 'zkfc status'"))
		return
	}
	s.lg.Info("scheduled switchover cancelled", zap.String("to", sw.To), zap.Time("at", sw.At))
	s.record(history.Entry{Kind: history.SwitchoverCancelled,
		Reason: fmt.Sprintf("switchover to %s due at %s cancelled on request", sw.To, sw.At.Format(time.RFC3339))})
	writeJSON(w, http.StatusOK, map[string]any{"cancelled": sw})
}

// History fetches /history (since zero: all).
func (c *Client) History(ctx context.Context, base string, since time.Time) ([]history.Entry, error) {
	var q url.Values
	if !since.IsZero() {
		q = url.Values{"since": {since.UTC().Format(time.RFC3339)}}
	}
	var out struct {
		Entries []history.Entry `json:"entries"`
	}
	err := c.do(ctx, http.MethodGet, base, "/history", q, &out)
	return out.Entries, err
}

// FullStatus fetches /status with the budget and the scheduled switchover.
func (c *Client) FullStatus(ctx context.Context, base string) (StatusReply, error) {
	var st StatusReply
	err := c.do(ctx, http.MethodGet, base, "/status", nil, &st)
	return st, err
}

// ScheduleSwitchover asks base to schedule a switchover to `to` at at.
func (c *Client) ScheduleSwitchover(ctx context.Context, base, to string, at time.Time) (switchover.Switchover, error) {
	var out struct {
		Scheduled switchover.Switchover `json:"scheduled"`
	}
	err := c.do(ctx, http.MethodPost, base, "/failover", url.Values{"to": {to}, "at": {at.UTC().Format(time.RFC3339)}}, &out)
	return out.Scheduled, err
}

// CancelSwitchover asks base to cancel the scheduled switchover.
func (c *Client) CancelSwitchover(ctx context.Context, base string) (switchover.Switchover, error) {
	var out struct {
		Cancelled switchover.Switchover `json:"cancelled"`
	}
	err := c.do(ctx, http.MethodPost, base, "/failover/cancel", nil, &out)
	return out.Cancelled, err
}
