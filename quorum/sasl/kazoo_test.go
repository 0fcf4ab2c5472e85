package sasl

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

// miniServer speaks just enough ZooKeeper for a SASL client: the
// handshake, OpSASL driven by a Conversation the way quorum/server must
// wire it, exists (answered for anyone, so the test sees the identity the
// server recorded), ping and closeSession.
type miniServer struct {
	t     *testing.T
	ln    net.Listener
	users Users
	wg    sync.WaitGroup

	mu         sync.Mutex
	identities []string    // "sasl:<user>" per successful exchange
	failures   []error     // Step errors, each of which closed its connection
	existsBy   []string    // identity of each session that called exists ("" = none)
	events     chan string // "auth sasl:<user>", "fail", "exists <identity>"; dropped when full
}

func (s *miniServer) event(e string) {
	select {
	case s.events <- e:
	default:
	}
}

func startMiniServer(t *testing.T, users Users) *miniServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &miniServer{t: t, ln: ln, users: users, events: make(chan string, 64)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *miniServer) serve(c net.Conn) {
	defer c.Close()
	// Bounds the connection's life; every client in these tests is done
	// well within it.
	c.SetDeadline(time.Now().Add(60 * time.Second))
	frame, err := proto.ReadFrame(c, nil, 1<<20)
	if err != nil {
		return
	}
	var creq proto.ConnectRequest
	if err := proto.Unmarshal(frame, &creq); err != nil {
		return
	}
	resp := proto.ConnectResponse{TimeOut: creq.TimeOut, SessionID: 0x1234, Passwd: make([]byte, 16), HasReadOnly: creq.HasReadOnly}
	if _, err := c.Write(proto.AppendFrame(nil, &resp)); err != nil {
		return
	}
	conv := NewDigestMD5(s.users, DefaultRealm, nil)
	identity := ""
	for {
		frame, err := proto.ReadFrame(c, frame, 1<<20)
		if err != nil {
			return
		}
		d := proto.NewDecoder(frame)
		var hdr proto.RequestHeader
		hdr.Decode(d)
		reply := proto.ReplyHeader{Xid: hdr.Xid}
		switch hdr.Type {
		case proto.OpSASL:
			var req proto.SASLRequest
			req.Decode(d)
			token, done, err := conv.Step(req.Token)
			if err != nil {
				// As Apache 3.8: AuthFailed with a null token, then close.
				s.mu.Lock()
				s.failures = append(s.failures, err)
				s.mu.Unlock()
				s.event("fail")
				reply.Err = proto.ErrAuthFailed
				c.Write(proto.AppendFrame(nil, &reply, &proto.SASLRequest{Token: nil}))
				return
			}
			if done {
				identity = Scheme + ":" + conv.Username()
				s.mu.Lock()
				s.identities = append(s.identities, identity)
				s.mu.Unlock()
				s.event("auth " + identity)
			}
			if _, err := c.Write(proto.AppendFrame(nil, &reply, &proto.SASLRequest{Token: token})); err != nil {
				return
			}
		case proto.OpExists:
			s.mu.Lock()
			s.existsBy = append(s.existsBy, identity)
			s.mu.Unlock()
			s.event("exists " + identity)
			c.Write(proto.AppendFrame(nil, &reply, &proto.StatResponse{}))
		case proto.OpPing:
			c.Write(proto.AppendFrame(nil, &reply))
		case proto.OpCloseSession:
			c.Write(proto.AppendFrame(nil, &reply))
			return
		default:
			reply.Err = proto.ErrUnimplemented
			c.Write(proto.AppendFrame(nil, &reply))
		}
	}
}

const kazooScript = `
import sys
from kazoo.client import KazooClient
host, user, pw = sys.argv[1:4]
c = KazooClient(hosts=host, timeout=10, connection_retry={"max_tries": 0}, sasl_options={"mechanism": "DIGEST-MD5", "username": user, "password": pw})
try:
    c.start(timeout=10)
    c.exists("/")
    print("OK")
except Exception as e:
    print("FAIL", type(e).__name__)
finally:
    try:
        c.stop(); c.close()
    except Exception:
        pass
`

