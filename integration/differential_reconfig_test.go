package integration

// Dynamic reconfiguration (reconfigEnabled=true) against Apache ZooKeeper
// 3.8 and ours, each a 3-member ensemble: the same reconfig requests, raw
// and through zkCli.sh and kazoo, must get the same answers, and
// /zookeeper/config the same content once ports and versions are named
// (reconfigNormalizer). The disabled case (ReconfigDisabled) is in
// scenarioErrors and the wire differential.

import (
	"fmt"
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

func reconfigOptions() harness.Options {
	return harness.Options{
		TickTime: 500 * time.Millisecond,
		Extra:    []string{"reconfigEnabled=true", "standaloneEnabled=false"},
		JVMFlags: []string{"-Dzookeeper.DigestAuthenticationProvider.superDigest=" + digestID(superUser, superPassword)},
	}
}

// reconfigNormalizer names what differs between two ensembles in a
// configuration text: each member's ports (P<id>, E<id>, C<id>, also for
// members that only join) and each configuration version, V1, V2... in
// order of first appearance.
type reconfigNormalizer struct {
	ports    map[string]string
	versions map[string]string
}

var versionLine = regexp.MustCompile(`version=([0-9a-f]+)`)

func newReconfigNormalizer(e *harness.Ensemble, extra map[int][3]int) *reconfigNormalizer {
	n := &reconfigNormalizer{ports: map[string]string{}, versions: map[string]string{}}
	for _, m := range e.Members {
		n.ports[strconv.Itoa(m.PeerPort)] = fmt.Sprintf("P%d", m.ID)
		n.ports[strconv.Itoa(m.ElectionPort)] = fmt.Sprintf("E%d", m.ID)
		n.ports[strconv.Itoa(m.ClientPort)] = fmt.Sprintf("C%d", m.ID)
	}
	for id, p := range extra {
		for i, k := range []string{"P", "E", "C"} {
			n.ports[strconv.Itoa(p[i])] = fmt.Sprintf("%s%d", k, id)
		}
	}
	return n
}

var portToken = regexp.MustCompile(`:(\d{4,5})\b`)

// text normalizes configurations; runs of server lines are sorted, since
// ZooKeeper prints them in the order of a hash map.
func (n *reconfigNormalizer) text(s string) string {
	s = sortConfigBlocks(s)
	s = portToken.ReplaceAllStringFunc(s, func(m string) string {
		if name, ok := n.ports[m[1:]]; ok {
			return ":" + name
		}
		return m
	})
	return versionLine.ReplaceAllStringFunc(s, func(m string) string {
		v := m[len("version="):]
		if _, ok := n.versions[v]; !ok {
			n.versions[v] = fmt.Sprintf("V%d", len(n.versions)+1)
		}
		return "version=" + n.versions[v]
	})
}

// version is the configuration version a text ends with, for -v.
func configVersion(data []byte) int64 {
	m := versionLine.FindSubmatch(data)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseInt(string(m[1]), 16, 64)
	return v
}

// nullableReconfig sends the request's empty strings as null, as
// ZooKeeper's clients do for a part they leave out (ZooKeeper reads an
// empty newMembers as an empty membership).
type nullableReconfig struct{ *proto.ReconfigRequest }

func (r nullableReconfig) Encode(e *proto.Encoder) {
	for _, s := range []string{r.JoiningServers, r.LeavingServers, r.NewMembers} {
		if s == "" {
			e.Buffer(nil)
		} else {
			e.String(s)
		}
	}
	e.Long(r.CurConfigID)
}

// scenarioReconfigRaw sends reconfig requests for every error the
// request's checks produce and for each kind of change, on one session
// through member 1, and reads /zookeeper/config after each.
func scenarioReconfigRaw(e *harness.Ensemble, joiner [3]int, tr *zkenv.Transcript) error {
	n := newReconfigNormalizer(e, map[int][3]int{4: joiner})
	// Apache may close client connections after a change (its ensemble
	// re-elects); the scenario then reconnects, to member 1 or 2 (never
	// removed), signs in again and carries on without noting it, so both
	// sides' transcripts hold only answers.
	var r *zkenv.RawConn
	authed := false
	connect := func() error {
		if r != nil {
			r.Close()
		}
		deadline := time.Now().Add(30 * time.Second)
		for i := 0; ; i++ {
			c, err := zkenv.ConnectRaw(e.Members[i%2].Addr(), 10*time.Second)
			if err == nil {
				r = c
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("reconnect: %w", err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if authed {
			if _, err := r.CallXid(proto.XidAuth, proto.OpAuth, &proto.AuthPacket{Scheme: "digest", Auth: []byte(superUser + ":" + superPassword)}, nil); err != nil {
				return fmt.Errorf("auth again: %w", err)
			}
		}
		return nil
	}
	if err := connect(); err != nil {
		return err
	}
	defer func() { r.CloseSession() }()
	var current int64 = -1
	readConfig := func(label string) error { // label "": read without recording
		var gd proto.GetDataResponse
		rep, err := r.Call(proto.OpGetData, &proto.PathWatchRequest{Path: "/zookeeper/config"}, &gd)
		if err != nil {
			if err := connect(); err != nil {
				return fmt.Errorf("%s: %w", label, err)
			}
			if rep, err = r.Call(proto.OpGetData, &proto.PathWatchRequest{Path: "/zookeeper/config"}, &gd); err != nil {
				return fmt.Errorf("%s: %w", label, err)
			}
		}
		current = configVersion(gd.Data)
		if label == "" {
			return nil
		}
		tr.Printf("%s -> %s version=%d dataLength matches=%v\n%s", label, rep.Header.Err, gd.Stat.Version,
			int(gd.Stat.DataLength) == len(gd.Data), n.text(string(gd.Data)))
		return nil
	}
	// reconfig records a request's answer. A success is recorded as OK
	// followed by the configuration read back; its reply must carry that
	// configuration. When Apache drops the connection before answering,
	// the change counts as made if the configuration read back moved on.
	reconfig := func(label string, req *proto.ReconfigRequest) error {
		var gd proto.GetDataResponse
		before := current
		rep, err := r.Call(proto.OpReconfig, nullableReconfig{req}, &gd)
		if err != nil {
			if err := connect(); err != nil {
				return fmt.Errorf("%s: %w", label, err)
			}
			if err := readConfig(""); err != nil {
				return err
			}
			if current == before {
				// Lost before the server took it: ask again.
				rep, err = r.Call(proto.OpReconfig, nullableReconfig{req}, &gd)
			}
		}
		if err != nil {
			tr.Printf("%s -> OK", label)
			if err := readConfig("  config after " + label); err != nil {
				return err
			}
			if current == before {
				return fmt.Errorf("%s: the connection was lost and the configuration did not change", label)
			}
			return nil
		}
		if rep.Header.Err != proto.ErrOK {
			tr.Printf("%s -> %s", label, rep.Header.Err)
			return nil
		}
		tr.Printf("%s -> %s", label, rep.Header.Err)
		// The configuration's version is the zxid of its change; the data
		// version of /zookeeper/config is -1.
		if gd.Stat.Mzxid != configVersion(gd.Data) || gd.Stat.Version != -1 || int(gd.Stat.DataLength) != len(gd.Data) {
			return fmt.Errorf("%s: reply stat %+v does not fit its data %q", label, gd.Stat, gd.Data)
		}
		if err := readConfig("  config after " + label); err != nil {
			return err
		}
		if current != configVersion(gd.Data) {
			return fmt.Errorf("%s: the reply's configuration %q is not the one read back (version %x)", label, gd.Data, current)
		}
		return nil
	}
	if err := readConfig("initial config"); err != nil {
		return err
	}
	if err := reconfig("remove 3 without auth", &proto.ReconfigRequest{LeavingServers: "3", CurConfigID: -1}); err != nil {
		return err
	}
	if _, err := rcallXid(tr, r, "auth super", proto.XidAuth, proto.OpAuth,
		&proto.AuthPacket{Scheme: "digest", Auth: []byte(superUser + ":" + superPassword)}, nil); err != nil {
		return err
	}
	authed = true
	self := func(id int) string {
		m := e.Members[id-1]
		return fmt.Sprintf("server.%d=127.0.0.1:%d:%d:participant;127.0.0.1:%d", id, m.PeerPort, m.ElectionPort, m.ClientPort)
	}
	join := fmt.Sprintf("server.4=127.0.0.1:%d:%d", joiner[0], joiner[1])
	cases := []struct {
		label string
		req   proto.ReconfigRequest
	}{
		{"stale version", proto.ReconfigRequest{LeavingServers: "3", CurConfigID: 0x7fff}},
		{"remove unknown id 9", proto.ReconfigRequest{LeavingServers: "9", CurConfigID: -1}},
		{"remove every member", proto.ReconfigRequest{LeavingServers: "1,2,3", CurConfigID: -1}},
		{"remove a non-number", proto.ReconfigRequest{LeavingServers: "x", CurConfigID: -1}},
		{"add a malformed line", proto.ReconfigRequest{JoiningServers: "server.4=127.0.0.1", CurConfigID: -1}},
		{"add without a client port", proto.ReconfigRequest{JoiningServers: join, CurConfigID: -1}},
		{"add without server.", proto.ReconfigRequest{JoiningServers: "4", CurConfigID: -1}},
		{"members with a malformed line", proto.ReconfigRequest{NewMembers: "server.1=nonsense", CurConfigID: -1}},
		{"nothing to change", proto.ReconfigRequest{CurConfigID: -1}},
		{"members with a duplicate address", proto.ReconfigRequest{NewMembers: self(1) + "," + strings.Replace(self(1), "server.1", "server.5", 1), CurConfigID: -1}},
	}
	for _, c := range cases {
		if err := reconfig(c.label, &c.req); err != nil {
			return err
		}
	}
	steps := []struct {
		label string
		req   func() *proto.ReconfigRequest
	}{
		{"remove 3", func() *proto.ReconfigRequest {
			return &proto.ReconfigRequest{LeavingServers: "3", CurConfigID: -1}
		}},
		{"remove 3 again with the old version", func() *proto.ReconfigRequest {
			return &proto.ReconfigRequest{LeavingServers: "3", CurConfigID: current - 1}
		}},
		{"add observer 4 with -v", func() *proto.ReconfigRequest {
			return &proto.ReconfigRequest{JoiningServers: fmt.Sprintf("%s:observer;127.0.0.1:%d", join, joiner[2]), CurConfigID: current}
		}},
		{"add 3 back and remove 4", func() *proto.ReconfigRequest {
			return &proto.ReconfigRequest{JoiningServers: self(3), LeavingServers: "4", CurConfigID: -1}
		}},
		{"members 1,2,3", func() *proto.ReconfigRequest {
			return &proto.ReconfigRequest{NewMembers: self(1) + "," + self(2) + "," + self(3), CurConfigID: current}
		}},
	}
	for _, s := range steps {
		if err := reconfig(s.label, s.req()); err != nil {
			return err
		}
	}
	return nil
}

// serverLine is member id's spec with its client address, as a joiner.
func serverLine(e *harness.Ensemble, id int) string {
	m := e.Members[id-1]
	return fmt.Sprintf("server.%d=127.0.0.1:%d:%d:participant;127.0.0.1:%d", id, m.PeerPort, m.ElectionPort, m.ClientPort)
}

// scenarioReconfigZkCli drives zkCli.sh's config and reconfig commands:
// remove member 3, add it back, a stale -v, and a malformed -add.
func scenarioReconfigZkCli(e *harness.Ensemble, tr *zkenv.Transcript) error {
	n := newReconfigNormalizer(e, nil)
	script := strings.Join([]string{
		"addauth digest " + superUser + ":" + superPassword,
		"config",
		"reconfig -remove 3",
		"config -s",
		"reconfig -add " + serverLine(e, 3),
		"reconfig -v 1 -remove 3",
		"reconfig -add server.5=nonsense",
		"quit",
	}, "\n") + "\n"
	out, _, err := zkenv.RunZkCli(90*time.Second, e.Members[1].Addr(), script)
	if err != nil {
		return err
	}
	for _, l := range strings.Split(n.text(out), "\n") {
		tr.Printf("zkCli: %s", zkCliStatLine(l))
	}
	return nil
}

// zkCliStatLine keeps what two ensembles share of a `config -s` stat
// line: the data version and whether a field is set.
func zkCliStatLine(l string) string {
	k, v, ok := strings.Cut(l, " = ")
	if !ok {
		return l
	}
	switch k {
	case "dataLength":
		// The version's hex digits differ: ZooKeeper's zxids carry the
		// epoch in their high bits.
		return k + " = set"
	case "cZxid", "ctime", "mZxid", "mtime", "pZxid":
		if v == "0x0" || strings.HasPrefix(v, "Thu Jan 01 00:00:00") {
			return k + " = 0"
		}
		return k + " = set"
	}
	return l
}

// sortConfigBlocks sorts each run of server.N lines, which ZooKeeper
// prints in the order of a hash map.
func sortConfigBlocks(out string) string {
	lines := strings.Split(out, "\n")
	for i := 0; i < len(lines); {
		j := i
		for j < len(lines) && strings.HasPrefix(lines[j], "server.") {
			j++
		}
		sort.Strings(lines[i:j])
		i = j + 1
	}
	return strings.Join(lines, "\n")
}

// scenarioReconfigKazoo runs kazoo_reconfig.py against members 1 and 2.
func scenarioReconfigKazoo(e *harness.Ensemble, tr *zkenv.Transcript) error {
	n := newReconfigNormalizer(e, nil)
	hosts := e.Members[0].Addr() + "," + e.Members[1].Addr()
	out, err := zkenv.RunKazoo(90*time.Second, "kazoo_reconfig.py", hosts, superUser+":"+superPassword, serverLine(e, 3))
	if err != nil {
		return err
	}
	for _, l := range strings.Split(n.text(strings.TrimSpace(out)), "\n") {
		tr.Printf("kazoo: %s", l)
	}
	return nil
}

// TestDifferentialReconfig runs the reconfig scenarios against a 3-member
// Apache ZooKeeper 3.8 ensemble and ours, side by side.
func TestDifferentialReconfig(t *testing.T) {
	type side struct {
		name string
		b    harness.Backend
		e    *harness.Ensemble
		tr   zkenv.Transcript
		err  error
	}
	sides := []*side{{name: "apache", b: harness.Apache}, {name: "ours", b: harness.Ours}}
	for _, s := range sides {
		s.e = harness.StartEnsemble(t, s.b, 3, reconfigOptions())
	}
	var wg sync.WaitGroup
	for _, s := range sides {
		wg.Add(1)
		go func() {
			defer wg.Done()
			joiner := [3]int{harness.FreePort(t), harness.FreePort(t), harness.FreePort(t)}
			if s.err = scenarioReconfigRaw(s.e, joiner, &s.tr); s.err != nil {
				return
			}
			if s.err = scenarioReconfigZkCli(s.e, &s.tr); s.err != nil {
				return
			}
			s.err = scenarioReconfigKazoo(s.e, &s.tr)
		}()
	}
	wg.Wait()
	compareSides(t, sides[0].name, sides[0].tr.Lines(), sides[0].err, sides[1].name, sides[1].tr.Lines(), sides[1].err)
}

// compareSides fails the test when a side did not complete or the two
// normalized transcripts differ.
func compareSides(t *testing.T, nameA string, linesA []string, errA error, nameB string, linesB []string, errB error) {
	t.Helper()
	if errA != nil {
		t.Errorf("%s: scenario did not complete: %v", nameA, errA)
	}
	if errB != nil {
		t.Errorf("%s: scenario did not complete: %v", nameB, errB)
	}
	a, b := zkenv.Normalize(linesA), zkenv.Normalize(linesB)
	if d := zkenv.UnifiedDiff(nameA, nameB, a, b); d != "" {
		t.Errorf("transcripts differ (normalized):\n%s", d)
	}
	if testing.Verbose() || t.Failed() {
		t.Logf("%s transcript (normalized):\n%s", nameA, strings.Join(a, "\n"))
	}
	if len(a) == 0 {
		t.Errorf("%s: empty transcript", nameA)
	}
}
