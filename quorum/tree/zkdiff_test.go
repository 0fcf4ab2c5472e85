package tree

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/quorum/internal/transcript"
	"github.com/zkfc-project/zkfc/quorum/proto"
)

// TestDifferentialAgainstZooKeeper runs the requests of
// testdata/zkdiff.txt against a Tree and requires the answers recorded
// there, which are Apache ZooKeeper's: the same error codes, reply bodies
// and in the end the same tree (zxids in the Tree's numbering, times
// left out). The syntax is described at the top of the transcript.
//
// With TREE_DIFF_ZK=1 (java and the Debian zookeeper jar) every request
// also goes to a real ZooKeeper 3.8, whose answers must equal the Tree's
// and the transcript's; -update then records ZooKeeper's answers:
//
//	TREE_DIFF_ZK=1 go test ./quorum/tree -run Differential -update
func TestDifferentialAgainstZooKeeper(t *testing.T) {
	d := &differ{t: t, tree: New(), zx: map[int64]int64{0: 0}, now: 1, sessions: map[string]*zkConn{}}
	if os.Getenv("TREE_DIFF_ZK") != "" {
		d.addr = startZooKeeper(t)
	} else if transcript.Updating() {
		t.Fatal("the expected output is Apache ZooKeeper's: record it with TREE_DIFF_ZK=1 (needs java and /usr/share/java/zookeeper.jar)")
	}
	transcript.Run(t, filepath.Join("testdata", "zkdiff.txt"), d.step)
}

// differ keeps a Tree, and a real ZooKeeper if it has addr, in step.
type differ struct {
	t        *testing.T
	addr     string // ZooKeeper's; empty: the Tree alone
	tree     *Tree
	zx       map[int64]int64 // ZooKeeper zxid -> ours
	zxid     int64
	now      int64
	sessions map[string]*zkConn
	names    map[int64]string // session id -> name, for ephemeral owners
}

// zkConn is a named session: on ZooKeeper if the differ has one, else
// only in the Tree.
type zkConn struct {
	name string
	c    net.Conn
	r    *bufio.Reader
	id   int64
	auth []proto.Id
	xid  int32
}

func (d *differ) step(t *testing.T, s *transcript.Step) string {
	t.Helper()
	if s.Cmd == "connect" {
		d.connect(s.Arg(t, 0))
		return ""
	}
	z := d.sessions[s.Arg(t, 0)]
	if z == nil {
		t.Fatalf("%s: no session %q (connect it first)", s.Pos, s.Arg(t, 0))
	}
	switch s.Cmd {
	case "auth":
		d.auth(z, s.Arg(t, 1), s.Arg(t, 2))
		return ""
	case "close":
		return d.close(z)
	case "reads":
		return d.reads(z, s.Arg(t, 1))
	case "tree":
		return d.walk(z)
	case "multi":
		m := &proto.MultiRequest{}
		for _, l := range s.Input {
			words, err := transcript.Fields(l)
			if err != nil {
				t.Fatalf("%s: %v", s.Pos, err)
			}
			sub := &transcript.Step{Pos: s.Pos, Cmd: words[0], Args: words[1:]}
			op, req := d.request(t, sub, 0)
			m.Ops = append(m.Ops, proto.MultiOp{Type: op, Op: req})
		}
		return d.do(z, proto.OpMulti, m)
	}
	op, req := d.request(t, s, 1)
	return d.do(z, op, req)
}

