// Package testcerts writes throw-away certificate authorities, server and
// client certificates in the formats ZooKeeper clients and servers read
// (PEM with key and chain in one file, separate PEM files, PKCS12
// keystores and a Java-readable PKCS12 truststore), so that tests can point
// zkCli, kazoo, go-zookeeper and our own server at a TLS port.
//
// It is for tests only: keys are generated without care for entropy
// budgets, the password is a constant, and nothing here must ever be used
// to secure a real deployment.
package testcerts

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// Password protects every PKCS12 file written here.
const Password = "testpass"

// CA is a self-signed certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// Leaf is a certificate issued by a CA, with its private key.
type Leaf struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	CA   *CA
}

// NewCA creates a CA valid from an hour ago for ten years.
func NewCA(commonName string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"zkfc tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Issue creates a certificate for commonName usable for both TLS server
// and client authentication (ZooKeeper members are both), valid for the
// given host names and IP addresses.
func (ca *CA) Issue(commonName string, hosts ...string) (*Leaf, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key for %s: %w", commonName, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: commonName, Organization: []string{"zkfc tests"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(5 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, fmt.Errorf("issue certificate for %s: %w", commonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Leaf{Cert: cert, Key: key, CA: ca}, nil
}

// CertPEM is the PEM encoding of the certificate.
func (ca *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// CertPEM is the PEM encoding of the leaf certificate followed by its CA,
// the chain a server presents.
func (l *Leaf) CertPEM() []byte {
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: l.Cert.Raw})
	return append(out, l.CA.CertPEM()...)
}

