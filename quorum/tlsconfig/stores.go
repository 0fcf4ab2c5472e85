package tlsconfig

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// fileStamp identifies one version of a file: a replaced file (new inode,
// the usual atomic rename or a Kubernetes secret's symlink swap) or one
// rewritten in place (new mtime or size) gets a different stamp.
type fileStamp struct {
	path  string
	mtime time.Time
	size  int64
	ino   uint64
}

func stamp(path string) (fileStamp, os.FileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, nil, err
	}
	st := fileStamp{path: path, mtime: fi.ModTime(), size: fi.Size()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino = uint64(sys.Ino)
	}
	return st, fi, nil
}

// material is what the files held at one moment.
type material struct {
	cert  *tls.Certificate // nil without a keystore
	roots *x509.CertPool   // nil without a truststore: the system pool
	files []fileStamp
}

// changed reports whether any file differs from what was loaded.
func (m *material) changed() bool {
	for _, f := range m.files {
		now, _, err := stamp(f.path)
		if err != nil || now != f {
			return true
		}
	}
	return false
}

// load reads the keystore and truststore named by s.
func (s Settings) load() (*material, error) {
	m := &material{}
	if s.KeyStore != "" {
		cert, files, err := s.loadKeyStore()
		if err != nil {
			return nil, err
		}
		m.cert = cert
		m.files = append(m.files, files...)
	} else if s.KeyFile != "" {
		return nil, fmt.Errorf("%s is set but %s is not; name the certificate file there", s.key("keyStore.keyLocation"), s.key("keyStore.location"))
	}
	if s.TrustStore != "" {
		pool, files, err := s.loadTrustStore()
		if err != nil {
			return nil, err
		}
		m.roots = pool
		m.files = append(m.files, files...)
	}
	return m, nil
}

// readPrivate reads a file that holds a private key, refusing it when
// anyone but its owner may access it.
func readPrivate(path, key string) ([]byte, fileStamp, error) {
	st, fi, err := stamp(path)
	if err != nil {
		return nil, st, fmt.Errorf("%s: %w", key, err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, st, fmt.Errorf("%s: %s holds a private key but is accessible by group or others (mode %04o); run chmod 600 %s", key, path, perm, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, st, fmt.Errorf("%s: %w", key, err)
	}
	return data, st, nil
}

func (s Settings) loadKeyStore() (*tls.Certificate, []fileStamp, error) {
	locKey := s.key("keyStore.location")
	typ, err := s.storeType("keyStore", s.KeyStore, s.KeyStoreType)
	if err != nil {
		return nil, nil, err
	}
	var (
		key   crypto.PrivateKey
		chain []*x509.Certificate
		files []fileStamp
	)
	switch typ {
	case TypePKCS12:
		data, st, err := readPrivate(s.KeyStore, locKey)
		if err != nil {
			return nil, nil, err
		}
		files = append(files, st)
		password, pwStamp, err := s.password("keyStore", s.KeyStorePassword, s.KeyStorePasswordPath)
		if err != nil {
			return nil, nil, err
		}
		files = append(files, pwStamp...)
		k, leaf, cas, err := pkcs12.DecodeChain(data, password)
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return nil, nil, fmt.Errorf("%s: wrong password for %s", s.key("keyStore.password"), s.KeyStore)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: read PKCS12 keystore %s: %w", locKey, s.KeyStore, err)
		}
		key, chain = k, append([]*x509.Certificate{leaf}, cas...)
	case TypePEM:
		var data []byte
		var st fileStamp
		if s.KeyFile != "" {
			// Certificates alone are public; only the key file is checked.
			st, _, err = stamp(s.KeyStore)
			if err == nil {
				data, err = os.ReadFile(s.KeyStore)
			}
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", locKey, err)
			}
		} else if data, st, err = readPrivate(s.KeyStore, locKey); err != nil {
			return nil, nil, err
		}
		files = append(files, st)
		keyData, keyPath, keyKey := data, s.KeyStore, locKey
		if s.KeyFile != "" {
			keyKey = s.key("keyStore.keyLocation")
			if keyData, st, err = readPrivate(s.KeyFile, keyKey); err != nil {
				return nil, nil, err
			}
			keyPath = s.KeyFile
			files = append(files, st)
		}
		if chain, err = pemCerts(data); err != nil {
			return nil, nil, fmt.Errorf("%s: %s: %w", locKey, s.KeyStore, err)
		}
		if len(chain) == 0 {
			return nil, nil, fmt.Errorf("%s: no CERTIFICATE block in %s", locKey, s.KeyStore)
		}
		if key, err = s.pemKey(keyData, keyPath, keyKey); err != nil {
			return nil, nil, err
		}
		if s.KeyStorePassword == "" && s.KeyStorePasswordPath != "" {
			// The key may be encrypted with this password: a rotation may
			// change both.
			if st, _, err := stamp(s.KeyStorePasswordPath); err == nil {
				files = append(files, st)
			}
		}
	}
	leaf := chain[0]
	pub, ok := key.(interface{ Public() crypto.PublicKey })
	if !ok {
		return nil, nil, fmt.Errorf("%s: unsupported private key type %T", locKey, key)
	}
	if eq, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(pub.Public()) {
		return nil, nil, fmt.Errorf("%s: the private key does not belong to the first certificate (%s) of %s", locKey, leaf.Subject, s.KeyStore)
	}
	cert := &tls.Certificate{PrivateKey: key, Leaf: leaf}
	for _, c := range chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	return cert, files, nil
}

