package tlsconfig

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/quorum/freeport"
	"github.com/zkfc-project/zkfc/quorum/proto"
	"github.com/zkfc-project/zkfc/quorum/tlsconfig/testcerts"
)

const zookeeperJar = "/usr/share/java/zookeeper.jar"

func requireJava(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a JVM; skipped with -short")
	}
	java, err := exec.LookPath("java")
	if err != nil {
		t.Skip("java not installed")
	}
	if _, err := os.Stat(zookeeperJar); err != nil {
		t.Skipf("%s missing (apt-get install -y zookeeper)", zookeeperJar)
	}
	return java
}

// TestJavaClient connects Apache ZooKeeper's Java client, configured with
// the testcerts PKCS12 stores exactly as zkCli would be, to a listener
// built by ServerConfig from zoo.cfg-style properties: the mutual TLS
// handshake must succeed and the ConnectRequest arrive.
func TestJavaClient(t *testing.T) {
	java := requireJava(t)
	set := testcerts.MustWrite(t, t.TempDir())
	s, ok := FromProperties(set.ServerProperties("ssl."), "ssl.")
	if !ok {
		t.Fatal("not configured")
	}
	srv, _, err := s.ServerConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	ln := listenTLS(t, srv)
	type result struct {
		cn  string
		req proto.ConnectRequest
		err error
	}
	results := make(chan result, 16)
	go func() {
		// Ends when ln is closed; the client may reconnect a few times.
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := c.(*tls.Conn)
				tc.SetDeadline(time.Now().Add(60 * time.Second))
				var r result
				if r.err = tc.Handshake(); r.err == nil {
					r.cn = peerCN(tc)
					var frame []byte
					if frame, r.err = proto.ReadFrame(tc, nil, 1<<20); r.err == nil {
						r.err = proto.Unmarshal(frame, &r.req)
					}
				}
				select {
				case results <- r:
				default:
				}
			}()
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{"-cp", testcerts.JavaClasspath()}, splitFlags(set.JavaClientFlags())...)
	args = append(args, "org.apache.zookeeper.ZooKeeperMain", "-server", ln.Addr().String(), "ls", "/")
	cmd := exec.CommandContext(ctx, java, args...)
	out, err := os.CreateTemp(t.TempDir(), "java-client-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); cmd.Wait() }()

	var r result
	select {
	case r = <-results:
	case <-ctx.Done():
		log, _ := os.ReadFile(out.Name())
		t.Fatalf("the Java client never completed a connection\n%s", log)
	}
	if r.err != nil {
		log, _ := os.ReadFile(out.Name())
		t.Fatalf("Java client: %v\n%s", r.err, log)
	}
	if r.cn != "client" || r.req.TimeOut <= 0 {
		t.Fatalf("client %q sent %+v", r.cn, r.req)
	}
}

func splitFlags(s string) []string {
	var out []string
	start := -1
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' {
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	return out
}

// TestApacheServer is opt-in (TLSCONFIG_APACHE=1): it starts Apache
// ZooKeeper 3.8 with a secure client port on the testcerts PKCS12 stores
// and opens a session through a ClientConfig built from the same
// properties with the client's keystore.
func TestApacheServer(t *testing.T) {
	if os.Getenv("TLSCONFIG_APACHE") == "" {
		t.Skip("set TLSCONFIG_APACHE=1 to start Apache ZooKeeper")
	}
	java := requireJava(t)
	dir := t.TempDir()
	set := testcerts.MustWrite(t, dir)
	port := freeport.Get(t)
	cfg := fmt.Sprintf("tickTime=2000\ndataDir=%s\nsecureClientPort=%d\nadmin.enableServer=false\n"+
		"serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n", filepath.Join(dir, "data"), port)
	for k, v := range set.ServerProperties("ssl.") {
		cfg += k + "=" + v + "\n"
	}
	cfgPath := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, java, "-cp", testcerts.JavaClasspath(), "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfgPath)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); cmd.Wait() }()

	props := set.ServerProperties("ssl.")
	props["ssl.keyStore.location"] = set.ClientP12
	s, _ := FromProperties(props, "ssl.")
	cli, err := s.ClientConfig("localhost")
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	var conn *tls.Conn
	// Bounded wait for the JVM to listen.
	for i := 0; i < 300 && conn == nil; i++ {
		d := &net.Dialer{Timeout: 5 * time.Second}
		if conn, err = tls.DialWithDialer(d, "tcp", addr, cli); err != nil {
			conn = nil
			time.Sleep(100 * time.Millisecond)
		}
	}
	if conn == nil {
		t.Fatalf("no TLS connection to Apache ZooKeeper at %s: %v", addr, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	req := proto.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)}
	if _, err := conn.Write(proto.AppendFrame(nil, &req)); err != nil {
		t.Fatal(err)
	}
	frame, err := proto.ReadFrame(conn, nil, 1<<20)
	if err != nil {
		t.Fatalf("read ConnectResponse: %v", err)
	}
	var resp proto.ConnectResponse
	if err := proto.Unmarshal(frame, &resp); err != nil || resp.SessionID == 0 {
		t.Fatalf("ConnectResponse %+v, %v", resp, err)
	}
}
