package config

import (
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkfc-project/zkfc/zkfc/elector"
)

// Redacted is what a Secret prints as, wherever it ends up.
const Redacted = "[redacted]"

// Secret is a credential read from a file. Every way of printing it
// (fmt verbs, JSON, zap's reflection) yields Redacted, so that a config or
// a struct holding one can be logged without leaking it; Reveal is the
// only way to the bytes.
type Secret struct{ b []byte }

// NewSecret wraps b (tests, and callers holding a credential from elsewhere).
func NewSecret(b []byte) Secret { return Secret{b: append([]byte(nil), b...)} }

// Reveal returns the secret's bytes, for the one place that sends them.
func (s Secret) Reveal() []byte { return s.b }

// Empty reports whether no secret is set.
func (s Secret) Empty() bool { return len(s.b) == 0 }

func (s Secret) String() string                { return Redacted }
func (s Secret) GoString() string              { return Redacted }
func (s Secret) MarshalText() ([]byte, error)  { return []byte(Redacted), nil }
func (s Secret) MarshalJSON() ([]byte, error)  { return []byte(`"` + Redacted + `"`), nil }
func (s Secret) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(Redacted)) }

// CheckPrivateFile refuses a file holding a secret or a private key that
// anyone but its owner may read or write; the error names key and says
// how to fix it.
func CheckPrivateFile(key, path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: %s is not a regular file", key, path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s: %s holds a secret but is accessible by group or others (mode %04o); run chmod 600 %s", key, path, perm, path)
	}
	return nil
}

