package control

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-zookeeper/zk"

	"github.com/zkfc-project/zkfc/zkfc/elector"
)

// The web console: a page served at / and its assets under /console/,
// which carry no data and so need no credentials, and its data endpoints
// under /console/api/, which pass guard like every other endpoint. The
// page asks for the bearer token (kept in the tab's sessionStorage) unless
// a client certificate already authenticates the browser.
//
//	GET /console/api/cluster   every zkfc's /status, gathered by this node
//	GET /console/api/quorum    every quorum member's srvr (quorum.go)
//	GET /console/api/znode?path=/p   data, stat, ACL and children of /p
//	GET /console/api/events    server-sent events: "cluster" and "quorum"
//
// Actions go to the existing endpoints (/failover, /pause, /resume), which
// guard protects against cross-site requests (security.go).

//go:embed console
var consoleFiles embed.FS

// ZnodeReader reads one znode; *elector.Elector implements it on the
// controller's own session.
type ZnodeReader interface {
	Znode(path string) (elector.Znode, error)
}

// ConsoleSources is what the console reads besides the Backend. Nil
// fields leave their view empty with a reason.
type ConsoleSources struct {
	// Tree serves the znode browser and /zookeeper/config.
	Tree ZnodeReader
	// Witnesses lists the witness zkfcs registered in the quorum.
	Witnesses func() ([]elector.Info, error)
	// Servers are zookeeper.connect's addresses, the members asked when
	// /zookeeper/config names none (a standalone or external ZooKeeper).
	Servers []string
	// Dial reaches a member's client port for srvr (TLS when the client
	// port is secure); nil dials plain TCP.
	Dial func(network, address string, timeout time.Duration) (net.Conn, error)
}

// Console limits: how often the live view is refreshed while someone
// watches, how long one peer may take to answer, how many streams may be
// open at once and how long one lasts before the page reconnects.
const (
	consolePoll        = 400 * time.Millisecond
	consoleQuorumPoll  = 2 * time.Second
	consolePeerTimeout = 1500 * time.Millisecond
	consoleMaxStreams  = 32
	consoleStreamLife  = 10 * time.Minute
	consoleKeepalive   = 15 * time.Second
	consoleMaxKnown    = 64
	maxZnodePath       = 1024
	maxZnodeChildren   = 1000
	maxZnodeData       = 64 << 10
)

type console struct {
	src  ConsoleSources
	stop chan struct{} // closed when the server shuts down: streams end

	mu      sync.Mutex
	known   map[string]knownNode // every zkfc seen, so a dead one still shows
	subs    map[chan consoleEvent]struct{}
	polling bool
}

type knownNode struct {
	url, kind string
	lastSeen  time.Time
}

type consoleEvent struct {
	name string
	data []byte
}

// EnableConsole adds the console's data endpoints; call it before Serve.
// The page itself is always served.
func (s *Server) EnableConsole(src ConsoleSources) {
	s.con.src = src
	s.mux.HandleFunc("GET /console/api/cluster", s.consoleCluster)
	s.mux.HandleFunc("GET /console/api/quorum", s.consoleQuorum)
	s.mux.HandleFunc("GET /console/api/znode", s.consoleZnode)
	s.mux.HandleFunc("GET /console/api/events", s.consoleEvents)
}

func newConsole() *console {
	return &console{stop: make(chan struct{}), known: map[string]knownNode{}, subs: map[chan consoleEvent]struct{}{}}
}

// consoleAsset serves the page and its static files, which hold no data,
// and reports whether r was one of them.
func consoleAsset(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	name := ""
	switch {
	case r.URL.Path == "/":
		name = "index.html"
	case strings.HasPrefix(r.URL.Path, "/console/") && !strings.HasPrefix(r.URL.Path, "/console/api/"):
		name = strings.TrimPrefix(r.URL.Path, "/console/")
	default:
		return false
	}
	sub, _ := fs.Sub(consoleFiles, "console")
	b, err := fs.ReadFile(sub, name)
	if err != nil || strings.Contains(name, "/") {
		writeErr(w, http.StatusNotFound, fmt.Errorf("no console file %q", name))
		return true
	}
	h := w.Header()
	switch {
	case strings.HasSuffix(name, ".html"):
		h.Set("Content-Type", "text/html; charset=utf-8")
	case strings.HasSuffix(name, ".js"):
		h.Set("Content-Type", "text/javascript; charset=utf-8")
	case strings.HasSuffix(name, ".css"):
		h.Set("Content-Type", "text/css; charset=utf-8")
	case strings.HasSuffix(name, ".svg"):
		h.Set("Content-Type", "image/svg+xml")
	}
	// Nothing from elsewhere, no inline script, no framing (the action
	// buttons must not be clickjacked).
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	if r.Method == http.MethodGet {
		_, _ = w.Write(b)
	}
	return true
}

