package integration

// The wire-level differential test: every script in testdata/wire sends the
// same raw requests to Apache ZooKeeper 3.8 and to ours, and every frame
// that comes back (replies, notifications, handshake answers, a closed
// connection, a missing reply) is rendered field by field with
// zkenv.DumpReply and compared. Two renders are equal exactly when the
// frames are equal byte for byte apart from zxids, times, session ids and
// passwords, which are normalized (zkenv.Normalize).
//
// Script lines (one request each; '#' starts a comment):
//
//	open A [timeout=MS]         new connection A, new session
//	resume A B [badpasswd]      new connection A resuming B's session
//	drop A                      close A's socket without closeSession
//	A <op> args...              one request on A, read up to its reply
//	A event                     wait up to 8s for one notification
//	A closed                    wait up to 3s for the server to close A
//	deviation <key>             the next step differs by design; key is a
//	                            row of the README's deviation table
//	standalone                  the next step runs on standalone servers only
//
// Ops and their arguments are those of wireOps below. A step's output is
// every frame read while waiting for its reply, in order.

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/integration/harness"
	"github.com/zkfc-project/zkfc/integration/zkenv"
	"github.com/zkfc-project/zkfc/quorum/proto"
)

// wireDeviations are the documented differences a script may declare with
// `deviation KEY`; each value must appear in README.md's deviation table.
var wireDeviations = map[string]string{
	"check":          "a top-level `check` (opcode 13) gets a reply",
	"refused-write":  "a write refused before it reaches the log takes no zxid",
	"resume-timeout": "keeps the session timeout negotiated when the session was created",
}

func startApacheWire(t testing.TB) *harness.Server {
	return harness.StartApache(t, cfgExtended.options())
}

// TestWireDifferentialApacheSelfCheck runs the scripts against two Apache
// servers: every step, deviations included, must render alike, which
// shows the scripts and the normalization are deterministic.
func TestWireDifferentialApacheSelfCheck(t *testing.T) {
	runWireScripts(t, "apache-a", startApacheWire, "apache-b", startApacheWire, true)
}

func TestWireDifferentialOurs(t *testing.T) {
	runWireScripts(t, "apache", startApacheWire,
		"ours", func(t testing.TB) *harness.Server { return harness.StartOurs(t, cfgExtended.options()) }, false)
}

func TestWireDifferentialEnsembleOurs(t *testing.T) {
	runWireScripts(t, "apache-follower", func(t testing.TB) *harness.Server {
		return followerOf(harness.Apache)(t, cfgExtended.options())
	}, "ours-follower", func(t testing.TB) *harness.Server {
		return followerOf(harness.Ours)(t, cfgExtended.options())
	}, false)
}

// wireStep is one script line.
type wireStep struct {
	line           int
	text           string
	conn           string
	cmd            string
	args           []string
	deviation      string
	standaloneOnly bool
}

func parseWireScript(path string) ([]wireStep, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var steps []wireStep
	deviation, standalone := "", false
	for i, l := range strings.Split(string(b), "\n") {
		if j := strings.Index(l, "#"); j >= 0 {
			l = l[:j]
		}
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "deviation":
			if len(f) != 2 || wireDeviations[f[1]] == "" {
				return nil, fmt.Errorf("%s:%d: deviation needs one key of wireDeviations", path, i+1)
			}
			deviation = f[1]
			continue
		case "standalone":
			standalone = true
			continue
		case "open", "resume", "drop":
			steps = append(steps, wireStep{line: i + 1, text: strings.Join(f, " "), cmd: f[0], conn: f[1], args: f[2:], deviation: deviation, standaloneOnly: standalone})
		default:
			if len(f) < 2 {
				return nil, fmt.Errorf("%s:%d: want `CONN OP args...`", path, i+1)
			}
			st := wireStep{line: i + 1, text: strings.Join(f, " "), conn: f[0], cmd: f[1], args: f[2:], deviation: deviation, standaloneOnly: standalone}
			if st.cmd != "event" && st.cmd != "closed" {
				build := wireOps[st.cmd]
				if build == nil {
					return nil, fmt.Errorf("%s:%d: unknown op %q", path, i+1, st.cmd)
				}
				if _, _, _, err := build(st.args, &wireConn{}); err != nil {
					return nil, fmt.Errorf("%s:%d: %s: %w", path, i+1, st.cmd, err)
				}
			}
			steps = append(steps, st)
		}
		deviation, standalone = "", false
	}
	return steps, nil
}