func requireKazoo(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "/usr/bin/python3", "-c", "import kazoo, puresasl").CombinedOutput(); err != nil {
		t.Skipf("kazoo/puresasl not available under /usr/bin/python3 (apt-get install -y python3-kazoo python3-pure-sasl): %v %s", err, out)
	}
}

func runKazoo(t *testing.T, addr, user, pw string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "/usr/bin/python3", "-c", kazooScript, addr, user, pw).CombinedOutput()
	if err != nil {
		t.Fatalf("kazoo script: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

// TestKazoo authenticates a real DIGEST-MD5 client (kazoo + puresasl)
// against a Conversation.
func TestKazoo(t *testing.T) {
	requireKazoo(t)
	s := startMiniServer(t, Users{"bob": "bobpw"})
	addr := s.ln.Addr().String()

	if got := runKazoo(t, addr, "bob", "bobpw"); got != "OK" {
		t.Fatalf("bob with the right password: %s", got)
	}
	s.mu.Lock()
	if len(s.identities) != 1 || s.identities[0] != "sasl:bob" || len(s.existsBy) != 1 || s.existsBy[0] != "sasl:bob" {
		t.Fatalf("identities %v, exists by %v; want sasl:bob for both", s.identities, s.existsBy)
	}
	s.mu.Unlock()

	if got := runKazoo(t, addr, "bob", "wrong"); got == "OK" {
		t.Fatal("bob with a wrong password was accepted")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.identities) != 1 {
		t.Fatalf("a wrong password added an identity: %v", s.identities)
	}
	if len(s.failures) == 0 || !errors.Is(s.failures[len(s.failures)-1], ErrAuthFailed) {
		t.Fatalf("failures %v, want ErrAuthFailed", s.failures)
	}
	for _, id := range s.existsBy[1:] {
		if id != "" {
			t.Fatalf("a session with a wrong password reached exists as %q", id)
		}
	}
}

// TestJavaClient authenticates Apache ZooKeeper's Java client (JAAS Client
// section with DigestLoginModule) against a Conversation, then checks that
// a wrong password is refused.
func TestJavaClient(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a JVM; skipped with -short")
	}
	java, err := exec.LookPath("java")
	if err != nil {
		t.Skip("java not installed")
	}
	const jar = "/usr/share/java/zookeeper.jar"
	if _, err := os.Stat(jar); err != nil {
		t.Skipf("%s missing (apt-get install -y zookeeper)", jar)
	}
	s := startMiniServer(t, Users{"bob": "bobpw"})
	for _, tt := range []struct {
		password string
		want     []string // events in order
	}{
		{"bobpw", []string{"auth sasl:bob", "exists sasl:bob"}},
		{"wrong", []string{"fail"}},
	} {
		t.Run(tt.password, func(t *testing.T) {
			// Forget what the previous client left behind.
			for len(s.events) > 0 {
				<-s.events
			}
			jaas := filepath.Join(t.TempDir(), "client.jaas")
			text := "Client {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n  username=\"bob\"\n  password=\"" + tt.password + "\";\n};\n"
			if err := os.WriteFile(jaas, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, java, "-cp", "/etc/zookeeper/conf:"+jar,
				"-Djava.security.auth.login.config="+jaas,
				"org.apache.zookeeper.ZooKeeperMain", "-server", s.ln.Addr().String(), "stat", "/")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// The client keeps running (or reconnecting) after what we
			// need; it is killed once the expected events arrived.
			defer func() { cancel(); cmd.Wait() }()
			for _, want := range tt.want {
				select {
				case got := <-s.events:
					if got != want {
						t.Fatalf("event %q, want %q", got, want)
					}
				case <-ctx.Done():
					t.Fatalf("no %q from the Java client", want)
				}
			}
		})
	}
}