// consoleNode is one zkfc as the console shows it. Status is the node's
// own /status reply, passed through whole so that fields this build does
// not know reach the page.
type consoleNode struct {
	NodeID    string          `json:"node_id"`
	URL       string          `json:"control_url,omitempty"`
	Kind      string          `json:"kind"` // self | candidate | witness
	Reachable bool            `json:"reachable"`
	Error     string          `json:"error,omitempty"`
	LastSeen  time.Time       `json:"last_seen,omitzero"`
	Status    json.RawMessage `json:"status,omitempty"`
}

type clusterView struct {
	ServedBy string        `json:"served_by"`
	Time     time.Time     `json:"time"`
	Nodes    []consoleNode `json:"nodes"`
	// Errors: why a list of nodes could not be read (the view may miss
	// nodes then).
	Errors []string `json:"errors,omitempty"`
}

func (s *Server) consoleCluster(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.gatherCluster(r.Context()))
}

// gatherCluster asks every known zkfc for its status, in parallel, with
// this node's own credentials: the registered candidates and witnesses,
// and any seen before that is gone from the registry (shown unreachable).
func (s *Server) gatherCluster(ctx context.Context) clusterView {
	self := s.b.Self()
	v := clusterView{ServedBy: self.NodeID, Time: time.Now()}
	found := map[string]knownNode{}
	if m, err := s.b.Members(); err != nil {
		v.Errors = append(v.Errors, "candidates: "+err.Error())
	} else {
		for _, i := range m {
			found[i.NodeID] = knownNode{url: i.ControlURL, kind: "candidate"}
		}
	}
	if s.con.src.Witnesses != nil {
		if m, err := s.con.src.Witnesses(); err != nil {
			v.Errors = append(v.Errors, "witnesses: "+err.Error())
		} else {
			for _, i := range m {
				found[i.NodeID] = knownNode{url: i.ControlURL, kind: "witness"}
			}
		}
	}
	now := time.Now()
	c := s.con
	c.mu.Lock()
	for id, k := range found {
		k.lastSeen = now
		c.known[id] = k
	}
	delete(c.known, self.NodeID)
	if len(c.known) > consoleMaxKnown {
		oldestID, oldest := "", now
		for id, k := range c.known {
			if k.lastSeen.Before(oldest) {
				oldestID, oldest = id, k.lastSeen
			}
		}
		delete(c.known, oldestID)
	}
	nodes := []consoleNode{{NodeID: self.NodeID, URL: self.ControlURL, Kind: "self", Reachable: true, LastSeen: now, Status: s.ownStatus()}}
	for id, k := range c.known {
		nodes = append(nodes, consoleNode{NodeID: id, URL: k.url, Kind: k.kind, LastSeen: k.lastSeen})
	}
	c.mu.Unlock()
	var wg sync.WaitGroup
	for i := 1; i < len(nodes); i++ {
		wg.Add(1)
		go func(n *consoleNode) {
			defer wg.Done()
			if n.URL == "" {
				n.Error = "registered without a control URL (control.advertise)"
				return
			}
			pctx, cancel := context.WithTimeout(ctx, consolePeerTimeout)
			defer cancel()
			var raw json.RawMessage
			if err := s.client.do(pctx, http.MethodGet, n.URL, "/status", nil, &raw); err != nil {
				n.Error = err.Error()
				return
			}
			n.Reachable, n.Status, n.LastSeen = true, raw, time.Now()
		}(&nodes[i])
	}
	wg.Wait()
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].NodeID < nodes[j].NodeID })
	v.Nodes = nodes
	return v
}

// ownStatus is this node's /status reply, produced by the same handler
// a peer would reach, without a network round trip.
func (s *Server) ownStatus() json.RawMessage {
	rec := &bufferWriter{h: http.Header{}}
	req, _ := http.NewRequest(http.MethodGet, "/status", nil)
	s.mux.ServeHTTP(rec, req)
	return json.RawMessage(bytes.TrimSpace(rec.buf.Bytes()))
}

// bufferWriter is an http.ResponseWriter into memory.
type bufferWriter struct {
	h    http.Header
	code int
	buf  bytes.Buffer
}

func (b *bufferWriter) Header() http.Header         { return b.h }
func (b *bufferWriter) Write(p []byte) (int, error) { return b.buf.Write(p) }
func (b *bufferWriter) WriteHeader(code int)        { b.code = code }

