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
	"strings"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

// TestDifferentialAgainstZooKeeper sends one script of requests both to a
// real Apache ZooKeeper and to a Tree and requires the same error codes,
// the same reply bodies and in the end the same tree (stats with zxids
// translated, times ignored). It starts the Debian zookeeper jar, so it
// only runs when asked:
//
//	TREE_DIFF_ZK=1 go test ./quorum/tree -run Differential -v
func TestDifferentialAgainstZooKeeper(t *testing.T) {
	if os.Getenv("TREE_DIFF_ZK") == "" {
		t.Skip("set TREE_DIFF_ZK=1 to compare with a real ZooKeeper (needs java and /usr/share/java/zookeeper.jar)")
	}
	addr := startZooKeeper(t)
	d := &differ{t: t, tree: New(), zx: map[int64]int64{0: 0}, now: 1}
	a := d.connect(addr)
	b := d.connect(addr)
	c := d.connect(addr)
	alice := proto.Id{Scheme: "digest", ID: DigestID("alice", "pw")}
	acl := proto.OpenACL
	cr := func(p string, flags int32, acl []proto.ACL) *proto.CreateRequest {
		return &proto.CreateRequest{Path: p, Data: []byte("v:" + p), ACL: acl, Flags: flags}
	}

	d.do(a, proto.OpCreate, cr("/d", 0, acl))
	d.do(a, proto.OpCreate2, cr("/d/eph", proto.ModeEphemeral, acl))
	d.do(a, proto.OpCreate2, cr("/d/eph/x", 0, acl))
	for i := 0; i < 3; i++ {
		d.do(b, proto.OpCreate, cr("/d/s-", proto.ModePersistentSequential, acl))
	}
	d.do(b, proto.OpDelete, &proto.PathVersionRequest{Path: "/d/s-0000000002", Version: -1})
	d.do(b, proto.OpCreate2, cr("/d/s-", proto.ModeEphemeralSequential, acl))
	d.do(b, proto.OpCreate2, cr("/d/", proto.ModePersistentSequential, acl))
	d.do(a, proto.OpCreateContainer, cr("/cont", proto.ModeContainer, acl))
	d.do(a, proto.OpCreate, cr("/cont/x", 0, acl))
	d.do(a, proto.OpDelete, &proto.PathVersionRequest{Path: "/cont/x", Version: 0})
	d.do(a, proto.OpCreateTTL, &proto.CreateTTLRequest{Path: "/ttl", ACL: acl, Flags: proto.ModeTTL, TTL: 600000})
	d.do(a, proto.OpCreateTTL, &proto.CreateTTLRequest{Path: "/ttl/s", ACL: acl, Flags: proto.ModeTTLSequential, TTL: 600000})
	d.do(a, proto.OpCreate, cr("/plainc", proto.ModeContainer, acl))

	for _, p := range []string{"/nope/x", "/d/", "/d/.", "/d//", "d", "/d/a\x01"} {
		d.do(a, proto.OpCreate, cr(p, 0, acl))
	}
	d.do(a, proto.OpCreate, cr("/nope/x", 0, nil))
	d.do(a, proto.OpCreate, cr("/d/f", 9, acl))
	d.do(a, proto.OpCreate, cr("/d/f", proto.ModeTTL, acl))
	d.do(a, proto.OpCreateTTL, &proto.CreateTTLRequest{Path: "/d/f", ACL: acl, Flags: proto.ModeTTL, TTL: 0})
	d.do(a, proto.OpCreateTTL, &proto.CreateTTLRequest{Path: "/d/f", ACL: acl, Flags: 0, TTL: 10})
	d.do(a, proto.OpCreate, cr("/", 0, acl))
	d.do(a, proto.OpCreate, cr("/d", 0, acl))

	d.do(a, proto.OpSetData, &proto.SetDataRequest{Path: "/d", Data: []byte("x"), Version: 0})
	d.do(a, proto.OpSetData, &proto.SetDataRequest{Path: "/d", Data: []byte("y"), Version: 0})
	d.do(a, proto.OpSetData, &proto.SetDataRequest{Path: "/d", Data: nil, Version: -1})
	d.do(a, proto.OpSetData, &proto.SetDataRequest{Path: "/d/", Version: -1})
	d.do(a, proto.OpCheck, &proto.PathVersionRequest{Path: "/d", Version: 9})
	d.do(a, proto.OpCheck, &proto.PathVersionRequest{Path: "/nope", Version: 9})

	for _, p := range []string{"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config", "/d", "/d/nope", "d"} {
		d.do(c, proto.OpDelete, &proto.PathVersionRequest{Path: p, Version: -1})
	}
	d.do(c, proto.OpSetData, &proto.SetDataRequest{Path: "/zookeeper/config", Data: []byte("x"), Version: -1})
	d.do(c, proto.OpSetData, &proto.SetDataRequest{Path: "/zookeeper/quota", Data: []byte("x"), Version: -1})
	d.do(c, proto.OpCreate, cr("/zookeeper/mine", 0, acl))

	// ACLs.
	d.do(a, proto.OpCreate, cr("/auth", 0, []proto.ACL{{Perms: proto.PermAll, ID: proto.Id{Scheme: "auth"}}}))
	d.auth(a, "alice", "pw")
	d.do(a, proto.OpCreate, cr("/auth", 0, []proto.ACL{{Perms: proto.PermAll, ID: proto.Id{Scheme: "auth"}}}))
	d.do(a, proto.OpCreate, cr("/mixed", 0, []proto.ACL{{Perms: proto.PermAll, ID: alice}, {Perms: proto.PermRead, ID: proto.WorldAnyone}}))
	d.do(a, proto.OpCreate, cr("/mixed/child", 0, acl))
	d.do(b, proto.OpCreate, cr("/mixed/b", 0, acl))
	d.do(b, proto.OpSetData, &proto.SetDataRequest{Path: "/mixed", Version: -1})
	d.do(b, proto.OpDelete, &proto.PathVersionRequest{Path: "/mixed/child", Version: -1})
	d.do(b, proto.OpSetACL, &proto.SetACLRequest{Path: "/mixed", ACL: acl, Version: -1})
	d.do(a, proto.OpSetACL, &proto.SetACLRequest{Path: "/mixed", ACL: acl, Version: 3})
	d.do(a, proto.OpCreate, cr("/ipok", 0, []proto.ACL{{Perms: proto.PermAll, ID: proto.Id{Scheme: "ip", ID: "127.0.0.0/8"}}}))
	d.do(a, proto.OpCreate, cr("/ipno", 0, []proto.ACL{{Perms: proto.PermAll, ID: proto.Id{Scheme: "ip", ID: "10.0.0.0/8"}}}))
	d.do(b, proto.OpSetData, &proto.SetDataRequest{Path: "/ipok", Version: -1})
	d.do(b, proto.OpSetData, &proto.SetDataRequest{Path: "/ipno", Version: -1})
	for _, bad := range []proto.Id{{Scheme: "ip", ID: "300.1.1.1"}, {Scheme: "ip", ID: "1.2.3.4/33"},
		{Scheme: "digest", ID: "nocolon"}, {Scheme: "world", ID: "bob"}, {Scheme: "super", ID: "x"}, {Scheme: "foo", ID: "x"}} {
		d.do(a, proto.OpCreate, cr("/badacl", 0, []proto.ACL{{Perms: proto.PermAll, ID: bad}}))
	}
	d.do(a, proto.OpCreate, cr("/dupacl", 0, append(proto.OpenACL, proto.OpenACL...)))
	d.do(a, proto.OpCreate, cr("/noread", 0, []proto.ACL{{Perms: proto.PermWrite, ID: proto.WorldAnyone}, {Perms: proto.PermAll, ID: alice}}))
	d.do(b, proto.OpCheck, &proto.PathVersionRequest{Path: "/noread", Version: 5})
	for _, p := range []string{"/mixed", "/noread", "/auth", "/zookeeper/config"} {
		d.reads(b, p)
		d.reads(a, p)
	}

	// Multi.
	d.do(a, proto.OpMulti, &proto.MultiRequest{Ops: []proto.MultiOp{
		mop(proto.OpCreate, cr("/m", 0, acl)),
		mop(proto.OpCreate2, cr("/m/s-", proto.ModePersistentSequential, acl)),
		mop(proto.OpCheck, &proto.PathVersionRequest{Path: "/m", Version: 0}),
		mop(proto.OpSetData, &proto.SetDataRequest{Path: "/m", Data: []byte("z"), Version: 0}),
		mop(proto.OpDelete, &proto.PathVersionRequest{Path: "/m/s-0000000000", Version: 0}),
		mop(proto.OpCreateContainer, cr("/m/c", proto.ModeContainer, acl)),
		mop(proto.OpCreateTTL, &proto.CreateTTLRequest{Path: "/m/t", ACL: acl, Flags: proto.ModeTTL, TTL: 5}),
	}})
	d.do(a, proto.OpMulti, &proto.MultiRequest{Ops: []proto.MultiOp{
		mop(proto.OpCreate, cr("/m2", 0, acl)),
		mop(proto.OpSetData, &proto.SetDataRequest{Path: "/m", Version: 7}),
		mop(proto.OpDelete, &proto.PathVersionRequest{Path: "/m", Version: -1}),
	}})
	d.do(a, proto.OpMulti, &proto.MultiRequest{})

	d.do(b, proto.OpCreate, cr("/r-", proto.ModePersistentSequential, acl))
	d.do(b, proto.OpCreate, cr("/", proto.ModePersistentSequential, acl))
	d.do(b, proto.OpSetACL, &proto.SetACLRequest{Path: "/d", ACL: []proto.ACL{{Perms: proto.PermAll, ID: proto.Id{Scheme: "auth"}}}, Version: -1})
	d.do(b, proto.OpSetACL, &proto.SetACLRequest{Path: "/d", ACL: nil, Version: -1})
	d.do(b, proto.OpSetACL, &proto.SetACLRequest{Path: "/nope", ACL: nil, Version: -1})
	d.do(b, proto.OpDelete, &proto.PathVersionRequest{Path: "/d/eph", Version: 1})
	d.do(b, proto.OpDelete, &proto.PathVersionRequest{Path: "/d", Version: -1})
	for _, p := range []string{"/", "/zookeeper", "/d", "/nope", "/ttl"} {
		d.reads(b, p)
	}

	// Closing a session removes its ephemerals.
	d.do(c, proto.OpCreate, cr("/d/ceph", proto.ModeEphemeral, acl))
	d.do(c, proto.OpCreate, cr("/mixed/ceph", proto.ModeEphemeralSequential, acl))
	d.close(c)
	d.compareTrees(addr)
}

