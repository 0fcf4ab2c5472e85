// Package fourlw answers ZooKeeper's four-letter words (ruok, srvr, stat,
// mntr, conf, cons, envi, wchs, wchc, wchp, dump, isro, srst, crst, dirs):
// the text commands monitoring tools, zkServer.sh status and client test
// harnesses send as the first four bytes of a client connection.
//
// Output matches Apache ZooKeeper 3.8 byte for byte where a tool might parse
// it, with one deliberate deviation in the version line (see FullVersion).
//
// This package only formats: the server implements Source and hands over
// plain data. It must never touch sockets, the data tree or locks of its
// own, so it can be tested with a fake Source and cannot stall a server.
package fourlw

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Source is what a server exposes to the four-letter words. Every method
// must be safe to call from a connection goroutine and return quickly with
// a consistent copy of the data; none is called with any lock of this
// package held (there are none).
type Source interface {
	// Stats returns the counters and state for srvr, stat, mntr, cons,
	// dirs and the connection part of dump.
	Stats() Stats
	// Conf returns the lines of the conf command, without newlines, in
	// output order (see StandardConf for ZooKeeper's).
	Conf() []string
	// Env returns the key/value lines of envi (see ProcessEnv).
	Env() []KV
	// Watches returns the registered data and exists watches, the ones
	// ZooKeeper's wchs, wchc and wchp list (child watches are not shown
	// there, though Stats.WatchCount counts them).
	Watches() []Watch
	// Sessions returns the live sessions with their expiry time and
	// ephemeral nodes, for dump.
	Sessions() []Session
	// ResetStats clears the server-wide latency and packet counters (srst).
	ResetStats()
	// ResetConnStats clears every connection's counters (crst).
	ResetConnStats()
}

// KV is one key/value line.
type KV struct{ Key, Value string }

// Stats is a snapshot of a server's state and counters.
type Stats struct {
	Version  string // FullVersion(...): printed after "Zookeeper version: "
	Mode     string // standalone, leader, follower, observer or read-only
	Serving  bool   // false while the server cannot serve (electing, starting, stopping)
	ReadOnly bool   // serving only read-only clients

	LastZxid  int64 // last processed zxid
	NodeCount int

	PacketsReceived, PacketsSent int64
	Outstanding                  int64 // requests queued, not yet answered

	// Request latency in milliseconds since the last srst.
	MinLatency, MaxLatency   int64
	LatencySum, LatencyCount int64

	Connections []ConnStats

	WatchCount     int // every watch: data, exists and child
	EphemeralCount int
	ApproxDataSize int64 // sum of path lengths and data sizes, as ZooKeeper approximates it

	DataDirSize, DataLogSize int64 // bytes of snapshot and log files

	Uptime              time.Duration
	GlobalSessions      int
	LocalSessions       int
	OpenFDs, MaxFDs     int64 // -1 when unknown
	AuthFailed          int64
	ConnectionDropCount int64
	ConnectionRejected  int64
	QuorumSize          int           // voting members; 0 when standalone
	PeerState           string        // "leading - broadcast" etc.; "" when standalone
	Learners            int           // leader only: connected followers and observers
	SyncedFollowers     int           // leader only
	SyncedObservers     int           // leader only
	PendingSyncs        int           // leader only
	LeaderUptime        time.Duration // leader only: time since it became leader
	LastProposalSize    int64         // leader only; -1 when none yet
	MinProposalSize     int64
	MaxProposalSize     int64
	ExtraMetrics        []KV // appended to mntr as zk_<Key>; for metrics ZooKeeper lacks
}

// ConnStats describes one client connection.
type ConnStats struct {
	Remote      string    // "host:port" of the client
	Interest    int       // 1 while reading requests, 0 otherwise (ZooKeeper's interest ops)
	Queued      int64     // requests received, not yet answered
	Received    int64     // packets
	Sent        int64     // packets
	SessionID   int64     // 0 before the handshake
	LastOp      string    // ZooKeeper's 4-letter op name (GETD, SETD, PING...); "NA" when none
	Established time.Time // session established
	Timeout     int       // negotiated session timeout, ms
	LastCxid    int64     // -1 when none
	LastZxid    int64
	LastResp    int64 // monotonic ms of the last response
	LastLatency int64 // ms
	MinLatency  int64
	AvgLatency  int64
	MaxLatency  int64
	Expire      time.Time // when the connection's session (or a sessionless connection) expires; for dump
}

// Watch is one registered watch.
type Watch struct {
	Session int64
	Path    string
}

// Session is one live session for dump.
type Session struct {
	ID         int64
	Timeout    int32 // negotiated, ms
	Expire     time.Time
	Ephemerals []string
}

// NotServing is ZooKeeper's answer while the server cannot serve.
const NotServing = "This ZooKeeper instance is not currently serving requests\n"