// request builds a write from a step: the command names the operation,
// positional argument first the path, key=value arguments the rest.
func (d *differ) request(t *testing.T, s *transcript.Step, first int) (int32, proto.Record) {
	t.Helper()
	path := s.Arg(t, first)
	num := func(key string, def int64) int64 {
		v, ok := s.Key(key)
		if !ok {
			return def
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("%s: %s=%q: %v", s.Pos, key, v, err)
		}
		return n
	}
	var data []byte
	if v, ok := s.Key("data"); ok {
		data = []byte(v)
	}
	version := int32(num("version", -1))
	acl := d.acl(t, s)
	mode := d.mode(t, s)
	switch s.Cmd {
	case "create", "create2", "createContainer":
		if _, ok := s.Key("data"); !ok {
			data = []byte("v:" + path)
		}
		op := map[string]int32{"create": proto.OpCreate, "create2": proto.OpCreate2, "createContainer": proto.OpCreateContainer}[s.Cmd]
		return op, &proto.CreateRequest{Path: path, Data: data, ACL: acl, Flags: mode}
	case "createTTL":
		return proto.OpCreateTTL, &proto.CreateTTLRequest{Path: path, Data: data, ACL: acl, Flags: mode, TTL: num("ttl", 0)}
	case "delete":
		return proto.OpDelete, &proto.PathVersionRequest{Path: path, Version: version}
	case "set":
		return proto.OpSetData, &proto.SetDataRequest{Path: path, Data: data, Version: version}
	case "check":
		return proto.OpCheck, &proto.PathVersionRequest{Path: path, Version: version}
	case "setACL":
		return proto.OpSetACL, &proto.SetACLRequest{Path: path, ACL: acl, Version: version}
	}
	t.Fatalf("%s: unknown command %q", s.Pos, s.Cmd)
	return 0, nil
}

var modes = map[string]int32{
	"persistent": proto.ModePersistent, "ephemeral": proto.ModeEphemeral,
	"persistent_sequential": proto.ModePersistentSequential, "ephemeral_sequential": proto.ModeEphemeralSequential,
	"container": proto.ModeContainer, "ttl": proto.ModeTTL, "ttl_sequential": proto.ModeTTLSequential,
}

func (d *differ) mode(t *testing.T, s *transcript.Step) int32 {
	v, ok := s.Key("mode")
	if !ok {
		return proto.ModePersistent
	}
	if m, ok := modes[v]; ok {
		return m
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s: mode=%q: not a mode name or number", s.Pos, v)
	}
	return int32(n)
}

// acl reads acl=: "open" (world:anyone:cdrwa, the default), "none" (no
// ACL at all), or comma-separated scheme:id:perms entries, perms in
// ZooKeeper's letters; scheme digestpw takes user:password and stands
// for the digest id ZooKeeper derives from them.
func (d *differ) acl(t *testing.T, s *transcript.Step) []proto.ACL {
	v, ok := s.Key("acl")
	switch {
	case !ok || v == "open":
		return proto.OpenACL
	case v == "none":
		return nil
	}
	var out []proto.ACL
	for _, e := range strings.Split(v, ",") {
		scheme, rest, ok1 := strings.Cut(e, ":")
		i := strings.LastIndex(rest, ":")
		if !ok1 || i < 0 {
			t.Fatalf("%s: acl entry %q is not scheme:id:perms", s.Pos, e)
		}
		id, letters := rest[:i], rest[i+1:]
		if scheme == "digestpw" {
			user, pw, _ := strings.Cut(id, ":")
			scheme, id = "digest", DigestID(user, pw)
		}
		var perms int32
		for _, c := range letters {
			bit := strings.IndexRune("rwcda", c)
			if bit < 0 {
				t.Fatalf("%s: acl entry %q: permission %q is none of cdrwa", s.Pos, e, c)
			}
			perms |= 1 << bit
		}
		out = append(out, proto.ACL{Perms: perms, ID: proto.Id{Scheme: scheme, ID: id}})
	}
	return out
}

func permLetters(p int32) string {
	var b strings.Builder
	for _, c := range "cdrwa" {
		if p&(1<<strings.IndexRune("rwcda", c)) != 0 {
			b.WriteRune(c)
		}
	}
	return b.String()
}