// differ keeps a real ZooKeeper and a Tree in step.
type differ struct {
	t    *testing.T
	tree *Tree
	zx   map[int64]int64 // ZooKeeper zxid -> ours
	zxid int64
	now  int64
}

type zkConn struct {
	c    net.Conn
	r    *bufio.Reader
	id   int64
	auth []proto.Id
	xid  int32
}

func (d *differ) connect(addr string) *zkConn {
	d.t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { c.Close() })
	z := &zkConn{c: c, r: bufio.NewReader(c), auth: []proto.Id{{Scheme: "ip", ID: "127.0.0.1"}}}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	c.Write(proto.AppendFrame(nil, &proto.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16)}))
	var resp proto.ConnectResponse
	if f, err := proto.ReadFrame(z.r, nil, proto.DefaultMaxBuffer); err != nil {
		d.t.Fatal(err)
	} else if err := proto.Unmarshal(f, &resp); err != nil {
		d.t.Fatal(err)
	}
	z.id = resp.SessionID
	d.apply(&Entry{Op: proto.OpCreateSession, Req: &CreateSession{ID: z.id, Timeout: resp.TimeOut, Passwd: resp.Passwd}})
	return z
}

func (d *differ) apply(e *Entry) Result {
	d.zxid++
	d.now++
	e.Zxid, e.Time = d.zxid, d.now
	return d.tree.Apply(e)
}