// ReadSecretFile reads the secret in path (named by config key) after
// CheckPrivateFile; one trailing newline is dropped, as editors add it.
// Errors never quote the file's content.
func ReadSecretFile(key, path string) (Secret, error) {
	if err := CheckPrivateFile(key, path); err != nil {
		return Secret{}, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Secret{}, fmt.Errorf("%s: %w", key, err)
	}
	b = []byte(strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"))
	if len(b) == 0 {
		return Secret{}, fmt.Errorf("%s: %s is empty", key, path)
	}
	if len(b) > 4096 {
		return Secret{}, fmt.Errorf("%s: %s is larger than 4 KiB; it should hold one credential", key, path)
	}
	return Secret{b: b}, nil
}

// Secrets are the credentials the configuration names by file.
type Secrets struct {
	// ZooKeeperAuth is "user:password" for the digest scheme.
	ZooKeeperAuth Secret
	// ControlToken is the control API's bearer token.
	ControlToken Secret
}

// LoadSecrets reads zookeeper.auth_file and control.token_file, if set.
func (c *Config) LoadSecrets() (Secrets, error) {
	var s Secrets
	var err error
	if c.ZooKeeper.AuthFile != "" {
		if s.ZooKeeperAuth, err = ReadSecretFile("zookeeper.auth_file", c.ZooKeeper.AuthFile); err != nil {
			return s, fmt.Errorf("config %s: %w", c.Source, err)
		}
		if u, p, ok := strings.Cut(string(s.ZooKeeperAuth.Reveal()), ":"); !ok || u == "" || p == "" {
			return s, fmt.Errorf("config %s: zookeeper.auth_file: %s must hold one line user:password", c.Source, c.ZooKeeper.AuthFile)
		}
	}
	if c.Control.TokenFile != "" {
		if s.ControlToken, err = ReadSecretFile("control.token_file", c.Control.TokenFile); err != nil {
			return s, fmt.Errorf("config %s: %w", c.Source, err)
		}
		if len(s.ControlToken.Reveal()) < 16 {
			return s, fmt.Errorf("config %s: control.token_file: %s holds fewer than 16 bytes; use a random token, e.g. openssl rand -hex 32 > %s", c.Source, c.Control.TokenFile, c.Control.TokenFile)
		}
	}
	return s, nil
}

// DigestID is the id of the digest scheme for user and password:
// user:base64(sha1(user:password)), what an ACL entry names.
func DigestID(user, password string) string {
	h := sha1.Sum([]byte(user + ":" + password))
	return user + ":" + base64.StdEncoding.EncodeToString(h[:])
}

var permLetters = map[rune]int32{'r': zk.PermRead, 'w': zk.PermWrite, 'c': zk.PermCreate, 'd': zk.PermDelete, 'a': zk.PermAdmin}

// ParseACL turns zookeeper.acl entries into ACLs. An empty list is
// world:anyone with every permission (ZooKeeper's open ACL).
func ParseACL(entries []string) ([]zk.ACL, error) {
	if len(entries) == 0 {
		return zk.WorldACL(zk.PermAll), nil
	}
	var out []zk.ACL
	for i, e := range entries {
		e = strings.TrimSpace(e)
		if e == "auth" {
			out = append(out, zk.ACL{Perms: zk.PermAll, Scheme: "auth", ID: ""})
			continue
		}
		// scheme:id:perms, where a digest id itself holds one colon.
		first := strings.Index(e, ":")
		last := strings.LastIndex(e, ":")
		if first <= 0 || last == first {
			return nil, fmt.Errorf("zookeeper.acl[%d] %q: want scheme:id:perms like digest:zkfc:<hash>:cdrwa, ip:10.0.0.0/8:r, world:anyone:r or auth", i, e)
		}
		scheme, id, letters := e[:first], e[first+1:last], e[last+1:]
		var perms int32
		for _, r := range letters {
			p, ok := permLetters[r]
			if !ok {
				return nil, fmt.Errorf("zookeeper.acl[%d] %q: permission %q is not one of c d r w a", i, e, r)
			}
			perms |= p
		}
		if perms == 0 {
			return nil, fmt.Errorf("zookeeper.acl[%d] %q: no permissions", i, e)
		}
		switch scheme {
		case "world":
			if id != "anyone" {
				return nil, fmt.Errorf("zookeeper.acl[%d] %q: the world scheme's only id is anyone", i, e)
			}
		case "digest":
			u, h, ok := strings.Cut(id, ":")
			if raw, err := base64.StdEncoding.DecodeString(h); !ok || u == "" || err != nil || len(raw) != sha1.Size {
				return nil, fmt.Errorf("zookeeper.acl[%d] %q: a digest id is user:base64(sha1(user:password)), e.g. the output of zkfc digest USER (it is not the password)", i, e)
			}
		case "ip":
			if net.ParseIP(id) == nil {
				if _, _, err := net.ParseCIDR(id); err != nil {
					return nil, fmt.Errorf("zookeeper.acl[%d] %q: %q is not an address or CIDR", i, e, id)
				}
			}
		case "x509", "sasl", "super":
			if id == "" {
				return nil, fmt.Errorf("zookeeper.acl[%d] %q: empty id", i, e)
			}
		default:
			return nil, fmt.Errorf("zookeeper.acl[%d] %q: unknown scheme %q (world, digest, ip, x509, sasl, auth)", i, e, scheme)
		}
		out = append(out, zk.ACL{Perms: perms, Scheme: scheme, ID: id})
	}
	return out, nil
}

func (c *Config) validateSecurity(bad func(key, format string, args ...any)) {
	z := c.ZooKeeper
	acl, err := ParseACL(z.ACL)
	if err != nil {
		bad("zookeeper.acl", "%v", err)
	} else {
		if elector.WorldWritable(acl) && !z.AllowWorldWritable {
			what := "is empty, which means world:anyone:cdrwa"
			if len(z.ACL) > 0 {
				what = "lets world:anyone write"
			}
			bad("zookeeper.acl", "%s: any ZooKeeper client could take or delete the election lock. Set zookeeper.acl (e.g. [auth] with zookeeper.auth_file, or digest:USER:HASH:cdrwa) or, to run with open ACLs knowingly, zookeeper.allow_world_writable: true", what)
		}
		for _, a := range acl {
			if a.Scheme == "auth" && z.AuthFile == "" {
				bad("zookeeper.acl", "auth grants the session's own identity, which needs zookeeper.auth_file")
			}
		}
	}
	if (z.TLS.CertFile == "") != (z.TLS.KeyFile == "") {
		bad("zookeeper.tls.key_file", "zookeeper.tls.cert_file and zookeeper.tls.key_file go together")
	}
	if !z.TLS.Enabled && (z.TLS.CAFile != "" || z.TLS.CertFile != "") {
		bad("zookeeper.tls.enabled", "TLS files are set but zookeeper.tls.enabled is false; set it to true (the quorum's secure port speaks TLS only)")
	}
	t := c.Control.TLS
	if (t.CertFile == "") != (t.KeyFile == "") {
		bad("control.tls.key_file", "control.tls.cert_file and control.tls.key_file go together")
	}
	if t.ClientCAFile != "" && t.CertFile == "" {
		bad("control.tls.client_ca_file", "client certificates need TLS: set control.tls.cert_file and key_file too")
	}
	if (t.ClientCertFile == "") != (t.ClientKeyFile == "") {
		bad("control.tls.client_key_file", "control.tls.client_cert_file and control.tls.client_key_file go together")
	}
	// Peers call each other's API (graceful fencing, failover): what the
	// server demands, the client side of the same file must supply.
	if t.ClientCAFile != "" && c.Control.TokenFile == "" && t.ClientCertFile == "" {
		bad("control.tls.client_cert_file", "required with control.tls.client_ca_file and no control.token_file: peers and the CLI must present a certificate (graceful fencing would fail)")
	}
	if t.CertFile != "" && strings.HasPrefix(c.Control.AdvertiseURL, "http://") {
		bad("control.advertise_url", "%q: the API serves HTTPS (control.tls.cert_file), advertise https://", c.Control.AdvertiseURL)
	}
}

// ZooKeeperTLSConfig is the TLS client configuration towards ZooKeeper
// (nil without zookeeper.tls.enabled). serverName is used when
// zookeeper.tls.server_name is empty.
func (c *Config) ZooKeeperTLSConfig(serverName string) (*tls.Config, error) {
	t := c.ZooKeeper.TLS
	if !t.Enabled {
		return nil, nil
	}
	cfg, err := clientTLS("zookeeper.tls", t.CAFile, t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", c.Source, err)
	}
	cfg.ServerName = serverName
	if t.ServerName != "" {
		cfg.ServerName = t.ServerName
	}
	return cfg, nil
}

// ControlClientTLSConfig is the TLS configuration the CLI and peers use
// to call a control API; nil when nothing is configured (system CAs).
func (c *Config) ControlClientTLSConfig() (*tls.Config, error) {
	t := c.Control.TLS
	if t.CAFile == "" && t.ClientCertFile == "" {
		return nil, nil
	}
	cfg, err := clientTLS("control.tls", t.CAFile, t.ClientCertFile, t.ClientKeyFile)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", c.Source, err)
	}
	return cfg, nil
}

