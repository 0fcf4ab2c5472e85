package control

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Limits of the control API. No endpoint reads a body, so a small bound
// costs nothing; the failover endpoint is the only long request and its
// wait is bounded by MaxFailoverTimeout.
const (
	MaxBodyBytes       = 64 << 10
	MaxHeaderBytes     = 16 << 10
	MaxFailoverTimeout = 5 * time.Minute
	ReadHeaderTimeout  = 5 * time.Second
	ReadTimeout        = 10 * time.Second
	WriteTimeout       = MaxFailoverTimeout + 30*time.Second
	IdleTimeout        = 60 * time.Second
)

// Security is how the server authenticates its callers.
type Security struct {
	// Token: a caller presenting "Authorization: Bearer <Token>" is
	// authenticated. Empty: no token is accepted.
	Token []byte
	// TLS serves HTTPS. If it verifies client certificates (ClientCAs set,
	// ClientAuth at least VerifyClientCertIfGiven), a verified certificate
	// authenticates a caller; a certificate that does not verify fails the
	// handshake.
	TLS *tls.Config
	// Client is what the server uses to call peers (failover forwarding,
	// cede); it should carry the same token or certificate.
	Client *Client
}

// open reports whether the API accepts anyone.
func (s Security) open() bool {
	return len(s.Token) == 0 && !s.certAuth()
}

func (s Security) certAuth() bool {
	return s.TLS != nil && s.TLS.ClientCAs != nil && s.TLS.ClientAuth >= tls.VerifyClientCertIfGiven
}

// Secure sets how the server authenticates callers; call it before Serve.
func (s *Server) Secure(sec Security) {
	s.sec = sec
	if sec.Client != nil {
		s.client = sec.Client
	}
	if sec.open() {
		s.lg.Warn("control API without authentication: anyone who reaches it can fail over or demote; set control.token_file or control.tls.client_ca_file")
	}
}

// guard is the front of every request: size limits, the load-balancer
// checks (which need no credentials and reveal one bit each), then
// authentication, then the router. A refused request never reaches the
// backend.
func (s *Server) guard(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > MaxBodyBytes {
		writeErr(w, http.StatusRequestEntityTooLarge, fmt.Errorf("request body over %d bytes", MaxBodyBytes))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	if lbCheck(w, r, s.b) || consoleAsset(w, r) {
		return
	}
	if code, err := crossSite(r); err != nil {
		s.lg.Warn("control API request refused", zap.String("remote", r.RemoteAddr),
			zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Int("status", code), zap.String("reason", err.Error()))
		writeErr(w, code, err)
		return
	}
	if code, err := s.authenticate(r); err != nil {
		if code == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="zkfc"`)
		}
		// Never echo what the caller sent: it may be a near-miss token.
		s.lg.Warn("control API request refused", zap.String("remote", r.RemoteAddr),
			zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Int("status", code), zap.String("reason", err.Error()))
		writeErr(w, code, err)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// crossSite refuses a request that changes state (any method but GET and
// HEAD) when a browser says it comes from another site: a form or script
// on another origin must not ride on credentials the browser adds by
// itself (a client certificate, or none at all on an open API). A bearer
// token in a header is already out of reach of such a page; this also
// covers the other two. Browsers send Sec-Fetch-Site and Origin on every
// such request; the CLI and peers send neither. The simple content types
// of an HTML form are refused outright: no endpoint reads a body.
func crossSite(r *http.Request) (int, error) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return 0, nil
	}
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
		return http.StatusForbidden, fmt.Errorf("cross-site request refused (Sec-Fetch-Site: %s): use the console served by this zkfc, or the CLI", s)
	}
	if o := r.Header.Get("Origin"); o != "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		if !strings.EqualFold(o, scheme+"://"+r.Host) {
			return http.StatusForbidden, fmt.Errorf("cross-origin request refused: Origin %q is not %s://%s", o, scheme, r.Host)
		}
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, _ := strings.Cut(ct, ";")
		switch strings.ToLower(strings.TrimSpace(mt)) {
		case "application/x-www-form-urlencoded", "multipart/form-data", "text/plain":
			return http.StatusUnsupportedMediaType, fmt.Errorf("content type %s refused: the control API takes no form posts (send no body)", mt)
		}
	}
	return 0, nil
}

// authenticate returns 0 for an authenticated caller, else the status
// and reason: 401 without credentials, 403 with a wrong token.
func (s *Server) authenticate(r *http.Request) (int, error) {
	if s.sec.open() {
		return 0, nil
	}
	if s.sec.certAuth() && r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		return 0, nil
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return http.StatusUnauthorized, errors.New("authentication required: a bearer token (control.token_file) or a client certificate (control.tls.client_cert_file)")
	}
	scheme, tok, _ := strings.Cut(h, " ")
	if len(s.sec.Token) == 0 || !strings.EqualFold(scheme, "Bearer") {
		return http.StatusUnauthorized, errors.New("authentication required: this API accepts only client certificates")
	}
	if subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), s.sec.Token) != 1 {
		return http.StatusForbidden, errors.New("wrong token (compare control.token_file on both sides)")
	}
	return 0, nil
}

// Serve runs the API on addr until ctx ends, over TLS if configured,
// with the timeouts and limits above.
func (s *Server) Serve(ctx context.Context, addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("control API on %s (control.listen): %w", addr, err)
	}
	return s.ServeListener(ctx, l)
}

// ServeListener is Serve on an open listener (tests use port 0); it
// closes l.
func (s *Server) ServeListener(ctx context.Context, l net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
	if el, err := zap.NewStdLogAt(s.lg, zap.WarnLevel); err == nil {
		hs.ErrorLog = el // TLS handshake failures, oversized headers
	}
	hs.RegisterOnShutdown(s.consoleShutdown)
	if s.sec.TLS != nil {
		l = tls.NewListener(l, s.sec.TLS)
	}
	addr := l.Addr().String()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("control API on %s (control.listen): %w", addr, err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
		<-errc
		return nil
	}
}