// call sends one request and returns the reply header and body.
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
	h, _ := z.call(d.t, proto.XidAuth, proto.OpAuth, &proto.AuthPacket{Scheme: "digest", Auth: []byte(user + ":" + pw)})
	if h.Err != proto.ErrOK {
		d.t.Fatalf("auth: %v", h.Err)
	}
	z.auth = append(z.auth, proto.Id{Scheme: "digest", ID: DigestID(user, pw)})
}

func (d *differ) close(z *zkConn) {
	h, _ := z.call(d.t, 1, proto.OpCloseSession, proto.Empty{})
	res := d.apply(&Entry{Session: z.id, Op: proto.OpCloseSession, Req: proto.Empty{}})
	d.zx[h.Zxid] = d.zxid
	if h.Err != res.Err {
		d.t.Errorf("closeSession: zookeeper %v, tree %v", h.Err, res.Err)
	}
}

// do runs a write on both and compares the outcome.
func (d *differ) do(z *zkConn, op int32, req proto.Record) {
	d.t.Helper()
	z.xid++
	h, body := z.call(d.t, z.xid, op, req)
	res := d.apply(&Entry{Session: z.id, Auth: z.auth, Op: op, Req: req})
	d.zx[h.Zxid] = d.zxid
	what := fmt.Sprintf("op %d %s", op, describe(req))
	if h.Err != res.Err {
		d.t.Errorf("%s: zookeeper %v, tree %v", what, h.Err, res.Err)
		return
	}
	if h.Err != proto.ErrOK || res.Resp == nil {
		return
	}
	want := reflect.New(reflect.TypeOf(res.Resp).Elem()).Interface().(proto.Record)
	if err := proto.Unmarshal(body, want); err != nil {
		d.t.Fatalf("%s: decode zookeeper reply: %v", what, err)
	}
	if a, b := d.norm(want, true), d.norm(res.Resp, false); a != b {
		d.t.Errorf("%s:\n zookeeper %s\n tree      %s", what, a, b)
	}
}