func runWireScripts(t *testing.T, nameA string, startA func(testing.TB) *harness.Server, nameB string, startB func(testing.TB) *harness.Server, selfCheck bool) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for key, row := range wireDeviations {
		if !bytes.Contains(readme, []byte(row)) {
			t.Errorf("deviation %q: README.md's deviation table has no row %q", key, row)
		}
	}
	scripts, err := filepath.Glob("testdata/wire/*.txt")
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts in testdata/wire: %v", err)
	}
	a, b := startA(t), startB(t)
	table := map[string]map[string]bool{} // op -> Apache's outcomes
	var tableMu sync.Mutex
	for _, script := range scripts {
		name := strings.TrimSuffix(filepath.Base(script), ".txt")
		t.Run(name, func(t *testing.T) {
			steps, err := parseWireScript(script)
			if err != nil {
				t.Fatal(err)
			}
			var outA, outB [][]string
			var errA, errB error
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); outA, errA = runWireScript(a, steps) }()
			go func() { defer wg.Done(); outB, errB = runWireScript(b, steps) }()
			wg.Wait()
			if errA != nil {
				t.Fatalf("%s: %v", nameA, errA)
			}
			if errB != nil {
				t.Fatalf("%s: %v", nameB, errB)
			}
			na, nb := normalizeSteps(steps, outA), normalizeSteps(steps, outB)
			var log strings.Builder
			for i, st := range steps {
				ra, rb := strings.Join(na[i], "\n    "), strings.Join(nb[i], "\n    ")
				if selfCheck {
					st.deviation = ""
				}
				fmt.Fprintf(&log, "%s:%d %s\n    %s\n", name, st.line, st.text, ra)
				switch {
				case outA[i] == nil && outB[i] == nil:
					continue // a standalone-only step on an ensemble
				case st.deviation != "" && ra == rb:
					t.Errorf("%s:%d %s: declared deviation %q, but both servers answer\n    %s", name, st.line, st.text, st.deviation, ra)
				case st.deviation == "" && ra != rb:
					t.Errorf("%s:%d %s:\n  %s:\n    %s\n  %s:\n    %s", name, st.line, st.text, nameA, ra, nameB, rb)
				case st.deviation != "":
					fmt.Fprintf(&log, "    (deviation %s) %s:\n    %s\n", st.deviation, nameB, rb)
				}
				if op, code, ok := stepOutcome(st, outA[i]); ok {
					tableMu.Lock()
					if table[op] == nil {
						table[op] = map[string]bool{}
					}
					table[op][code] = true
					tableMu.Unlock()
				}
			}
			if testing.Verbose() || t.Failed() {
				t.Logf("%s (normalized):\n%s", nameA, log.String())
			}
		})
	}
	ops := make([]string, 0, len(table))
	pairs := 0
	for op := range table {
		ops = append(ops, op)
		pairs += len(table[op])
	}
	sort.Strings(ops)
	var tb strings.Builder
	for _, op := range ops {
		var codes []string
		for c := range table[op] {
			codes = append(codes, c)
		}
		sort.Strings(codes)
		fmt.Fprintf(&tb, "  %-22s %s\n", op, strings.Join(codes, " "))
	}
	t.Logf("compared %d request types, %d (type, outcome) pairs, %d documented deviations:\n%s", len(ops), pairs, len(wireDeviations), tb.String())
}

