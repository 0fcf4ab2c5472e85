package tlsconfig

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/quorum/tlsconfig/testcerts"
	"go.uber.org/zap/zaptest"
)

func TestFromProperties(t *testing.T) {
	props := map[string]string{
		"ssl.keyStore.location":                  "/zoo/key.pem",
		"zookeeper.ssl.keyStore.location":        "/jvm/key.pem",
		"zookeeper.ssl.keyStore.password":        "jvmpw",
		"ssl.clientAuth":                         " want ",
		"ssl.quorum.trustStore.location":         "/zoo/quorum-trust.p12",
		"zookeeper.ssl.quorum.keyStore.location": "/jvm/quorum.p12",
	}
	s, ok := FromProperties(props, "ssl.")
	if !ok {
		t.Fatal("ssl. not configured")
	}
	want := Settings{Prefix: "ssl.", KeyStore: "/zoo/key.pem", KeyStorePassword: "jvmpw", ClientAuth: "want"}
	if s != want {
		t.Fatalf("ssl.: got %+v, want %+v", s, want)
	}
	q, ok := FromProperties(props, "ssl.quorum.")
	if !ok || q.KeyStore != "/jvm/quorum.p12" || q.TrustStore != "/zoo/quorum-trust.p12" || q.ClientAuth != "" {
		t.Fatalf("ssl.quorum.: %+v configured=%v", q, ok)
	}
	if _, ok := FromProperties(map[string]string{"ssl.clientAuth": "need"}, "ssl."); ok {
		t.Fatal("configured without any store")
	}
}

