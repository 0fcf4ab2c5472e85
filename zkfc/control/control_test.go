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
}

func (f *fakeBackend) Status() controller.Status { return f.st }
func (f *fakeBackend) Self() elector.Info        { return elector.Info{NodeID: f.st.NodeID} }
func (f *fakeBackend) Cede(_ context.Context, d time.Duration) error {
	f.ceded = d
	f.st.Role = "standby"
	return nil
}
func (f *fakeBackend) GracefulDemote(context.Context, uint64) error { return f.demoteErr }
func (f *fakeBackend) PrepareFailover(context.Context) error        { return nil }
func (f *fakeBackend) SetPaused(on bool) error                      { f.paused = on; return nil }
func (f *fakeBackend) Members() ([]elector.Info, error)             { return f.members, nil }
func (f *fakeBackend) Holder() (*elector.Info, error)               { return nil, nil }
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
	resp, err := http.Get(srv.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/health of an unhealthy service = %d", resp.StatusCode)
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
	if err := c.SetPaused(ctx, srv.URL, true); err != nil || !b.paused {
		t.Fatalf("pause: %v", err)
	}
	if _, err := c.Failover(ctx, srv.URL, "ghost", time.Second); err == nil || !strings.Contains(err.Error(), "not a registered candidate") {
		t.Fatalf("failover to an unknown node: %v", err)
	}
	if err := c.FailHealth(ctx, srv.URL, 7*time.Second); err != nil || b.failedFor != 7*time.Second {
		t.Fatalf("fail-health drill: %v failedFor=%s", err, b.failedFor)
	}
	resp, err = http.Post(srv.URL+"/drill/fail-health?duration=-1s", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || b.failedFor != 7*time.Second {
		t.Fatalf("negative drill duration: status %d, failedFor=%s", resp.StatusCode, b.failedFor)
	}
}