// password resolves a store's password: the password key if set, else the
// content of the passwordPath file (trailing line break removed), which is
// a secret and so held to the same permissions as a key file. The file's
// stamp is returned so that a rotated password is picked up with its store.
func (s Settings) password(kind, value, path string) (string, []fileStamp, error) {
	if value != "" || path == "" {
		return value, nil, nil
	}
	data, st, err := readPrivate(path, s.key(kind+".passwordPath"))
	if err != nil {
		return "", nil, err
	}
	return strings.TrimRight(string(data), "\r\n"), []fileStamp{st}, nil
}

func pemCerts(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	// Each pem.Decode consumes a block or ends the loop.
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return out, nil
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(out)+1, err)
		}
		out = append(out, c)
	}
}

func (s Settings) pemKey(data []byte, path, key string) (crypto.PrivateKey, error) {
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, fmt.Errorf("%s: no private key in %s (PEM block PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)", key, path)
		}
		var (
			k   crypto.PrivateKey
			err error
		)
		switch {
		case b.Headers["Proc-Type"] != "":
			return nil, fmt.Errorf("%s: %s holds a private key in the legacy OpenSSL encrypted format, which is not supported; convert it with openssl pkcs8 -topk8 -v2 aes-256-cbc -in %s -out new.pem", key, path, path)
		case b.Type == "ENCRYPTED PRIVATE KEY":
			password, _, perr := s.password("keyStore", s.KeyStorePassword, s.KeyStorePasswordPath)
			if perr != nil {
				return nil, perr
			}
			if password == "" {
				return nil, fmt.Errorf("%s: %s holds an encrypted private key; set %s (or %s)", key, path, s.key("keyStore.password"), s.key("keyStore.passwordPath"))
			}
			k, err = decryptPKCS8(b.Bytes, password)
			if errors.Is(err, errWrongPassword) {
				return nil, fmt.Errorf("%s: wrong password for the encrypted private key in %s", s.key("keyStore.password"), path)
			}
		case b.Type == "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case b.Type == "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case b.Type == "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(b.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: private key in %s: %w", key, path, err)
		}
		return k, nil
	}
}

func (s Settings) loadTrustStore() (*x509.CertPool, []fileStamp, error) {
	locKey := s.key("trustStore.location")
	typ, err := s.storeType("trustStore", s.TrustStore, s.TrustStoreType)
	if err != nil {
		return nil, nil, err
	}
	st, _, err := stamp(s.TrustStore)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", locKey, err)
	}
	data, err := os.ReadFile(s.TrustStore)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", locKey, err)
	}
	files := []fileStamp{st}
	var certs []*x509.Certificate
	switch typ {
	case TypePEM:
		if certs, err = pemCerts(data); err != nil {
			return nil, nil, fmt.Errorf("%s: %s: %w", locKey, s.TrustStore, err)
		}
	case TypePKCS12:
		password, pwStamp, perr := s.password("trustStore", s.TrustStorePassword, s.TrustStorePasswordPath)
		if perr != nil {
			return nil, nil, perr
		}
		files = append(files, pwStamp...)
		certs, err = pkcs12.DecodeTrustStore(data, password)
		if err != nil && !errors.Is(err, pkcs12.ErrIncorrectPassword) {
			// A keystore with a key entry used as truststore: trust its
			// certificates, as Java does.
			if _, leaf, cas, err2 := pkcs12.DecodeChain(data, password); err2 == nil {
				certs, err = append([]*x509.Certificate{leaf}, cas...), nil
			}
		}
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return nil, nil, fmt.Errorf("%s: wrong password for %s", s.key("trustStore.password"), s.TrustStore)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: read PKCS12 truststore %s: %w", locKey, s.TrustStore, err)
		}
	}
	if len(certs) == 0 {
		return nil, nil, fmt.Errorf("%s: no certificates in %s", locKey, s.TrustStore)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, files, nil
}