// znodeView is the browser's JSON: ZooKeeper's stat names, data as text
// when it is UTF-8, else base64.
type znodeView struct {
	Path          string     `json:"path"`
	Data          *string    `json:"data,omitempty"`
	DataBase64    []byte     `json:"data_base64,omitempty"`
	DataTruncated bool       `json:"data_truncated,omitempty"`
	Stat          znodeStat  `json:"stat"`
	ACL           []znodeACL `json:"acl"`
	Children      []string   `json:"children"`
	ChildrenMore  int        `json:"children_more,omitempty"`
	Ephemeral     bool       `json:"ephemeral"`
	Owner         string     `json:"ephemeral_owner,omitempty"`
	Times         znodeTimes `json:"times"`
}

type znodeStat struct {
	Czxid          string `json:"cZxid"`
	Mzxid          string `json:"mZxid"`
	Pzxid          string `json:"pZxid"`
	Ctime          int64  `json:"ctime"`
	Mtime          int64  `json:"mtime"`
	Version        int32  `json:"dataVersion"`
	Cversion       int32  `json:"cversion"`
	Aversion       int32  `json:"aclVersion"`
	EphemeralOwner string `json:"ephemeralOwner"`
	DataLength     int32  `json:"dataLength"`
	NumChildren    int32  `json:"numChildren"`
}

type znodeTimes struct {
	Created  time.Time `json:"created"`
	Modified time.Time `json:"modified"`
}

type znodeACL struct {
	Scheme string `json:"scheme"`
	ID     string `json:"id"`
	Perms  string `json:"perms"`
}

// checkZnodePath refuses what ZooKeeper would refuse, before asking it.
func checkZnodePath(p string) error {
	switch {
	case p == "":
		return errors.New("missing ?path=/znode")
	case len(p) > maxZnodePath:
		return fmt.Errorf("path longer than %d bytes", maxZnodePath)
	case p[0] != '/':
		return fmt.Errorf("path %q: must start with /", p)
	case p != "/" && strings.HasSuffix(p, "/"):
		return fmt.Errorf("path %q: must not end with /", p)
	case !utf8.ValidString(p) || strings.ContainsRune(p, 0):
		return fmt.Errorf("path %q: not valid UTF-8 text", p)
	}
	if p == "/" {
		return nil
	}
	for _, el := range strings.Split(p[1:], "/") {
		if el == "" || el == "." || el == ".." {
			return fmt.Errorf("path %q: empty, . and .. elements are not allowed", p)
		}
	}
	return nil
}

func (s *Server) consoleZnode(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Query().Get("path")
	if err := checkZnodePath(p); err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return
	}
	if s.con.src.Tree == nil {
		writeErr(w, http.StatusNotImplemented, errors.New("this zkfc has no ZooKeeper session to browse with"))
		return
	}
	z, err := s.con.src.Tree.Znode(p)
	switch {
	case errors.Is(err, zk.ErrNoNode):
		writeErr(w, http.StatusNotFound, fmt.Errorf("%s does not exist", p))
		return
	case errors.Is(err, zk.ErrNoAuth):
		writeErr(w, http.StatusForbidden, fmt.Errorf("%s: the znode's ACL does not let this zkfc read it (zookeeper.auth_file)", p))
		return
	case err != nil:
		writeErr(w, http.StatusBadGateway, err)
		return
	}
	writeJSON(w, http.StatusOK, toZnodeView(z))
}

func toZnodeView(z elector.Znode) znodeView {
	st := z.Stat
	zx := func(v int64) string { return fmt.Sprintf("0x%x", v) }
	v := znodeView{Path: z.Path, Children: z.Children, Ephemeral: st.EphemeralOwner != 0,
		Stat: znodeStat{Czxid: zx(st.Czxid), Mzxid: zx(st.Mzxid), Pzxid: zx(st.Pzxid), Ctime: st.Ctime, Mtime: st.Mtime,
			Version: st.Version, Cversion: st.Cversion, Aversion: st.Aversion, EphemeralOwner: zx(st.EphemeralOwner),
			DataLength: st.DataLength, NumChildren: st.NumChildren},
		Times: znodeTimes{Created: time.UnixMilli(st.Ctime).UTC(), Modified: time.UnixMilli(st.Mtime).UTC()}}
	if v.Ephemeral {
		v.Owner = elector.SessionHex(st.EphemeralOwner)
	}
	sort.Strings(v.Children)
	if v.Children == nil {
		v.Children = []string{}
	}
	if len(v.Children) > maxZnodeChildren {
		v.ChildrenMore = len(v.Children) - maxZnodeChildren
		v.Children = v.Children[:maxZnodeChildren]
	}
	data := z.Data
	if len(data) > maxZnodeData {
		data, v.DataTruncated = data[:maxZnodeData], true
	}
	if data != nil {
		if utf8.Valid(data) {
			t := string(data)
			v.Data = &t
		} else {
			v.DataBase64 = data
		}
	}
	v.ACL = []znodeACL{}
	for _, a := range z.ACL {
		v.ACL = append(v.ACL, znodeACL{Scheme: a.Scheme, ID: a.ID, Perms: perms(a.Perms)})
	}
	return v
}

