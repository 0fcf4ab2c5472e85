package control

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/zkfc/controller"
	"github.com/zkfc-project/zkfc/zkfc/elector"
)

// fakeTree is a ZnodeReader over a map; the console only reads.
type fakeTree map[string]elector.Znode

func (f fakeTree) Znode(p string) (elector.Znode, error) {
	z, ok := f[p]
	if !ok {
		return z, zk.ErrNoNode
	}
	return z, nil
}

func consoleServer(t *testing.T, b Backend, src ConsoleSources) (*httptest.Server, *Client) {
	t.Helper()
	s := NewServer(b, 10*time.Second, nil, zap.NewNop())
	c := NewClient()
	c.Token = []byte(testToken)
	s.Secure(Security{Token: []byte(testToken), Client: c})
	s.EnableConsole(src)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv, c
}

func get(t *testing.T, u, token string, hdr map[string]string) (int, http.Header, string) {
	t.Helper()
	return send(t, http.MethodGet, u, token, hdr)
}

func send(t *testing.T, method, u, token string, hdr map[string]string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return do(t, req)
}

// do sends req and returns the status, headers and body of the answer.
// Bounded: an event stream served by mistake would never end.
func do(t *testing.T, req *http.Request) (int, http.Header, string) {
	t.Helper()
	hc := http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// The page and its assets need no credentials and carry no data; every
// data endpoint does.
func TestConsoleAssetsAndAuth(t *testing.T) {
	b := newRecording()
	srv, _ := consoleServer(t, b, ConsoleSources{Tree: fakeTree{}})
	code, h, body := get(t, srv.URL+"/", "", nil)
	if code != 200 || !strings.Contains(body, "/console/app.js") || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Fatalf("GET /: %d %v\n%.200s", code, h, body)
	}
	if strings.Contains(body, "nn1") {
		t.Fatal("the page served without credentials names the node")
	}
	for _, p := range []string{"/console/app.js", "/console/style.css"} {
		if code, _, _ := get(t, srv.URL+p, "", nil); code != 200 {
			t.Errorf("GET %s: %d", p, code)
		}
	}
	if code, _, _ := get(t, srv.URL+"/console/nope.js", "", nil); code != 404 {
		t.Errorf("GET an unknown asset: %d, want 404", code)
	}
	for _, p := range []string{"/console/api/cluster", "/console/api/quorum", "/console/api/znode?path=/", "/console/api/events"} {
		if code, _, body := get(t, srv.URL+p, "", nil); code != http.StatusUnauthorized || !strings.Contains(body, "authentication required") {
			t.Errorf("GET %s without a token: %d %s, want 401", p, code, body)
		}
		if code, _, _ := get(t, srv.URL+p, "wrong", nil); code != http.StatusForbidden {
			t.Errorf("GET %s with a wrong token: %d, want 403", p, code)
		}
	}
	// The actions the page takes: an unknown node and an oversized body
	// are refused with a reason, and nothing reaches the controller.
	if code, _, body := send(t, http.MethodPost, srv.URL+"/failover?to=nope", testToken, nil); code != http.StatusNotFound || !strings.Contains(body, "nope is not a registered candidate") {
		t.Errorf("failover to an unknown node: %d %s", code, body)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/console/api/znode?path=/", strings.NewReader(strings.Repeat("x", MaxBodyBytes+1)))
	req.Header.Set("Authorization", "Bearer "+testToken)
	if code, _, _ := do(t, req); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d, want 413", code)
	}
	if b.changes.Load() != 0 {
		t.Errorf("refused requests reached the controller %d times", b.changes.Load())
	}
}