// ControlServerTLSConfig is the control API's listener configuration (nil
// for plain HTTP). With client_ca_file, certificates it signed are
// verified; they are required unless a token may stand in (tokenToo).
func (c *Config) ControlServerTLSConfig(tokenToo bool) (*tls.Config, error) {
	t := c.Control.TLS
	if t.CertFile == "" {
		return nil, nil
	}
	kp, err := newKeyPair("control.tls.cert_file", "control.tls.key_file", t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", c.Source, err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return kp.current(), nil }}
	if t.ClientCAFile != "" {
		if cfg.ClientCAs, err = loadPool("control.tls.client_ca_file", t.ClientCAFile); err != nil {
			return nil, fmt.Errorf("config %s: %w", c.Source, err)
		}
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		if tokenToo {
			cfg.ClientAuth = tls.VerifyClientCertIfGiven
		}
	}
	return cfg, nil
}

func clientTLS(prefix, caFile, certFile, keyFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	var err error
	if caFile != "" {
		if cfg.RootCAs, err = loadPool(prefix+".ca_file", caFile); err != nil {
			return nil, err
		}
	}
	if certFile != "" {
		certKey, keyKey := prefix+".cert_file", prefix+".key_file"
		if prefix == "control.tls" {
			certKey, keyKey = prefix+".client_cert_file", prefix+".client_key_file"
		}
		kp, err := newKeyPair(certKey, keyKey, certFile, keyFile)
		if err != nil {
			return nil, err
		}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return kp.current(), nil }
	}
	return cfg, nil
}

// keyPair is a certificate and key that follow their files: a handshake
// re-reads them when either file's modification time or size changed
// (looked at most once a second), so a rotated certificate is served
// without a restart. A pair that fails to load keeps the previous one.
type keyPair struct {
	certKey, keyKey, certFile, keyFile string

	mu        sync.Mutex
	cert      *tls.Certificate
	stamp     string
	lastCheck time.Time
}

// keyPairCheckInterval bounds how often handshakes stat the files.
var keyPairCheckInterval = time.Second

func newKeyPair(certKey, keyKey, certFile, keyFile string) (*keyPair, error) {
	kp := &keyPair{certKey: certKey, keyKey: keyKey, certFile: certFile, keyFile: keyFile}
	cert, err := loadKeyPair(certKey, keyKey, certFile, keyFile)
	if err != nil {
		return nil, err
	}
	kp.cert, kp.stamp, kp.lastCheck = &cert, kp.fileStamp(), time.Now()
	return kp, nil
}

func (kp *keyPair) fileStamp() string {
	var b strings.Builder
	for _, p := range []string{kp.certFile, kp.keyFile} {
		if fi, err := os.Stat(p); err == nil {
			fmt.Fprintf(&b, "%d/%d;", fi.ModTime().UnixNano(), fi.Size())
		}
	}
	return b.String()
}

func (kp *keyPair) current() *tls.Certificate {
	kp.mu.Lock()
	defer kp.mu.Unlock()
	if time.Since(kp.lastCheck) < keyPairCheckInterval {
		return kp.cert
	}
	kp.lastCheck = time.Now()
	if st := kp.fileStamp(); st != kp.stamp {
		if cert, err := loadKeyPair(kp.certKey, kp.keyKey, kp.certFile, kp.keyFile); err == nil {
			kp.cert, kp.stamp = &cert, st
		}
	}
	return kp.cert
}

func loadKeyPair(certKey, keyKey, certFile, keyFile string) (tls.Certificate, error) {
	if err := CheckPrivateFile(keyKey, keyFile); err != nil {
		return tls.Certificate{}, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s / %s: %w", certKey, keyKey, err)
	}
	return cert, nil
}

func loadPool(key, path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, errors.New(key + ": " + path + " holds no PEM certificate")
	}
	return pool, nil
}
