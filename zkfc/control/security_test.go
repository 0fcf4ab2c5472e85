package control

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/quorum/tlsconfig/testcerts"
	"github.com/zkfc-project/zkfc/zkfc/controller"
	"github.com/zkfc-project/zkfc/zkfc/elector"
)

// recordingBackend counts the calls that change something, so a test can
// tell that a refused request never reached the controller.
type recordingBackend struct {
	*fakeBackend
	changes atomic.Int64
}

func (r *recordingBackend) Cede(ctx context.Context, d time.Duration) error {
	r.changes.Add(1)
	return r.fakeBackend.Cede(ctx, d)
}
func (r *recordingBackend) GracefulDemote(ctx context.Context, tok uint64) error {
	r.changes.Add(1)
	return r.fakeBackend.GracefulDemote(ctx, tok)
}
func (r *recordingBackend) PrepareFailover(ctx context.Context) error {
	r.changes.Add(1)
	return r.fakeBackend.PrepareFailover(ctx)
}
func (r *recordingBackend) SetPaused(on bool) (elector.PauseState, error) {
	r.changes.Add(1)
	return r.fakeBackend.SetPaused(on)
}
func (r *recordingBackend) FailHealth(ctx context.Context, d time.Duration) error {
	r.changes.Add(1)
	return r.fakeBackend.FailHealth(ctx, d)
}

func newRecording() *recordingBackend {
	return &recordingBackend{fakeBackend: &fakeBackend{st: controller.Status{NodeID: "nn1", Role: "active", Healthy: true}}}
}

const testToken = "0123456789abcdef-test-token"

func TestTokenAuthentication(t *testing.T) {
	b := newRecording()
	s := NewServer(b, 10*time.Second, nil, zap.NewNop())
	s.Secure(Security{Token: []byte(testToken)})
	srv := httptest.NewServer(s)
	defer srv.Close()

	tests := []struct {
		name   string
		auth   string
		want   int
		reach  bool
		method string
		path   string
	}{
		{"no credentials", "", http.StatusUnauthorized, false, "POST", "/pause"},
		{"no credentials, read only", "", http.StatusUnauthorized, false, "GET", "/status"},
		{"wrong token", "Bearer not-the-token", http.StatusForbidden, false, "POST", "/demote?token=1"},
		{"token prefix only", "Bearer " + testToken[:10], http.StatusForbidden, false, "POST", "/cede"},
		{"basic scheme", "Basic " + testToken, http.StatusUnauthorized, false, "POST", "/pause"},
		{"right token", "Bearer " + testToken, http.StatusOK, true, "POST", "/pause"},
		{"right token, lower-case scheme", "bearer " + testToken, http.StatusOK, true, "POST", "/resume"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := b.changes.Load()
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			code, hdr, _ := do(t, req)
			if code != tt.want {
				t.Fatalf("status %d, want %d", code, tt.want)
			}
			if reached := b.changes.Load() != before; reached != tt.reach && tt.method == "POST" {
				t.Fatalf("backend reached = %v, want %v", reached, tt.reach)
			}
			if tt.want == http.StatusUnauthorized && hdr.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := NewClient()
	if _, err := c.Status(ctx, srv.URL); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("client without token: %v", err)
	}
	c.Token = []byte(testToken)
	if st, err := c.Status(ctx, srv.URL); err != nil || st.NodeID != "nn1" {
		t.Fatalf("client with token: %+v %v", st, err)
	}
}

func TestLimits(t *testing.T) {
	b := newRecording()
	s := NewServer(b, 10*time.Second, nil, zap.NewNop())
	srv := httptest.NewServer(s)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/pause", bytes.NewReader(make([]byte, MaxBodyBytes+1)))
	req.Header.Set("Content-Type", "application/json")
	if code, _, _ := do(t, req); code != http.StatusRequestEntityTooLarge || b.changes.Load() != 0 {
		t.Fatalf("oversized body: status %d, backend calls %d", code, b.changes.Load())
	}
	if code, _, _ := send(t, http.MethodPost, srv.URL+"/failover?to=nn1&timeout=1000h", "", nil); code != http.StatusBadRequest {
		t.Fatalf("failover timeout of 1000h: status %d, want 400", code)
	}
}

func serveTLS(t *testing.T, b Backend, sec Security) string {
	t.Helper()
	s := NewServer(b, 10*time.Second, nil, zap.NewNop())
	s.Secure(sec)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.ServeListener(ctx, l) }()
	t.Cleanup(func() { cancel(); <-done })
	return "https://" + l.Addr().String()
}