// A browser's cross-site request that would change state is refused even
// with valid credentials, before it reaches the controller; the CLI's
// requests (no Origin, no Sec-Fetch-Site, no body) pass.
func TestCrossSiteRefused(t *testing.T) {
	b := newRecording()
	srv, _ := consoleServer(t, b, ConsoleSources{})
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, c := range []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"Sec-Fetch-Site cross-site", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"Sec-Fetch-Site same-site", map[string]string{"Sec-Fetch-Site": "same-site"}, 403},
		{"foreign Origin", map[string]string{"Origin": "http://evil.example"}, 403},
		{"Origin of another port", map[string]string{"Origin": "http://127.0.0.1:1"}, 403},
		{"Origin null", map[string]string{"Origin": "null"}, 403},
		{"form post", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415},
		{"multipart form", map[string]string{"Content-Type": "multipart/form-data; boundary=x"}, 415},
		{"text/plain", map[string]string{"Content-Type": "text/plain;charset=UTF-8"}, 415},
	} {
		code, _, body := send(t, http.MethodPost, srv.URL+"/pause", testToken, c.hdr)
		if code != c.want || b.changes.Load() != 0 {
			t.Errorf("%s: %d %s (backend calls %d), want %d and no call", c.name, code, body, b.changes.Load(), c.want)
		}
	}
	for _, hdr := range []map[string]string{
		nil, // the CLI
		{"Sec-Fetch-Site": "same-origin", "Origin": "http://" + host}, // the console
	} {
		before := b.changes.Load()
		if code, _, body := send(t, http.MethodPost, srv.URL+"/pause", testToken, hdr); code != 200 || b.changes.Load() != before+1 {
			t.Errorf("same-origin POST %v: %d %s", hdr, code, body)
		}
	}
}

func TestConsoleZnode(t *testing.T) {
	tree := fakeTree{
		"/": {Path: "/", Children: []string{"zookeeper", "zkfc"}},
		"/zkfc/c/ActiveStandbyElectorLock": {Path: "/zkfc/c/ActiveStandbyElectorLock", Data: []byte(`{"node_id":"nn1"}`),
			Stat: zk.Stat{EphemeralOwner: 0x1234, DataLength: 17, Ctime: 1700000000000},
			ACL:  []zk.ACL{{Perms: zk.PermAll, Scheme: "world", ID: "anyone"}, {Perms: zk.PermRead | zk.PermAdmin, Scheme: "digest", ID: "zkfc:x"}}},
		"/bin": {Path: "/bin", Data: []byte{0xff, 0xfe, 0}},
	}
	b := newRecording()
	srv, c := consoleServer(t, b, ConsoleSources{Tree: tree})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	read := func(p string) (znodeView, error) {
		var v znodeView
		err := c.do(ctx, http.MethodGet, srv.URL, "/console/api/znode", url.Values{"path": {p}}, &v)
		return v, err
	}
	v, err := read("/")
	if err != nil || strings.Join(v.Children, ",") != "zkfc,zookeeper" {
		t.Fatalf("/: %+v %v", v, err)
	}
	v, err = read("/zkfc/c/ActiveStandbyElectorLock")
	if err != nil || v.Data == nil || *v.Data != `{"node_id":"nn1"}` || !v.Ephemeral || v.Owner != "0x0000000000001234" ||
		len(v.ACL) != 2 || v.ACL[0].Perms != "cdrwa" || v.ACL[1].Perms != "ra" || v.Stat.DataLength != 17 {
		t.Fatalf("lock: %+v %v", v, err)
	}
	v, err = read("/bin")
	if err != nil || v.Data != nil || string(v.DataBase64) != "\xff\xfe\x00" {
		t.Fatalf("binary data: %+v %v", v, err)
	}
	for p, want := range map[string]int{
		"": 400, "zkfc": 400, "/zkfc/": 400, "/a//b": 400, "/a/../b": 400, "/a/./b": 400, "/\x00": 400,
		"/" + strings.Repeat("a", maxZnodePath): 400, "/missing": 404,
	} {
		_, err := read(p)
		var he *HTTPError
		if !asHTTP(err, &he) || he.Code != want || he.Message == "" {
			t.Errorf("path %q: %v, want %d with a reason", p, err, want)
		}
	}
	srv2, c2 := consoleServer(t, b, ConsoleSources{})
	if err := c2.do(ctx, http.MethodGet, srv2.URL, "/console/api/znode", url.Values{"path": {"/"}}, nil); err == nil || !strings.Contains(err.Error(), "501") {
		t.Errorf("browser without a session: %v, want 501", err)
	}
	if b.changes.Load() != 0 {
		t.Errorf("reads reached the controller's state-changing calls %d times", b.changes.Load())
	}
}

func asHTTP(err error, he **HTTPError) bool {
	e, ok := err.(*HTTPError)
	*he = e
	return ok
}

