package integration

// Differential scenarios on what the server says about itself: system
// znodes, four-letter words, and its robustness to malformed input.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkfc-project/zkfc/integration/harness"
	"github.com/zkfc-project/zkfc/integration/zkenv"
	"github.com/zkfc-project/zkfc/quorum/proto"
)

var loopbackPort = regexp.MustCompile(`127\.0\.0\.1(:[0-9]+)+`)

func scenarioSystemNodes(e env, tr *zkenv.Transcript) error {
	r, err := zkenv.ConnectRaw(e.addr(), 10*time.Second)
	if err != nil {
		return err
	}
	defer r.CloseSession()
	for _, p := range []string{"/zookeeper", "/zookeeper/config", "/zookeeper/quota"} {
		var gd proto.GetDataResponse
		if _, err := rcall(tr, r, "getData "+p, proto.OpGetData, &proto.PathWatchRequest{Path: p}, &gd); err != nil {
			return err
		}
		// /zookeeper/config names the members' peer ports, which are
		// picked at random.
		data := loopbackPort.ReplaceAllString(string(gd.Data), "127.0.0.1:PORTS")
		tr.Printf("  data=%q %s", data, zkenv.FormatStat(gd.Stat))
		var gc proto.GetChildrenResponse
		if _, err := rcall(tr, r, "getChildren "+p, proto.OpGetChildren, &proto.PathWatchRequest{Path: p}, &gc); err != nil {
			return err
		}
		tr.Printf("  children %s", zkenv.SortedList(gc.Children))
		var ga proto.GetACLResponse
		if _, err := rcall(tr, r, "getACL "+p, proto.OpGetACL, &proto.PathRequest{Path: p}, &ga); err != nil {
			return err
		}
		for _, a := range ga.ACL {
			tr.Printf("  acl %s:%s:%d", a.ID.Scheme, a.ID.ID, a.Perms)
		}
	}
	err = steps(
		func() error { return rawCreate(tr, r, e.root, "", proto.ModePersistent) },
		func() error { return rawCreate(tr, r, e.path("a"), "", proto.ModePersistent) },
		func() error { return rawCreate(tr, r, e.path("a/b"), "", proto.ModePersistent) },
		func() error { return rawCreate(tr, r, e.path("a/b/c"), "", proto.ModeEphemeral) },
		func() error { return rawCreate(tr, r, e.path("e1"), "", proto.ModeEphemeral) },
		func() error { return rawCreate(tr, r, e.path("e2-"), "", proto.ModeEphemeralSequential) },
	)
	if err != nil {
		return err
	}
	for _, p := range []string{e.root, e.path("a"), e.path("a/b/c"), e.path("missing")} {
		var n proto.IntResponse
		if _, err := rcall(tr, r, "getAllChildrenNumber "+p, proto.OpGetAllChildrenNumber, &proto.PathRequest{Path: p}, &n); err != nil {
			return err
		}
		tr.Printf("  %d", n.Value)
	}
	for _, prefix := range []string{e.root, e.path("a"), e.path("e")} {
		var s proto.StringsResponse
		if _, err := rcall(tr, r, "getEphemerals "+prefix, proto.OpGetEphemerals, &proto.PathRequest{Path: prefix}, &s); err != nil {
			return err
		}
		tr.Printf("  %s", zkenv.SortedList(s.Values))
	}
	var s proto.StringsResponse
	if _, err := rcall(tr, r, "getEphemerals /", proto.OpGetEphemerals, &proto.PathRequest{Path: "/"}, &s); err != nil {
		return err
	}
	var mine []string
	for _, v := range s.Values {
		if strings.HasPrefix(v, e.root+"/") {
			mine = append(mine, v)
		}
	}
	tr.Printf("  under root: %s", zkenv.SortedList(mine))
	var who proto.WhoAmIResponse
	if _, err := rcall(tr, r, "whoAmI", proto.OpWhoAmI, nil, &who); err != nil {
		return err
	}
	tr.Printf("  %s", whoText(who))
	if _, err := rcallXid(tr, r, "auth digest carol", proto.XidAuth, proto.OpAuth, &proto.AuthPacket{Scheme: "digest", Auth: []byte("carol:pw")}, nil); err != nil {
		return err
	}
	who = proto.WhoAmIResponse{}
	if _, err := rcall(tr, r, "whoAmI", proto.OpWhoAmI, nil, &who); err != nil {
		return err
	}
	tr.Printf("  %s", whoText(who))
	var sy proto.PathResponse
	if _, err := rcall(tr, r, "sync "+e.root, proto.OpSync, &proto.PathRequest{Path: e.root}, &sy); err != nil {
		return err
	}
	tr.Printf("  path %s", sy.Path)
	if _, err := rcall(tr, r, "sync missing", proto.OpSync, &proto.PathRequest{Path: e.path("missing")}, &sy); err != nil {
		return err
	}
	tr.Printf("  path %s", sy.Path)
	return nil
}

