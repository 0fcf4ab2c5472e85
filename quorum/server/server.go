// Package server is a ZooKeeper-compatible server member: it accepts client
// connections, turns writes into log entries replicated by Raft (a one-member
// group when standalone), applies committed entries to the data tree, and
// answers reads from the tree. It owns the tree, the watch registry, the
// sessions' liveness and the raft loop. Wire records come from proto, the
// state machine from tree, durability from storage; this package must never
// mutate the tree except by applying committed log entries.
package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/quorum/config"
	"github.com/zkfc-project/zkfc/quorum/transport"
	"github.com/zkfc-project/zkfc/quorum/tree"
	"github.com/zkfc-project/zkfc/quorum/watch"
)

// BuildVersion is this build's version, reported by srvr, stat, mntr and
// envi after the ZooKeeper version we are compatible with. The binary sets
// it at start.
var BuildVersion = "dev"

// Server is one member of a quorum.
type Server struct {
	cfg *config.Config
	lg  *zap.Logger

	// mu guards tree: applying entries takes it for writing, reads take it
	// for reading, so a read and the watch it registers see one state.
	mu      sync.RWMutex
	tree    *tree.Tree
	watches *watch.Registry
	applied atomic.Int64

	rep      *replica
	sessions *tracker
	metrics  *metrics
	sec      security

	standalone bool
	// observer is this member's role in the membership (it can change by
	// reconfig); removed is set while a reconfig has left it out.
	observer atomic.Bool
	removed  atomic.Bool
	// leaderlessAt is when the member stopped serving for want of a
	// leader (unix ns; 0 while it serves): the clock of read-only mode.
	leaderlessAt atomic.Int64
	// roSessions are the sessions of the current read-only period.
	roSessions roSessionTable
	// members and configVersion are the membership as of the last reconfig
	// applied here, or the configuration files (setMembers).
	membersMu     sync.Mutex
	members       []config.Server
	configVersion uint64
	transport     *transport.Transport
	roleMu        sync.Mutex
	role          role
	// serving is false while the member has no leader: clients are
	// refused so they move to a member that has one.
	serving atomic.Bool
	// ready is set once the log is replayed and a leader known.
	ready atomic.Bool

	connMu    sync.Mutex
	conns     map[*conn]struct{}
	perIP     map[string]int
	bySession map[int64]*conn

	started  time.Time
	stats    serverStats
	fatalErr chan error
	sidSeq   atomic.Int64
	listener net.Listener
	// secureListener is the TLS client port (secureClientPort), if any.
	secureListener net.Listener
	admin          *http.Server
}

// New validates the configuration and opens the data directory. Nothing is
// served until Run.
func New(cfg *config.Config, lg *zap.Logger) (*Server, error) {
	if lg == nil {
		lg = zap.NewNop()
	}
	if cfg.DataDir == "" {
		return nil, fmt.Errorf("%s: dataDir is required", cfg.Source)
	}
	s := &Server{
		cfg:       cfg,
		lg:        lg,
		tree:      tree.New(),
		watches:   watch.New(),
		conns:     map[*conn]struct{}{},
		perIP:     map[string]int{},
		bySession: map[int64]*conn{},
		started:   time.Now(),
		fatalErr:  make(chan error, 1),
	}
	s.metrics = newMetrics(s)
	if err := s.setupSecurity(); err != nil {
		return nil, err
	}
	s.sessions = newTracker()
	id := cfg.MyID
	if id == 0 {
		id = 1
	}
	snapCount := cfg.SnapCount
	if snapCount <= 0 {
		snapCount = 100000
	}
	s.rep = newReplica(s, s.metrics, lg.Named("raft"), id, uint64(snapCount), cfg.TickTime, cfg.PreferredLeader)
	voters, learners := []uint64{id}, []uint64(nil)
	s.standalone = len(cfg.Servers) <= 1 || cfg.Standalone
	if !s.standalone {
		voters = nil
		for _, m := range cfg.Servers {
			if m.Observer {
				learners = append(learners, m.ID)
			} else {
				voters = append(voters, m.ID)
			}
			if m.ID == cfg.MyID {
				s.observer.Store(m.Observer)
			}
		}
	}
	logDir := cfg.DataLogDir
	if logDir == "" {
		logDir = cfg.DataDir
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("%s: dataDir %s: %w", cfg.Source, cfg.DataDir, err)
	}
	walDir, snapDir := filepath.Join(logDir, "version-2", "wal"), filepath.Join(cfg.DataDir, "version-2", "snap")
	if err := s.checkSeed(walDir, snapDir); err != nil {
		return nil, err
	}
	s.members, s.configVersion = cfg.Servers, cfg.ConfigVersion
	// A new member of an ensemble that was reconfigured since it formed
	// (its configuration has a version) joins from the leader's snapshot.
	join := !s.standalone && cfg.ConfigVersion > 0
	if err := s.rep.open(walDir, snapDir, voters, learners, join); err != nil {
		return nil, fmt.Errorf("open data in %s: %w", cfg.DataDir, err)
	}
	s.membersFromTree(false)
	// The log now supersedes a seed the member started from.
	s.dropSeed()
	return s, nil
}