// commands lists the words this package answers, with what answers them.
var commands = map[string]func(src Source) string{
	"ruok": func(Source) string { return "imok" },
	"srvr": func(src Source) string { return stat(src.Stats(), false) },
	"stat": func(src Source) string { return stat(src.Stats(), true) },
	"mntr": func(src Source) string { return mntr(src.Stats()) },
	"conf": func(src Source) string { return conf(src) },
	"cons": func(src Source) string { return cons(src.Stats()) },
	"envi": envi,
	"wchs": wchs,
	"wchc": wchc,
	"wchp": wchp,
	"dump": dump,
	"isro": isro,
	"srst": func(src Source) string { src.ResetStats(); return "Server stats reset.\n" },
	"crst": func(src Source) string { src.ResetConnStats(); return "Connection stats reset.\n" },
	"dirs": dirs,
}

// alwaysAnswered are the words ZooKeeper answers even while not serving.
var alwaysAnswered = map[string]bool{"ruok": true, "envi": true, "isro": true}

// IsCommand reports whether the first four bytes of a connection are a
// four-letter word this package answers (rather than the length prefix of
// a ConnectRequest).
func IsCommand(first4 []byte) bool {
	if len(first4) != 4 {
		return false
	}
	_, ok := commands[string(first4)]
	return ok
}

// Run answers the four-letter word cmd. whitelist is the enabled set (the
// key "*" enables all; nil means ZooKeeper's default, srvr only). A word not
// in it gets ZooKeeper's refusal text. The server writes out and closes the
// connection.
func Run(cmd string, src Source, whitelist map[string]bool) []byte {
	answer, ok := commands[cmd]
	if !ok {
		return nil
	}
	// ZooKeeper always enables srvr because its zkServer.sh status needs it.
	if cmd != "srvr" && !whitelist["*"] && !whitelist[cmd] {
		return []byte(cmd + " is not executed because it is not in the whitelist.\n")
	}
	if !alwaysAnswered[cmd] && !src.Stats().Serving {
		return []byte(NotServing)
	}
	return []byte(answer(src))
}

// FullVersion is the version text after "Zookeeper version: ".
//
// Deliberate deviation from ZooKeeper 3.8, which writes the build date as
// "2024-12-29 17:54 UTC": go-zookeeper/zk's FLWSrvr (used by Go tooling and
// test harnesses) only parses "MM/dd/yyyy HH:mm TZ" and a version made of
// [A-Za-z0-9.-], as ZooKeeper 3.4-3.6 printed them. Every other parser we
// know of reads only the part before the comma, so the old form costs
// nothing and keeps FLWSrvr working.
func FullVersion(zkfcVersion string, built time.Time) string {
	clean := strings.Map(func(r rune) rune {
		if r == '.' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '-'
	}, zkfcVersion)
	return fmt.Sprintf("3.8.0-zkfc-%s, built on %s", clean, built.UTC().Format("01/02/2006 15:04")+" GMT")
}

