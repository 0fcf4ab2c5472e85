package control

import (
	"net/http"

	"github.com/zkfc-project/zkfc/zkfc/controller"
)

// lbCheck answers the load-balancer endpoints and reports whether r was
// one. Load balancers cannot send a bearer token, so these answer anyone;
// that is why each gives away one bit and nothing else: a fixed body, no
// node name, token or error text.
func lbCheck(w http.ResponseWriter, r *http.Request, b Backend) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	var ok bool
	var yes, no string
	switch r.URL.Path {
	case "/active", "/isActive":
		st := b.Status()
		// The role alone is not enough: a node that lost its lock (session
		// expired, self-fencing) is about to demote, and the next active
		// may already be promoting; a draining one is about to demote.
		ok, yes, no = st.Role == controller.Active.String() && st.HoldsLock && !st.Draining, "active\n", "not active\n"
	case "/standby":
		st := b.Status()
		ok, yes, no = st.Healthy && st.Role == controller.Standby.String(), "standby\n", "not standby\n"
	case "/healthz":
		ok, yes, no = b.Status().Healthy, "healthy\n", "not healthy\n"
	default:
		return false
	}
	body, code := yes, http.StatusOK
	if !ok {
		body, code = no, http.StatusServiceUnavailable
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	if r.Method == http.MethodGet {
		_, _ = w.Write([]byte(body))
	}
	return true
}