func describe(r proto.Record) string {
	s := fmt.Sprintf("%+v", r)
	if len(s) > 160 {
		s = s[:160]
	}
	return s
}

// reads compares getData, getChildren2 and getACL of one path as seen by
// z's identities.
func (d *differ) reads(z *zkConn, path string) {
	d.t.Helper()
	z.xid++
	h, body := z.call(d.t, z.xid, proto.OpGetData, &proto.PathWatchRequest{Path: path})
	data, st, err := d.tree.Get(path, z.auth)
	d.compareRead("getData "+path, h, body, &proto.GetDataResponse{}, err, &proto.GetDataResponse{Data: data, Stat: st})
	z.xid++
	h, body = z.call(d.t, z.xid, proto.OpGetChildren2, &proto.PathWatchRequest{Path: path})
	kids, st, err := d.tree.Children(path, z.auth)
	d.compareRead("getChildren2 "+path, h, body, &proto.GetChildren2Response{}, err, &proto.GetChildren2Response{Children: kids, Stat: st})
	z.xid++
	h, body = z.call(d.t, z.xid, proto.OpGetACL, &proto.PathRequest{Path: path})
	acl, st, err := d.tree.GetACL(path, z.auth)
	d.compareRead("getACL "+path, h, body, &proto.GetACLResponse{}, err, &proto.GetACLResponse{ACL: acl, Stat: st})
	z.xid++
	h, body = z.call(d.t, z.xid, proto.OpGetAllChildrenNumber, &proto.PathRequest{Path: path})
	n, err := d.tree.AllChildrenNumber(path, z.auth)
	d.compareRead("getAllChildrenNumber "+path, h, body, &proto.IntResponse{}, err, &proto.IntResponse{Value: n})
}

