package config

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zkfc-project/zkfc/quorum/tlsconfig/testcerts"
	"github.com/zkfc-project/zkfc/zkfc/elector"
)

func TestZooKeeperACLValidation(t *testing.T) {
	hash := DigestID("zkfc", "pw")
	tests := []struct {
		name    string
		zk      string
		wantErr string // substring; "" = valid
	}{
		{"open by default is refused", `{connect: "h:1"}`, "zookeeper.acl: is empty, which means world:anyone:cdrwa"},
		{"explicit world write is refused", `{connect: "h:1", acl: ["world:anyone:cdrwa"]}`, "zookeeper.allow_world_writable: true"},
		{"open allowed explicitly", `{connect: "h:1", allow_world_writable: true}`, ""},
		{"world read only is fine", `{connect: "h:1", acl: ["world:anyone:r", "digest:` + hash + `:cdrwa"]}`, ""},
		{"auth needs auth_file", `{connect: "h:1", acl: [auth]}`, "needs zookeeper.auth_file"},
		{"auth with auth_file", `{connect: "h:1", acl: [auth], auth_file: /x}`, ""},
		{"digest with a password instead of a hash", `{connect: "h:1", acl: ["digest:zkfc:secret:cdrwa"]}`, "it is not the password"},
		{"bad permission letter", `{connect: "h:1", acl: ["ip:10.0.0.0/8:rx"]}`, `permission 'x'`},
		{"bad ip", `{connect: "h:1", acl: ["ip:10.0.0.0/33:r"]}`, "not an address or CIDR"},
		{"unknown scheme", `{connect: "h:1", acl: ["kerberos:x:r"]}`, "unknown scheme"},
		{"tls files without enabled", `{connect: "h:1", allow_world_writable: true, tls: {ca_file: /ca}}`, "zookeeper.tls.enabled"},
		{"tls cert without key", `{connect: "h:1", allow_world_writable: true, tls: {enabled: true, cert_file: /c}}`, "zookeeper.tls.key_file"},
		{"client CA without a way for peers to authenticate", `{connect: "h:1", allow_world_writable: true}
control: {tls: {cert_file: /c, key_file: /k, client_ca_file: /ca}}`, "control.tls.client_cert_file: required"},
		{"client CA with token", `{connect: "h:1", allow_world_writable: true}
control: {token_file: /t, tls: {cert_file: /c, key_file: /k, client_ca_file: /ca}}`, ""},
		{"https advertised as http", `{connect: "h:1", allow_world_writable: true}
control: {advertise_url: "http://10.0.0.1:8019", tls: {cert_file: /c, key_file: /k}}`, "control.advertise_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(write(t, baseYAML+"zookeeper: "+tt.zk+"\n"), nil, nil)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseACL(t *testing.T) {
	hash := DigestID("zkfc", "pw")
	got, err := ParseACL([]string{"digest:" + hash + ":cdrwa", "ip:10.1.2.3:r", "auth"})
	if err != nil {
		t.Fatal(err)
	}
	want := []zk.ACL{
		{Perms: zk.PermAll, Scheme: "digest", ID: hash},
		{Perms: zk.PermRead, Scheme: "ip", ID: "10.1.2.3"},
		{Perms: zk.PermAll, Scheme: "auth", ID: ""},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ParseACL = %v, want %v", got, want)
	}
	// The digest id matches what ZooKeeper computes (zk.DigestACL does the same).
	if z := zk.DigestACL(zk.PermAll, "zkfc", "pw")[0].ID; z != hash {
		t.Fatalf("DigestID = %s, go-zookeeper says %s", hash, z)
	}
}

func writeMode(t *testing.T, name, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // umask-proof
		t.Fatal(err)
	}
	return p
}

func TestSecretFilePermissions(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		p := writeMode(t, "token", "0123456789abcdef0123", mode)
		_, err := ReadSecretFile("control.token_file", p)
		if err == nil || !strings.Contains(err.Error(), "chmod 600 "+p) || !strings.Contains(err.Error(), "control.token_file") {
			t.Errorf("mode %04o: error %v, want one naming the key and saying chmod 600", mode, err)
		}
	}
	p := writeMode(t, "token", "0123456789abcdef0123\n", 0o600)
	s, err := ReadSecretFile("control.token_file", p)
	if err != nil || string(s.Reveal()) != "0123456789abcdef0123" {
		t.Fatalf("0600 file: %q %v", s.Reveal(), err)
	}
}

