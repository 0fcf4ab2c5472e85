package integration

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkfc-project/zkfc/integration/harness"
	"github.com/zkfc-project/zkfc/integration/zkfcenv"
	"github.com/zkfc-project/zkfc/quorum/tlsconfig/testcerts"
	"github.com/zkfc-project/zkfc/zkfc/config"
	"github.com/zkfc-project/zkfc/zkfc/control"
	"github.com/zkfc-project/zkfc/zkfc/history"
)

// startSecureApache starts Apache ZooKeeper 3.8 with only a secure client
// port (TLS from the first byte, client certificates required) on the
// testcerts PKCS12 stores, and returns its address once it accepts a TLS
// connection.
func startSecureApache(t *testing.T, set *testcerts.Set) string {
	t.Helper()
	tc := zkClientTLS(t, set)
	extra := []string{"4lw.commands.whitelist="}
	for k, v := range set.ServerProperties("ssl.") {
		extra = append(extra, k+"="+v)
	}
	zk := harness.StartApache(t, harness.Options{TickTime: 500 * time.Millisecond, SecureClientOnly: true, Extra: extra,
		Classpath: testcerts.JavaClasspath(), Ready: func(addr string) bool {
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", addr, tc)
			if err != nil {
				return false
			}
			c.Close()
			return true
		}})
	return zk.Addr()
}

func zkClientTLS(t *testing.T, set *testcerts.Set) *tls.Config {
	t.Helper()
	return &tls.Config{RootCAs: set.Pool(), Certificates: []tls.Certificate{set.Client.TLSCertificate()}, ServerName: "127.0.0.1",
		MinVersion: tls.VersionTLS12}
}