func (d *differ) connect(name string) {
	d.t.Helper()
	z := &zkConn{name: name, auth: []proto.Id{{Scheme: "ip", ID: "127.0.0.1"}}}
	resp := proto.ConnectResponse{TimeOut: 30000, SessionID: int64(0x100 + len(d.sessions)), Passwd: make([]byte, 16)}
	if d.addr != "" {
		c, err := net.DialTimeout("tcp", d.addr, 5*time.Second)
		if err != nil {
			d.t.Fatal(err)
		}
		d.t.Cleanup(func() { c.Close() })
		z.c, z.r = c, bufio.NewReader(c)
		c.SetDeadline(time.Now().Add(30 * time.Second))
		c.Write(proto.AppendFrame(nil, &proto.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16)}))
		if f, err := proto.ReadFrame(z.r, nil, proto.DefaultMaxBuffer); err != nil {
			d.t.Fatal(err)
		} else if err := proto.Unmarshal(f, &resp); err != nil {
			d.t.Fatal(err)
		}
	}
	z.id = resp.SessionID
	if d.names == nil {
		d.names = map[int64]string{}
	}
	d.names[z.id] = name
	d.sessions[name] = z
	d.apply(&Entry{Op: proto.OpCreateSession, Req: &CreateSession{ID: z.id, Timeout: resp.TimeOut, Passwd: resp.Passwd}})
}

func (d *differ) apply(e *Entry) Result {
	d.zxid++
	d.now++
	e.Zxid, e.Time = d.zxid, d.now
	return d.tree.Apply(e)
}

// call sends one request to ZooKeeper and returns the reply header and
// body.
func (z *zkConn) call(t *testing.T, xid, op int32, req proto.Record) (proto.ReplyHeader, []byte) {
	t.Helper()
	z.c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := z.c.Write(proto.AppendFrame(nil, &proto.RequestHeader{Xid: xid, Type: op}, req)); err != nil {
		t.Fatal(err)
	}
	f, err := proto.ReadFrame(z.r, nil, proto.DefaultMaxBuffer)
	if err != nil {
		t.Fatalf("op %d: %v", op, err)
	}
	dec := proto.NewDecoder(f)
	var h proto.ReplyHeader
	h.Decode(dec)
	return h, f[dec.Off:]
}

func (d *differ) auth(z *zkConn, user, pw string) {
	d.t.Helper()
	if z.c != nil {
		h, _ := z.call(d.t, proto.XidAuth, proto.OpAuth, &proto.AuthPacket{Scheme: "digest", Auth: []byte(user + ":" + pw)})
		if h.Err != proto.ErrOK {
			d.t.Fatalf("auth: %v", h.Err)
		}
	}
	z.auth = append(z.auth, proto.Id{Scheme: "digest", ID: DigestID(user, pw)})
	if user == "super" && pw == "secret" {
		// The superDigest startZooKeeper configures, which the server
		// turns into this identity.
		z.auth = append(z.auth, proto.Id{Scheme: "super"})
	}
}

func (d *differ) close(z *zkConn) string {
	d.t.Helper()
	res := d.apply(&Entry{Session: z.id, Op: proto.OpCloseSession, Req: proto.Empty{}})
	ours := res.Err.Error()
	if z.c == nil {
		return ours
	}
	h, _ := z.call(d.t, 1, proto.OpCloseSession, proto.Empty{})
	d.zx[h.Zxid] = d.zxid
	return d.agree("closeSession", h.Err.Error(), ours)
}

// agree returns ZooKeeper's rendering of an answer after checking the
// Tree's is the same.
func (d *differ) agree(what, zk, ours string) string {
	d.t.Helper()
	if zk != ours {
		d.t.Errorf("%s:\n zookeeper %s\n tree      %s", what, zk, ours)
	}
	return zk
}

// do runs a write and renders its outcome: the error code, then the
// reply body.
func (d *differ) do(z *zkConn, op int32, req proto.Record) string {
	d.t.Helper()
	res := d.apply(&Entry{Session: z.id, Auth: z.auth, Op: op, Req: req})
	ours := res.Err.Error()
	if res.Err == proto.ErrOK && res.Resp != nil {
		ours += " " + d.norm(res.Resp, false)
	}
	if z.c == nil {
		return ours
	}
	z.xid++
	h, body := z.call(d.t, z.xid, op, req)
	d.zx[h.Zxid] = d.zxid
	theirs := h.Err.Error()
	if h.Err == proto.ErrOK && res.Resp != nil {
		want := reflect.New(reflect.TypeOf(res.Resp).Elem()).Interface().(proto.Record)
		if err := proto.Unmarshal(body, want); err != nil {
			d.t.Fatalf("op %d: decode zookeeper reply: %v", op, err)
		}
		theirs += " " + d.norm(want, true)
	}
	return d.agree(fmt.Sprintf("op %d %+v", op, req), theirs, ours)
}

