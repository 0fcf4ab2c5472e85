package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/zkfc-project/zkfc/quorum/config"
	"github.com/zkfc-project/zkfc/quorum/freeport"
	"github.com/zkfc-project/zkfc/quorum/proto"
)

type testServer struct {
	t      *testing.T
	cfg    *config.Config
	srv    *Server
	cancel context.CancelFunc
	done   chan error
	addr   string
}

func testConfig(t *testing.T, dir string) *config.Config {
	return &config.Config{
		Source:                 "test",
		TickTime:               200 * time.Millisecond,
		DataDir:                dir,
		ClientPortAddress:      "127.0.0.1",
		ClientPort:             0,
		MaxClientCnxns:         60,
		FourLetterWhitelist:    map[string]bool{"*": true},
		MaxBuffer:              proto.DefaultMaxBuffer,
		ContainerCheckInterval: 100 * time.Millisecond,
		SnapCount:              100000,
		ExtendedTypesEnabled:   true,
	}
}

func startServer(t *testing.T, cfg *config.Config) *testServer {
	t.Helper()
	return startServerWith(t, cfg, nil)
}

// startServerWith is startServer with a chance to change the server
// before it runs.
func startServerWith(t *testing.T, cfg *config.Config, mod func(*Server)) *testServer {
	t.Helper()
	ts, err := launch(t, cfg, mod, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// launch runs a server and waits until it serves, up to 10 s. It never
// fails the test itself, so it may run on any goroutine: a server that
// does not come up is stopped and its error returned. seen, if not nil,
// is given every entry the server logs.
func launch(t *testing.T, cfg *config.Config, mod func(*Server), seen func(zapcore.Entry)) (*testServer, error) {
	var opts []zap.Option
	if seen != nil {
		opts = append(opts, zap.Hooks(func(e zapcore.Entry) error { seen(e); return nil }))
	}
	srv, err := New(cfg, zaptest.NewLogger(t, zaptest.WrapOptions(opts...)).Named("server"))
	if err != nil {
		return nil, fmt.Errorf("New: %w", err)
	}
	if mod != nil {
		mod(srv)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{t: t, cfg: cfg, srv: srv, cancel: cancel, done: make(chan error, 1)}
	go func() { ts.done <- srv.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for srv.Addr() == nil {
		if time.Now().After(deadline) {
			ts.stop()
			return nil, errors.New("server did not start serving within 10s")
		}
		select {
		case err := <-ts.done:
			cancel()
			return nil, fmt.Errorf("Run returned early: %w", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	ts.addr = srv.Addr().String()
	t.Cleanup(ts.stop)
	return ts, nil
}

func (ts *testServer) stop() {
	if ts.cancel == nil {
		return
	}
	ts.cancel()
	ts.cancel = nil
	select {
	case err := <-ts.done:
		if err != nil {
			ts.t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		ts.t.Error("server did not stop within 10s")
	}
}

func connect(t *testing.T, addr string, timeout time.Duration) (*zk.Conn, <-chan zk.Event) {
	t.Helper()
	c, ev, err := zk.Connect([]string{addr}, timeout, zk.WithLogger(quietLogger{}))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	waitState(t, ev, zk.StateHasSession)
	t.Cleanup(c.Close)
	return c, ev
}

func waitState(t *testing.T, ev <-chan zk.Event, want zk.State) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.Type == zk.EventSession && e.State == want {
				return
			}
		case <-deadline:
			t.Fatalf("no %v within 10s", want)
		}
	}
}

// waitWatch waits up to 5s for a one-shot watch to fire and checks that it
// fired for want on path.
func waitWatch(t *testing.T, ch <-chan zk.Event, want zk.EventType, path string) {
	t.Helper()
	select {
	case ev := <-ch:
		if ev.Type != want || ev.Path != path {
			t.Fatalf("watch event %+v, want %v on %s", ev, want, path)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no %v watch event on %s within 5s", want, path)
	}
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...interface{}) {}

func TestCRUDAndStats(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	c, _ := connect(t, ts.addr, 4*time.Second)

	p, err := c.Create("/a", []byte("one"), 0, zk.WorldACL(zk.PermAll))
	if err != nil || p != "/a" {
		t.Fatalf("create: %q %v", p, err)
	}
	data, st, err := c.Get("/a")
	if err != nil || string(data) != "one" || st.Version != 0 || st.DataLength != 3 || st.Czxid != st.Mzxid {
		t.Fatalf("get: %q %+v %v", data, st, err)
	}
	st2, err := c.Set("/a", []byte("two!"), 0)
	if err != nil || st2.Version != 1 || st2.Mzxid <= st.Mzxid || st2.Czxid != st.Czxid || st2.DataLength != 4 {
		t.Fatalf("set: %+v %v", st2, err)
	}
	if _, err := c.Set("/a", []byte("x"), 0); err != zk.ErrBadVersion {
		t.Fatalf("set with stale version: %v, want ErrBadVersion", err)
	}
	if _, err := c.Create("/a", nil, 0, zk.WorldACL(zk.PermAll)); err != zk.ErrNodeExists {
		t.Fatalf("create twice: %v", err)
	}
	if _, err := c.Create("/missing/child", nil, 0, zk.WorldACL(zk.PermAll)); err != zk.ErrNoNode {
		t.Fatalf("create under missing parent: %v", err)
	}
	s1, _ := c.Create("/a/s-", nil, zk.FlagSequence, zk.WorldACL(zk.PermAll))
	s2, _ := c.Create("/a/s-", nil, zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if s1 != "/a/s-0000000000" || s2 != "/a/s-0000000001" {
		t.Fatalf("sequential names: %q %q", s1, s2)
	}
	kids, pst, err := c.Children("/a")
	if err != nil || len(kids) != 2 || pst.NumChildren != 2 || pst.Cversion != 2 {
		t.Fatalf("children: %v %+v %v", kids, pst, err)
	}
	if err := c.Delete("/a", -1); err != zk.ErrNotEmpty {
		t.Fatalf("delete non-empty: %v", err)
	}
	for _, k := range kids {
		if err := c.Delete("/a/"+k, -1); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Delete("/a", 1); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if ok, _, _ := c.Exists("/a"); ok {
		t.Fatal("/a still exists")
	}
}

func TestWatchFiresBeforeReply(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	c, _ := connect(t, ts.addr, 4*time.Second)
	other, _ := connect(t, ts.addr, 4*time.Second)
	if _, err := c.Create("/w", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	_, _, ch, err := c.GetW("/w")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Set("/w", []byte("x"), -1); err != nil {
		t.Fatal(err)
	}
	waitWatch(t, ch, zk.EventNodeDataChanged, "/w")
	// Child watch and delete.
	_, _, cch, err := c.ChildrenW("/w")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Create("/w/k", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	waitWatch(t, cch, zk.EventNodeChildrenChanged, "/w")
}

func TestEphemeralRemovedOnExpiry(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	ts := startServer(t, cfg)
	owner, _ := connect(t, ts.addr, 400*time.Millisecond)
	watcher, _ := connect(t, ts.addr, 4*time.Second)
	if _, err := owner.Create("/eph", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	_, _, ch, err := watcher.ExistsW("/eph")
	if err != nil {
		t.Fatal(err)
	}
	// Silence the owner without closing its session: the server must
	// expire it by itself.
	ts.srv.connMu.Lock()
	c := ts.srv.bySession[owner.SessionID()]
	ts.srv.connMu.Unlock()
	if c == nil {
		t.Fatal("owner's connection not found")
	}
	ts.srv.sessions.mu.Lock()
	ts.srv.sessions.sessions[owner.SessionID()].deadline = time.Now()
	ts.srv.sessions.mu.Unlock()
	owner.Close()
	select {
	case ev := <-ch:
		if ev.Type != zk.EventNodeDeleted {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ephemeral not removed")
	}
}

func TestRestartRecoversTreeAndSession(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	ts := startServer(t, cfg)
	c, _, err := zk.Connect([]string{ts.addr}, 10*time.Second, zk.WithLogger(quietLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 50; i++ {
		if _, err := c.Create(fmt.Sprintf("/n%02d", i), []byte{byte(i)}, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Create("/e", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	_, before, _ := c.Exists("/n49")
	sid := c.SessionID()
	ts.stop()

	cfg2 := testConfig(t, dir)
	cfg2.ClientPort = mustPort(t, ts.addr)
	startServer(t, cfg2)
	// The same client reconnects to the restarted server and keeps its
	// session and its ephemeral.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, _, err := c.Exists("/e")
		if err == nil {
			if !ok {
				t.Fatal("ephemeral lost across restart")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("client did not reconnect: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if c.SessionID() != sid {
		t.Fatalf("session changed: %x -> %x", sid, c.SessionID())
	}
	_, after, err := c.Exists("/n49")
	if err != nil || *after != *before {
		t.Fatalf("stat changed across restart: %+v vs %+v (%v)", before, after, err)
	}
	for i := 0; i < 50; i++ {
		d, _, err := c.Get(fmt.Sprintf("/n%02d", i))
		if err != nil || !bytes.Equal(d, []byte{byte(i)}) {
			t.Fatalf("/n%02d after restart: %v %v", i, d, err)
		}
	}
}

func mustPort(t *testing.T, addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	fmt.Sscan(p, &n)
	return n
}

// rawSession opens a session by hand, for requests clients won't send.
func rawSession(t *testing.T, addr string, lastZxid int64) (net.Conn, error) {
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	req := proto.ConnectRequest{LastZxidSeen: lastZxid, TimeOut: 4000, Passwd: make([]byte, 16)}
	if _, err := nc.Write(proto.AppendFrame(nil, &req)); err != nil {
		return nil, err
	}
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	frame, err := proto.ReadFrame(nc, nil, 1<<20)
	if err != nil {
		return nil, err
	}
	var resp proto.ConnectResponse
	if err := proto.Unmarshal(frame, &resp); err != nil || resp.SessionID == 0 {
		return nil, fmt.Errorf("bad connect response %+v %v", resp, err)
	}
	return nc, nil
}

// readReply reads one reply frame from nc and decodes its header; the
// decoder it returns stands at the body. what names the reply when the
// read fails.
func readReply(t *testing.T, nc net.Conn, what string) (proto.ReplyHeader, *proto.Decoder) {
	t.Helper()
	frame, err := proto.ReadFrame(nc, nil, 1<<20)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	d := proto.NewDecoder(frame)
	var rh proto.ReplyHeader
	rh.Decode(d)
	return rh, d
}

func TestUnknownOpcodeAnsweredUnimplemented(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	nc, err := rawSession(t, ts.addr, 0)
	if err != nil {
		t.Fatal(err)
	}
	hdr := proto.RequestHeader{Xid: 7, Type: 999}
	nc.Write(proto.AppendFrame(nil, &hdr))
	rh, d := readReply(t, nc, "reply to opcode 999")
	if err := d.Err(); err != nil || rh.Xid != 7 || rh.Err != proto.ErrUnimplemented {
		t.Fatalf("reply %+v %v", rh, err)
	}
}

func TestClientAheadOfServerRefused(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	if _, err := rawSession(t, ts.addr, 1<<40); err == nil {
		t.Fatal("a client that has seen zxid 2^40 was accepted by a server far behind it")
	}
	if _, err := rawSession(t, ts.addr, 0); err != nil {
		t.Fatalf("ordinary client refused: %v", err)
	}
}

func TestOversizedFrameClosesOnlyThatConnection(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	good, _ := connect(t, ts.addr, 4*time.Second)
	nc, err := rawSession(t, ts.addr, 0)
	if err != nil {
		t.Fatal(err)
	}
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], 0x7fffffff)
	nc.Write(b[:])
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(nc); err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("connection with a 2 GiB frame length was not closed")
		}
	}
	if _, err := good.Create("/still-serving", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("other client affected: %v", err)
	}
}

func TestMaxClientCnxns(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.MaxClientCnxns = 2
	ts := startServer(t, cfg)
	var conns []net.Conn
	for i := 0; i < 2; i++ {
		nc, err := rawSession(t, ts.addr, 0)
		if err != nil {
			t.Fatalf("connection %d refused: %v", i, err)
		}
		conns = append(conns, nc)
	}
	if _, err := rawSession(t, ts.addr, 0); err == nil {
		t.Fatal("third connection from one address admitted with maxClientCnxns=2")
	}
	conns[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := rawSession(t, ts.addr, 0); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("slot not freed after a connection closed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestFourLetterWords(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	c, _ := connect(t, ts.addr, 4*time.Second)
	c.Create("/flw", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	if !zk.FLWRuok([]string{ts.addr}, time.Second)[0] {
		t.Fatal("ruok did not answer imok")
	}
	srvr, ok := zk.FLWSrvr([]string{ts.addr}, 2*time.Second)
	if !ok || srvr[0].Error != nil {
		t.Fatalf("go-zookeeper/zk FLWSrvr cannot parse srvr: %+v", srvr[0])
	}
	if srvr[0].Mode != zk.ModeStandalone || srvr[0].NodeCount < 5 || srvr[0].Counter <= 0 {
		t.Fatalf("srvr: %+v", srvr[0])
	}
	nc, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.Write([]byte("mntr"))
	out, _ := io.ReadAll(nc)
	for _, want := range []string{"zk_server_state\tstandalone", "zk_ephemerals_count\t1", "zk_znode_count\t"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Fatalf("mntr lacks %q:\n%s", want, out)
		}
	}
}

func TestSnapshotsTakenAndAutopurged(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.SnapCount = 50
	cfg.AutopurgeSnapRetainCount = 3
	cfg.AutopurgePurgeInterval = 200 * time.Millisecond
	ts := startServer(t, cfg)
	c, _ := connect(t, ts.addr, 4*time.Second)
	for i := 0; i < 400; i++ {
		if _, err := c.Create(fmt.Sprintf("/p%03d", i), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	snapDir := filepath.Join(dir, "version-2", "snap")
	deadline := time.Now().Add(10 * time.Second)
	for {
		snaps, _ := filepath.Glob(filepath.Join(snapDir, "*.snap"))
		if len(snaps) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d snapshots in %s, want 3 after autopurge (snapCount 50, 400 writes)", len(snaps), snapDir)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Restart: the purged directory still recovers everything.
	ts.stop()
	cfg2 := testConfig(t, dir)
	ts2 := startServer(t, cfg2)
	c2, _ := connect(t, ts2.addr, 4*time.Second)
	kids, _, err := c2.Children("/")
	if err != nil || len(kids) != 401 {
		t.Fatalf("after purge and restart: %d children (%v), want 400 + zookeeper", len(kids), err)
	}
}

// A listing whose reply would exceed maxResponseBytes gets an error, and
// the connection (and every other client) goes on.
func TestOversizedReplyRefused(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.MaxResponseBytes = 64 << 10
	ts := startServer(t, cfg)
	c, _ := connect(t, ts.addr, 4*time.Second)
	c.Create("/wide", nil, 0, zk.WorldACL(zk.PermAll))
	name := strings.Repeat("n", 200)
	for i := 0; i < 400; i++ { // 400 x 200 bytes > 64 KiB
		if _, err := c.Create(fmt.Sprintf("/wide/%s%03d", name, i), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := c.Children("/wide"); err == nil || err == zk.ErrConnectionClosed {
		t.Fatalf("listing of 80 KB with maxResponseBytes=64 KiB: %v, want a server error", err)
	}
	if _, _, err := c.Get("/wide"); err != nil {
		t.Fatalf("connection unusable after the refused reply: %v", err)
	}
}

// A client that sends without reading is slowed by TCP back-pressure: the
// server holds at most maxOutstanding of its requests, everyone else is
// served, and the flooder's replies all arrive, in order, once it reads.
func TestBackPressureBoundsOutstanding(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	good, _ := connect(t, ts.addr, 4*time.Second)
	good.Create("/bp", []byte(strings.Repeat("x", 1000)), 0, zk.WorldACL(zk.PermAll))
	nc, err := rawSession(t, ts.addr, 0)
	if err != nil {
		t.Fatal(err)
	}
	const n = 20000
	go func() {
		var buf []byte
		for i := 1; i <= n; i++ {
			hdr := proto.RequestHeader{Xid: int32(i), Type: proto.OpGetData}
			buf = proto.AppendFrame(buf[:0], &hdr, &proto.PathWatchRequest{Path: "/bp"})
			if _, err := nc.Write(buf); err != nil {
				return
			}
		}
	}()
	time.Sleep(time.Second)
	peak := ts.srv.stats.outstanding.Load()
	// The queue, plus the reply being written and the request waiting to
	// enter the queue.
	if peak > maxOutstanding+3 {
		t.Fatalf("%d requests outstanding for one connection, bound is %d", peak, maxOutstanding)
	}
	if _, _, err := good.Get("/bp"); err != nil {
		t.Fatalf("other client starved: %v", err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(60 * time.Second))
	for i := 1; i <= n; i++ {
		rh, _ := readReply(t, nc, fmt.Sprintf("reply %d", i))
		if rh.Xid != int32(i) || rh.Err != proto.ErrOK {
			t.Fatalf("reply %d has xid %d err %v: out of order", i, rh.Xid, rh.Err)
		}
	}
}

// /metrics on the admin address counts requests by operation.
func TestMetricsEndpoint(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.AdminEnabled, cfg.AdminAddress, cfg.AdminPort = true, "127.0.0.1", freeport.Get(t)
	ts := startServer(t, cfg)
	c, _ := connect(t, ts.addr, 4*time.Second)
	for i := 0; i < 3; i++ {
		if _, err := c.Create(fmt.Sprintf("/m%d", i), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", cfg.AdminPort))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{`zk_requests_total{op="create"} 3`, "zk_znode_count 7", "zk_fsync_seconds_count"} {
		if !bytes.Contains(body, []byte(want)) {
			t.Fatalf("/metrics lacks %q", want)
		}
	}
}