// stepOutcome names a request step's op and the err of the reply Apache
// gave it ("closed", "no-reply" when there was none), for the summary table.
func stepOutcome(st wireStep, out []string) (op, code string, ok bool) {
	switch st.cmd {
	case "open", "resume", "drop", "event", "closed":
		return "", "", false
	}
	code = "no-reply"
	for _, l := range out {
		switch {
		case strings.Contains(l, "|event"):
			continue
		case strings.HasPrefix(l, "closed"):
			code = "closed"
		case strings.Contains(l, " err="):
			f := strings.Fields(l[strings.Index(l, " err="):])
			code = strings.TrimPrefix(f[0], "err=")
			if n, err := strconv.Atoi(code); err == nil {
				code = proto.Err(n).Error()
			}
		}
	}
	if st.cmd == "raw" {
		return "raw opcode " + st.args[0], code, true
	}
	return st.cmd, code, true
}

var wireZxidToken = regexp.MustCompile(`Z\((0x[0-9a-f]+)\)`)

// normalizeSteps names each zxid after the script line where it first
// appears ("Z@12", "Z@12.2" for the second new one there) and each
// session by its order of appearance. Unlike zkenv.Normalize's ranks, a
// zxid one server consumes and the other does not then shows up in that
// step (and in reads before the next write) instead of renumbering the
// rest of the script; checkZxidOrder keeps the order honest.
func normalizeSteps(steps []wireStep, out [][]string) [][]string {
	label := map[string]string{"0x0": "Z0"}
	var flat []string
	for i, lines := range out {
		n := 0
		for _, l := range lines {
			flat = append(flat, wireZxidToken.ReplaceAllStringFunc(l, func(tok string) string {
				v := wireZxidToken.FindStringSubmatch(tok)[1]
				if label[v] == "" {
					n++
					label[v] = fmt.Sprintf("Z@%d", steps[i].line)
					if n > 1 {
						label[v] += fmt.Sprintf(".%d", n)
					}
				}
				return label[v]
			}))
		}
	}
	flat = zkenv.Normalize(flat)
	res := make([][]string, len(out))
	k := 0
	for i, s := range out {
		res[i] = flat[k : k+len(s)]
		k += len(s)
	}
	return res
}

// wireConn is one connection of a script.
type wireConn struct {
	c       net.Conn
	xid     int32
	session proto.ConnectResponse
	closed  bool
	// lastZxid is the highest zxid in a reply header read on c.
	lastZxid int64
	// zxidBack is set when a reply header carried a zxid below lastZxid
	// (0, which ZooKeeper's auth replies carry, and negative ones
	// excepted).
	zxidBack error
}

const wireReadTimeout = 3 * time.Second

// runWireScript runs steps against srv and returns each step's rendered
// frames. The error is a harness failure (a dial that failed, a bad step).
func runWireScript(srv *harness.Server, steps []wireStep) ([][]string, error) {
	conns := map[string]*wireConn{}
	defer func() {
		for _, c := range conns {
			_ = c.c.Close()
		}
	}()
	out := make([][]string, len(steps))
	for i, st := range steps {
		if st.standaloneOnly && !srv.Standalone() {
			continue
		}
		res, err := runWireStep(srv, conns, st)
		if err == nil && conns[st.conn] != nil {
			err = conns[st.conn].zxidBack
		}
		if err != nil {
			return out, fmt.Errorf("line %d %q: %w", st.line, st.text, err)
		}
		out[i] = res
	}
	return out, nil
}