// javaDouble formats v as Java's Double.toString does for the values
// ZooKeeper prints (averages rounded to 4 decimals): "0.0", "3.6", "1.3333".
func javaDouble(v float64) string {
	if v != 0 && (v < 1e-3 || v >= 1e7) {
		s := strconv.FormatFloat(v, 'E', -1, 64) // 1E-04
		mant, exp, _ := strings.Cut(s, "E")
		if !strings.Contains(mant, ".") {
			mant += ".0"
		}
		e, _ := strconv.Atoi(exp)
		return mant + "E" + strconv.Itoa(e)
	}
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// avgLatency is ZooKeeper's AvgMinMaxCounter average: sum/count rounded
// half-up to 4 decimals, 0 when empty.
func avgLatency(sum, count int64) float64 {
	if count == 0 {
		return 0
	}
	return math.Round(float64(sum)/float64(count)*1e4) / 1e4
}

func hex(v int64) string { return strconv.FormatUint(uint64(v), 16) }

func stat(st Stats, withClients bool) string {
	var b strings.Builder
	b.WriteString("Zookeeper version: " + st.Version + "\n")
	if st.ReadOnly {
		b.WriteString("READ-ONLY mode; serving only read-only clients\n")
	}
	if withClients {
		b.WriteString("Clients:\n")
		for _, c := range st.Connections {
			writeConn(&b, c, true)
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "Latency min/avg/max: %d/%s/%d\n", st.MinLatency, javaDouble(avgLatency(st.LatencySum, st.LatencyCount)), st.MaxLatency)
	fmt.Fprintf(&b, "Received: %d\nSent: %d\nConnections: %d\nOutstanding: %d\n", st.PacketsReceived, st.PacketsSent, len(st.Connections), st.Outstanding)
	fmt.Fprintf(&b, "Zxid: 0x%s\nMode: %s\nNode count: %d\n", hex(st.LastZxid), st.Mode, st.NodeCount)
	if st.Mode == "leader" {
		fmt.Fprintf(&b, "Proposal sizes last/min/max: %d/%d/%d\n", st.LastProposalSize, st.MinProposalSize, st.MaxProposalSize)
	}
	return b.String()
}

// writeConn writes ZooKeeper's one-line connection description, without
// the newline.
func writeConn(b *strings.Builder, c ConnStats, brief bool) {
	fmt.Fprintf(b, " /%s[%x](queued=%d,recved=%d,sent=%d", c.Remote, c.Interest, c.Queued, c.Received, c.Sent)
	if !brief && c.SessionID != 0 {
		lop := c.LastOp
		if lop == "" {
			lop = "NA"
		}
		fmt.Fprintf(b, ",sid=0x%s,lop=%s,est=%d,to=%d", hex(c.SessionID), lop, c.Established.UnixMilli(), c.Timeout)
		if c.LastCxid >= 0 {
			fmt.Fprintf(b, ",lcxid=0x%s", hex(c.LastCxid))
		}
		fmt.Fprintf(b, ",lzxid=0x%s,lresp=%d,llat=%d,minlat=%d,avglat=%d,maxlat=%d",
			hex(c.LastZxid), c.LastResp, c.LastLatency, c.MinLatency, c.AvgLatency, c.MaxLatency)
	}
	b.WriteString(")")
}

func cons(st Stats) string {
	var b strings.Builder
	for _, c := range st.Connections {
		writeConn(&b, c, false)
		b.WriteString("\n")
	}
	b.WriteString("\n")
	return b.String()
}

// mntr writes the classic ZooKeeper monitoring keys, the ones tools such
// as the Prometheus exporters and Ambari read; ZooKeeper 3.8 adds several
// hundred internal metrics that have no counterpart here.
func mntr(st Stats) string {
	var b strings.Builder
	kv := func(k string, v any) {
		b.WriteString("zk_" + k + "\t")
		switch v := v.(type) {
		case float64:
			b.WriteString(javaDouble(v))
		default:
			fmt.Fprint(&b, v)
		}
		b.WriteString("\n")
	}
	kv("version", st.Version)
	kv("server_state", st.Mode)
	kv("ephemerals_count", st.EphemeralCount)
	kv("num_alive_connections", len(st.Connections))
	kv("avg_latency", avgLatency(st.LatencySum, st.LatencyCount))
	kv("outstanding_requests", st.Outstanding)
	kv("znode_count", st.NodeCount)
	kv("global_sessions", st.GlobalSessions)
	kv("packets_sent", st.PacketsSent)
	kv("packets_received", st.PacketsReceived)
	kv("watch_count", st.WatchCount)
	kv("auth_failed_count", st.AuthFailed)
	kv("min_latency", st.MinLatency)
	kv("max_file_descriptor_count", st.MaxFDs)
	kv("approximate_data_size", st.ApproxDataSize)
	kv("open_file_descriptor_count", st.OpenFDs)
	kv("local_sessions", st.LocalSessions)
	kv("uptime", st.Uptime.Milliseconds())
	kv("max_latency", st.MaxLatency)
	kv("connection_drop_count", st.ConnectionDropCount)
	kv("connection_rejected", st.ConnectionRejected)
	if st.PeerState != "" {
		kv("peer_state", st.PeerState)
		kv("quorum_size", st.QuorumSize)
	}
	if st.Mode == "leader" {
		kv("learners", st.Learners)
		kv("synced_followers", st.SyncedFollowers)
		kv("synced_non_voting_followers", 0)
		kv("synced_observers", st.SyncedObservers)
		kv("pending_syncs", st.PendingSyncs)
		kv("leader_uptime", st.LeaderUptime.Milliseconds())
		kv("last_proposal_size", st.LastProposalSize)
		kv("max_proposal_size", st.MaxProposalSize)
		kv("min_proposal_size", st.MinProposalSize)
	}
	for _, e := range st.ExtraMetrics {
		kv(e.Key, e.Value)
	}
	return b.String()
}

func conf(src Source) string {
	lines := src.Conf()
	var b strings.Builder
	for i, l := range lines {
		b.WriteString(l)
		// ZooKeeper prints the membership block without a final newline.
		if i < len(lines)-1 || !strings.HasPrefix(l, "version=") {
			b.WriteString("\n")
		}
	}
	return b.String()
}

func envi(src Source) string {
	var b strings.Builder
	b.WriteString("Environment:\n")
	for _, kv := range src.Env() {
		b.WriteString(kv.Key + "=" + kv.Value + "\n")
	}
	return b.String()
}

func dirs(src Source) string {
	st := src.Stats()
	return fmt.Sprintf("datadir_size: %d\nlogdir_size: %d\n", st.DataDirSize, st.DataLogSize)
}

func isro(src Source) string {
	st := src.Stats()
	switch {
	case !st.Serving:
		return "null"
	case st.ReadOnly:
		return "ro"
	}
	return "rw"
}

// watchIndex groups watches both ways, deduplicated and sorted, so output
// is stable (ZooKeeper's order is a hash map's).
func watchIndex(ws []Watch) (bySession map[int64][]string, byPath map[string][]int64) {
	bySession = map[int64][]string{}
	byPath = map[string][]int64{}
	seen := map[Watch]bool{}
	for _, w := range ws {
		if seen[w] {
			continue
		}
		seen[w] = true
		bySession[w.Session] = append(bySession[w.Session], w.Path)
		byPath[w.Path] = append(byPath[w.Path], w.Session)
	}
	for _, p := range bySession {
		sort.Strings(p)
	}
	for _, s := range byPath {
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	}
	return bySession, byPath
}

func wchs(src Source) string {
	bySession, byPath := watchIndex(src.Watches())
	total := 0
	for _, s := range byPath {
		total += len(s)
	}
	return fmt.Sprintf("%d connections watching %d paths\nTotal watches:%d\n", len(bySession), len(byPath), total)
}

func wchc(src Source) string {
	bySession, _ := watchIndex(src.Watches())
	ids := make([]int64, 0, len(bySession))
	for id := range bySession {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var b strings.Builder
	for _, id := range ids {
		b.WriteString("0x" + hex(id) + "\n")
		for _, p := range bySession[id] {
			b.WriteString("\t" + p + "\n")
		}
	}
	b.WriteString("\n")
	return b.String()
}

func wchp(src Source) string {
	_, byPath := watchIndex(src.Watches())
	paths := make([]string, 0, len(byPath))
	for p := range byPath {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var b strings.Builder
	for _, p := range paths {
		b.WriteString(p + "\n")
		for _, id := range byPath[p] {
			b.WriteString("\t0x" + hex(id) + "\n")
		}
	}
	b.WriteString("\n")
	return b.String()
}

// javaDate is java.util.Date's toString layout.
const javaDate = "Mon Jan 02 15:04:05 MST 2006"

// writeExpirySets writes ZooKeeper's ExpiryQueue dump: items grouped by
// expiry time, earliest first. ZooKeeper's buckets are tick-aligned; ours
// are the printed second, so no two buckets print the same time.
func writeExpirySets[T any](b *strings.Builder, name string, items []T, expire func(T) time.Time, line func(T) string) {
	groups := map[int64][]T{}
	for _, it := range items {
		k := expire(it).Unix()
		groups[k] = append(groups[k], it)
	}
	keys := make([]int64, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	fmt.Fprintf(b, "%s Sets (%d)/(%d):\n", name, len(keys), len(items))
	for _, k := range keys {
		g := groups[k]
		fmt.Fprintf(b, "%d expire at %s:\n", len(g), expire(g[0]).Format(javaDate))
		for _, it := range g {
			b.WriteString("\t" + line(it) + "\n")
		}
	}
}

func dump(src Source) string {
	sessions := src.Sessions()
	sort.Slice(sessions, func(i, j int) bool { return sessions[i].ID < sessions[j].ID })
	var b strings.Builder
	b.WriteString("SessionTracker dump:\n")
	if mode := src.Stats().Mode; mode == "follower" || mode == "observer" {
		// A learner does not expire sessions; like ZooKeeper's
		// LearnerSessionTracker it lists the global sessions it knows.
		fmt.Fprintf(&b, "Global Sessions(%d):\n", len(sessions))
		for _, s := range sessions {
			fmt.Fprintf(&b, "0x%s\t%dms\n", hex(s.ID), s.Timeout)
		}
	} else {
		writeExpirySets(&b, "Session", sessions,
			func(s Session) time.Time { return s.Expire },
			func(s Session) string { return "0x" + hex(s.ID) })
	}
	b.WriteString("ephemeral nodes dump:\n")
	n := 0
	for _, s := range sessions {
		if len(s.Ephemerals) > 0 {
			n++
		}
	}
	fmt.Fprintf(&b, "Sessions with Ephemerals (%d):\n", n)
	for _, s := range sessions {
		if len(s.Ephemerals) == 0 {
			continue
		}
		b.WriteString("0x" + hex(s.ID) + ":\n")
		paths := append([]string(nil), s.Ephemerals...)
		sort.Strings(paths)
		for _, p := range paths {
			b.WriteString("\t" + p + "\n")
		}
	}
	b.WriteString("Connections dump:\n")
	writeExpirySets(&b, "Connections", src.Stats().Connections,
		func(c ConnStats) time.Time { return c.Expire },
		func(c ConnStats) string { return "ip: /" + c.Remote + " sessionId: 0x" + hex(c.SessionID) })
	return b.String()
}
