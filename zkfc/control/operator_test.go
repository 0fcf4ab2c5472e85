package control

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/zkfc/budget"
	"github.com/zkfc-project/zkfc/zkfc/elector"
	"github.com/zkfc-project/zkfc/zkfc/history"
)

// fakeOperator keeps the schedule and the history in memory and counts
// every change, so a test can tell that a refused request changed nothing.
type fakeOperator struct {
	sched    []byte
	recorded []history.Entry
	changes  int
}

func (o *fakeOperator) History(time.Time) ([]history.Entry, error) { return o.recorded, nil }
func (o *fakeOperator) Record(e history.Entry)                     { o.recorded = append(o.recorded, e); o.changes++ }
func (o *fakeOperator) Budget() budget.Budget {
	return budget.Compute(budget.Inputs{HealthInterval: time.Second, Fall: 2})
}
func (o *fakeOperator) Schedule() ([]byte, int32, error) {
	if o.sched == nil {
		return nil, -1, nil
	}
	return o.sched, 0, nil
}
func (o *fakeOperator) CreateSchedule(d []byte) error {
	if o.sched != nil {
		return elector.ErrScheduleExists
	}
	o.sched = d
	o.changes++
	return nil
}
func (o *fakeOperator) DeleteSchedule(int32) (bool, error) {
	if o.sched == nil {
		return false, nil
	}
	o.sched = nil
	o.changes++
	return true, nil
}

// holderBackend is a connected active nn1 with nn2 a healthy candidate.
type holderBackend struct{ *recordingBackend }

func (h holderBackend) Holder() (*elector.Info, error) { return &elector.Info{NodeID: "nn1"}, nil }

// The operator endpoints refuse a request without the token, with an
// oversized body, or with bad input, and change nothing; GET /status
// carries the budget and the scheduled switchover.
func TestOperatorEndpointsRefuseBadInput(t *testing.T) {
	b := newRecording()
	b.st.Connected = true
	b.members = []elector.Info{{NodeID: "nn1", Candidate: true}, {NodeID: "nn2", Candidate: true}, {NodeID: "nn3", NoFailover: true}}
	op := &fakeOperator{}
	s := NewServer(holderBackend{b}, 10*time.Second, nil, zap.NewNop())
	s.Secure(Security{Token: []byte(testToken)})
	s.SetOperator(op)
	srv := httptest.NewServer(s)
	defer srv.Close()
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)

	for _, c := range []struct {
		name, method, path string
		noToken            bool
		body               []byte
		code               int
		says               string
	}{
		{"history without token", "GET", "/history", true, nil, 401, ""},
		{"schedule without token", "POST", "/failover?to=nn2&at=" + future, true, nil, 401, ""},
		{"cancel without token", "POST", "/failover/cancel", true, nil, 401, ""},
		{"schedule with an oversized body", "POST", "/failover?to=nn2&at=" + future, false, make([]byte, MaxBodyBytes+1), 413, "request body over"},
		{"cancel with an oversized body", "POST", "/failover/cancel", false, make([]byte, MaxBodyBytes+1), 413, "request body over"},
		{"malformed since", "GET", "/history?since=yesterday", false, nil, 400, "want RFC 3339"},
		{"malformed time", "POST", "/failover?to=nn2&at=noon", false, nil, 400, "want RFC 3339"},
		{"time in the past", "POST", "/failover?to=nn2&at=2001-01-01T00:00:00Z", false, nil, 400, "in the past"},
		{"unknown node", "POST", "/failover?to=nn9&at=" + future, false, nil, 404, "not a registered node"},
		{"no-failover node", "POST", "/failover?to=nn3&at=" + future, false, nil, 409, "no-failover"},
		{"already active", "POST", "/failover?to=nn1&at=" + future, false, nil, 409, "already active"},
		{"nothing to cancel", "POST", "/failover/cancel", false, nil, 404, "no switchover is scheduled"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, srv.URL+c.path, bytes.NewReader(c.body))
			if !c.noToken {
				req.Header.Set("Authorization", "Bearer "+testToken)
			}
			code, _, raw := do(t, req)
			var body errorBody
			_ = json.Unmarshal([]byte(raw), &body)
			if code != c.code || !strings.Contains(body.Error, c.says) {
				t.Fatalf("%d %q, want %d saying %q", code, body.Error, c.code, c.says)
			}
			if op.changes != 0 || b.changes.Load() != 0 {
				t.Fatalf("a refused request changed something: operator %d, backend %d", op.changes, b.changes.Load())
			}
		})
	}

	// Paused: refused too.
	b.st.Paused = true
	if code, _, _ := send(t, http.MethodPost, srv.URL+"/failover?to=nn2&at="+future, testToken, nil); code != 409 || op.changes != 0 {
		t.Fatalf("while paused: %d, changes %d", code, op.changes)
	}
	b.st.Paused = false

	// Accepted: stored, recorded, and shown in /status.
	c := NewClient()
	c.Token = []byte(testToken)
	ctx := t.Context()
	at, _ := time.Parse(time.RFC3339, future)
	if _, err := c.ScheduleSwitchover(ctx, srv.URL, "nn2", at); err != nil {
		t.Fatal(err)
	}
	st, err := c.FullStatus(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if st.Scheduled == nil || st.Scheduled.To != "nn2" || !st.Scheduled.At.Equal(at) || st.Scheduled.From != "nn1" {
		t.Errorf("status scheduled %+v", st.Scheduled)
	}
	if st.Budget == nil || len(st.Budget.Kinds) != 5 {
		t.Errorf("status budget %+v", st.Budget)
	}
	if len(op.recorded) != 1 || op.recorded[0].Kind != history.SwitchoverScheduled {
		t.Errorf("recorded %+v", op.recorded)
	}
	if _, err := c.CancelSwitchover(ctx, srv.URL); err != nil || op.sched != nil {
		t.Fatalf("cancel: %v, left %q", err, op.sched)
	}
	es, err := c.History(ctx, srv.URL, time.Time{})
	if err != nil || len(es) != 2 || es[1].Kind != history.SwitchoverCancelled {
		t.Fatalf("history %+v %v", es, err)
	}
}
