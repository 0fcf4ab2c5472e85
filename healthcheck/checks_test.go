package healthcheck

import (
	"context"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/zkfc/proc/proctest"
)

// service is a real HTTP server whose answers a test can change.
type service struct {
	*httptest.Server
	hits atomic.Int64

	mu     sync.Mutex
	status int
	body   string
	delay  time.Duration
	hang   bool // answer only when the client gives up
}

func newService(t *testing.T) *service {
	s := &service{status: 200, body: "ok"}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *service) set(status int, body string, delay time.Duration, hang bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.body, s.delay, s.hang = status, body, delay, hang
}

func (s *service) serve(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	s.mu.Lock()
	status, body, delay, hang := s.status, s.body, s.delay, s.hang
	s.mu.Unlock()
	if hang {
		<-r.Context().Done()
		return
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if status == http.StatusFound {
		w.Header().Set("Location", "/elsewhere")
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func TestHTTPCheck(t *testing.T) {
	svc := newService(t)
	cases := []struct {
		name    string
		status  int
		body    string
		delay   time.Duration
		hang    bool
		check   HTTPCheck
		timeout time.Duration
		want    Outcome
		errHas  string
	}{
		{name: "200", status: 200, body: "ok", want: OK},
		{name: "503", status: 503, body: "down", want: Failed, errHas: "status 503"},
		{name: "body matches", status: 200, body: "role=active", check: HTTPCheck{BodyContains: "active"}, want: OK},
		{name: "body mismatch", status: 200, body: "role=standby", check: HTTPCheck{BodyContains: "ready"}, want: Failed, errHas: "body lacks"},
		{name: "expected status", status: 204, check: HTTPCheck{ExpectStatus: []int{204}}, want: OK},
		{name: "2xx not in expected list", status: 200, check: HTTPCheck{ExpectStatus: []int{204}}, want: Failed},
		{name: "redirect not followed", status: 302, want: Failed, errHas: "status 302"},
		// Slower than any sensible interval, far within the timeout: a pass.
		{name: "slow but successful", status: 200, delay: 300 * time.Millisecond, timeout: time.Minute, want: OK},
		{name: "no answer", hang: true, timeout: 100 * time.Millisecond, want: TimedOut},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc.set(tc.status, tc.body, tc.delay, tc.hang)
			tc.check.URL = svc.URL + "/health"
			c, err := newHTTPChecker(tc.check)
			if err != nil {
				t.Fatal(err)
			}
			timeout := tc.timeout
			if timeout == 0 {
				timeout = time.Minute
			}
			r := runCheck(context.Background(), c, timeout)
			if r.Outcome != tc.want || !strings.Contains(r.Err, tc.errHas) {
				t.Fatalf("outcome %v, error %q; want %v with %q", r.Outcome, r.Err, tc.want, tc.errHas)
			}
		})
	}
}

func TestHTTPCheckRefused(t *testing.T) {
	svc := newService(t)
	url := svc.URL
	svc.Close()
	c, err := newHTTPChecker(HTTPCheck{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	if r := runCheck(context.Background(), c, time.Minute); r.Outcome != Failed {
		t.Fatalf("closed server: outcome %v (%s), want failed", r.Outcome, r.Err)
	}
}

func TestHTTPCheckTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	block := &pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}
	if err := os.WriteFile(ca, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		check HTTPCheck
		want  Outcome
	}{
		{"trusted through ca_file", HTTPCheck{CAFile: ca}, OK},
		{"unknown authority", HTTPCheck{}, Failed},
		{"verification disabled", HTTPCheck{InsecureSkipVerify: true}, OK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.check.URL = srv.URL
			c, err := newHTTPChecker(tc.check)
			if err != nil {
				t.Fatal(err)
			}
			if r := runCheck(context.Background(), c, time.Minute); r.Outcome != tc.want {
				t.Fatalf("outcome %v (%s), want %v", r.Outcome, r.Err, tc.want)
			}
		})
	}
}

func TestTCPCheck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &tcpChecker{addr: ln.Addr().String()}
	if r := runCheck(context.Background(), c, time.Minute); r.Outcome != OK {
		t.Fatalf("open listener: outcome %v (%s), want ok", r.Outcome, r.Err)
	}
	ln.Close()
	if r := runCheck(context.Background(), c, time.Minute); r.Outcome != Failed {
		t.Fatalf("closed listener: outcome %v (%s), want failed", r.Outcome, r.Err)
	}
}

func TestExecCheck(t *testing.T) {
	cases := []struct {
		name   string
		check  ExecCheck
		want   Outcome
		errHas string
	}{
		{"exit 0", ExecCheck{Command: []string{"/bin/sh", "-c", "exit 0"}}, OK, ""},
		{"exit 3", ExecCheck{Command: []string{"/bin/sh", "-c", "echo sick >&2; exit 3"}}, Failed, "exit status 3"},
		{"env reaches the command", ExecCheck{Command: []string{"/bin/sh", "-c", `test "$SVC" = db`}, Env: []string{"SVC=db"}}, OK, ""},
		{"env missing", ExecCheck{Command: []string{"/bin/sh", "-c", `test "$SVC" = db`}}, Failed, "exit status 1"},
		{"found on PATH", ExecCheck{Command: []string{"true"}}, OK, ""},
		{"missing binary is the monitor's failure", ExecCheck{Command: []string{"/nonexistent/check-service"}}, CheckError, "health.exec.command"},
		{"missing from PATH", ExecCheck{Command: []string{"zkfc-no-such-check"}}, CheckError, "health.exec.command"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runCheck(context.Background(), &execChecker{cfg: tc.check}, time.Minute)
			if r.Outcome != tc.want || !strings.Contains(r.Err, tc.errHas) {
				t.Fatalf("outcome %v, error %q; want %v with %q", r.Outcome, r.Err, tc.want, tc.errHas)
			}
		})
	}
}

// TestExecCheckTimeoutKillsGroup runs a shell that starts a grandchild and
// waits; the timeout must kill both, not just the shell.
func TestExecCheckTimeoutKillsGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	c := &execChecker{cfg: ExecCheck{Command: []string{"/bin/sh", "-c",
		`sleep 30 & echo $! > "$PIDFILE"; wait`}, Env: []string{"PIDFILE=" + pidFile}}}
	r := runCheck(context.Background(), c, 300*time.Millisecond)
	if r.Outcome != TimedOut {
		t.Fatalf("outcome %v (%s), want timeout", r.Outcome, r.Err)
	}
	proctest.WaitGone(t, proctest.ReadPID(t, pidFile))
}

// A check that exits 0 but leaves a child holding its output passes, and
// the child does not outlive the probe.
func TestExecCheckStragglerKilled(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	c := &execChecker{cfg: ExecCheck{Command: []string{"/bin/sh", "-c",
		`sleep 30 & echo $! > "$PIDFILE"; exit 0`}, Env: []string{"PIDFILE=" + pidFile}}}
	r := runCheck(context.Background(), c, time.Minute)
	if r.Outcome != OK {
		t.Fatalf("outcome %v (%s), want ok", r.Outcome, r.Err)
	}
	proctest.WaitGone(t, proctest.ReadPID(t, pidFile))
}
