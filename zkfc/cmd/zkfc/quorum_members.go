package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/spf13/pflag"

	qconfig "github.com/zkfc-project/zkfc/quorum/config"
)

// zkfc quorum members, add and remove: the membership of a running quorum
// (ZooKeeper's reconfig, reconfigEnabled=true on every member).

func init() {
	quorumDataCommands["members"] = quorumMembers
	quorumDataCommands["add"] = quorumAdd
	quorumDataCommands["remove"] = quorumRemove
}

const quorumMembersUsage = `zkfc quorum members: list the quorum's members, their roles and lag.

Reads /zookeeper/config through --server and asks each member for srvr on
its client address: mode (leader, follower, observer, "down" when it does
not serve, "unknown" when its address is not known) and how many log
entries it is behind the leader. A member whose line has no client
address (zoo.cfg's clientPort) is found among the --server addresses by
the serverId its conf four-letter word reports (4lw.commands.whitelist
must allow conf and srvr).

Example:
  zkfc quorum members --server 10.0.0.1:2181,10.0.0.2:2181
`

const quorumAddUsage = `zkfc quorum add: add a member to a running quorum.

Start the new member first, with the current configuration plus its own
line as its dynamic config file (see README, "Replacing a dead witness");
then add it. A participant is added as an observer, and made a
participant once it has caught up and serves. The change is refused when the live voters of the new
configuration (members that serve, and the new member if its client port
answers) would not be a majority of its voters: the quorum would stop
until more members come up. --force makes the change anyway.

Needs the super user's credentials (zookeeper.DigestAuthenticationProvider.
superDigest) in --super or $ZKFC_QUORUM_SUPER, as user:password.

Example:
  zkfc quorum add --server 10.0.0.1:2181 --id 4 --peer 10.0.0.4:2888 --client 10.0.0.4:2181
`

const quorumRemoveUsage = `zkfc quorum remove: remove a member from a running quorum.

Refused when the live voters left would not be a majority of the voters
left, unless --force. Removing the leader is allowed: it hands over.

Example:
  zkfc quorum remove --server 10.0.0.1:2181 --id 3
`

// membershipFlags are the flags every membership command shares.
type membershipFlags struct {
	servers string
	super   string
	timeout time.Duration
}

// membershipFlagSet is the flag set of a membership command with the
// shared flags added.
func membershipFlagSet(name, usage string, stderr io.Writer) (*pflag.FlagSet, *membershipFlags) {
	fs := newFlagSet(name, usage)
	fs.SetOutput(stderr)
	m := &membershipFlags{}
	m.add(fs)
	return fs, m
}

func (m *membershipFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&m.servers, "server", "127.0.0.1:2181", "client addresses of quorum members, comma-separated (list every member)")
	fs.StringVar(&m.super, "super", "", "super user credentials user:password (default $ZKFC_QUORUM_SUPER)")
	fs.DurationVar(&m.timeout, "timeout", 30*time.Second, "give up after this long")
}

type quietZKLogger struct{}

func (quietZKLogger) Printf(string, ...any) {}

// connect opens a session and waits for it, bounded by the timeout.
func (m *membershipFlags) connect(auth bool) (*zk.Conn, error) {
	c, events, err := zk.Connect(strings.Split(m.servers, ","), 10*time.Second, zk.WithLogger(quietZKLogger{}), zk.WithLogInfo(false))
	if err != nil {
		return nil, fmt.Errorf("--server %s: %w", m.servers, err)
	}
	deadline := time.After(m.timeout)
	for connected := false; !connected; {
		select {
		case ev := <-events:
			connected = ev.State == zk.StateHasSession
		case <-deadline:
			c.Close()
			return nil, fmt.Errorf("--server %s: no session within %v; is a member serving there?", m.servers, m.timeout)
		}
	}
	if auth {
		cred := m.super
		if cred == "" {
			cred = os.Getenv("ZKFC_QUORUM_SUPER")
		}
		if !strings.Contains(cred, ":") {
			c.Close()
			return nil, errors.New("the super user's credentials are required: --super user:password or $ZKFC_QUORUM_SUPER")
		}
		if err := c.AddAuth("digest", []byte(cred)); err != nil {
			c.Close()
			return nil, fmt.Errorf("authenticate as the super user: %w", err)
		}
	}
	return c, nil
}

// memberState is what one member says of itself.
type memberState struct {
	qconfig.Server
	mode string // leader, follower, observer; "down" when not serving
	zxid int64
}

// discovered maps member ids to the --server addresses that answered conf
// with that serverId: how members whose line in /zookeeper/config has no
// client address (a static clientPort) are found.
var discovered = map[uint64]string{}

func discover(servers string) {
	for _, addr := range strings.Split(servers, ",") {
		out, err := fourLetterWord(addr, "conf", 2*time.Second)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(out, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "serverId="); ok {
				if id, err := strconv.ParseUint(v, 10, 64); err == nil {
					discovered[id] = addr
				}
			}
		}
	}
}