// KeyPEM is the PKCS#8 PEM encoding of the private key.
func (l *Leaf) KeyPEM() []byte {
	der, err := x509.MarshalPKCS8PrivateKey(l.Key)
	if err != nil {
		// Only fails for key types we never generate.
		panic(fmt.Sprintf("marshal key: %v", err))
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// WritePEM writes key and chain into one file with mode 0600, the layout
// of ZooKeeper's PEM keystore type.
func (l *Leaf) WritePEM(path string) error {
	return writeFile(path, append(l.KeyPEM(), l.CertPEM()...), 0o600)
}

// WritePKCS12 writes a PKCS12 keystore (key, certificate and CA) with mode
// 0600, encrypted with AES and PBKDF2 (readable by Java 12+, OpenSSL 1.1.1+).
func (l *Leaf) WritePKCS12(path, password string) error {
	data, err := pkcs12.Modern.Encode(l.Key, l.Cert, []*x509.Certificate{l.CA.Cert}, password)
	if err != nil {
		return fmt.Errorf("encode PKCS12 %s: %w", path, err)
	}
	return writeFile(path, data, 0o600)
}

// WriteTrustStorePKCS12 writes a PKCS12 truststore holding certs as
// trusted entries, with the attribute Java's KeyStore needs to treat them
// as trust anchors.
func WriteTrustStorePKCS12(path, password string, certs ...*x509.Certificate) error {
	data, err := pkcs12.Modern.EncodeTrustStore(certs, password)
	if err != nil {
		return fmt.Errorf("encode PKCS12 truststore %s: %w", path, err)
	}
	return writeFile(path, data, 0o644)
}

// Set is a CA with a server and a client certificate, written to Dir.
type Set struct {
	Dir    string
	CA     *CA
	Server *Leaf // CN "server", valid for localhost, 127.0.0.1 and ::1
	Client *Leaf // CN "client", same hosts (members are clients too)

	CAPEM         string // CA certificate (a PEM truststore)
	TrustStoreP12 string // CA as a PKCS12 truststore, password Password
	ServerPEM     string // server key + chain in one file (0600)
	ServerCertPEM string // server chain alone
	ServerKeyPEM  string // server key alone (0600)
	ServerP12     string // server PKCS12 keystore, password Password (0600)
	ClientPEM     string
	ClientCertPEM string
	ClientKeyPEM  string
	ClientP12     string
}

// Write creates a fresh Set in dir, which must exist.
func Write(dir string) (*Set, error) {
	ca, err := NewCA("zkfc test CA")
	if err != nil {
		return nil, err
	}
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	server, err := ca.Issue("server", hosts...)
	if err != nil {
		return nil, err
	}
	client, err := ca.Issue("client", hosts...)
	if err != nil {
		return nil, err
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	s := &Set{
		Dir: dir, CA: ca, Server: server, Client: client,
		CAPEM: p("ca.pem"), TrustStoreP12: p("truststore.p12"),
		ServerPEM: p("server.pem"), ServerCertPEM: p("server-cert.pem"), ServerKeyPEM: p("server-key.pem"), ServerP12: p("server.p12"),
		ClientPEM: p("client.pem"), ClientCertPEM: p("client-cert.pem"), ClientKeyPEM: p("client-key.pem"), ClientP12: p("client.p12"),
	}
	steps := []func() error{
		func() error { return writeFile(s.CAPEM, ca.CertPEM(), 0o644) },
		func() error { return WriteTrustStorePKCS12(s.TrustStoreP12, Password, ca.Cert) },
		func() error { return server.WritePEM(s.ServerPEM) },
		func() error { return writeFile(s.ServerCertPEM, server.CertPEM(), 0o644) },
		func() error { return writeFile(s.ServerKeyPEM, server.KeyPEM(), 0o600) },
		func() error { return server.WritePKCS12(s.ServerP12, Password) },
		func() error { return client.WritePEM(s.ClientPEM) },
		func() error { return writeFile(s.ClientCertPEM, client.CertPEM(), 0o644) },
		func() error { return writeFile(s.ClientKeyPEM, client.KeyPEM(), 0o600) },
		func() error { return client.WritePKCS12(s.ClientP12, Password) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// MustWrite is Write for tests: it fails t when the set cannot be made.
func MustWrite(t testing.TB, dir string) *Set {
	t.Helper()
	s, err := Write(dir)
	if err != nil {
		t.Fatalf("write test certificates in %s: %v", dir, err)
	}
	return s
}

// Pool holds the set's CA, for a tls.Config's RootCAs or ClientCAs.
func (s *Set) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.CA.Cert)
	return p
}

// TLSCertificate is the leaf's key and chain (the leaf, then its CA) for a
// tls.Config's Certificates: what a peer loads from the set's files.
func (l *Leaf) TLSCertificate() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{l.Cert.Raw, l.CA.Cert.Raw}, PrivateKey: l.Key, Leaf: l.Cert}
}

// ServerProperties are the zoo.cfg keys that make a server use this set on
// its secure client port (PKCS12 keystore and truststore, client
// certificates required). prefix is "ssl." or "ssl.quorum.".
func (s *Set) ServerProperties(prefix string) map[string]string {
	return map[string]string{
		prefix + "keyStore.location":   s.ServerP12,
		prefix + "keyStore.password":   Password,
		prefix + "keyStore.type":       "PKCS12",
		prefix + "trustStore.location": s.TrustStoreP12,
		prefix + "trustStore.password": Password,
		prefix + "trustStore.type":     "PKCS12",
	}
}

// JavaClientFlags are the JVM flags (CLIENT_JVMFLAGS) with which zkCli.sh
// connects to a secure port using the client keystore and the truststore.
func (s *Set) JavaClientFlags() string {
	return "-Dzookeeper.client.secure=true" +
		" -Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty" +
		" -Dzookeeper.ssl.keyStore.location=" + s.ClientP12 +
		" -Dzookeeper.ssl.keyStore.password=" + Password +
		" -Dzookeeper.ssl.keyStore.type=PKCS12" +
		" -Dzookeeper.ssl.trustStore.location=" + s.TrustStoreP12 +
		" -Dzookeeper.ssl.trustStore.password=" + Password +
		" -Dzookeeper.ssl.trustStore.type=PKCS12"
}

// JavaClasspath is the class path with which Debian's ZooKeeper 3.8 can
// speak TLS, server or client: its zookeeper.jar manifest leaves out the
// Netty jars that NettyServerCnxnFactory and ClientCnxnSocketNetty need,
// and zkEnv.sh overwrites CLASSPATH, so pass this as JVMFLAGS="-cp ..."
// to zkCli.sh (a later -cp wins) or to java directly.
func JavaClasspath() string {
	cp := "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar"
	for _, jar := range []string{"buffer", "codec", "common", "handler", "resolver", "transport", "transport-native-unix-common", "transport-native-epoll"} {
		p := "/usr/share/java/netty-" + jar + ".jar"
		if _, err := os.Stat(p); err == nil {
			cp += ":" + p
		}
	}
	return cp
}

func writeFile(path string, data []byte, mode os.FileMode) error {
	if err := os.WriteFile(path, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// WriteFile leaves the mode of an existing file alone, and the umask
	// may have narrowed a new one.
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	return nil
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(fmt.Sprintf("read random serial: %v", err))
	}
	return n.Add(n, big.NewInt(1))
}