// A loaded configuration and its secrets, logged every way the daemon
// might, never show the secrets.
func TestSecretsNeverLogged(t *testing.T) {
	const password = "pa55-w0rd-never-in-logs"
	const token = "t0ken-never-in-logs-0123456789"
	auth := writeMode(t, "auth", "zkfc:"+password+"\n", 0o600)
	tok := writeMode(t, "token", token, 0o600)
	p := write(t, baseYAML+fmt.Sprintf("zookeeper: {connect: \"h:1\", acl: [auth], auth_file: %s}\ncontrol: {token_file: %s}\n", auth, tok))
	cfg, err := Load(p, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	sec, err := cfg.LoadSecrets()
	if err != nil {
		t.Fatal(err)
	}
	if string(sec.ZooKeeperAuth.Reveal()) != "zkfc:"+password || string(sec.ControlToken.Reveal()) != token {
		t.Fatal("secrets not read back (the test would prove nothing)")
	}
	var buf bytes.Buffer
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	lg := zap.New(zapcore.NewCore(enc, zapcore.AddSync(&buf), zap.DebugLevel))
	lg.Info("config", zap.Any("config", cfg), zap.Any("secrets", sec), zap.Stringer("token", sec.ControlToken),
		zap.Reflect("reflected", sec), zap.Any("auth", sec.ZooKeeperAuth))
	lg.Sync()
	js, _ := json.Marshal(sec)
	out := buf.String() + fmt.Sprintf("%v %+v %#v %s %q", sec, sec, sec, sec.ControlToken, sec.ZooKeeperAuth) + string(js)
	for _, s := range []string{password, token} {
		if strings.Contains(out, s) {
			t.Fatalf("secret %q leaked into:\n%s", s, out)
		}
	}
	if !strings.Contains(buf.String(), auth) || !strings.Contains(out, Redacted) {
		t.Fatalf("the log should name the file and show %s:\n%s", Redacted, out)
	}
	// A malformed auth file's error does not quote it either.
	bad := writeMode(t, "auth2", password, 0o600)
	cfg.ZooKeeper.AuthFile = bad
	if _, err := cfg.LoadSecrets(); err == nil || strings.Contains(err.Error(), password) {
		t.Fatalf("malformed auth file: %v", err)
	}
}

// FuzzLoad: any YAML is either a validated config or an error, never a
// panic; a config that loads validates again unchanged.
func FuzzLoad(f *testing.F) {
	f.Add(validYAML)
	f.Add(baseYAML + "zookeeper: {connect: \"h:1\", acl: [auth], auth_file: /x}\n")
	f.Add(baseYAML + "zookeeper: {connect: \"h:1\", acl: [\"digest:a:b:c\", \"ip:1.2.3.4/40:r\"]}\n")
	f.Add("quorum: {enabled: true, members: [{id: 1}, {id: 1}]}\n")
	f.Add("node: [1, 2]\nzookeeper: {session_timeout: -1s}\n")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, body string) {
		p := filepath.Join(dir, "fuzz.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(p, nil, nil)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("loaded config no longer validates: %v", err)
		}
		acl, err := ParseACL(c.ZooKeeper.ACL)
		if err != nil {
			t.Fatalf("loaded config has an unparsable ACL: %v", err)
		}
		if elector.WorldWritable(acl) && !c.ZooKeeper.AllowWorldWritable {
			t.Fatal("world-writable ACL accepted without allow_world_writable")
		}
	})
}

// The ssh fencer checks host keys unless the configuration says otherwise
// in so many words.
func TestSSHFenceHostKeyCheckingIsDefault(t *testing.T) {
	tests := []struct {
		name, method, wantErr string
	}{
		{"no known_hosts", "{type: ssh, ssh: {user: hdfs, key_file: /k}}", "fencing.methods[0].ssh.known_hosts_file: required"},
		{"known_hosts", "{type: ssh, ssh: {user: hdfs, key_file: /k, known_hosts_file: /kh}}", ""},
		{"explicitly insecure", "{type: ssh, ssh: {user: hdfs, key_file: /k, insecure_ignore_host_key: true}}", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(write(t, mergeTop(validYAML, "fencing: {methods: ["+tt.method+"]}\n")), nil, nil)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.Fencing.Methods[0].SSH.InsecureIgnoreHostKey != (tt.name == "explicitly insecure") {
					t.Fatal("insecure_ignore_host_key not as written")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// A rotated control API certificate is served without a restart, and a
// half-written rotation keeps the previous one.
func TestControlCertificateRotation(t *testing.T) {
	old := keyPairCheckInterval
	keyPairCheckInterval = 0
	defer func() { keyPairCheckInterval = old }()
	a := testcerts.MustWrite(t, t.TempDir())
	b := testcerts.MustWrite(t, t.TempDir())
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	install := func(certSrc, keySrc string, when time.Time) {
		for _, f := range [][2]string{{certSrc, certFile}, {keySrc, keyFile}} {
			data, err := os.ReadFile(f[0])
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f[1], data, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(f[1], when, when); err != nil {
				t.Fatal(err)
			}
		}
	}
	now := time.Now()
	install(a.ServerCertPEM, a.ServerKeyPEM, now)
	c := &Config{Source: "test", Control: Control{TLS: ControlTLS{CertFile: certFile, KeyFile: keyFile}}}
	tc, err := c.ControlServerTLSConfig(false)
	if err != nil {
		t.Fatal(err)
	}
	serial := func() string {
		cert, err := tc.GetCertificate(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		x, err := x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return x.SerialNumber.String()
	}
	if serial() != a.Server.Cert.SerialNumber.String() {
		t.Fatal("not serving the installed certificate")
	}
	// Half-written: b's certificate with a's key does not load.
	install(b.ServerCertPEM, a.ServerKeyPEM, now.Add(time.Minute))
	if serial() != a.Server.Cert.SerialNumber.String() {
		t.Fatal("a mismatched pair replaced the served certificate")
	}
	install(b.ServerCertPEM, b.ServerKeyPEM, now.Add(2*time.Minute))
	if serial() != b.Server.Cert.SerialNumber.String() {
		t.Fatal("the rotated certificate is not served")
	}
}