func clientAddr(s qconfig.Server) string {
	if s.ClientPort == 0 {
		return discovered[s.ID]
	}
	h := s.ClientHost
	if h == "" || h == "0.0.0.0" {
		h = s.Host
	}
	return net.JoinHostPort(h, strconv.Itoa(s.ClientPort))
}

// probe asks a member for srvr.
func probe(s qconfig.Server) memberState {
	st := memberState{Server: s, mode: "down", zxid: -1}
	addr := clientAddr(s)
	if addr == "" {
		st.mode = "unknown"
		return st
	}
	out, err := fourLetterWord(addr, "srvr", 2*time.Second)
	if err != nil {
		return st
	}
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "Mode: "); ok {
			st.mode = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(l, "Zxid: "); ok {
			st.zxid, _ = strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(v), "0x"), 16, 64)
		}
	}
	return st
}

// answers reports whether anything answers a four-letter word at the
// member's client address (a member not yet added does, without serving).
func answers(s qconfig.Server) bool {
	addr := clientAddr(s)
	if addr == "" {
		return false
	}
	_, err := fourLetterWord(addr, "ruok", 2*time.Second)
	return err == nil
}

func fourLetterWord(addr, word string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte(word)); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	if len(b) == 0 && err != nil {
		return "", err
	}
	return string(b), nil
}

func readMembership(c *zk.Conn) ([]qconfig.Server, int64, error) {
	data, _, err := c.Get("/zookeeper/config")
	if err != nil {
		return nil, 0, fmt.Errorf("read /zookeeper/config: %w", err)
	}
	ms, v, err := qconfig.ParseMembership(string(data))
	if err != nil {
		return nil, 0, fmt.Errorf("/zookeeper/config: %w", err)
	}
	return ms, int64(v), nil
}

func quorumMembers(args []string, stdout, stderr io.Writer) int {
	fs, mf := membershipFlagSet("quorum members", quorumMembersUsage, stderr)
	if code, done := parseFlags(fs, args); done {
		return code
	}
	c, err := mf.connect(false)
	if err != nil {
		fmt.Fprintf(stderr, "zkfc quorum members: %v\n", err)
		return 1
	}
	defer c.Close()
	ms, version, err := readMembership(c)
	if err != nil {
		fmt.Fprintf(stderr, "zkfc quorum members: %v\n", err)
		return 1
	}
	discover(mf.servers)
	states := make([]memberState, len(ms))
	var lead int64 = -1
	for i, m := range ms {
		states[i] = probe(m)
		if states[i].mode == "leader" {
			lead = states[i].zxid
		}
	}
	fmt.Fprintf(stdout, "configuration version %x\n", version)
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tROLE\tMODE\tLAG\tPEER\tCLIENT")
	for _, st := range states {
		role := "participant"
		if st.Observer {
			role = "observer"
		}
		lag := "-"
		if lead >= 0 && st.zxid >= 0 {
			lag = strconv.FormatInt(max(0, lead-st.zxid), 10)
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", st.ID, role, st.mode, lag,
			net.JoinHostPort(st.Host, strconv.Itoa(st.PeerPort)), orDash(clientAddr(st.Server)))
	}
	_ = w.Flush()
	return 0
}

// majorityCheck refuses a membership in which the voters that are live
// (serving, or the joiner answering on its client port) are not a
// majority: it returns why, or "" when the change is safe.
func majorityCheck(next []qconfig.Server, joiner uint64) string {
	voters, live := 0, 0
	var down []string
	for _, m := range next {
		if m.Observer {
			continue
		}
		voters++
		ok := false
		if m.ID == joiner {
			ok = answers(m)
		} else {
			switch probe(m).mode {
			case "leader", "follower", "standalone":
				ok = true
			}
		}
		if ok {
			live++
		} else {
			down = append(down, strconv.FormatUint(m.ID, 10))
		}
	}
	if live > voters/2 {
		return ""
	}
	return fmt.Sprintf("the new configuration would have %d voters of which only %d are live (not answering: %s); it needs %d to work",
		voters, live, strings.Join(down, ", "), voters/2+1)
}

