package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// DefaultCheckInterval bounds how often a handshake makes the Reloader look
// at the files: often enough that a rotated certificate is served within a
// second, rarely enough that a connection storm does not become a stat storm.
const DefaultCheckInterval = time.Second

// Reloader holds the current certificate and trust anchors and replaces
// them when the files change. A failed reload keeps the previous material
// in service and is retried at the next check.
type Reloader struct {
	s  Settings
	lg *zap.Logger

	cur atomic.Pointer[material]

	mu            sync.Mutex // serialises checks
	lastCheck     time.Time
	checkInterval time.Duration
}

func newReloader(s Settings, lg *zap.Logger) (*Reloader, error) {
	if lg == nil {
		lg = zap.NewNop()
	}
	m, err := s.load()
	if err != nil {
		return nil, err
	}
	r := &Reloader{s: s, lg: lg, checkInterval: DefaultCheckInterval, lastCheck: time.Now()}
	r.cur.Store(m)
	return r, nil
}

// Check reloads the stores now if any of their files changed, and returns
// the reason a changed file could not be loaded.
func (r *Reloader) Check() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastCheck = time.Now()
	old := r.cur.Load()
	if !old.changed() {
		return nil
	}
	m, err := r.s.load()
	if err != nil {
		r.lg.Warn("TLS files changed but cannot be loaded; keeping the previous certificates",
			zap.String("prefix", r.s.Prefix), zap.Error(err))
		return fmt.Errorf("reload TLS material: %w", err)
	}
	r.cur.Store(m)
	fields := []zap.Field{zap.String("prefix", r.s.Prefix)}
	if m.cert != nil {
		fields = append(fields, zap.String("subject", m.cert.Leaf.Subject.String()),
			zap.String("serial", m.cert.Leaf.SerialNumber.Text(16)),
			zap.Time("not_after", m.cert.Leaf.NotAfter))
	}
	r.lg.Info("reloaded TLS certificates", fields...)
	return nil
}

// maybeCheck runs Check if the last one is older than the check interval.
// Errors were logged by Check; the handshake goes on with what is loaded.
func (r *Reloader) maybeCheck() {
	r.mu.Lock()
	due := time.Since(r.lastCheck) >= r.checkInterval
	r.mu.Unlock()
	if due {
		_ = r.Check()
	}
}

// Certificate is the certificate currently served (nil without keystore).
func (r *Reloader) Certificate() *tls.Certificate { return r.cur.Load().cert }

func (s Settings) base() (*tls.Config, error) {
	minV, maxV, err := s.versions()
	if err != nil {
		return nil, err
	}
	suites, err := s.cipherSuites()
	if err != nil {
		return nil, err
	}
	return &tls.Config{MinVersion: minV, MaxVersion: maxV, CipherSuites: suites}, nil
}

// ServerConfig builds the configuration of a TLS listener (the secure
// client port, or a member's quorum port with ssl.quorum.*). Each handshake
// gets the current certificate and client CAs, re-read when the files
// changed (checked at most once per DefaultCheckInterval; call Check or Run
// for more).
func (s Settings) ServerConfig(lg *zap.Logger) (*tls.Config, *Reloader, error) {
	if lg == nil {
		lg = zap.NewNop()
	}
	if s.KeyStore == "" {
		return nil, nil, fmt.Errorf("%s is required for a TLS server: name a PEM or PKCS12 keystore with the server's key and certificate", s.key("keyStore.location"))
	}
	base, err := s.base()
	if err != nil {
		return nil, nil, err
	}
	if base.ClientAuth, err = s.clientAuth(); err != nil {
		return nil, nil, err
	}
	r, err := newReloader(s, lg)
	if err != nil {
		return nil, nil, err
	}
	if base.ClientAuth != tls.NoClientCert && s.TrustStore == "" {
		lg.Warn("client certificates are verified against the system's CAs because no truststore is set",
			zap.String("key", s.key("trustStore.location")))
	}
	cfg := base.Clone()
	cfg.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		r.maybeCheck()
		m := r.cur.Load()
		c := base.Clone()
		c.Certificates = []tls.Certificate{*m.cert}
		c.ClientCAs = m.roots
		return c, nil
	}
	return cfg, r, nil
}

// ClientConfig builds the configuration for dialing a TLS server: a member
// dialing another (ssl.quorum.*, mutual TLS) or zkfc dialing the quorum
// (ssl.*). serverName is checked against the server's certificate unless
// hostnameVerification=false, in which case the chain is still verified
// against the truststore. The client certificate, if a keystore is set,
// is re-read when its files change; the trust anchors are fixed for the
// life of the returned configuration.
func (s Settings) ClientConfig(serverName string) (*tls.Config, error) {
	cfg, err := s.base()
	if err != nil {
		return nil, err
	}
	verifyHost, err := s.hostnameVerification()
	if err != nil {
		return nil, err
	}
	r, err := newReloader(s, nil)
	if err != nil {
		return nil, err
	}
	m := r.cur.Load()
	cfg.RootCAs = m.roots
	cfg.ServerName = serverName
	if s.KeyStore != "" {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			r.maybeCheck()
			return r.cur.Load().cert, nil
		}
	}
	if !verifyHost {
		// crypto/tls has no switch for "verify the chain but not the name":
		// turn its verification off and do the chain part here.
		roots := m.roots
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("tls: server presented no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
				Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			})
			return err
		}
	}
	return cfg, nil
}
