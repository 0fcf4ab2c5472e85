package server

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/zkfc-project/zkfc/quorum/config"
	"github.com/zkfc-project/zkfc/quorum/internal/transcript"
	"github.com/zkfc-project/zkfc/quorum/proto"
	"github.com/zkfc-project/zkfc/quorum/tree"
)

// TestLostMessages runs the scripts in testdata/lostmsg: messages lost on
// their way between members (a proposal, a ReadIndex, a late copy of a
// write), and what clients see afterwards. Commands:
//
//	ensemble                    3 members, 30 s sessions; clients use a follower
//	standalone                  one member
//	connect C [at=leader]       a client C, on the follower (or the leader)
//	lose TYPE                   the follower loses its next outgoing TYPE message
//	lost [wait]                 the message lost so far, waiting up to 10 s
//	transfer-leadership         the leader hands over to another member
//	deliver-lost                the lost message reaches the current leader after all
//	propose-legacy PATH DATA    a create in the 8-byte header of old logs
//	each-member get PATH        every member's answer after a sync, in id order
//	go NAME C OP...             start a client request in the background
//	await NAME [any]            its answer (any: only that it ended), up to 15 s
//	C OP...                     a client request, up to 15 s: create PATH [seq],
//	                            set PATH DATA, sync PATH, get PATH [poll],
//	                            children PATH, exists PATH
//
// The 15 s bounds are on hangs, far above the time any step should take
// and far below the 30 s a client waits; a proposal waiting on a member
// that lost something has an hour to commit, so only the recovery under
// test can complete it.
func TestLostMessages(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "lostmsg", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts in testdata/lostmsg: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			env := &lostEnv{clients: map[string]*zk.Conn{}, bg: map[string]chan string{}}
			transcript.Run(t, f, env.step)
		})
	}
}

// lostEnv is one script's servers and clients.
type lostEnv struct {
	e       *ensemble   // nil when standalone
	f       *testServer // the member clients use
	clients map[string]*zk.Conn
	bg      map[string]chan string
	lostC   <-chan *raftpb.Message
	lost    *raftpb.Message
}

// stepBound bounds every wait of a step.
const stepBound = 15 * time.Second

func (env *lostEnv) step(t *testing.T, s *transcript.Step) string {
	t.Helper()
	switch s.Cmd {
	case "ensemble":
		env.e = startEnsembleWith(t, 3, longSessions)
		env.f = aFollower(t, env.e)
	case "standalone":
		env.f = startServer(t, testConfig(t, t.TempDir()))
	case "connect":
		m := env.f
		if at, _ := s.Key("at"); at == "leader" {
			m = env.leader(t)
		}
		env.clients[s.Arg(t, 0)], _ = connect(t, m.addr, 30*time.Second)
	case "lose":
		typ, ok := raftpb.MessageType_value[s.Arg(t, 0)]
		if !ok {
			t.Fatalf("%s: no raft message type %q", s.Pos, s.Arg(t, 0))
		}
		env.lostC = loseNext(t, env.f, raftpb.MessageType(typ))
	case "lost":
		if env.lost == nil && env.lostC != nil {
			if len(s.Args) > 0 && s.Args[0] == "wait" {
				select {
				case env.lost = <-env.lostC:
				case <-time.After(10 * time.Second):
				}
			} else {
				select {
				case env.lost = <-env.lostC:
				default:
				}
			}
		}
		if env.lost == nil {
			return "nothing lost"
		}
		return "lost " + env.lost.GetType().String()
	case "transfer-leadership":
		transferLeadership(t, env.e)
	case "deliver-lost":
		if env.lost == nil {
			t.Fatalf("%s: nothing was lost", s.Pos)
		}
		onRaft(t, env.leader(t), func(r *replica) { _ = r.rn.Step(env.lost) })
	case "propose-legacy":
		e := &tree.Entry{Time: time.Now().UnixMilli(), Op: proto.OpCreate,
			Req: &proto.CreateRequest{Path: s.Arg(t, 0), Data: []byte(s.Arg(t, 1)), ACL: proto.OpenACL}}
		data := e.AppendMarshal(make([]byte, legacyEntryHeader))
		binary.BigEndian.PutUint64(data, 42) // an id, stampedFlag clear
		onRaft(t, env.f, func(r *replica) {
			if err := r.rn.Propose(data); err != nil {
				t.Error(err)
			}
		})
	case "each-member":
		var out []string
		for i, m := range env.e.members {
			c, _ := connect(t, m.addr, 30*time.Second)
			if _, err := c.Sync(s.Arg(t, 1)); err != nil {
				t.Fatalf("%s: sync on member %d: %v", s.Pos, i+1, err)
			}
			out = append(out, fmt.Sprintf("member %d: %s", i+1, env.bounded(clientOp(c, s.Args))))
		}
		return strings.Join(out, "\n")
	case "go":
		res := make(chan string, 1)
		env.bg[s.Arg(t, 0)] = res
		op := env.op(t, s, s.Args[1:])
		go func() { res <- op() }()
	case "await":
		res := env.bg[s.Arg(t, 0)]
		if res == nil {
			t.Fatalf("%s: no request %q started", s.Pos, s.Arg(t, 0))
		}
		out, ok := inTime(stepBound, func() string { return <-res })
		switch {
		case !ok:
			return fmt.Sprintf("still waiting after %v", stepBound)
		case len(s.Args) > 1 && s.Args[1] == "any":
			return "ended"
		}
		return out
	default:
		return env.bounded(env.op(t, s, append([]string{s.Cmd}, s.Args...)))
	}
	return ""
}