func quorumAdd(args []string, stdout, stderr io.Writer) int {
	fs, mf := membershipFlagSet("quorum add", quorumAddUsage, stderr)
	id := fs.Uint64("id", 0, "the new member's id (its myid)")
	peer := fs.String("peer", "", "its replication address host:port")
	client := fs.String("client", "", "its client address host:port")
	observer := fs.Bool("observer", false, "add it as an observer (a non-voting member)")
	force := fs.Bool("force", false, "make the change even if the live voters would not be a majority")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if *id == 0 || *peer == "" || *client == "" {
		fmt.Fprintln(stderr, "zkfc quorum add: --id, --peer and --client are required; see --help")
		return 2
	}
	host, port, err := net.SplitHostPort(*peer)
	if err != nil {
		fmt.Fprintf(stderr, "zkfc quorum add: --peer %q: %v\n", *peer, err)
		return 2
	}
	role := "participant"
	if *observer {
		role = "observer"
	}
	// The raft-based member has no election port; it repeats the peer's.
	spec := fmt.Sprintf("%s:%s:%s:%s;%s", host, port, port, role, *client)
	line, err := qconfig.ParseServer(fmt.Sprintf("server.%d", *id), spec)
	if err != nil {
		fmt.Fprintf(stderr, "zkfc quorum add: %v\n", err)
		return 2
	}
	// A voter joins as an observer first and is promoted once it serves:
	// until it has caught up it could not help a majority, and the leader
	// refuses (NewConfigNoQuorum) a configuration whose voters lack a
	// synced majority, as with one member down.
	first := line
	first.Observer = true
	code := changeMembership("add", *mf, *force, stdout, stderr, line.ID, func(ms []qconfig.Server) ([]qconfig.Server, error) {
		for _, m := range ms {
			if m.ID == line.ID {
				return nil, fmt.Errorf("server.%d is already a member; remove it first to change its address or role", m.ID)
			}
		}
		return append(ms, line), nil
	}, []string{fmt.Sprintf("server.%d=%s", first.ID, first.Spec())}, nil)
	if code != 0 || *observer {
		return code
	}
	deadline := time.Now().Add(mf.timeout)
	for probe(line).mode != "observer" {
		if time.Now().After(deadline) {
			fmt.Fprintf(stderr, "zkfc quorum add: server.%d was added as an observer but does not serve after %v; it stays an observer: see its log, then run add again after removing it\n", line.ID, mf.timeout)
			return 1
		}
		time.Sleep(200 * time.Millisecond)
	}
	fmt.Fprintf(stdout, "server.%d caught up as an observer; making it a participant\n", line.ID)
	return changeMembership("add", *mf, *force, stdout, stderr, line.ID, func(ms []qconfig.Server) ([]qconfig.Server, error) {
		for i := range ms {
			if ms[i].ID == line.ID {
				ms[i] = line
			}
		}
		return ms, nil
	}, []string{fmt.Sprintf("server.%d=%s", line.ID, line.Spec())}, nil)
}

func quorumRemove(args []string, stdout, stderr io.Writer) int {
	fs, mf := membershipFlagSet("quorum remove", quorumRemoveUsage, stderr)
	id := fs.Uint64("id", 0, "the id of the member to remove")
	force := fs.Bool("force", false, "make the change even if the live voters left would not be a majority")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if *id == 0 {
		fmt.Fprintln(stderr, "zkfc quorum remove: --id is required; see --help")
		return 2
	}
	return changeMembership("remove", *mf, *force, stdout, stderr, 0, func(ms []qconfig.Server) ([]qconfig.Server, error) {
		var next []qconfig.Server
		for _, m := range ms {
			if m.ID != *id {
				next = append(next, m)
			}
		}
		if len(next) == len(ms) {
			return nil, fmt.Errorf("server.%d is not a member", *id)
		}
		return next, nil
	}, nil, []string{strconv.FormatUint(*id, 10)})
}

// changeMembership reads the membership, checks the change, and asks for
// it conditionally on the version read, so a concurrent change fails it
// (BadVersion) rather than being undone.
func changeMembership(name string, mf membershipFlags, force bool, stdout, stderr io.Writer, joiner uint64,
	change func([]qconfig.Server) ([]qconfig.Server, error), joining, leaving []string) int {
	c, err := mf.connect(true)
	if err != nil {
		fmt.Fprintf(stderr, "zkfc quorum %s: %v\n", name, err)
		return 1
	}
	defer c.Close()
	ms, version, err := readMembership(c)
	if err != nil {
		fmt.Fprintf(stderr, "zkfc quorum %s: %v\n", name, err)
		return 1
	}
	discover(mf.servers)
	next, err := change(ms)
	if err != nil {
		fmt.Fprintf(stderr, "zkfc quorum %s: %v\n", name, err)
		return 1
	}
	if why := majorityCheck(next, joiner); why != "" {
		if !force {
			fmt.Fprintf(stderr, "zkfc quorum %s: refused: %s; start or repair members first, or pass --force\n", name, why)
			return 1
		}
		fmt.Fprintf(stderr, "zkfc quorum %s: --force: going ahead although %s\n", name, why)
	}
	st, err := c.IncrementalReconfig(joining, leaving, version)
	if err != nil {
		fmt.Fprintf(stderr, "zkfc quorum %s: reconfig: %v (is reconfigEnabled=true on every member?)\n", name, err)
		return 1
	}
	data, _, err := c.Get("/zookeeper/config")
	if err != nil {
		fmt.Fprintf(stdout, "changed (configuration zxid %x)\n", st.Mzxid)
		return 0
	}
	fmt.Fprintf(stdout, "new configuration:\n%s\n", data)
	return 0
}