// mntrCoreKeys are the mntr keys ZooKeeper's administrator guide documents
// and monitoring tools read. Apache 3.8 prints several hundred more (one
// summary set per internal metric); a compatible server is only held to
// these, and only to the value of zk_server_state.
var mntrCoreKeys = []string{
	"zk_version", "zk_avg_latency", "zk_max_latency", "zk_min_latency",
	"zk_packets_received", "zk_packets_sent", "zk_num_alive_connections",
	"zk_outstanding_requests", "zk_server_state", "zk_znode_count",
	"zk_watch_count", "zk_ephemerals_count", "zk_approximate_data_size",
	"zk_open_file_descriptor_count", "zk_max_file_descriptor_count",
}

var (
	digits   = regexp.MustCompile(`[0-9]+`)
	consLine = regexp.MustCompile(`^/127\.0\.0\.1:([0-9]+)\[([0-9]+)\]\((.*)\)$`)
)

// keysOf returns the keys of "key<sep>value" lines, in order.
func keysOf(text, sep string) []string {
	var keys []string
	for _, l := range strings.Split(text, "\n") {
		if k, _, ok := strings.Cut(l, sep); ok {
			keys = append(keys, strings.TrimSpace(k))
		}
	}
	return keys
}

// consKeys renders a cons line as its connection kind and stat keys.
func consKeys(line string) string {
	m := consLine.FindStringSubmatch(strings.TrimSpace(line))
	if m == nil {
		return "unparsed: " + digits.ReplaceAllString(line, "N")
	}
	var keys []string
	for _, kv := range strings.Split(m[3], ",") {
		k, _, _ := strings.Cut(kv, "=")
		keys = append(keys, k)
	}
	kind := "session"
	if m[2] == "0" {
		kind = "no-session"
	}
	return kind + "(" + strings.Join(keys, ",") + ")"
}