func certSet(t *testing.T) *testcerts.Set {
	t.Helper()
	dir := t.TempDir()
	set, err := testcerts.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func serverTLS(t *testing.T, set *testcerts.Set, mode tls.ClientAuthType) *tls.Config {
	t.Helper()
	return &tls.Config{Certificates: []tls.Certificate{set.Server.TLSCertificate()}, ClientCAs: set.Pool(), ClientAuth: mode,
		MinVersion: tls.VersionTLS12}
}

// client trusts set's CA and presents the client certificate of certs
// (nil: none).
func tlsClient(t *testing.T, trust, certs *testcerts.Set, token string) *Client {
	t.Helper()
	tc := &tls.Config{RootCAs: trust.Pool(), MinVersion: tls.VersionTLS12}
	if certs != nil {
		tc.Certificates = []tls.Certificate{certs.Client.TLSCertificate()}
	}
	c := NewClient()
	c.HTTP.Transport = &http.Transport{TLSClientConfig: tc}
	c.HTTP.Timeout = 10 * time.Second
	c.Token = []byte(token)
	return c
}

func TestClientCertificates(t *testing.T) {
	good, other := certSet(t), certSet(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	tests := []struct {
		name    string
		mode    tls.ClientAuthType
		token   string // server side
		certs   *testcerts.Set
		cliTok  string
		wantErr string // "" = accepted
	}{
		{"cert required: right certificate", tls.RequireAndVerifyClientCert, "", good, "", ""},
		{"cert required: no certificate", tls.RequireAndVerifyClientCert, "", nil, "", "certificate"},
		{"cert required: certificate of another CA", tls.RequireAndVerifyClientCert, "", other, "", "certificate"},
		{"cert or token: token alone", tls.VerifyClientCertIfGiven, testToken, nil, testToken, ""},
		{"cert or token: certificate alone", tls.VerifyClientCertIfGiven, testToken, good, "", ""},
		{"cert or token: neither", tls.VerifyClientCertIfGiven, testToken, nil, "", "401"},
		{"cert or token: wrong token", tls.VerifyClientCertIfGiven, testToken, nil, "nope", "403"},
		{"cert or token: certificate of another CA", tls.VerifyClientCertIfGiven, testToken, other, testToken, "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newRecording()
			url := serveTLS(t, b, Security{Token: []byte(tt.token), TLS: serverTLS(t, good, tt.mode)})
			_, err := tlsClient(t, good, tt.certs, tt.cliTok).SetPaused(ctx, url, true)
			if tt.wantErr == "" {
				if err != nil || b.changes.Load() != 1 {
					t.Fatalf("refused: %v (backend calls %d)", err, b.changes.Load())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one mentioning %q", err, tt.wantErr)
			}
			if b.changes.Load() != 0 {
				t.Fatal("a refused request reached the backend")
			}
		})
	}
	// A client that does not trust the server's CA refuses it too.
	url := serveTLS(t, newRecording(), Security{TLS: serverTLS(t, good, tls.NoClientCert)})
	if _, err := tlsClient(t, other, nil, "").Status(ctx, url); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("client trusting another CA: %v", err)
	}
}

// FuzzServeHTTP feeds raw HTTP requests through the whole handler with a
// token configured: nothing panics, and a request without the right
// token never reaches the backend.
func FuzzServeHTTP(f *testing.F) {
	seeds := []string{
		"GET /status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + testToken + "\r\n\r\n",
		"POST /failover?to=nn1&timeout=1s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + testToken + "\r\n\r\n",
		"POST /cede?period=-5s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + testToken + "\r\n\r\n",
		"POST /demote?token=18446744073709551616 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + testToken + "\r\n\r\n",
		"POST /pause HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\nContent-Length: 5\r\n\r\nhello",
		"POST /drill/fail-health?duration=1h HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /failover?to=%zz HTTP/1.1\r\nHost: x\r\nAuthorization: bearer  " + testToken + " \r\n\r\n",
		"GET /../../status HTTP/1.0\r\n\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return
		}
		req.RemoteAddr = "127.0.0.1:1"
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		req = req.WithContext(ctx)
		b := newRecording()
		s := NewServer(b, 10*time.Second, nil, zap.NewNop())
		s.Secure(Security{Token: []byte(testToken)})
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		authed := false
		if scheme, tok, ok := strings.Cut(req.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(tok) == testToken {
			authed = true
		}
		if !authed && b.changes.Load() != 0 {
			t.Fatalf("unauthenticated request reached the backend: %q", raw)
		}
		// The console's page and static files, and the load-balancer
		// checks, answer without credentials by design (they hold no data
		// and change nothing, which the backend check above proves).
		public := (req.Method == http.MethodGet || req.Method == http.MethodHead) &&
			(req.URL.Path == "/" || (strings.HasPrefix(req.URL.Path, "/console/") && !strings.HasPrefix(req.URL.Path, "/console/api/")) ||
				req.URL.Path == "/active" || req.URL.Path == "/isActive" || req.URL.Path == "/standby" || req.URL.Path == "/healthz")
		if !authed && !public && w.Code != http.StatusUnauthorized && w.Code != http.StatusForbidden && w.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("unauthenticated request answered %d: %q", w.Code, raw)
		}
		if w.Code >= 500 && w.Code != http.StatusBadGateway && w.Code != http.StatusGatewayTimeout {
			t.Fatalf("status %d for %q: %s", w.Code, raw, w.Body)
		}
	})
}