func runWireStep(srv *harness.Server, conns map[string]*wireConn, st wireStep) ([]string, error) {
	switch st.cmd {
	case "open", "resume":
		req := proto.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16)}
		if st.cmd == "resume" {
			if len(st.args) == 0 || conns[st.args[0]] == nil {
				return nil, errors.New("resume needs an opened connection to take the session of")
			}
			s := conns[st.args[0]].session
			req.SessionID, req.Passwd = s.SessionID, s.Passwd
			req.LastZxidSeen = conns[st.args[0]].lastZxid
		}
		for _, a := range st.args {
			if a == "badpasswd" {
				req.Passwd = make([]byte, 16)
			}
			if v, ok := strings.CutPrefix(a, "timeout="); ok {
				n, err := strconv.Atoi(v)
				if err != nil {
					return nil, err
				}
				req.TimeOut = int32(n)
			}
		}
		if old := conns[st.conn]; old != nil {
			_ = old.c.Close()
		}
		nc, err := net.DialTimeout("tcp", srv.Addr(), 5*time.Second)
		if err != nil {
			return nil, err
		}
		c := &wireConn{c: nc}
		conns[st.conn] = c
		if err := c.write(proto.AppendFrame(nil, &req)); err != nil {
			return nil, err
		}
		f, err := c.read(wireReadTimeout)
		if err != nil {
			return []string{c.readErrText(err)}, nil
		}
		// read took the handshake answer for a reply header; a resumed
		// session has seen what its old connection saw.
		c.lastZxid, c.zxidBack = req.LastZxidSeen, nil
		_ = proto.Unmarshal(f, &c.session)
		return []string{zkenv.DumpConnectResponse(f)}, nil
	case "drop":
		c, err := conn(conns, st.conn)
		if err != nil {
			return nil, err
		}
		_ = c.c.Close()
		c.closed = true
		return []string{"dropped"}, nil
	}
	c, err := conn(conns, st.conn)
	if err != nil {
		return nil, err
	}
	switch st.cmd {
	case "event":
		// Long enough for a session of the shortest timeout to expire on
		// a loaded machine, short enough for the watcher's own 10s session.
		f, err := c.read(8 * time.Second)
		if err != nil {
			return []string{c.readErrText(err)}, nil
		}
		return []string{zkenv.DumpReply(f, 0)}, nil
	case "closed":
		var res []string
		for i := 0; i < 100; i++ {
			f, err := c.read(wireReadTimeout)
			if err != nil {
				return append(res, c.readErrText(err)), nil
			}
			res = append(res, zkenv.DumpReply(f, 0))
		}
		return res, nil
	}
	build := wireOps[st.cmd]
	if build == nil {
		return nil, fmt.Errorf("unknown op %q", st.cmd)
	}
	op, rec, xid, err := build(st.args, c)
	if err != nil {
		return nil, err
	}
	if xid == 0 {
		c.xid++
		xid = c.xid
	}
	e := &proto.Encoder{}
	hdr := proto.RequestHeader{Xid: xid, Type: op}
	hdr.Encode(e)
	if rec != nil {
		rec.Encode(e)
	}
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(e.Buf)))
	frame = append(frame, e.Buf...)
	if c.closed || c.write(frame) != nil {
		return []string{"closed"}, nil
	}
	var res []string
	for i := 0; i < 1000; i++ {
		f, err := c.read(wireReadTimeout)
		if err != nil {
			return append(res, c.readErrText(err)), nil
		}
		res = append(res, zkenv.DumpReply(f, op))
		if len(f) >= 4 && int32(binary.BigEndian.Uint32(f)) == xid {
			return res, nil
		}
	}
	return nil, errors.New("no reply after 1000 frames")
}

func conn(conns map[string]*wireConn, name string) (*wireConn, error) {
	c := conns[name]
	if c == nil {
		return nil, fmt.Errorf("connection %q is not open", name)
	}
	return c, nil
}

func (c *wireConn) write(b []byte) error {
	_ = c.c.SetWriteDeadline(time.Now().Add(wireReadTimeout))
	_, err := c.c.Write(b)
	return err
}

