package control

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/zkfc/controller"
	"github.com/zkfc-project/zkfc/zkfc/elector"
)

// The load-balancer endpoints answer without credentials on an API that
// requires them, with one bit in the status code and a fixed body; every
// other endpoint still refuses a caller without a token.
func TestLoadBalancerEndpoints(t *testing.T) {
	b := &fakeBackend{}
	s := NewServer(b, 10*time.Second, nil, zap.NewNop())
	s.Secure(Security{Token: []byte("s3cret-token")})
	srv := httptest.NewServer(s)
	defer srv.Close()

	secretish := []string{"nn1", "nn2", "s3cret", "token", "lock", "error", "{"}
	check := func(st controller.Status, path string, want int, wantBody string) {
		t.Helper()
		b.st = st
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			code, _, body := send(t, m, srv.URL+path, "", nil)
			if code != want {
				t.Errorf("%s %s with role=%s holds_lock=%v healthy=%v: %d, want %d", m, path, st.Role, st.HoldsLock, st.Healthy, code, want)
			}
			if m == http.MethodHead {
				continue
			}
			if string(body) != wantBody {
				t.Errorf("GET %s: body %q, want %q", path, body, wantBody)
			}
			for _, s := range secretish {
				if strings.Contains(string(body), s) {
					t.Errorf("GET %s leaks %q: %q", path, s, body)
				}
			}
		}
	}
	active := controller.Status{NodeID: "nn1", Role: "active", HoldsLock: true, Healthy: true, Health: "SERVICE_HEALTHY",
		FencingToken: 7, LastError: "error text", Active: &elector.Info{NodeID: "nn1"}}
	for _, p := range []string{"/active", "/isActive"} {
		check(active, p, 200, "active\n")
		drain := active
		drain.Draining = true // control.lb_drain before a demote
		check(drain, p, 503, "not active\n")
		lost := active
		lost.HoldsLock = false // session gone: about to demote
		check(lost, p, 503, "not active\n")
		sb := active
		sb.Role, sb.Active = "standby", &elector.Info{NodeID: "nn2"}
		check(sb, p, 503, "not active\n")
		sick := active
		sick.Role, sick.HoldsLock = "initializing", false
		check(sick, p, 503, "not active\n")
	}
	check(active, "/standby", 503, "not standby\n")
	standby := controller.Status{NodeID: "nn2", Role: "standby", Healthy: true, Active: &elector.Info{NodeID: "nn1"}}
	check(standby, "/standby", 200, "standby\n")
	check(standby, "/healthz", 200, "healthy\n")
	unhealthy := standby
	unhealthy.Healthy, unhealthy.Health = false, "SERVICE_UNHEALTHY"
	check(unhealthy, "/standby", 503, "not standby\n")
	check(unhealthy, "/healthz", 503, "not healthy\n")
	check(controller.Status{Role: "initializing"}, "/standby", 503, "not standby\n")

	// A witness (zkfc witness) is never active nor standby; its health is
	// its quorum member's.
	witness := controller.Status{NodeID: "w1", Role: "witness", Healthy: true}
	check(witness, "/active", 503, "not active\n")
	check(witness, "/standby", 503, "not standby\n")
	check(witness, "/healthz", 200, "healthy\n")
	witness.Healthy = false
	check(witness, "/healthz", 503, "not healthy\n")

	// Everything else still needs the token (but the console's page at /,
	// which holds no data), and a write to a check path is not a check.
	b.st = active
	for _, r := range []struct{ method, path string }{
		{"GET", "/status"}, {"GET", "/health"}, {"GET", "/role"}, {"GET", "/members"}, {"GET", "/metrics"},
		{"POST", "/active"}, {"POST", "/demote?token=7"}, {"POST", "/cede"}, {"POST", "/failover?to=nn2"},
		{"GET", "/active/x"}, {"POST", "/"}, {"GET", "/console/api/cluster"},
	} {
		if code, _, _ := send(t, r.method, srv.URL+r.path, "", nil); code != http.StatusUnauthorized {
			t.Errorf("%s %s without a token: %d, want 401", r.method, r.path, code)
		}
	}
	if b.ceded != 0 || len(b.demoted) != 0 {
		t.Fatalf("a request without a token reached the controller: ceded=%s demoted=%v", b.ceded, b.demoted)
	}
}