// listenTLS is a TLS listener on a loopback port with the server config
// srv; it is closed when the test ends.
func listenTLS(t *testing.T, srv *tls.Config) net.Listener {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// peerCN is the common name of the certificate the client presented on
// tc, after its handshake; "" if it presented none.
func peerCN(tc *tls.Conn) string {
	if pc := tc.ConnectionState().PeerCertificates; len(pc) > 0 {
		return pc[0].Subject.CommonName
	}
	return ""
}

// handshake runs one TLS connection over loopback and returns the
// certificate the server presented and the client's common name as the
// server saw it.
func handshake(t *testing.T, srv, cli *tls.Config) (served *x509.Certificate, clientCN string, err error) {
	t.Helper()
	ln := listenTLS(t, srv)
	defer ln.Close()
	type result struct {
		cn  string
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		tc.SetDeadline(time.Now().Add(20 * time.Second))
		if err := tc.Handshake(); err != nil {
			done <- result{err: fmt.Errorf("server: %w", err)}
			return
		}
		tc.Write([]byte("ok"))
		done <- result{cn: peerCN(tc)}
	}()
	d := &net.Dialer{Timeout: 20 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", ln.Addr().String(), cli)
	if err != nil {
		ln.Close()
		<-done
		return nil, "", fmt.Errorf("client: %w", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	// With TLS 1.3 the server checks the client certificate after the
	// client considers the handshake done: read to learn its verdict.
	buf := make([]byte, 2)
	_, rerr := io.ReadFull(c, buf)
	res := <-done
	if res.err != nil {
		return nil, "", res.err
	}
	if rerr != nil {
		return nil, "", fmt.Errorf("client read: %w", rerr)
	}
	return c.ConnectionState().PeerCertificates[0], res.cn, nil
}

func pemServer(set *testcerts.Set) Settings {
	return Settings{Prefix: "ssl.", KeyStore: set.ServerPEM, TrustStore: set.CAPEM}
}

func TestMutualTLS(t *testing.T) {
	set := testcerts.MustWrite(t, t.TempDir())
	other := testcerts.MustWrite(t, t.TempDir()) // another CA, not trusted
	stores := []struct {
		name   string
		server Settings
		client Settings
	}{
		{"PEM key and chain in one file",
			Settings{Prefix: "ssl.", KeyStore: set.ServerPEM, TrustStore: set.CAPEM},
			Settings{Prefix: "ssl.", KeyStore: set.ClientPEM, TrustStore: set.CAPEM}},
		{"PEM separate key file, types explicit",
			Settings{Prefix: "ssl.", KeyStore: set.ServerCertPEM, KeyFile: set.ServerKeyPEM, KeyStoreType: "pem", TrustStore: set.CAPEM, TrustStoreType: "PEM"},
			Settings{Prefix: "ssl.", KeyStore: set.ClientCertPEM, KeyFile: set.ClientKeyPEM, TrustStore: set.CAPEM}},
		{"PKCS12 keystore and truststore",
			Settings{Prefix: "ssl.quorum.", KeyStore: set.ServerP12, KeyStorePassword: testcerts.Password, TrustStore: set.TrustStoreP12, TrustStorePassword: testcerts.Password},
			Settings{Prefix: "ssl.quorum.", KeyStore: set.ClientP12, KeyStorePassword: testcerts.Password, TrustStore: set.TrustStoreP12, TrustStorePassword: testcerts.Password, TrustStoreType: "PKCS12"}},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			srv, _, err := st.server.ServerConfig(zaptest.NewLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			cli, err := st.client.ClientConfig("localhost")
			if err != nil {
				t.Fatal(err)
			}
			served, cn, err := handshake(t, srv, cli)
			if err != nil {
				t.Fatalf("trusted client: %v", err)
			}
			if cn != "client" || served.SerialNumber.Cmp(set.Server.Cert.SerialNumber) != 0 {
				t.Fatalf("server saw client %q and served %v; want client and the server certificate", cn, served.Subject)
			}

			untrusted := st.client
			untrusted.KeyStore, untrusted.KeyFile, untrusted.KeyStoreType = other.ClientPEM, "", ""
			ucli, err := untrusted.ClientConfig("localhost")
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := handshake(t, srv, ucli); err == nil || !strings.Contains(err.Error(), "certificate") {
				t.Fatalf("client with an untrusted certificate: err = %v, want a certificate error", err)
			}
		})
	}
}

func TestClientAuthModes(t *testing.T) {
	set := testcerts.MustWrite(t, t.TempDir())
	anon, err := Settings{TrustStore: set.CAPEM}.ClientConfig("localhost")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		mode   string
		wantOK bool
	}{{"", false}, {"need", false}, {"NEED", false}, {"want", true}, {"none", true}} {
		s := pemServer(set)
		s.ClientAuth = tt.mode
		srv, _, err := s.ServerConfig(nil)
		if err != nil {
			t.Fatal(err)
		}
		_, cn, err := handshake(t, srv, anon)
		if (err == nil) != tt.wantOK {
			t.Fatalf("clientAuth=%q, client without certificate: err = %v, want ok=%v", tt.mode, err, tt.wantOK)
		}
		if err == nil && cn != "" {
			t.Fatalf("clientAuth=%q: server saw client %q", tt.mode, cn)
		}
	}
}

func TestHostnameVerification(t *testing.T) {
	set := testcerts.MustWrite(t, t.TempDir())
	other := testcerts.MustWrite(t, t.TempDir())
	srv, _, err := Settings{KeyStore: set.ServerPEM, ClientAuth: "none"}.ServerConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, verify, serverName, trust string
		wantOK                          bool
	}{
		{"name matches", "", "localhost", set.CAPEM, true},
		{"IP matches", "true", "127.0.0.1", set.CAPEM, true},
		{"name differs", "", "zk1.example", set.CAPEM, false},
		{"name differs, verification off", "false", "zk1.example", set.CAPEM, true},
		{"verification off still checks the chain", "false", "localhost", other.CAPEM, false},
		{"untrusted server", "", "localhost", other.CAPEM, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cli, err := Settings{TrustStore: tt.trust, HostnameVerification: tt.verify}.ClientConfig(tt.serverName)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := handshake(t, srv, cli); (err == nil) != tt.wantOK {
				t.Fatalf("err = %v, want ok=%v", err, tt.wantOK)
			}
		})
	}
}