func (c *wireConn) read(timeout time.Duration) ([]byte, error) {
	if c.closed {
		return nil, io.EOF
	}
	_ = c.c.SetReadDeadline(time.Now().Add(timeout))
	f, err := proto.ReadFrame(c.c, nil, 16<<20)
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		c.closed = true
	}
	if err == nil && len(f) >= 12 && int32(binary.BigEndian.Uint32(f)) != proto.XidNotification {
		z := int64(binary.BigEndian.Uint64(f[4:]))
		if z > 0 && z < c.lastZxid && c.zxidBack == nil {
			c.zxidBack = fmt.Errorf("reply zxid %#x after %#x on the same connection", z, c.lastZxid)
		}
		c.lastZxid = max(c.lastZxid, z)
	}
	return f, err
}

// readErrText renders why no frame came: the server closed the connection,
// or nothing arrived within the read timeout.
func (c *wireConn) readErrText(err error) string {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Sprintf("nothing within %v", wireReadTimeout)
	}
	return "closed"
}

// wireOp builds one request from a script line's arguments: the opcode,
// the body (nil for none) and an xid (0: the connection's next xid).
type wireOp func(args []string, c *wireConn) (op int32, rec proto.Record, xid int32, err error)

var wireOps = map[string]wireOp{}

func init() {
	create := func(op int32) wireOp {
		return func(a []string, _ *wireConn) (int32, proto.Record, int32, error) {
			if err := nargs(a, 4); err != nil {
				return 0, nil, 0, err
			}
			acl, err := parseACL(a[2])
			return op, &proto.CreateRequest{Path: a[0], Data: wireData(a[1]), ACL: acl, Flags: atoi(a[3])}, 0, err
		}
	}
	pathVersion := func(op int32) wireOp {
		return func(a []string, _ *wireConn) (int32, proto.Record, int32, error) {
			return op, &proto.PathVersionRequest{Path: a[0], Version: atoi(a[1])}, 0, nargs(a, 2)
		}
	}
	pathWatch := func(op int32) wireOp {
		return func(a []string, _ *wireConn) (int32, proto.Record, int32, error) {
			return op, &proto.PathWatchRequest{Path: a[0], Watch: a[1] == "1"}, 0, nargs(a, 2)
		}
	}
	path := func(op int32) wireOp {
		return func(a []string, _ *wireConn) (int32, proto.Record, int32, error) {
			return op, &proto.PathRequest{Path: a[0]}, 0, nargs(a, 1)
		}
	}
	empty := func(op int32, xid int32) wireOp {
		return func(a []string, _ *wireConn) (int32, proto.Record, int32, error) {
			return op, nil, xid, nargs(a, 0)
		}
	}
	watches := func(op int32) wireOp {
		return func(a []string, _ *wireConn) (int32, proto.Record, int32, error) {
			return op, &proto.WatchesRequest{Path: a[0], Type: atoi(a[1])}, 0, nargs(a, 2)
		}
	}
	wireOps = map[string]wireOp{
		"create":          create(proto.OpCreate),
		"create2":         create(proto.OpCreate2),
		"createContainer": create(proto.OpCreateContainer),
		"createTTL": func(a []string, _ *wireConn) (int32, proto.Record, int32, error) {
			if err := nargs(a, 5); err != nil {
				return 0, nil, 0, err
			}
			acl, err := parseACL(a[2])
			ttl, _ := strconv.ParseInt(a[4], 10, 64)
			return proto.OpCreateTTL, &proto.CreateTTLRequest{Path: a[0], Data: wireData(a[1]), ACL: acl, Flags: atoi(a[3]), TTL: ttl}, 0, err
		},
		"delete":       pathVersion(proto.OpDelete),
		"check":        pathVersion(proto.OpCheck),
		"exists":       pathWatch(proto.OpExists),
		"getData":      pathWatch(proto.OpGetData),
		"getChildren":  pathWatch(proto.OpGetChildren),
		"getChildren2": pathWatch(proto.OpGetChildren2),
		"setData": func(a []string, _ *wireConn) (int32, proto.Record, int32, error) {
			return proto.OpSetData, &proto.SetDataRequest{Path: a[0], Data: wireData(a[1]), Version: atoi(a[2])}, 0, nargs(a, 3)
		},
		"getACL": path(proto.OpGetACL),
		"setACL": func(a []string, _ *wireConn) (int32, proto.Record, int32, error) {
			if err := nargs(a, 3); err != nil {
				return 0, nil, 0, err
			}
			acl, err := parseACL(a[1])
			return proto.OpSetACL, &proto.SetACLRequest{Path: a[0], ACL: acl, Version: atoi(a[2])}, 0, err
		},
		"sync":                 path(proto.OpSync),
		"getEphemerals":        path(proto.OpGetEphemerals),
		"getAllChildrenNumber": path(proto.OpGetAllChildrenNumber),
		"ping":                 empty(proto.OpPing, proto.XidPing),
		"whoAmI":               empty(proto.OpWhoAmI, 0),
		"closeSession":         empty(proto.OpCloseSession, 0),
		"checkWatches":         watches(proto.OpCheckWatches),
		"removeWatches":        watches(proto.OpRemoveWatches),
		"addWatch": func(a []string, _ *wireConn) (int32, proto.Record, int32, error) {
			return proto.OpAddWatch, &proto.AddWatchRequest{Path: a[0], Mode: atoi(a[1])}, 0, nargs(a, 2)
		},
		"multi":     multiOp(proto.OpMulti),
		"multiRead": multiOp(proto.OpMultiRead),
		"reconfig": func(a []string, _ *wireConn) (int32, proto.Record, int32, error) {
			if err := nargs(a, 4); err != nil {
				return 0, nil, 0, err
			}
			id, _ := strconv.ParseInt(a[3], 10, 64)
			return proto.OpReconfig, &proto.ReconfigRequest{JoiningServers: wireString(a[0]), LeavingServers: wireString(a[1]), NewMembers: wireString(a[2]), CurConfigID: id}, 0, nil
		},
		// auth SCHEME CREDENTIAL [XID]: xid -4 unless given.
		"auth": func(a []string, _ *wireConn) (int32, proto.Record, int32, error) {
			if len(a) < 2 {
				return 0, nil, 0, errors.New("auth SCHEME CREDENTIAL [XID]")
			}
			xid := proto.XidAuth
			if len(a) > 2 {
				xid = atoi(a[2])
			}
			return proto.OpAuth, &proto.AuthPacket{Scheme: a[0], Auth: wireData(a[1])}, xid, nil
		},
		"sasl": func(a []string, _ *wireConn) (int32, proto.Record, int32, error) {
			return proto.OpSASL, &proto.SASLRequest{Token: wireData(a[0])}, 0, nargs(a, 1)
		},
		// setWatches REL DATA EXIST CHILD: REL is 0 or "last" (the
		// highest zxid this connection has seen); each list is
		// comma-separated paths or "-" for none. Sent with xid -8.
		"setWatches": func(a []string, c *wireConn) (int32, proto.Record, int32, error) {
			if err := nargs(a, 4); err != nil {
				return 0, nil, 0, err
			}
			return proto.OpSetWatches, &proto.SetWatchesRequest{RelativeZxid: c.relZxid(a[0]),
				DataWatches: pathList(a[1]), ExistWatches: pathList(a[2]), ChildWatches: pathList(a[3])}, proto.XidSetWatches, nil
		},
		"setWatches2": func(a []string, c *wireConn) (int32, proto.Record, int32, error) {
			if err := nargs(a, 6); err != nil {
				return 0, nil, 0, err
			}
			return proto.OpSetWatches2, &proto.SetWatches2Request{RelativeZxid: c.relZxid(a[0]),
				DataWatches: pathList(a[1]), ExistWatches: pathList(a[2]), ChildWatches: pathList(a[3]),
				PersistentWatches: pathList(a[4]), PersistentRecursiveWatches: pathList(a[5])}, proto.XidSetWatches, nil
		},
		// raw OPCODE HEX: any opcode with a body given in hex ("-" for none).
		"raw": func(a []string, _ *wireConn) (int32, proto.Record, int32, error) {
			if err := nargs(a, 2); err != nil {
				return 0, nil, 0, err
			}
			var body rawBody
			if a[1] != "-" {
				b, err := hex.DecodeString(a[1])
				if err != nil {
					return 0, nil, 0, err
				}
				body = b
			}
			return atoi(a[0]), body, 0, nil
		},
	}
}

