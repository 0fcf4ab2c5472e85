package integration

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkfc-project/zkfc/integration/harness"
	"github.com/zkfc-project/zkfc/integration/zkenv"
	"github.com/zkfc-project/zkfc/quorum/tlsconfig/testcerts"
)

func propLines(props map[string]string) []string {
	var out []string
	for k, v := range props {
		out = append(out, k+"="+v)
	}
	return out
}

// tlsDialer makes go-zookeeper/zk speak TLS from the first byte.
func tlsDialer(cfg *tls.Config) zk.Dialer {
	return func(network, address string, timeout time.Duration) (net.Conn, error) {
		d := &net.Dialer{Timeout: timeout}
		return tls.DialWithDialer(d, network, address, cfg)
	}
}

func clientTLS(set *testcerts.Set, withCert bool) *tls.Config {
	cfg := &tls.Config{RootCAs: set.Pool(), ServerName: "localhost"}
	if withCert {
		cfg.Certificates = []tls.Certificate{set.Client.TLSCertificate()}
	}
	return cfg
}

// tlsRuok sends ruok over a TLS connection made with cfg and reads the
// answer: nil only if the handshake and one exchange both completed (with
// TLS 1.3 a refused client certificate shows only at the first read).
func tlsRuok(addr string, cfg *tls.Config) error {
	raw, err := tls.DialWithDialer(&net.Dialer{Timeout: 3 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := raw.Write([]byte("ruok")); err != nil {
		return err
	}
	var b [8]byte
	_, err = raw.Read(b[:])
	return err
}

func TestSecureClientPortWithRealClients(t *testing.T) {
	set, err := testcerts.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	secure := harness.FreePort(t)
	extra := append([]string{fmt.Sprintf("secureClientPort=%d", secure), "secureClientPortAddress=127.0.0.1"}, propLines(set.ServerProperties("ssl."))...)
	c := harness.StartEnsemble(t, harness.Ours, 1, harness.Options{Extra: extra})
	addr := fmt.Sprintf("127.0.0.1:%d", secure)

	// go-zookeeper/zk with a client certificate.
	conn, ev, err := zk.Connect([]string{addr}, 6*time.Second, zk.WithLogger(zkenv.Quiet), zk.WithDialer(tlsDialer(clientTLS(set, true))))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := zkenv.WaitSession(ev, zkenv.SessionWait); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Create("/tls", []byte("over tls"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create over TLS: %v", err)
	}
	// The certificate's subject is an identity usable in ACLs (x509).
	if _, err := conn.Create("/x509-only", []byte("s"), 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "x509", ID: "CN=client,O=zkfc tests"}}); err != nil {
		t.Fatalf("create with an x509 ACL: %v", err)
	}
	if d, _, err := conn.Get("/x509-only"); err != nil || string(d) != "s" {
		t.Fatalf("read back as the certificate subject: %q %v", d, err)
	}
	plain := connectZK(t, 6*time.Second, c.Members[0].Addr())
	if _, _, err := plain.Get("/x509-only"); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("plain client read an x509-protected znode: %v", err)
	}

	// Without a client certificate the handshake fails (ssl.clientAuth
	// defaults to need, as in ZooKeeper).
	if err := tlsRuok(addr, clientTLS(set, false)); err == nil {
		t.Fatal("a client without a certificate completed a TLS exchange")
	}
	// A certificate from another CA is refused.
	other, err := testcerts.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	bad := clientTLS(set, false)
	bad.Certificates = []tls.Certificate{other.Client.TLSCertificate()}
	if err := tlsRuok(addr, bad); err == nil {
		t.Fatal("a client certificate from an untrusted CA was accepted")
	}

	// kazoo over TLS.
	script := filepath.Join(t.TempDir(), "k.py")
	os.WriteFile(script, []byte(`import sys
from kazoo.client import KazooClient
k = KazooClient(hosts=sys.argv[1], use_ssl=True, certfile=sys.argv[2], keyfile=sys.argv[3], ca=sys.argv[4], verify_certs=True, timeout=10)
k.start(timeout=15)
print(k.get("/tls")[0].decode())
k.stop()
`), 0o644)
	out, err := zkenv.RunPython(30*time.Second, script, addr, set.ClientCertPEM, set.ClientKeyPEM, set.CAPEM)
	if err != nil || strings.TrimSpace(out) != "over tls" {
		t.Fatalf("kazoo over TLS: %v\n%s", err, out)
	}

	// zkCli.sh with the Netty client socket.
	zout, _, err := zkenv.RunZkCli(60*time.Second, addr, "get /tls\nquit\n",
		"CLIENT_JVMFLAGS="+set.JavaClientFlags(), "JVMFLAGS=-cp "+testcerts.JavaClasspath())
	t.Logf("zkCli.sh over TLS:\n%s", harness.Tail(zout, 6, ""))
	if !strings.Contains(zout, "over tls") {
		t.Fatalf("zkCli.sh over TLS did not read /tls (%v):\n%s", err, harness.Tail(zout, 20, ""))
	}
}