func scenarioFourLetterWords(e env, tr *zkenv.Transcript) error {
	// A session of our own, with a watch, so cons/wchs/dump have content.
	r, err := e.rawWithRoot(tr, "")
	if err != nil {
		return err
	}
	defer r.CloseSession()
	if _, err := rcall(tr, r, "watch root", proto.OpGetData, &proto.PathWatchRequest{Path: e.root, Watch: true}, &proto.GetDataResponse{}); err != nil {
		return err
	}
	myPort := r.LocalPort()
	flw := func(w string) (string, error) { return e.srv.FourLetterWord(w) }
	for _, w := range []string{"ruok", "isro"} {
		out, err := flw(w)
		if err != nil {
			return err
		}
		tr.Printf("%s -> %q", w, out)
	}
	out, err := flw("xxxx")
	tr.Printf("unknown word xxxx -> %q %s", out, errText(err))
	for _, w := range []string{"srvr", "stat"} {
		out, err := flw(w)
		if err != nil {
			return err
		}
		tr.Printf("%s first line starts %q", w, strings.SplitN(out, " ", 3)[0]+" "+strings.SplitN(out, " ", 3)[1])
		// Client lines come in hash order and include other connections
		// of the moment; keep the distinct kinds, sorted, as one key.
		var keys []string
		clients := map[string]bool{}
		for _, l := range strings.Split(out, "\n") {
			switch {
			case strings.HasPrefix(l, " /"):
				if strings.Contains(l, fmt.Sprintf(":%d[", myPort)) || strings.Contains(l, "[0]") {
					if len(clients) == 0 {
						keys = append(keys, "<clients>")
					}
					clients[consKeys(l)] = true
				}
			case strings.Contains(l, ":"):
				k, v, _ := strings.Cut(l, ":")
				if k == "Mode" {
					k += "=" + strings.TrimSpace(v)
				}
				keys = append(keys, k)
			case strings.TrimSpace(l) != "":
				keys = append(keys, "unkeyed: "+digits.ReplaceAllString(l, "N"))
			}
		}
		kinds := make([]string, 0, len(clients))
		for k := range clients {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		tr.Printf("%s keys %v, clients %v", w, keys, kinds)
	}
	out, err = flw("mntr")
	if err != nil {
		return err
	}
	have := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(l, "\t")
		if !ok {
			tr.Printf("mntr line without a tab: %q", l)
			continue
		}
		have[k] = v
	}
	for _, k := range mntrCoreKeys {
		v, ok := have[k]
		switch {
		case !ok:
			tr.Printf("mntr %s missing", k)
		case k == "zk_server_state":
			tr.Printf("mntr %s=%s", k, v)
		default:
			tr.Printf("mntr %s present", k)
		}
	}
	out, err = flw("conf")
	if err != nil {
		return err
	}
	tr.Printf("conf keys %v", keysOf(out, "="))
	for _, l := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(l, "=")
		switch k {
		case "tickTime", "minSessionTimeout", "maxSessionTimeout", "maxClientCnxns":
			tr.Printf("conf %s=%s", k, v)
		case "serverId":
			// 0 standalone, the member's myid in an ensemble.
			want := "0"
			if !e.srv.Standalone() {
				want = strconv.Itoa(e.srv.ID)
			}
			tr.Printf("conf serverId is 0 standalone, myid in an ensemble: %v", v == want)
		}
	}
	out, err = flw("cons")
	if err != nil {
		return err
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, fmt.Sprintf(":%d[", myPort)) {
			tr.Printf("cons own session %s", consKeys(l))
		}
	}
	out, err = flw("envi")
	if err != nil {
		return err
	}
	// Deliberate: java.* properties describe Apache's JVM and go.* ones
	// our runtime; each server reports its own, so neither is compared.
	var envKeys []string
	for _, k := range keysOf(out, "=") {
		if !strings.HasPrefix(k, "java.") && !strings.HasPrefix(k, "go.") {
			envKeys = append(envKeys, k)
		}
	}
	tr.Printf("envi first line %q, keys %v", strings.SplitN(out, "\n", 2)[0], envKeys)
	out, err = flw("wchs")
	if err != nil {
		return err
	}
	tr.Printf("wchs %q", digits.ReplaceAllString(out, "N"))
	out, err = flw("dump")
	if err != nil {
		return err
	}
	var heads []string
	for _, l := range strings.Split(out, "\n") {
		if l != "" && l[0] >= 'A' && l[0] <= 'Z' {
			heads = append(heads, digits.ReplaceAllString(l, "N"))
		}
	}
	tr.Printf("dump section headers %q", heads)

	// go-zookeeper's four-letter-word helpers.
	tr.Printf("FLWRuok %v", zk.FLWRuok([]string{e.addr()}, 5*time.Second))
	// Deliberate deviation: go-zookeeper's FLWSrvr parses the build date only
	// as MM/dd/yyyy (ZooKeeper <= 3.6); Apache 3.8 writes yyyy-MM-dd, so it
	// fails there, while our server writes the old form so that it works.
	stats, ok := zk.FLWSrvr([]string{e.addr()}, 5*time.Second)
	want := e.srv.Backend == harness.Ours
	if ok == want {
		tr.Printf("FLWSrvr succeeds or fails as documented for this backend")
	} else {
		tr.Printf("FLWSrvr ok=%v, documented %v for %s", ok, want, e.srv.Backend)
	}
	if ok && (len(stats) != 1 || stats[0].Mode.String() != e.srv.Mode()) {
		tr.Printf("FLWSrvr parsed unexpected stats: %+v", stats)
	}
	cons, ok := zk.FLWCons([]string{e.addr()}, 5*time.Second)
	// ok is false on Apache 3.8: the line of the cons connection itself
	// has no sid and fails go-zookeeper's pattern; the other lines parse.
	found := false
	if len(cons) == 1 {
		for _, c := range cons[0].Clients {
			found = found || c.Addr == fmt.Sprintf("127.0.0.1:%d", myPort) && c.SessionID == r.Session.SessionID && c.Error == nil
		}
	}
	tr.Printf("FLWCons ok=%v, own session listed with its id: %v", ok, found)
	return nil
}