// rawBody is a request body given as bytes.
type rawBody []byte

func (b rawBody) Encode(e *proto.Encoder) { e.Buf = append(e.Buf, b...) }
func (b rawBody) Decode(*proto.Decoder)   {}

// relZxid is a setWatches relative zxid: 0, or "last", the highest zxid
// seen in a reply header on this connection so far.
func (c *wireConn) relZxid(s string) int64 {
	if s == "last" {
		return c.lastZxid
	}
	return 0
}

// multiOp parses "OP args... ; OP args..." into a multi or multiRead.
func multiOp(op int32) wireOp {
	return func(a []string, c *wireConn) (int32, proto.Record, int32, error) {
		req := &proto.MultiRequest{}
		for _, part := range strings.Split(strings.Join(a, " "), ";") {
			f := strings.Fields(part)
			if len(f) == 0 {
				continue
			}
			build := wireOps[f[0]]
			if build == nil {
				return 0, nil, 0, fmt.Errorf("multi: unknown op %q", f[0])
			}
			sub, rec, _, err := build(f[1:], c)
			if err != nil {
				return 0, nil, 0, err
			}
			req.Ops = append(req.Ops, proto.MultiOp{Type: sub, Op: rec})
		}
		return op, req, 0, nil
	}
}

func nargs(a []string, n int) error {
	if len(a) != n {
		return fmt.Errorf("want %d arguments, got %d", n, len(a))
	}
	return nil
}