func (d *differ) compareRead(what string, h proto.ReplyHeader, body []byte, zk proto.Record, err proto.Err, ours proto.Record) {
	d.t.Helper()
	if h.Err != err {
		d.t.Errorf("%s: zookeeper %v, tree %v", what, h.Err, err)
		return
	}
	if err != proto.ErrOK {
		return
	}
	if e := proto.Unmarshal(body, zk); e != nil {
		d.t.Fatalf("%s: %v", what, e)
	}
	if a, b := d.norm(zk, true), d.norm(ours, false); a != b {
		d.t.Errorf("%s:\n zookeeper %s\n tree      %s", what, a, b)
	}
}

// norm renders a reply with ZooKeeper's zxids translated to ours (ours
// are left as they are), times dropped, children sorted and null data
// shown like empty data.
func (d *differ) norm(r proto.Record, fromZK bool) string {
	fix := func(s proto.Stat) proto.Stat {
		if fromZK {
			s = d.translate(s)
		}
		s.Ctime, s.Mtime = 0, 0
		return s
	}
	switch v := r.(type) {
	case *proto.Create2Response:
		return fmt.Sprintf("%s %+v", v.Path, fix(v.Stat))
	case *proto.StatResponse:
		return fmt.Sprintf("%+v", fix(v.Stat))
	case *proto.GetDataResponse:
		return fmt.Sprintf("%q %+v", v.Data, fix(v.Stat))
	case *proto.GetChildren2Response:
		kids := append([]string(nil), v.Children...)
		sort.Strings(kids)
		return fmt.Sprintf("%v %+v", kids, fix(v.Stat))
	case *proto.GetACLResponse:
		return fmt.Sprintf("%v %+v", v.ACL, fix(v.Stat))
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

// compareTrees walks the whole ZooKeeper tree as super and compares
// every node with the Tree.
func (d *differ) compareTrees(addr string) {
	d.t.Helper()
	z := d.connect(addr)
	d.auth(z, "super", "secret")
	super := []proto.Id{{Scheme: "super"}}
	seen := 0
	queue := []string{"/"}
	for len(queue) > 0 && seen < 10000 {
		p := queue[0]
		queue = queue[1:]
		seen++
		z.xid++
		h, body := z.call(d.t, z.xid, proto.OpGetData, &proto.PathWatchRequest{Path: p})
		var zd proto.GetDataResponse
		proto.Unmarshal(body, &zd)
		data, st, err := d.tree.Get(p, super)
		if h.Err != proto.ErrOK || err != proto.ErrOK {
			d.t.Errorf("%s: zookeeper %v, tree %v", p, h.Err, err)
			continue
		}
		zs := d.translate(zd.Stat)
		zs.Ctime, zs.Mtime, st.Ctime, st.Mtime = 0, 0, 0, 0
		if string(zd.Data) != string(data) || zs != st {
			d.t.Errorf("%s:\n zookeeper %q %+v\n tree      %q %+v", p, zd.Data, zs, data, st)
		}
		z.xid++
		_, body = z.call(d.t, z.xid, proto.OpGetACL, &proto.PathRequest{Path: p})
		var za proto.GetACLResponse
		proto.Unmarshal(body, &za)
		acl, _, _ := d.tree.GetACL(p, super)
		if !reflect.DeepEqual(za.ACL, acl) {
			d.t.Errorf("%s acl: zookeeper %v, tree %v", p, za.ACL, acl)
		}
		z.xid++
		_, body = z.call(d.t, z.xid, proto.OpGetChildren, &proto.PathWatchRequest{Path: p})
		var zc proto.GetChildrenResponse
		proto.Unmarshal(body, &zc)
		kids, _, _ := d.tree.Children(p, super)
		sort.Strings(zc.Children)
		if !reflect.DeepEqual(zc.Children, kids) && len(zc.Children)+len(kids) > 0 {
			d.t.Errorf("%s children: zookeeper %v, tree %v", p, zc.Children, kids)
		}
		for _, k := range kids {
			queue = append(queue, strings.TrimSuffix(p, "/")+"/"+k)
		}
	}
	if seen != d.tree.NodeCount() {
		d.t.Errorf("walked %d nodes, tree has %d", seen, d.tree.NodeCount())
	}
	d.t.Logf("compared %d nodes", seen)
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