// The cluster view asks every registered zkfc with this node's token,
// keeps a node that left the registry (shown unreachable), and passes each
// status through whole.
func TestConsoleGathersCluster(t *testing.T) {
	peer := NewServer(&fakeBackend{st: controller.Status{NodeID: "nn2", Role: "standby", Health: "SERVICE_HEALTHY"}}, time.Second, nil, zap.NewNop())
	peer.Secure(Security{Token: []byte(testToken)})
	psrv := httptest.NewServer(peer)
	defer psrv.Close()
	wit := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			w.WriteHeader(401)
			return
		}
		_, _ = io.WriteString(w, `{"node_id":"w","role":"witness","health":"QUORUM_MEMBER_SERVING (leader)","future_field":1}`)
	}))
	defer wit.Close()
	b := newRecording()
	b.st.Role = "active"
	b.members = []elector.Info{{NodeID: "nn1"}, {NodeID: "nn2", ControlURL: psrv.URL}, {NodeID: "nn3", ControlURL: "http://127.0.0.1:1"}}
	srv, c := consoleServer(t, b, ConsoleSources{Witnesses: func() ([]elector.Info, error) {
		return []elector.Info{{NodeID: "w", ControlURL: wit.URL}}, nil
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var v clusterView
	if err := c.do(ctx, http.MethodGet, srv.URL, "/console/api/cluster", nil, &v); err != nil {
		t.Fatal(err)
	}
	got := map[string]consoleNode{}
	for _, n := range v.Nodes {
		got[n.NodeID] = n
	}
	if len(got) != 4 || got["nn1"].Kind != "self" || !got["nn1"].Reachable || !got["nn2"].Reachable || got["nn3"].Reachable ||
		got["nn3"].Error == "" || got["w"].Kind != "witness" || !strings.Contains(string(got["w"].Status), "future_field") ||
		!strings.Contains(string(got["nn2"].Status), `"role":"standby"`) || !strings.Contains(string(got["nn1"].Status), `"role":"active"`) {
		t.Fatalf("cluster view: %+v", v)
	}
	// nn2 leaves the registry: still shown, with its last answer's time.
	b.members = b.members[:1]
	if err := c.do(ctx, http.MethodGet, srv.URL, "/console/api/cluster", nil, &v); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, n := range v.Nodes {
		found = found || n.NodeID == "nn2"
	}
	if !found {
		t.Fatalf("a node gone from the registry vanished from the view: %+v", v.Nodes)
	}
}

// The event stream sends the cluster view at once and then as it
// changes, and ends when the client leaves.
func TestConsoleEvents(t *testing.T) {
	b := newRecording()
	srv, _ := consoleServer(t, b, ConsoleSources{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/console/api/events", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var event string
	seen := map[string]int{}
	for sc.Scan() && seen["cluster"] < 2 {
		line := sc.Text()
		if strings.HasPrefix(line, "event: ") {
			event = strings.TrimPrefix(line, "event: ")
		}
		if strings.HasPrefix(line, "data: ") {
			seen[event]++
			if event == "cluster" {
				var v clusterView
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &v); err != nil || v.ServedBy != "nn1" {
					t.Fatalf("cluster event: %v %s", err, line)
				}
			}
		}
	}
	if seen["cluster"] < 2 || seen["quorum"] < 1 {
		t.Fatalf("events seen: %v (%v)", seen, sc.Err())
	}
}

func TestParseQuorumReplies(t *testing.T) {
	ms := parseClusterConfig("server.2=10.0.0.2:2888:3888:participant;0.0.0.0:2181\nserver.1=[::1]:2888:3888:observer;[::1]:2182\nserver.3=h3:2888:3888:participant\nversion=0")
	if len(ms) != 2 || ms[0].ID != "1" || ms[0].Address != "[::1]:2182" || ms[0].Role != "observer" ||
		ms[1].Address != "10.0.0.2:2181" || ms[1].Role != "participant" {
		t.Fatalf("parsed %+v", ms)
	}
	var m quorumMember
	parseSrvr([]byte("Zookeeper version: 3.8.4\nLatency min/avg/max: 0/0.5/3\nReceived: 10\nSent: 10\nConnections: 2\nOutstanding: 0\nZxid: 0x200000007\nMode: follower\nNode count: 12\n"), &m)
	if m.Mode != "follower" || !m.Serving || m.Epoch != 2 || m.zxid != 0x200000007 || *m.Connections != 2 || *m.NodeCount != 12 || m.Latency != "0/0.5/3" {
		t.Fatalf("srvr: %+v", m)
	}
	m = quorumMember{}
	parseSrvr([]byte("This ZooKeeper instance is not currently serving requests\n"), &m)
	if m.Serving || m.Error == "" {
		t.Fatalf("not serving: %+v", m)
	}
}