// reads renders getData, getChildren2, getACL and getAllChildrenNumber
// of one path as seen by z's identities, one line each.
func (d *differ) reads(z *zkConn, path string) string {
	d.t.Helper()
	var lines []string
	read := func(name string, op int32, req, zk proto.Record, err proto.Err, ours proto.Record) {
		line := name + " " + err.Error()
		if err == proto.ErrOK {
			line += " " + d.norm(ours, false)
		}
		if z.c != nil {
			z.xid++
			h, body := z.call(d.t, z.xid, op, req)
			theirs := name + " " + h.Err.Error()
			if h.Err == proto.ErrOK {
				if e := proto.Unmarshal(body, zk); e != nil {
					d.t.Fatalf("%s %s: %v", name, path, e)
				}
				theirs += " " + d.norm(zk, true)
			}
			line = d.agree(name+" "+path, theirs, line)
		}
		lines = append(lines, line)
	}
	data, st, err := d.tree.Get(path, z.auth)
	read("getData", proto.OpGetData, &proto.PathWatchRequest{Path: path}, &proto.GetDataResponse{}, err, &proto.GetDataResponse{Data: data, Stat: st})
	kids, st, err := d.tree.Children(path, z.auth)
	read("getChildren2", proto.OpGetChildren2, &proto.PathWatchRequest{Path: path}, &proto.GetChildren2Response{}, err, &proto.GetChildren2Response{Children: kids, Stat: st})
	acl, st, err := d.tree.GetACL(path, z.auth)
	read("getACL", proto.OpGetACL, &proto.PathRequest{Path: path}, &proto.GetACLResponse{}, err, &proto.GetACLResponse{ACL: acl, Stat: st})
	n, err := d.tree.AllChildrenNumber(path, z.auth)
	read("getAllChildrenNumber", proto.OpGetAllChildrenNumber, &proto.PathRequest{Path: path}, &proto.IntResponse{}, err, &proto.IntResponse{Value: n})
	return strings.Join(lines, "\n")
}

// norm renders a reply with ZooKeeper's zxids translated to ours (ours
// are left as they are), ephemeral owners by session name, times
// dropped, children sorted and null data shown like empty data.
func (d *differ) norm(r proto.Record, fromZK bool) string {
	st := func(s proto.Stat) string {
		if fromZK {
			s = d.translate(s)
		}
		owner := "0"
		if s.EphemeralOwner != 0 {
			owner = d.names[s.EphemeralOwner]
			if owner == "" {
				owner = fmt.Sprintf("%#x", s.EphemeralOwner)
			}
		}
		return fmt.Sprintf("{zxid c=%d m=%d p=%d version=%d,%d,%d owner=%s len=%d kids=%d}",
			s.Czxid, s.Mzxid, s.Pzxid, s.Version, s.Cversion, s.Aversion, owner, s.DataLength, s.NumChildren)
	}
	switch v := r.(type) {
	case *proto.PathResponse:
		return v.Path
	case *proto.Create2Response:
		return v.Path + " " + st(v.Stat)
	case *proto.StatResponse:
		return st(v.Stat)
	case *proto.GetDataResponse:
		return fmt.Sprintf("%q %s", v.Data, st(v.Stat))
	case *proto.GetChildren2Response:
		kids := append([]string(nil), v.Children...)
		sort.Strings(kids)
		return fmt.Sprintf("%v %s", kids, st(v.Stat))
	case *proto.GetACLResponse:
		return aclString(v.ACL) + " " + st(v.Stat)
	case *proto.IntResponse:
		return strconv.Itoa(int(v.Value))
	case *proto.MultiResponse:
		var b strings.Builder
		for _, res := range v.Results {
			fmt.Fprintf(&b, "[%d %v", res.Type, res.Err)
			if res.Body != nil {
				b.WriteString(" " + d.norm(res.Body, fromZK))
			}
			b.WriteString("]")
		}
		return b.String()
	}
	return fmt.Sprintf("%+v", r)
}