// perms spells ZooKeeper's permission bits as zkCli's getAcl does: cdrwa.
func perms(p int32) string {
	var b strings.Builder
	for _, x := range []struct {
		bit int32
		c   byte
	}{{zk.PermCreate, 'c'}, {zk.PermDelete, 'd'}, {zk.PermRead, 'r'}, {zk.PermWrite, 'w'}, {zk.PermAdmin, 'a'}} {
		if p&x.bit != 0 {
			b.WriteByte(x.c)
		}
	}
	return b.String()
}

// consoleEvents streams the cluster (every consolePoll) and quorum
// (every consoleQuorumPoll) views as server-sent events until the client
// leaves, the stream's life ends (the page reconnects) or the server
// stops. One poller serves every open stream.
func (s *Server) consoleEvents(w http.ResponseWriter, r *http.Request) {
	c := s.con
	ch := make(chan consoleEvent, 4)
	c.mu.Lock()
	if len(c.subs) >= consoleMaxStreams {
		c.mu.Unlock()
		writeErr(w, http.StatusServiceUnavailable, fmt.Errorf("%d console streams already open; close a console tab", consoleMaxStreams))
		return
	}
	c.subs[ch] = struct{}{}
	start := !c.polling
	c.polling = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.subs, ch)
		c.mu.Unlock()
	}()
	if start {
		go s.pollConsole()
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(name string, data []byte) bool {
		// The server's WriteTimeout would cut a long stream: each write
		// gets its own deadline instead.
		_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		var err error
		if name == "" {
			_, err = w.Write([]byte(": keepalive\n\n"))
		} else {
			_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, data)
		}
		return err == nil && rc.Flush() == nil
	}
	if !send("hello", []byte(`{"retry_ms":1000}`)) {
		return
	}
	life := time.NewTimer(consoleStreamLife)
	defer life.Stop()
	keep := time.NewTicker(consoleKeepalive)
	defer keep.Stop()
	for {
		select {
		case ev := <-ch:
			if !send(ev.name, ev.data) {
				return
			}
		case <-keep.C:
			if !send("", nil) {
				return
			}
		case <-life.C:
			return
		case <-r.Context().Done():
			return
		case <-c.stop:
			return
		}
	}
}

// pollConsole gathers the views while any stream is open and hands each
// to every stream; a stream that has not taken the previous one yet
// loses the older view, never blocks the poller.
func (s *Server) pollConsole() {
	c := s.con
	tick := time.NewTicker(consolePoll)
	defer tick.Stop()
	var lastQuorum time.Time
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*consolePeerTimeout)
		evs := []consoleEvent{{name: "cluster", data: mustJSON(s.gatherCluster(ctx))}}
		if time.Since(lastQuorum) >= consoleQuorumPoll {
			lastQuorum = time.Now()
			evs = append(evs, consoleEvent{name: "quorum", data: mustJSON(s.gatherQuorum(ctx))})
		}
		cancel()
		c.mu.Lock()
		if len(c.subs) == 0 {
			c.polling = false
			c.mu.Unlock()
			return
		}
		for ch := range c.subs {
			for _, ev := range evs {
				select {
				case ch <- ev:
				default:
					select { // drop the oldest pending view
					case <-ch:
					default:
					}
					select {
					case ch <- ev:
					default:
					}
				}
			}
		}
		c.mu.Unlock()
		select {
		case <-tick.C:
		case <-c.stop:
			c.mu.Lock()
			c.polling = false
			c.mu.Unlock()
			return
		}
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(errorBody{Error: err.Error()})
	}
	return b
}

// consoleShutdown ends every stream; Serve calls it when it stops.
func (s *Server) consoleShutdown() {
	s.con.mu.Lock()
	defer s.con.mu.Unlock()
	select {
	case <-s.con.stop:
	default:
		close(s.con.stop)
	}
}
