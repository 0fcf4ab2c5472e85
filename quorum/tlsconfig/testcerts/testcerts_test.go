package testcerts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestWrite(t *testing.T) {
	s, err := Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pool := s.Pool()
	for _, l := range []*Leaf{s.Server, s.Client} {
		if _, err := l.Cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "localhost", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Fatalf("%s does not verify against the CA: %v", l.Cert.Subject.CommonName, err)
		}
	}
	if _, err := tls.LoadX509KeyPair(s.ServerPEM, s.ServerPEM); err != nil {
		t.Fatalf("combined PEM: %v", err)
	}
	if _, err := tls.LoadX509KeyPair(s.ClientCertPEM, s.ClientKeyPEM); err != nil {
		t.Fatalf("separate PEM files: %v", err)
	}
	for _, key := range []string{s.ServerPEM, s.ServerKeyPEM, s.ServerP12, s.ClientP12} {
		fi, err := os.Stat(key)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s has mode %v, want 0600", key, fi.Mode().Perm())
		}
	}
}

// TestJavaReadsStores checks with keytool that Java sees the keystore's
// private key entry and the truststore's trusted certificate entry; a
// truststore without Java's trust attribute would list no entries.
func TestJavaReadsStores(t *testing.T) {
	keytool, err := exec.LookPath("keytool")
	if err != nil {
		t.Skip("keytool not installed (apt-get install -y default-jre-headless)")
	}
	s, err := Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ path, want string }{
		{s.ServerP12, "PrivateKeyEntry"},
		{s.ClientP12, "PrivateKeyEntry"},
		{s.TrustStoreP12, "trustedCertEntry"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		out, err := exec.CommandContext(ctx, keytool, "-list", "-storetype", "PKCS12", "-keystore", tt.path, "-storepass", Password).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("keytool -list %s: %v\n%s", tt.path, err, out)
		}
		if !strings.Contains(string(out), tt.want) {
			t.Fatalf("keytool -list %s shows no %s:\n%s", tt.path, tt.want, out)
		}
	}
}
