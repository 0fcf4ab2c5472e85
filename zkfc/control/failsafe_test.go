package control

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/zkfc/controller"
)

// failsafeBackend answers /failsafe with what the test set.
type failsafeBackend struct {
	fakeBackend
	answer controller.FailsafeAnswer
	err    error
	from   string
}

func (f *failsafeBackend) AnswerFailsafe(from string) (controller.FailsafeAnswer, error) {
	f.from = from
	return f.answer, f.err
}

func TestFailsafeEndpoint(t *testing.T) {
	const token = "0123456789abcdef0123"
	serve := func(b Backend, secure bool) *httptest.Server {
		s := NewServer(b, time.Second, nil, zap.NewNop())
		if secure {
			s.Secure(Security{Token: []byte(token)})
		}
		srv := httptest.NewServer(s)
		t.Cleanup(srv.Close)
		return srv
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	authed := NewClient()
	authed.Token = []byte(token)
	code := func(err error) int {
		var he *HTTPError
		if errors.As(err, &he) {
			return he.Code
		}
		return 0
	}
	peer := func(srv *httptest.Server) controller.FailsafePeer {
		return controller.FailsafePeer{ID: "nn2", URL: srv.URL}
	}

	b := &failsafeBackend{answer: controller.FailsafeAnswer{Node: "nn2", PromiseMs: 4000}}
	srv := serve(b, true)
	a, err := authed.AskFailsafe(ctx, peer(srv), "nn1")
	if err != nil || a != b.answer || b.from != "nn1" {
		t.Fatalf("answer %+v err %v (asked by %q)", a, err, b.from)
	}
	if _, err := NewClient().AskFailsafe(ctx, peer(srv), "nn1"); code(err) != http.StatusUnauthorized {
		t.Errorf("without the token: %v, want 401", err)
	}
	// An open API never answers: an answer keeps a service active.
	if _, err := NewClient().AskFailsafe(ctx, peer(serve(b, false)), "nn1"); code(err) != http.StatusForbidden {
		t.Errorf("on an open API: %v, want 403", err)
	}
	off := &failsafeBackend{err: controller.ErrFailsafeOff}
	if _, err := authed.AskFailsafe(ctx, peer(serve(off, true)), "nn1"); code(err) != http.StatusConflict {
		t.Errorf("failsafe off: %v, want 409", err)
	}
	// A backend without failsafe answers (a witness) is not asked.
	if _, err := authed.AskFailsafe(ctx, peer(serve(&fakeBackend{}, true)), "nn1"); code(err) != http.StatusNotFound {
		t.Errorf("witness: %v, want 404", err)
	}
}