// zkOverTLS is a go-zookeeper session through the secure port; auth, if
// set, is sent with addAuth.
func zkOverTLS(t *testing.T, addr string, set *testcerts.Set, auth string) *zk.Conn {
	t.Helper()
	tc := zkClientTLS(t, set)
	dial := func(network, address string, timeout time.Duration) (net.Conn, error) {
		return tls.DialWithDialer(&net.Dialer{Timeout: timeout}, network, address, tc)
	}
	c, ev, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithDialer(dial), zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	deadline := time.After(60 * time.Second)
	for c.State() != zk.StateHasSession {
		select {
		case <-ev:
		case <-deadline:
			t.Fatal("no session over TLS within 60s")
		}
	}
	if auth != "" {
		if err := c.AddAuth("digest", []byte(auth)); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func writeSecret(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

var controlListen = regexp.MustCompile(`(?m)^control:\n  listen: "([^"]+)"\n`)

const testPassword = "zkfc-digest-password"

// secureConfig rewrites a zkfcenv config: a digest ACL naming zkfc's
// credentials (not [auth]: over mutual TLS, auth also grants the client
// certificate's x509 identity, which other clients with the same
// certificate share), TLS to ZooKeeper, and an HTTPS control API that accepts
// the token or a client certificate. It returns the new config's path and
// the API's URL.
func secureConfig(t *testing.T, plain string, set *testcerts.Set, authFile, tokenFile string, extraControl string) (string, string) {
	t.Helper()
	return secureConfigACL(t, plain, set, `"digest:`+config.DigestID("zkfc", testPassword)+`:cdrwa"`, authFile, tokenFile, extraControl)
}

func secureConfigACL(t *testing.T, plain string, set *testcerts.Set, acl, authFile, tokenFile string, extraControl string) (string, string) {
	t.Helper()
	b, err := os.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	y := strings.Replace(string(b), "  allow_world_writable: true\n", fmt.Sprintf(
		"  acl: [%s]\n  auth_file: %s\n  tls: {enabled: true, ca_file: %s, cert_file: %s, key_file: %s}\n",
		acl, authFile, set.CAPEM, set.ClientCertPEM, set.ClientKeyPEM), 1)
	m := controlListen.FindStringSubmatch(y)
	if m == nil {
		t.Fatalf("no control.listen in %s", plain)
	}
	ctl := fmt.Sprintf("control:\n  listen: %q\n  tls: {cert_file: %s, key_file: %s, client_ca_file: %s, ca_file: %s%s}\n",
		m[1], set.ServerCertPEM, set.ServerKeyPEM, set.CAPEM, set.CAPEM, extraControl)
	if tokenFile != "" {
		ctl += "  token_file: " + tokenFile + "\n"
	}
	y = controlListen.ReplaceAllString(y, ctl)
	p := filepath.Join(t.TempDir(), "secure.yaml")
	if err := os.WriteFile(p, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	return p, "https://" + m[1]
}

// TestZKFCSecurity: zkfc on a TLS-only Apache ZooKeeper with digest ACLs
// and an authenticated HTTPS control API.
func TestZKFCSecurity(t *testing.T) {
	dir := t.TempDir()
	set, err := testcerts.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	other, err := testcerts.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	addr := startSecureApache(t, set)
	const password = testPassword
	const token = "integration-control-token-0123456789"
	authFile := writeSecret(t, dir, "zk-auth", "zkfc:"+password)
	tokenFile := writeSecret(t, dir, "control-token", token)

	demo := zkfcenv.StartDemo(t, "nn1", filepath.Join(t.TempDir(), "roles.jsonl"))
	opts := zkfcenv.ZKFCOptions{NodeID: "nn1", Connect: addr, Demo: demo, SessionTimeout: 6 * time.Second, Margin: 2 * time.Second}
	plain, _ := zkfcenv.WriteConfig(t, opts)

	// 1. Open ACLs without the explicit flag: refused, naming the key.
	open := filepath.Join(t.TempDir(), "open.yaml")
	b, _ := os.ReadFile(plain)
	if err := os.WriteFile(open, []byte(strings.Replace(string(b), "  allow_world_writable: true\n", "", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"run", "--config", open}, {"format", "--config", open, "--non-interactive"}} {
		out, code := zkfcenv.RunCLI(t, args...)
		if code == 0 || !strings.Contains(out, "zookeeper.allow_world_writable") || !strings.Contains(out, "zookeeper.acl") {
			t.Fatalf("zkfc %s with open ACLs: exit %d\n%s", args[0], code, out)
		}
	}

	// 2. format over TLS applies the ACL.
	cfg, url := secureConfig(t, plain, set, authFile, tokenFile, "")
	out, code := zkfcenv.RunCLI(t, "format", "--config", cfg, "--force", "--non-interactive")
	if code != 0 {
		t.Fatalf("zkfc format: exit %d\n%s", code, out)
	}
	owner := zkOverTLS(t, addr, set, "zkfc:"+password)
	anon := zkOverTLS(t, addr, set, "")
	want := fmt.Sprint(zk.DigestACL(zk.PermAll, "zkfc", password))
	for _, p := range []string{"/zkfc", "/zkfc/demo"} {
		acl, _, err := owner.GetACL(p)
		if err != nil || fmt.Sprint(acl) != want {
			t.Fatalf("getACL %s = %v, %v; want %s", p, acl, err, want)
		}
	}

	// 3. zkfc runs over TLS with its credentials and becomes active.
	z := zkfcenv.StartZKFCWithConfig(t, opts, cfg, url)
	pool := set.Pool()
	authed := control.NewClient()
	authed.HTTP.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	authed.HTTP.Timeout = 5 * time.Second
	authed.Token = []byte(token)
	harness.WaitFor(t, 90*time.Second, "zkfc active over TLS", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st, err := authed.Status(ctx, url)
		return err == nil && st.Role == "active"
	})
	lock := "/zkfc/demo/ActiveStandbyElectorLock"
	if acl, _, err := owner.GetACL(lock); err != nil || fmt.Sprint(acl) != want {
		t.Fatalf("lock ACL = %v, %v; want %s", acl, err, want)
	}
	// A client without credentials can neither steal nor drop the lock.
	if err := anon.Delete(lock, -1); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("anonymous delete of the lock: %v, want ErrNoAuth", err)
	}
	if _, err := anon.Set(lock, []byte(`{"node_id":"intruder"}`), -1); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("anonymous write of the lock: %v, want ErrNoAuth", err)
	}
	if _, err := anon.Create("/zkfc/demo/ActiveBreadCrumb2", nil, 0, zk.WorldACL(zk.PermAll)); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("anonymous create under the cluster znode: %v, want ErrNoAuth", err)
	}

	// 4. The control API refuses callers without credentials.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	noCreds := control.NewClient()
	noCreds.HTTP.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	if _, err := noCreds.SetPaused(ctx, url, true); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("pause without credentials: %v, want 401", err)
	}
	wrongTok := *noCreds
	wrongTok.Token = []byte("not-the-token-not-the-token")
	if _, err := wrongTok.Status(ctx, url); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("status with a wrong token: %v, want 403", err)
	}
	badCert := control.NewClient()
	badCert.HTTP.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{other.Client.TLSCertificate()}}}
	if _, err := badCert.Status(ctx, url); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("status with another CA's certificate: %v", err)
	}
	if st, _ := authed.Status(ctx, url); st.Paused {
		t.Fatal("a refused pause took effect")
	}
	operatorRefusals(ctx, t, noCreds, authed, url)

	// 5. The CLI works with the token file, and with a client certificate
	// alone; a wrong token file is refused.
	out, code = zkfcenv.RunCLI(t, "status", "--config", cfg)
	if code != 0 || !strings.Contains(out, "role:          active") {
		t.Fatalf("zkfc status with the token file: exit %d\n%s", code, out)
	}
	certCfg, _ := secureConfig(t, plain, set, authFile, "",
		fmt.Sprintf(", client_cert_file: %s, client_key_file: %s", set.ClientCertPEM, set.ClientKeyPEM))
	out, code = zkfcenv.RunCLI(t, "status", "--config", certCfg, "--url", url)
	if code != 0 || !strings.Contains(out, "role:          active") {
		t.Fatalf("zkfc status with a client certificate: exit %d\n%s", code, out)
	}
	badTokenCfg, _ := secureConfig(t, plain, set, authFile, writeSecret(t, t.TempDir(), "bad-token", "wrong-token-wrong-token-0000"), "")
	out, code = zkfcenv.RunCLI(t, "pause", "--config", badTokenCfg, "--url", url)
	if code == 0 || !strings.Contains(out, "403") {
		t.Fatalf("zkfc pause with a wrong token: exit %d\n%s", code, out)
	}

	// 6. The daemon's log never shows the secrets.
	z.Terminate(t)
	defer func() {
		log := z.Log()
		if !strings.Contains(log, config.Redacted) {
			t.Fatalf("the daemon did not log its (redacted) configuration; the next check would prove nothing")
		}
		for _, s := range []string{password, token} {
			if strings.Contains(log, s) {
				t.Fatalf("secret %q in the daemon's log", s)
			}
		}
	}()

	// 7. A cluster znode someone created world-writable is not used even
	// when zkfc's own ACL is set: the daemon stays out of the election
	// and says why.
	openOpts := opts
	openOpts.NodeID = "nn1-open"
	plain2, _ := zkfcenv.WriteConfig(t, openOpts)
	b, _ = os.ReadFile(plain2)
	openPlain := filepath.Join(t.TempDir(), "open-parent.yaml")
	if err := os.WriteFile(openPlain, []byte(strings.Replace(string(b), "parent_znode: /zkfc", "parent_znode: /open", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	openTLS, _ := secureConfigACL(t, openPlain, set, `"world:anyone:cdrwa"`, authFile, tokenFile, "")
	b, _ = os.ReadFile(openTLS)
	if err := os.WriteFile(openTLS, []byte(strings.Replace(string(b), "  acl: [", "  allow_world_writable: true\n  acl: [", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := zkfcenv.RunCLI(t, "format", "--config", openTLS, "--force", "--non-interactive"); code != 0 {
		t.Fatalf("format of an open cluster znode: exit %d\n%s", code, out)
	}
	strict, strictURL := secureConfig(t, openPlain, set, authFile, tokenFile, "")
	z2 := zkfcenv.StartZKFCWithConfig(t, openOpts, strict, strictURL)
	var last string
	harness.WaitFor(t, 60*time.Second, "zkfc refusing the world-writable cluster znode", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st, err := authed.Status(ctx, strictURL)
		last = st.LastError
		return err == nil && strings.Contains(st.LastError, "zookeeper.allow_world_writable")
	})
	if st, _ := authed.Status(ctx, strictURL); st.Role == "active" || st.HoldsLock {
		t.Fatalf("zkfc competed on a world-writable cluster znode: %+v (last error %q)", st, last)
	}
	z2.Terminate(t)
}

// operatorRefusals: the history and schedule endpoints refuse a caller
// without credentials, and an oversized body, and nothing changes; with
// the token the history (under the cluster's ACL) reads.
func operatorRefusals(ctx context.Context, t *testing.T, noCreds, authed *control.Client, url string) {
	t.Helper()
	at := time.Now().Add(time.Hour)
	if _, err := noCreds.History(ctx, url, time.Time{}); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("history without credentials: %v, want 401", err)
	}
	if _, err := noCreds.ScheduleSwitchover(ctx, url, "nn1", at); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("schedule without credentials: %v, want 401", err)
	}
	if _, err := noCreds.CancelSwitchover(ctx, url); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("cancel without credentials: %v, want 401", err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/failover?to=nn1&at="+at.UTC().Format(time.RFC3339),
		strings.NewReader(strings.Repeat("x", control.MaxBodyBytes+1)))
	req.Header.Set("Authorization", "Bearer "+string(authed.Token))
	if code, _ := roundTrip(t, authed.HTTP, req); code != http.StatusRequestEntityTooLarge {
		t.Errorf("schedule with an oversized body: %d, want 413", code)
	}
	st, err := authed.FullStatus(ctx, url)
	if err != nil || st.Scheduled != nil || st.Budget == nil {
		t.Errorf("after the refused requests: scheduled %+v, budget %v, err %v", st.Scheduled, st.Budget, err)
	}
	var es []history.Entry
	harness.WaitFor(t, 30*time.Second, "nn1's promotion in the history, under the ACL", func() bool {
		es, err = authed.History(ctx, url, time.Time{})
		for _, e := range es {
			if e.Kind == history.Promotion && e.Node == "nn1" {
				return true
			}
		}
		return false
	})
	for _, e := range es {
		if e.Kind == history.SwitchoverScheduled || e.Kind == history.SwitchoverCancelled {
			t.Errorf("a refused request left %+v in the history", e)
		}
	}
}