func TestQuorumMutualTLS(t *testing.T) {
	set, err := testcerts.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	extra := append([]string{"sslQuorum=true"}, propLines(set.ServerProperties("ssl.quorum."))...)
	c := harness.StartEnsemble(t, harness.Ours, 3, harness.Options{TickTime: 500 * time.Millisecond, Extra: extra})
	conn := connectZK(t, 6*time.Second, c.Members[0].Addr())
	if _, err := conn.Create("/mtls", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	other := connectZK(t, 6*time.Second, c.Members[2].Addr())
	other.Sync("/mtls")
	if d, _, err := other.Get("/mtls"); err != nil || string(d) != "x" {
		t.Fatalf("not replicated over mutual TLS: %q %v", d, err)
	}
}

func TestQuorumMemberWithUntrustedCertificateCannotJoin(t *testing.T) {
	good, err := testcerts.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rogue, err := testcerts.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// Members 1 and 2 trust the good CA; member 3 has a certificate from
	// another CA (and trusts only that one).
	c := harness.StartEnsemble(t, harness.Ours, 3, harness.Options{TickTime: 500 * time.Millisecond, ExtraFor: func(id int) []string {
		set := good
		if id == 3 {
			set = rogue
		}
		return append([]string{"sslQuorum=true"}, propLines(set.ServerProperties("ssl.quorum."))...)
	}, WaitFor: []int{1, 2}})
	conn := connectZK(t, 6*time.Second, c.Members[0].Addr())
	if _, err := conn.Create("/trusted", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("the two trusted members do not serve: %v", err)
	}
	time.Sleep(3 * time.Second)
	if m := c.Members[2].Mode(); m == "follower" || m == "leader" {
		t.Fatalf("member with an untrusted certificate joined as %s", m)
	}
	if !strings.Contains(c.Members[0].LogTail(200)+c.Members[1].LogTail(200)+c.Members[2].LogTail(200), "certificate") {
		t.Log("note: no log line mentions the certificate failure")
	}
}

func TestSASLDigestMD5WithKazoo(t *testing.T) {
	dir := t.TempDir()
	jaas := filepath.Join(dir, "jaas.conf")
	os.WriteFile(jaas, []byte(`Server {
  org.apache.zookeeper.server.auth.DigestLoginModule required
  user_bob="bobsecret"
  user_alice="alicesecret";
};
`), 0o600)
	c := harness.StartEnsemble(t, harness.Ours, 1, harness.Options{JVMFlags: []string{"-Djava.security.auth.login.config=" + jaas}})
	script := filepath.Join(dir, "sasl.py")
	os.WriteFile(script, []byte(`import sys
from kazoo.client import KazooClient
from kazoo.security import make_acl
from kazoo.exceptions import NoAuthError, AuthFailedError
def client(user, pw):
    k = KazooClient(hosts=sys.argv[1], timeout=10, sasl_options={"mechanism": "DIGEST-MD5", "username": user, "password": pw})
    k.start(timeout=15)
    return k
bob = client("bob", "bobsecret")
bob.create("/bobs", b"secret", acl=[make_acl("sasl", "bob", all=True)])
print("bob reads", bob.get("/bobs")[0].decode())
alice = client("alice", "alicesecret")
try:
    alice.get("/bobs")
    print("alice reads")
except NoAuthError:
    print("alice refused")
anon = KazooClient(hosts=sys.argv[1], timeout=10)
anon.start(timeout=15)
try:
    anon.set("/bobs", b"x")
    print("anon writes")
except NoAuthError:
    print("anon refused")
try:
    mallory = client("bob", "wrong")
    mallory.get("/bobs")
    print("wrong password accepted")
except Exception as e:
    print("wrong password refused", type(e).__name__)
`), 0o644)
	out, err := zkenv.RunPython(60*time.Second, script, c.Members[0].Addr())
	for _, want := range []string{"bob reads secret", "alice refused", "anon refused", "wrong password refused"} {
		if !strings.Contains(out, want) {
			t.Fatalf("kazoo SASL script (%v) lacks %q:\n%s", err, want, out)
		}
	}
}