func atoi(s string) int32 {
	n, _ := strconv.ParseInt(s, 0, 32)
	return int32(n)
}

// wireData is a data argument: "null" for a null buffer, "" (two quotes)
// for an empty one, a Go-quoted string, or a bare word.
func wireData(s string) []byte {
	switch s {
	case "null":
		return nil
	case `""`:
		return []byte{}
	}
	if u, err := strconv.Unquote(s); err == nil {
		return []byte(u)
	}
	return []byte(s)
}

func wireString(s string) string { return string(wireData(s)) }

func pathList(s string) []string {
	if s == "-" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// parseACL reads "PERMS@SCHEME:ID,..." ("open" is 31@world:anyone, "none"
// an empty list); a digest id given as digest:USER:PASSWORD is hashed.
func parseACL(s string) ([]proto.ACL, error) {
	switch s {
	case "open":
		return []proto.ACL{{Perms: proto.PermAll, ID: proto.Id{Scheme: "world", ID: "anyone"}}}, nil
	case "none":
		return []proto.ACL{}, nil
	}
	var acl []proto.ACL
	for _, part := range strings.Split(s, ",") {
		perms, id, ok := strings.Cut(part, "@")
		scheme, ident, ok2 := strings.Cut(id, ":")
		if !ok || !ok2 {
			return nil, fmt.Errorf("acl %q: want PERMS@SCHEME:ID", part)
		}
		if scheme == "digest" && strings.Count(ident, ":") == 1 {
			u, p, _ := strings.Cut(ident, ":")
			ident = digestID(u, p)
		}
		acl = append(acl, proto.ACL{Perms: atoi(perms), ID: proto.Id{Scheme: scheme, ID: ident}})
	}
	return acl, nil
}
