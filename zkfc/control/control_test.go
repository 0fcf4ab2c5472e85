package control

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/fencing"
	"github.com/zkfc-project/zkfc/zkfc/controller"
	"github.com/zkfc-project/zkfc/zkfc/elector"
)

type fakeBackend struct {
	st        controller.Status
	demoteErr error
	ceded     time.Duration
	paused    bool
	members   []elector.Info
	failedFor time.Duration
	demoted   []uint64 // tokens of the graceful demotes asked
}

func (f *fakeBackend) Status() controller.Status { return f.st }
func (f *fakeBackend) Self() elector.Info        { return elector.Info{NodeID: f.st.NodeID} }
func (f *fakeBackend) Cede(_ context.Context, d time.Duration) error {
	f.ceded = d
	f.st.Role = "standby"
	return nil
}
func (f *fakeBackend) GracefulDemote(_ context.Context, tok uint64) error {
	f.demoted = append(f.demoted, tok)
	return f.demoteErr
}
func (f *fakeBackend) PrepareFailover(context.Context) error { return nil }
func (f *fakeBackend) SetPaused(on bool) (elector.PauseState, error) {
	f.paused = on
	return elector.PauseState{Paused: on, Generation: 77}, nil
}
func (f *fakeBackend) ClusterToken() (uint64, error)    { return 9, nil }
func (f *fakeBackend) Members() ([]elector.Info, error) { return f.members, nil }
func (f *fakeBackend) Holder() (*elector.Info, error)   { return nil, nil }
func (f *fakeBackend) FailHealth(_ context.Context, d time.Duration) error {
	f.failedFor = d
	return nil
}

func TestEndpoints(t *testing.T) {
	b := &fakeBackend{st: controller.Status{NodeID: "nn1", Role: "active", Health: "SERVICE_UNHEALTHY", FencingToken: 4}}
	srv := httptest.NewServer(NewServer(b, 10*time.Second, nil, zap.NewNop()))
	defer srv.Close()
	c := NewClient()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	st, err := c.Status(ctx, srv.URL)
	if err != nil || st.FencingToken != 4 || st.Role != "active" {
		t.Fatalf("status %+v %v", st, err)
	}
	b.st.Connected = true // the cluster's token is read only when connected
	if st, err := c.Status(ctx, srv.URL); err != nil || st.ClusterToken != 9 || st.FencingToken != 4 {
		t.Fatalf("status of a connected node %+v %v, want cluster token 9, node token 4", st, err)
	}
	if code, _, _ := get(t, srv.URL+"/health", "", nil); code != http.StatusServiceUnavailable {
		t.Fatalf("/health of an unhealthy service = %d", code)
	}
	if err := c.Demote(ctx, srv.URL, 5); err != nil {
		t.Fatalf("demote: %v", err)
	}
	b.demoteErr = errors.New("service hung")
	if err := c.Demote(ctx, srv.URL, 5); err == nil || !strings.Contains(err.Error(), "service hung") {
		t.Fatalf("failed demote must be an error carrying the cause, got %v", err)
	}
	if err := c.Cede(ctx, srv.URL, 3*time.Second); err != nil || b.ceded != 3*time.Second {
		t.Fatalf("cede: %v ceded=%s", err, b.ceded)
	}
	if st, err := c.SetPaused(ctx, srv.URL, true); err != nil || !b.paused || st.Generation != 77 {
		t.Fatalf("pause: %+v %v", st, err)
	}
	if _, err := c.Failover(ctx, srv.URL, "ghost", time.Second); err == nil || !strings.Contains(err.Error(), "not a registered candidate") {
		t.Fatalf("failover to an unknown node: %v", err)
	}
	if err := c.FailHealth(ctx, srv.URL, 7*time.Second); err != nil || b.failedFor != 7*time.Second {
		t.Fatalf("fail-health drill: %v failedFor=%s", err, b.failedFor)
	}
	if code, _, _ := send(t, http.MethodPost, srv.URL+"/drill/fail-health?duration=-1s", "", nil); code != http.StatusBadRequest || b.failedFor != 7*time.Second {
		t.Fatalf("negative drill duration: status %d, failedFor=%s", code, b.failedFor)
	}
}

// A graceful fence names a decimal token; an active under another token
// answers 409 with both tokens, which the client reports as superseded
// only when the target's token is the newer one.
func TestDemoteToken(t *testing.T) {
	b := &fakeBackend{st: controller.Status{NodeID: "nn1", Role: "active"}}
	srv := httptest.NewServer(NewServer(b, 10*time.Second, nil, zap.NewNop()))
	defer srv.Close()
	for _, q := range []string{"", "?token=", "?token=abc", "?token=-1", "?token=1.5"} {
		if code, _, _ := send(t, http.MethodPost, srv.URL+"/demote"+q, "", nil); code != http.StatusBadRequest {
			t.Errorf("POST /demote%s = %d, want 400", q, code)
		}
	}
	if len(b.demoted) != 0 {
		t.Fatalf("malformed requests reached the controller: %v", b.demoted)
	}
	c := NewClient()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b.demoteErr = &controller.TokenMismatchError{Node: "nn1", Requested: 3, Current: 5}
	err := c.Demote(ctx, srv.URL, 3)
	var he *HTTPError
	if !errors.As(err, &he) || he.Code != http.StatusConflict || !errors.Is(err, fencing.ErrSuperseded) ||
		!strings.Contains(err.Error(), "token 5") || !strings.Contains(err.Error(), "token 3") {
		t.Fatalf("demote for an older token = %v, want 409 naming both tokens, superseded", err)
	}
	b.demoteErr = &controller.TokenMismatchError{Node: "nn1", Requested: 8, Current: 5}
	if err := c.Demote(ctx, srv.URL, 8); err == nil || errors.Is(err, fencing.ErrSuperseded) {
		t.Fatalf("demote for a newer token = %v, want a plain refusal", err)
	}
}