// answerText reads the server's first answer to a malformed frame: a reply
// (then whether the session still answers a ping) or a closed connection.
func answerText(r *zkenv.RawConn, session bool) string {
	f, err := r.ReadFrame()
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return "no answer within the deadline"
		}
		return "connection " + closedText(err)
	}
	if !session {
		return fmt.Sprintf("answered %d bytes without a session", len(f))
	}
	var h proto.ReplyHeader
	if err := proto.Unmarshal(f, &h); err != nil {
		return fmt.Sprintf("undecodable answer %x", f)
	}
	_, perr := r.Ping()
	return fmt.Sprintf("reply xid=%d err=%s, then ping: %s", h.Xid, h.Err, closedText(errors.Unwrap(perr)))
}

func scenarioRobustness(e env, tr *zkenv.Transcript) error {
	witness, err := e.rawWithRoot(tr, "alive")
	if err != nil {
		return err
	}
	defer witness.CloseSession()
	check := func(what string) error {
		var gd proto.GetDataResponse
		_, err := rcall(tr, witness, "witness getData after "+what, proto.OpGetData, &proto.PathWatchRequest{Path: e.root}, &gd)
		return err
	}
	frame := func(n uint32, body []byte) []byte {
		return append(binary.BigEndian.AppendUint32(nil, n), body...)
	}
	type attack struct {
		name      string
		handshake bool   // open a session first
		payload   []byte // sent after the (optional) handshake
	}
	hdr := func(xid, op int32) []byte { return proto.Marshal(&proto.RequestHeader{Xid: xid, Type: op}) }
	hugeVector := append(hdr(1, proto.OpSetACL), proto.Marshal(&proto.PathRequest{Path: e.root})...)
	hugeVector = binary.BigEndian.AppendUint32(hugeVector, 0x7fffffff)
	hugeMulti := append(hdr(1, proto.OpGetChildren), binary.BigEndian.AppendUint32(nil, 0x7ffffff0)...)
	attacks := []attack{
		{"frame above jute.maxbuffer", true, frame(proto.DefaultMaxBuffer+1024, make([]byte, 64))},
		{"negative frame length", true, frame(0xffffffff, nil)},
		{"garbage handshake", false, frame(8, []byte("garbage!"))},
		{"handshake frame above jute.maxbuffer", false, frame(proto.DefaultMaxBuffer+1024, make([]byte, 64))},
		{"vector count 2^31-1 in setACL", true, frame(uint32(len(hugeVector)), hugeVector)},
		{"string length 2^31-16 in getChildren path", true, frame(uint32(len(hugeMulti)), hugeMulti)},
		{"truncated request header", true, frame(3, []byte{0, 0, 1})},
	}
	for _, a := range attacks {
		var r *zkenv.RawConn
		if a.handshake {
			r, err = zkenv.ConnectRaw(e.addr(), 10*time.Second)
		} else {
			r, err = zkenv.DialRaw(e.addr(), 10*time.Second)
		}
		if err != nil {
			return err
		}
		if err := r.WriteFrame(a.payload); err != nil {
			tr.Printf("%s: write failed", a.name)
		}
		tr.Printf("%s: %s", a.name, answerText(r, a.handshake))
		r.Close()
		if err := check(a.name); err != nil {
			return err
		}
	}
	// Unknown and server-internal opcodes, each on a fresh session: the
	// reply, then whether the session still answers.
	for _, op := range []int32{999, proto.OpDeleteContainer, -5, proto.OpSASL} {
		r, err := zkenv.ConnectRaw(e.addr(), 10*time.Second)
		if err != nil {
			return err
		}
		if err := r.WriteFrame(proto.AppendFrame(nil, &proto.RequestHeader{Xid: 1, Type: op}, &proto.PathRequest{Path: e.root})); err != nil {
			return err
		}
		// Only the reply is compared: Apache closes the connection after an
		// Unimplemented reply, but asynchronously, so whether a following
		// ping is still answered is a race.
		f, err := r.ReadFrame()
		var h proto.ReplyHeader
		if err == nil {
			err = proto.Unmarshal(f, &h)
		}
		if err != nil {
			tr.Printf("opcode %d: no reply: %s", op, closedText(err))
		} else {
			tr.Printf("opcode %d: reply xid=%d err=%s", op, h.Xid, h.Err)
		}
		r.Close()
	}
	return check("opcodes")
}