func aclString(acl []proto.ACL) string {
	parts := make([]string, len(acl))
	for i, a := range acl {
		parts[i] = a.ID.Scheme + ":" + a.ID.ID + ":" + permLetters(a.Perms)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// translate maps the zxids in a ZooKeeper stat to ours.
func (d *differ) translate(s proto.Stat) proto.Stat {
	for _, p := range []*int64{&s.Czxid, &s.Mzxid, &s.Pzxid} {
		if v, ok := d.zx[*p]; ok {
			*p = v
		} else {
			*p = -*p // shows up as a mismatch
		}
	}
	return s
}

// walk renders every node breadth first, children in name order, as z
// sees it (a super session sees everything): data, stat and ACL.
func (d *differ) walk(z *zkConn) string {
	d.t.Helper()
	var lines []string
	queue := []string{"/"}
	for len(queue) > 0 && len(lines) < 10000 {
		p := queue[0]
		queue = queue[1:]
		data, st, err := d.tree.Get(p, z.auth)
		acl, _, _ := d.tree.GetACL(p, z.auth)
		kids, _, _ := d.tree.Children(p, z.auth)
		sort.Strings(kids)
		line := fmt.Sprintf("%s %s", p, err)
		if err == proto.ErrOK {
			line += " " + d.norm(&proto.GetDataResponse{Data: data, Stat: st}, false) + " " + aclString(acl)
		}
		if z.c != nil {
			z.xid++
			h, body := z.call(d.t, z.xid, proto.OpGetData, &proto.PathWatchRequest{Path: p})
			theirs := fmt.Sprintf("%s %s", p, h.Err)
			var zd proto.GetDataResponse
			proto.Unmarshal(body, &zd)
			z.xid++
			_, body = z.call(d.t, z.xid, proto.OpGetACL, &proto.PathRequest{Path: p})
			var za proto.GetACLResponse
			proto.Unmarshal(body, &za)
			z.xid++
			_, body = z.call(d.t, z.xid, proto.OpGetChildren, &proto.PathWatchRequest{Path: p})
			var zc proto.GetChildrenResponse
			proto.Unmarshal(body, &zc)
			sort.Strings(zc.Children)
			if h.Err == proto.ErrOK {
				theirs += " " + d.norm(&zd, true) + " " + aclString(za.ACL)
			}
			line = d.agree(p, theirs, line)
			if !reflect.DeepEqual(zc.Children, kids) && len(zc.Children)+len(kids) > 0 {
				d.t.Errorf("%s children: zookeeper %v, tree %v", p, zc.Children, kids)
			}
		}
		lines = append(lines, line)
		for _, k := range kids {
			queue = append(queue, strings.TrimSuffix(p, "/")+"/"+k)
		}
	}
	if len(lines) != d.tree.NodeCount() {
		d.t.Errorf("walked %d nodes, tree has %d", len(lines), d.tree.NodeCount())
	}
	return strings.Join(lines, "\n")
}

// startZooKeeper runs a standalone ZooKeeper 3.8 on a free loopback port
// with TTL nodes enabled and a super user super:secret, and stops it when
// the test ends.
func startZooKeeper(t *testing.T) string {
	t.Helper()
	jar := "/usr/share/java/zookeeper.jar"
	if _, err := os.Stat(jar); err != nil {
		t.Skipf("no ZooKeeper jar: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "zoo.cfg")
	body := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%s\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n", dir, port)
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	superHash := strings.TrimPrefix(DigestID("super", "secret"), "super:")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	cmd := exec.CommandContext(ctx, "java",
		"-Dzookeeper.extendedTypesEnabled=true",
		"-Dzookeeper.DigestAuthenticationProvider.superDigest=super:"+superHash,
		"-cp", "/etc/zookeeper/conf:"+jar,
		"org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg)
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		cancel()
		t.Skipf("cannot start java: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
	})
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(2 * time.Second))
			c.Write([]byte("srvr"))
			buf := make([]byte, 512)
			n, _ := c.Read(buf)
			c.Close()
			if strings.Contains(string(buf[:n]), "Mode: standalone") {
				return addr
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("ZooKeeper did not come up on %s", addr)
	return ""
}