// replace atomically swaps dst for a file holding data, as a certificate
// manager does.
func replace(t *testing.T, dst string, data []byte) {
	t.Helper()
	tmp := dst + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

func TestReload(t *testing.T) {
	set := testcerts.MustWrite(t, t.TempDir())
	srv, r, err := pemServer(set).ServerConfig(zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	cli, err := Settings{KeyStore: set.ClientPEM, TrustStore: set.CAPEM}.ClientConfig("localhost")
	if err != nil {
		t.Fatal(err)
	}
	served, _, err := handshake(t, srv, cli)
	if err != nil {
		t.Fatal(err)
	}
	if served.SerialNumber.Cmp(set.Server.Cert.SerialNumber) != 0 {
		t.Fatal("not serving the initial certificate")
	}
	if err := r.Check(); err != nil {
		t.Fatalf("check without change: %v", err)
	}

	next, err := set.CA.Issue("server", "localhost", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	replace(t, set.ServerPEM, append(next.KeyPEM(), next.CertPEM()...))
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	served, _, err = handshake(t, srv, cli)
	if err != nil {
		t.Fatal(err)
	}
	if served.SerialNumber.Cmp(next.Cert.SerialNumber) != 0 {
		t.Fatalf("after rotation served serial %x, want %x", served.SerialNumber, next.Cert.SerialNumber)
	}

	// A broken replacement is refused and the rotated certificate stays.
	replace(t, set.ServerPEM, []byte("-----BEGIN CERTIFICATE-----\ngarbage\n"))
	if err := r.Check(); err == nil || !strings.Contains(err.Error(), "ssl.keyStore.location") {
		t.Fatalf("broken keystore: err = %v, want one naming ssl.keyStore.location", err)
	}
	served, _, err = handshake(t, srv, cli)
	if err != nil {
		t.Fatal(err)
	}
	if served.SerialNumber.Cmp(next.Cert.SerialNumber) != 0 {
		t.Fatalf("after a broken replacement served serial %x, want %x", served.SerialNumber, next.Cert.SerialNumber)
	}
}

// TestReloadOnHandshake: without any explicit Check, a handshake notices
// the replaced files (the check interval is zeroed so that the test does
// not depend on the clock), including a rotated trust anchor.
func TestReloadOnHandshake(t *testing.T) {
	set := testcerts.MustWrite(t, t.TempDir())
	newSet := testcerts.MustWrite(t, t.TempDir()) // a new CA with its own server and client
	srv, r, err := pemServer(set).ServerConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	r.checkInterval = 0
	newCli, err := Settings{KeyStore: newSet.ClientPEM, TrustStore: newSet.CAPEM}.ClientConfig("localhost")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := handshake(t, srv, newCli); err == nil {
		t.Fatal("client of the new CA accepted before rotation")
	}
	replace(t, set.ServerPEM, append(newSet.Server.KeyPEM(), newSet.Server.CertPEM()...))
	replace(t, set.CAPEM, newSet.CA.CertPEM())
	served, cn, err := handshake(t, srv, newCli)
	if err != nil {
		t.Fatalf("after rotating to the new CA: %v", err)
	}
	if served.SerialNumber.Cmp(newSet.Server.Cert.SerialNumber) != 0 || cn != "client" {
		t.Fatalf("served serial %x to %q, want %x", served.SerialNumber, cn, newSet.Server.Cert.SerialNumber)
	}
}

func TestKeyPermissions(t *testing.T) {
	set := testcerts.MustWrite(t, t.TempDir())
	for _, tt := range []struct {
		name string
		s    Settings
		file string // made group/world readable
		key  string
	}{
		{"combined PEM", Settings{Prefix: "ssl.", KeyStore: set.ServerPEM}, set.ServerPEM, "ssl.keyStore.location"},
		{"separate key file", Settings{Prefix: "ssl.", KeyStore: set.ServerCertPEM, KeyFile: set.ServerKeyPEM}, set.ServerKeyPEM, "ssl.keyStore.keyLocation"},
		{"PKCS12", Settings{Prefix: "ssl.quorum.", KeyStore: set.ServerP12, KeyStorePassword: testcerts.Password}, set.ServerP12, "ssl.quorum.keyStore.location"},
	} {
		for _, mode := range []os.FileMode{0o644, 0o640, 0o604} {
			t.Run(fmt.Sprintf("%s %04o", tt.name, mode), func(t *testing.T) {
				if err := os.Chmod(tt.file, mode); err != nil {
					t.Fatal(err)
				}
				defer os.Chmod(tt.file, 0o600)
				_, _, err := tt.s.ServerConfig(nil)
				if err == nil {
					t.Fatal("accepted a key readable by others")
				}
				for _, want := range []string{tt.key, "chmod 600 " + tt.file} {
					if !strings.Contains(err.Error(), want) {
						t.Fatalf("error %q lacks %q", err, want)
					}
				}
			})
		}
		if _, _, err := tt.s.ServerConfig(nil); err != nil {
			t.Fatalf("%s at 0600: %v", tt.name, err)
		}
	}
	// The certificate file of a separate pair and truststores are public.
	os.Chmod(set.ServerCertPEM, 0o644)
	os.Chmod(set.TrustStoreP12, 0o644)
	if _, _, err := (Settings{KeyStore: set.ServerCertPEM, KeyFile: set.ServerKeyPEM, TrustStore: set.TrustStoreP12, TrustStorePassword: testcerts.Password}).ServerConfig(nil); err != nil {
		t.Fatalf("public certificate and truststore refused: %v", err)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	set := testcerts.MustWrite(t, dir)
	other := testcerts.MustWrite(t, t.TempDir())
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mismatched := write("mismatch.pem", append(other.Server.KeyPEM(), set.Server.CertPEM()...))
	encrypted := write("enc.pem", append([]byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"), set.Server.CertPEM()...))
	certOnly := write("certonly.pem", set.Server.CertPEM())
	jks := write("keystore.jks", []byte("not really"))
	noExt := write("keystore", []byte("x"))
	emptyTrust := write("empty.pem", []byte("# nothing\n"))
	for _, tt := range []struct {
		name string
		s    Settings
		want []string
	}{
		{"no keystore", Settings{Prefix: "ssl."}, []string{"ssl.keyStore.location is required"}},
		{"missing file", Settings{Prefix: "ssl.", KeyStore: filepath.Join(dir, "nope.pem")}, []string{"ssl.keyStore.location", "nope.pem"}},
		{"JKS by type", Settings{Prefix: "ssl.", KeyStore: set.ServerP12, KeyStoreType: "JKS"}, []string{"ssl.keyStore.type=JKS", "keytool -importkeystore", "-deststoretype PKCS12"}},
		{"JKS by extension", Settings{Prefix: "ssl.quorum.", KeyStore: jks}, []string{"ssl.quorum.keyStore.type=JKS", "keytool -importkeystore"}},
		{"JKS truststore", Settings{Prefix: "ssl.", KeyStore: set.ServerPEM, TrustStore: jks}, []string{"ssl.trustStore.type=JKS"}},
		{"unknown type", Settings{Prefix: "ssl.", KeyStore: set.ServerPEM, KeyStoreType: "BCFKS"}, []string{"ssl.keyStore.type", "PEM or PKCS12"}},
		{"no extension", Settings{Prefix: "ssl.", KeyStore: noExt}, []string{"ssl.keyStore.type", "cannot tell"}},
		{"wrong PKCS12 password", Settings{Prefix: "ssl.", KeyStore: set.ServerP12, KeyStorePassword: "nope"}, []string{"ssl.keyStore.password", "wrong password"}},
		{"wrong truststore password", Settings{Prefix: "ssl.", KeyStore: set.ServerPEM, TrustStore: set.TrustStoreP12, TrustStorePassword: "nope"}, []string{"ssl.trustStore.password"}},
		{"key of another certificate", Settings{Prefix: "ssl.", KeyStore: mismatched}, []string{"does not belong"}},
		{"encrypted PEM key without password", Settings{Prefix: "ssl.", KeyStore: encrypted}, []string{"ssl.keyStore.location", "encrypted", "set ssl.keyStore.password"}},
		{"encrypted PEM key, garbage", Settings{Prefix: "ssl.", KeyStore: encrypted, KeyStorePassword: "x"}, []string{"ssl.keyStore.location", "EncryptedPrivateKeyInfo"}},
		{"no key", Settings{Prefix: "ssl.", KeyStore: certOnly}, []string{"ssl.keyStore.location", "no private key"}},
		{"empty truststore", Settings{Prefix: "ssl.", KeyStore: set.ServerPEM, TrustStore: emptyTrust}, []string{"ssl.trustStore.location", "no certificates"}},
		{"bad clientAuth", Settings{Prefix: "ssl.", KeyStore: set.ServerPEM, ClientAuth: "always"}, []string{"ssl.clientAuth", "none, want or need"}},
		{"TLSv1.1", Settings{Prefix: "ssl.", KeyStore: set.ServerPEM, Protocol: "TLSv1.1"}, []string{"ssl.protocol", "insecure"}},
		{"unknown protocol", Settings{Prefix: "ssl.", KeyStore: set.ServerPEM, EnabledProtocols: "TLSv1.2,DTLS"}, []string{"ssl.enabledProtocols", "DTLS"}},
		{"weak cipher", Settings{Prefix: "ssl.", KeyStore: set.ServerPEM, CipherSuites: "TLS_RSA_WITH_RC4_128_SHA"}, []string{"ssl.ciphersuites", "TLS_RSA_WITH_RC4_128_SHA"}},
		{"key file without keystore", Settings{Prefix: "ssl.", KeyFile: set.ServerKeyPEM, TrustStore: set.CAPEM}, []string{"ssl.keyStore.keyLocation"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.s.KeyStore == "" && tt.s.KeyFile != "" {
				_, err = tt.s.ClientConfig("localhost")
			} else {
				_, _, err = tt.s.ServerConfig(nil)
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), testcerts.Password) {
				t.Fatalf("error %q reveals a password", err)
			}
		})
	}
	if _, err := (Settings{Prefix: "ssl.", HostnameVerification: "yes"}).ClientConfig("x"); err == nil || !strings.Contains(err.Error(), "ssl.hostnameVerification") {
		t.Fatalf("bad hostnameVerification: %v", err)
	}
}

func TestVersionsAndSuites(t *testing.T) {
	for _, tt := range []struct {
		protocol, enabled string
		min, max          uint16
	}{
		{"", "", tls.VersionTLS12, tls.VersionTLS13},
		{"TLSv1.2", "", tls.VersionTLS12, tls.VersionTLS12},
		{"TLSv1.3", "", tls.VersionTLS13, tls.VersionTLS13},
		{"TLSv1.2", "TLSv1.3, TLSv1.2", tls.VersionTLS12, tls.VersionTLS13},
		{"TLS", "", tls.VersionTLS12, tls.VersionTLS13},
	} {
		minV, maxV, err := Settings{Protocol: tt.protocol, EnabledProtocols: tt.enabled}.versions()
		if err != nil || minV != tt.min || maxV != tt.max {
			t.Errorf("protocol=%q enabled=%q: %x..%x %v, want %x..%x", tt.protocol, tt.enabled, minV, maxV, err, tt.min, tt.max)
		}
	}
	ids, err := Settings{CipherSuites: "TLS_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"}.cipherSuites()
	if err != nil || len(ids) != 1 || ids[0] != tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 {
		t.Fatalf("suites %v %v", ids, err)
	}

	// A TLS 1.2-only server refuses a TLS 1.3-only client.
	set := testcerts.MustWrite(t, t.TempDir())
	srv, _, err := Settings{KeyStore: set.ServerPEM, ClientAuth: "none", Protocol: "TLSv1.2"}.ServerConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	cli13, err := Settings{TrustStore: set.CAPEM, Protocol: "TLSv1.3"}.ClientConfig("localhost")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := handshake(t, srv, cli13); err == nil || !strings.Contains(err.Error(), "version") {
		t.Fatalf("TLS 1.2 server, TLS 1.3 client: err = %v, want a version error", err)
	}
}

// TestOpenSSLPKCS12 reads keystores written by the openssl command line,
// with OpenSSL 3's default (AES, PBKDF2, SHA-256 MAC) and legacy (3DES,
// SHA-1) algorithms, as operators produce them.
func TestOpenSSLPKCS12(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	set := testcerts.MustWrite(t, t.TempDir())
	for _, tt := range []struct {
		name  string
		extra []string
	}{
		{"default", nil},
		{"legacy 3DES", []string{"-certpbe", "PBE-SHA1-3DES", "-keypbe", "PBE-SHA1-3DES", "-macalg", "sha1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "ks.p12")
			args := append([]string{"pkcs12", "-export", "-in", set.ServerCertPEM, "-inkey", set.ServerKeyPEM, "-out", out, "-passout", "pass:" + testcerts.Password}, tt.extra...)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if b, err := exec.CommandContext(ctx, openssl, args...).CombinedOutput(); err != nil {
				t.Fatalf("openssl %v: %v\n%s", args, err, b)
			}
			if err := os.Chmod(out, 0o600); err != nil {
				t.Fatal(err)
			}
			_, r, err := Settings{KeyStore: out, KeyStorePassword: testcerts.Password, ClientAuth: "none"}.ServerConfig(nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Certificate().Leaf.SerialNumber; got.Cmp(set.Server.Cert.SerialNumber) != 0 {
				t.Fatalf("loaded serial %x, want %x", got, set.Server.Cert.SerialNumber)
			}
			if len(r.Certificate().Certificate) != 2 {
				t.Fatalf("chain of %d certificates, want leaf and CA", len(r.Certificate().Certificate))
			}
		})
	}
}

// TestPasswordPath: PKCS12 passwords read from files (ZooKeeper 3.8's
// *.passwordPath), held to key-file permissions, and re-read when the
// keystore and its password rotate together.
func TestPasswordPath(t *testing.T) {
	dir := t.TempDir()
	set := testcerts.MustWrite(t, dir)
	ksPass := filepath.Join(dir, "ks.pass")
	tsPass := filepath.Join(dir, "ts.pass")
	for _, f := range []string{ksPass, tsPass} {
		if err := os.WriteFile(f, []byte(testcerts.Password+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, _ := FromProperties(map[string]string{
		"zookeeper.ssl.quorum.keyStore.location":       set.ServerP12,
		"zookeeper.ssl.quorum.keyStore.passwordPath":   ksPass,
		"zookeeper.ssl.quorum.trustStore.location":     set.TrustStoreP12,
		"zookeeper.ssl.quorum.trustStore.passwordPath": tsPass,
	}, "ssl.quorum.")
	srv, r, err := s.ServerConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := Settings{KeyStore: set.ClientPEM, TrustStore: set.CAPEM}.ClientConfig("localhost")
	if err != nil {
		t.Fatal(err)
	}
	if _, cn, err := handshake(t, srv, cli); err != nil || cn != "client" {
		t.Fatalf("handshake: %q %v", cn, err)
	}

	// Rotate keystore and password together.
	next, err := set.CA.Issue("server", "localhost", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(t.TempDir(), "next.p12")
	if err := next.WritePKCS12(tmp, "newpass"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(tmp)
	if err != nil {
		t.Fatal(err)
	}
	replace(t, set.ServerP12, data)
	replace(t, ksPass, []byte("newpass\n"))
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	served, _, err := handshake(t, srv, cli)
	if err != nil {
		t.Fatal(err)
	}
	if served.SerialNumber.Cmp(next.Cert.SerialNumber) != 0 {
		t.Fatal("rotated keystore not served")
	}

	if err := os.Chmod(ksPass, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.ServerConfig(nil)
	if err == nil || !strings.Contains(err.Error(), "ssl.quorum.keyStore.passwordPath") || !strings.Contains(err.Error(), "chmod 600 "+ksPass) {
		t.Fatalf("world-readable password file: %v", err)
	}
}

// TestEncryptedPEMKey reads PKCS#8 keys encrypted by openssl, as
// ZooKeeper's PEM keystore does with ssl.keyStore.password.
func TestEncryptedPEMKey(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	set := testcerts.MustWrite(t, dir)
	run := func(args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, openssl, args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
	}
	for _, tt := range []struct {
		name     string
		args     []string // openssl arguments producing out from set.ServerKeyPEM
		password string
		want     string // "" = loads
	}{
		{"AES-256 HMAC-SHA256", []string{"pkcs8", "-topk8", "-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA256"}, "secret", ""},
		{"AES-128 HMAC-SHA1", []string{"pkcs8", "-topk8", "-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA1"}, "secret", ""},
		{"AES-192 default PRF", []string{"pkcs8", "-topk8", "-v2", "aes-192-cbc"}, "secret", ""},
		{"wrong password", []string{"pkcs8", "-topk8", "-v2", "aes-256-cbc"}, "other", "wrong password"},
		{"PBES1 3DES", []string{"pkcs8", "-topk8", "-v1", "PBE-SHA1-3DES"}, "secret", "not PBES2"},
		{"legacy OpenSSL format", []string{"ec", "-aes256"}, "secret", "legacy OpenSSL encrypted format"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			keyOut := filepath.Join(t.TempDir(), "key.pem")
			run(append(tt.args, "-in", set.ServerKeyPEM, "-out", keyOut, "-passout", "pass:secret")...)
			if err := os.Chmod(keyOut, 0o600); err != nil {
				t.Fatal(err)
			}
			s := Settings{Prefix: "ssl.", KeyStore: set.ServerCertPEM, KeyFile: keyOut, KeyStorePassword: tt.password, ClientAuth: "none"}
			_, r, err := s.ServerConfig(nil)
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Certificate().Leaf.SerialNumber.Cmp(set.Server.Cert.SerialNumber) != 0 {
				t.Fatal("wrong certificate")
			}
			// Key and chain in one file, as ZooKeeper's PEM type has them.
			keyData, err := os.ReadFile(keyOut)
			if err != nil {
				t.Fatal(err)
			}
			combined := filepath.Join(t.TempDir(), "combined.pem")
			if err := os.WriteFile(combined, append(keyData, set.Server.CertPEM()...), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, _, err := (Settings{KeyStore: combined, KeyStorePassword: tt.password, ClientAuth: "none"}).ServerConfig(nil); err != nil {
				t.Fatalf("combined file: %v", err)
			}
		})
	}
}