// Run serves clients until ctx is done, then shuts down: it stops taking
// requests, lets acknowledged writes finish and closes the log.
func (s *Server) Run(ctx context.Context) error {
	if !s.standalone {
		if err := s.startTransport(); err != nil {
			_ = s.rep.close()
			return err
		}
		defer s.transport.Stop()
		touchCtx, stopTouches := context.WithCancel(context.Background())
		defer stopTouches()
		go s.forwardTouches(touchCtx)
	}
	loopCtx, stopLoop := context.WithCancel(context.Background())
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		s.rep.run(loopCtx, s.raftTick())
	}()
	defer func() {
		stopLoop()
		<-loopDone
		if err := s.rep.close(); err != nil {
			s.lg.Warn("close log", zap.Error(err))
		}
	}()

	// Listen at once: four-letter words are answered ("not currently
	// serving") while the member replays its log or waits for a quorum;
	// client sessions are refused until it is ready.
	addr := net.JoinHostPort(s.cfg.ClientPortAddress, strconv.Itoa(s.cfg.ClientPort))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s: clientPort %d: %w", s.cfg.Source, s.cfg.ClientPort, err)
	}
	s.listener = ln
	acceptErr := make(chan error, 2)
	go func() { acceptErr <- s.accept(ln) }()
	if s.sec.clientTLS != nil {
		sln, err := s.listenSecure()
		if err != nil {
			_ = ln.Close()
			return err
		}
		s.secureListener = sln
		defer sln.Close()
		go func() { acceptErr <- s.accept(sln) }()
	}
	relCtx, stopReload := context.WithCancel(context.Background())
	defer stopReload()
	s.runReloaders(relCtx)
	s.startAdmin()
	defer func() {
		_ = ln.Close()
		if s.admin != nil {
			shCtx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = s.admin.Shutdown(shCtx)
			cancel()
		}
	}()

	select {
	case <-s.rep.ready():
	case err := <-s.fatalErr:
		return err
	case err := <-acceptErr:
		return err
	case <-ctx.Done():
		return nil
	}
	// Sessions recovered from disk get a full timeout from now, as
	// ZooKeeper renews them after loading its database.
	s.mu.RLock()
	for _, si := range s.tree.Sessions() {
		s.sessions.add(si.ID, time.Duration(si.Timeout)*time.Millisecond)
	}
	s.mu.RUnlock()
	s.ready.Store(true)
	s.lg.Info("serving clients", zap.String("address", ln.Addr().String()),
		zap.Duration("startup", time.Since(s.started)), zap.Int64("zxid", s.applied.Load()))

	bg, stopBG := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); s.expireSessions(bg) }()
	go func() { defer wg.Done(); s.reapContainers(bg) }()
	go func() { defer wg.Done(); s.autopurge(bg) }()

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-acceptErr:
		runErr = err
	case err := <-s.fatalErr:
		runErr = err
	}
	stopBG()
	_ = ln.Close()
	s.drainConns(5 * time.Second)
	wg.Wait()
	s.lg.Info("server stopped")
	return runErr
}

// raftTick is the raft tick interval: a tenth of tickTime, so the election
// timeout (10 ticks) is one tickTime, with a floor for tiny tickTimes.
func (s *Server) raftTick() time.Duration { return raftTick(s.cfg.TickTime) }

func raftTick(tickTime time.Duration) time.Duration {
	t := tickTime / 10
	if t < 10*time.Millisecond {
		t = 10 * time.Millisecond
	}
	return t
}

// Addr is the client listener's address once Run is serving.
func (s *Server) Addr() net.Addr {
	// ready is stored after listener is set: loading it first orders the
	// read of listener after Run's write.
	if !s.ready.Load() || s.listener == nil {
		return nil
	}
	return s.listener.Addr()
}

// lastZxid is the zxid of the last applied entry, reported in reply headers.
func (s *Server) lastZxid() int64 { return s.applied.Load() }

// propose sends an entry to the log; done runs on the raft goroutine once
// the entry is applied (or dropped) and must not block. If the proposal
// queue stays full for the replica's queueWait, done runs at once with
// errOverloaded: the caller's wait for room is bounded too.
func (s *Server) propose(e *tree.Entry, done func(zxid int64, res tree.Result, err error)) {
	s.proposeUntil(e, done, nil)
}

// proposeUntil is propose that also stops waiting for room in the queue
// when cancel closes (done then runs with errDropped).
func (s *Server) proposeUntil(e *tree.Entry, done func(zxid int64, res tree.Result, err error), cancel <-chan struct{}) {
	p := &proposal{data: encodeProposal(e), done: done}
	if err := s.rep.propose(p, cancel); err != nil {
		done(0, tree.Result{}, err)
	}
}

// proposeWait proposes and waits for the outcome, bounded by timeout.
func (s *Server) proposeWait(e *tree.Entry, timeout time.Duration) (int64, tree.Result, error) {
	type out struct {
		zxid int64
		res  tree.Result
		err  error
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ch := make(chan out, 1)
	s.proposeUntil(e, func(z int64, r tree.Result, err error) { ch <- out{z, r, err} }, ctx.Done())
	select {
	case o := <-ch:
		return o.zxid, o.res, o.err
	case <-ctx.Done():
		return 0, tree.Result{}, errors.New("timed out waiting for the log")
	}
}

// newSessionID makes ids as ZooKeeper does: the member id in the top byte,
// a time-based counter below, so ids from different members never clash.
func (s *Server) newSessionID() int64 {
	id := int64(s.rep.id & 0xff)
	if s.cfg.MyID == 0 {
		id = 0
	}
	base := (time.Now().UnixMilli() << 24) >> 8
	return id<<56 | (base+s.sidSeq.Add(1))&(1<<56-1)
}

func randomPasswd() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return b
}