// bounded runs op and returns its output, or says it still waits.
func (env *lostEnv) bounded(op func() string) string {
	if out, ok := inTime(stepBound, op); ok {
		return out
	}
	return fmt.Sprintf("still waiting after %v", stepBound)
}

// op is a client request: the client's name, then the request.
func (env *lostEnv) op(t *testing.T, s *transcript.Step, args []string) func() string {
	t.Helper()
	c := env.clients[args[0]]
	if c == nil || len(args) < 3 {
		t.Fatalf("%s: want CLIENT OP PATH with a connected client, got %q", s.Pos, args)
	}
	return clientOp(c, args[1:])
}

// clientOp runs one request and renders its answer; any error is
// "failed": which error a client library reports for a closed connection
// is not what these scripts are about.
func clientOp(c *zk.Conn, args []string) func() string {
	op, path, rest := args[0], args[1], args[2:]
	has := func(w string) bool { return slices.Contains(rest, w) }
	return func() string {
		switch op {
		case "create":
			flags := int32(0)
			if has("seq") {
				flags = zk.FlagSequence
			}
			p, err := c.Create(path, nil, flags, zk.WorldACL(zk.PermAll))
			return answer(err, p)
		case "set":
			st, err := c.Set(path, []byte(rest[0]), -1)
			if err != nil {
				return answer(err, "")
			}
			return answer(nil, fmt.Sprintf("version %d", st.Version))
		case "sync":
			_, err := c.Sync(path)
			return answer(err, "")
		case "get":
			for {
				d, st, err := c.Get(path)
				if err == zk.ErrNoNode && has("poll") {
					time.Sleep(20 * time.Millisecond)
					continue
				}
				if err != nil {
					return answer(err, "")
				}
				return answer(nil, fmt.Sprintf("%q version %d", d, st.Version))
			}
		case "children":
			kids, _, err := c.Children(path)
			slices.Sort(kids)
			return answer(err, fmt.Sprint(kids))
		case "exists":
			ok, _, err := c.Exists(path)
			return answer(err, fmt.Sprint(ok))
		}
		return "unknown request " + op
	}
}

func answer(err error, out string) string {
	switch {
	case err == zk.ErrNoNode:
		return "NoNode"
	case err != nil:
		return "failed"
	case out == "":
		return "ok"
	}
	return "ok " + out
}

func (env *lostEnv) leader(t *testing.T) *testServer {
	t.Helper()
	if env.e == nil {
		return env.f
	}
	l := env.e.leader()
	if l < 0 {
		t.Fatal("no leader")
	}
	return env.e.members[l]
}

// onRaft runs f on member m's raft goroutine and waits for it.
func onRaft(t *testing.T, m *testServer, f func(r *replica)) {
	t.Helper()
	onReplica(t, m.srv.rep, func() { f(m.srv.rep) })
}

// onReplica runs f on r's raft goroutine and waits for it, bounded.
func onReplica(t *testing.T, r *replica, f func()) {
	t.Helper()
	if _, ok := r.call(f, 10*time.Second, time.Minute); !ok {
		t.Fatal("raft goroutine busy for 10 s, or f still running after a minute")
	}
}

// loseNext makes member m lose its next outgoing message of type typ, as
// a link to a leader that just died would; the channel delivers the lost
// message. Proposals and syncs waiting on that member get a proposal
// timeout far beyond the test, so only the recovery under test can
// complete them.
func loseNext(t *testing.T, m *testServer, typ raftpb.MessageType) <-chan *raftpb.Message {
	lost := make(chan *raftpb.Message, 1)
	onRaft(t, m, func(r *replica) {
		r.proposalTimeout = time.Hour
		r.loseOut = func(msg *raftpb.Message) bool {
			if msg.GetType() != typ {
				return false
			}
			r.loseOut = nil
			lost <- msg
			return true
		}
	})
	return lost
}

// longSessions lets sessions last 30 s (the test config's tickTime caps them
// at 4 s), so that the client's own read timeout, two thirds of it, never
// ends a wait before the server under test does.
func longSessions(cfg *config.Config) { cfg.MaxSessionTimeout = 30 * time.Second }

func aFollower(t *testing.T, e *ensemble) *testServer {
	t.Helper()
	for i, m := range e.members {
		if i != e.leader() {
			return m
		}
	}
	t.Fatal("no follower")
	return nil
}

// within runs f in the background and fails the test if it has not
// returned after bound: a bound on a hang, far above the expected time.
func within(t *testing.T, bound time.Duration, what string, f func() error) error {
	t.Helper()
	err, ok := inTime(bound, f)
	if !ok {
		t.Fatalf("%s still waiting after %v", what, bound)
	}
	return err
}

// inTime runs f in the background and returns its result, or false if f
// has not returned after bound (it is left running).
func inTime[T any](bound time.Duration, f func() T) (T, bool) {
	res := make(chan T, 1)
	go func() { res <- f() }()
	select {
	case v := <-res:
		return v, true
	case <-time.After(bound):
		var zero T
		return zero, false
	}
}

// transferLeadership makes the current leader hand over to another member
// (a new raft term).
func transferLeadership(t *testing.T, e *ensemble) {
	t.Helper()
	old := e.leader()
	to := uint64((old+1)%len(e.members) + 1)
	onRaft(t, e.members[old], func(r *replica) { r.rn.TransferLeader(to) })
}
