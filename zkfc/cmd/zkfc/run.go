package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/fencing"
	"github.com/zkfc-project/zkfc/healthcheck"
	"github.com/zkfc-project/zkfc/zkfc/action"
	"github.com/zkfc-project/zkfc/zkfc/config"
	"github.com/zkfc-project/zkfc/zkfc/control"
	"github.com/zkfc-project/zkfc/zkfc/controller"
	"github.com/zkfc-project/zkfc/zkfc/elector"
	"github.com/zkfc-project/zkfc/zkfc/history"
)

func init() {
	register("run", "run the failover controller daemon", cmdRun)
}

// EmbeddedQuorum starts this process's member of the embedded quorum from
// the quorum section and returns it and the client address zkfc should
// connect to; the member stops when ctx ends, and done reports its exit. It
// is set by the file wiring quorum/server into this command; while it is
// nil, quorum.enabled is refused with a clear error.
var EmbeddedQuorum func(ctx context.Context, q config.Quorum, lg *zap.Logger) (m Member, clientAddr string, done <-chan error, err error)

// Member is the embedded quorum member as the process hosting it reports
// it (the witness's control API).
type Member interface {
	Mode() string  // leader, follower, observer, standalone
	Serving() bool // replayed its log and knows a leader
	Metrics() prometheus.Gatherer
}

const runUsage = `zkfc run: guard one service with automatic failover.

Monitors the local service's health, takes part in the election in
ZooKeeper (<cluster.parent_znode>/<cluster.name>/ActiveStandbyElectorLock),
fences the previous active before promoting, demotes its own service when
it loses the quorum (before its session can expire; with failover.failsafe
not while every peer answers that it cannot reach the quorum either), and
serves the control API on control.listen. It never exits because the quorum
is unavailable: sessions are reopened and a failed embedded member is
started again. Under systemd (Type=notify) it reports READY=1 once
the first election outcome is known, the role in STATUS=, and feeds the
watchdog from its control loop.

The cluster znode must exist: run 'zkfc format' once per cluster.

Exit status: 0 after SIGTERM/SIGINT (an active service is demoted and the
lock released first; while failover is paused the service is left as it
is, and the next zkfc to start adopts its role), 1 on errors, 3 when
fencing.methods lists lease_expired and the demote of a service that may
be active failed: zkfc then leaves without closing its ZooKeeper session,
so that systemd's BindsTo= (systemd/zkfc-bound-service.conf) stops the
service before the session can expire and a peer's lease_expired can
promote.

Example:
  zkfc run --config /etc/zkfc/zkfc.yaml
  ZKFC_NODE_ID=nn2 zkfc run -c zkfc.yaml --control.listen 127.0.0.1:8020
`

func cmdRun(args []string) int {
	fs := newFlagSet("run", runUsage)
	cf := addConfigFlags(fs)
	if code, done := parseFlags(fs, args); done {
		return code
	}
	cfg, sec, lg, err := loadWithLogger(cf)
	if err != nil {
		return fail("%v", err)
	}
	defer func() { _ = lg.Sync() }()
	lg = lg.With(zap.String("node", cfg.Node.ID), zap.String("cluster", cfg.Cluster.Name))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, sec, lg); err != nil {
		lg.Error("zkfc stopped", zap.Error(err))
		fmt.Fprintf(os.Stderr, "zkfc run: %v\n", err)
		return 1
	}
	return 0
}

func run(ctx context.Context, cfg *config.Config, sec config.Secrets, lg *zap.Logger) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	errc := make(chan error, 4)

	connect := cfg.ZooKeeper.Connect
	if cfg.Quorum.Enabled {
		if EmbeddedQuorum == nil {
			return fmt.Errorf("config %s: quorum.enabled: the embedded quorum is not available yet in this build; set quorum.enabled: false and point zookeeper.connect at a ZooKeeper ensemble", cfg.Source)
		}
		// The member outlives the controller: on SIGTERM the controller
		// still releases the lock and closes its session, and with
		// zookeeper.connect unset this member is its only server. Lost,
		// the release would hold the standby back for a session timeout.
		// (The deferred cancel runs before wg.Wait.)
		mctx := ctx
		if !cfg.Quorum.Witness {
			var mcancel context.CancelFunc
			mctx, mcancel = context.WithCancel(context.WithoutCancel(ctx))
			defer mcancel()
		}
		member, addr, done, err := EmbeddedQuorum(mctx, cfg.Quorum, lg.Named("quorum"))
		if err != nil {
			return fmt.Errorf("start embedded quorum member (quorum section of %s): %w", cfg.Source, err)
		}
		ref := &memberRef{m: member}
		wg.Add(1)
		go func() { defer wg.Done(); superviseMember(mctx, cfg.Quorum, ref, done, lg.Named("quorum")) }()
		if connect == "" {
			connect = addr
		}
		if cfg.Quorum.Witness {
			cfg.ZooKeeper.Connect = connect
			return runWitness(ctx, cfg, sec, ref, errc, lg)
		}
	}
	cfg.ZooKeeper.Connect = connect

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := controller.NewMetrics(reg)
	wiring, err := newControlWiring(cfg, sec)
	if err != nil {
		return err
	}
	client := wiring.client

	el := elector.New(wiring.elector, lg.Named("elector"))
	hist := history.NewLog(el, cfg.Node.ID, history.MaxEntries, lg.Named("history"))
	// lease_expired asks the quorum on this daemon's own session: the one
	// that holds the lock while fencing runs.
	fencer, err := buildFencer(cfg, client, lg, fencing.WithSessions(el))
	if err != nil {
		return err
	}
	fencer.rec = hist
	act := action.New(cfg.Node.ID, actionCommand(cfg.Actions.Promote), actionCommand(cfg.Actions.Demote), actionCommand(cfg.Actions.Role), lg.Named("action"))
	n := newNotifier(lg)
	self := elector.Info{NodeID: cfg.Node.ID, Host: cfg.Node.Host, Port: cfg.Node.Port, ControlURL: cfg.AdvertisedControlURL(),
		Priority: cfg.Node.Priority, NoFailover: cfg.Node.NoFailover}
	fsafe := failsafeConfig(cfg, client)
	for _, p := range fsafe.Peers {
		self.FailsafePeers = append(self.FailsafePeers, p.ID)
	}
	roleInterval := cfg.Actions.RoleInterval
	if len(cfg.Actions.Role.Command) == 0 {
		roleInterval = 0
	}
	ctrl := controller.New(controller.Config{
		Self: self, Cluster: cfg.Cluster.Name, SelfFenceMargin: cfg.ZooKeeper.SelfFenceMargin,
		CedePeriod: cfg.Failover.CedePeriod, BackoffInitial: cfg.Failover.BackoffInitial, BackoffMax: cfg.Failover.BackoffMax,
		PriorityDelay: cfg.Failover.PriorityDelay, RoleInterval: roleInterval, FenceTimeout: fencer.f.Budget() + fenceSlack,
		WaitFormatted: cfg.Quorum.Enabled, ExitOnFailedDemote: usesLeaseExpired(cfg), KeepServiceWhenPaused: !usesLeaseExpired(cfg),
		LBDrain: cfg.Control.LBDrain,
		OnRole:  n.onRole, OnTick: n.onTick, Replication: replication(cfg, act, el), Failsafe: fsafe, History: hist,
	}, el, fencer, roleAdapter{act}, metrics, lg.Named("controller"))

	mon, err := healthcheck.NewMonitor(cfg.HealthCheck(), lg.Named("health"), func(_, s healthcheck.State, p healthcheck.Progress) {
		ctrl.SetHealth(controller.Health{State: s.String(), Progress: p.String(),
			Healthy: s == healthcheck.Healthy, Known: s != healthcheck.Initializing})
	})
	if err != nil {
		return fmt.Errorf("config %s: health: %w", cfg.Source, err)
	}
	srv := control.NewServer(ctrl, cfg.Failover.CedePeriod, reg, lg.Named("control"))
	wiring.secure(srv, el)
	op := &operator{Elector: el, log: hist, budget: budgetOf(cfg, fencer.f.Timeouts(), controller.DefaultTick)}
	srv.SetOperator(op)
	startOperator(ctx, &wg, cfg, op, ctrl, client, lg)

	wg.Add(2)
	go func() { defer wg.Done(); mon.Run(ctx) }()
	go func() {
		defer wg.Done()
		if err := srv.Serve(ctx, cfg.Control.Listen); err != nil {
			errc <- err
		}
	}()
	// The config holds file names, never secrets: safe to log whole.
	lg.Debug("configuration", zap.Any("config", cfg), zap.Any("secrets", sec))
	lg.Info("zkfc starting", zap.String("zookeeper", connect), zap.String("control", cfg.AdvertisedControlURL()),
		zap.Bool("zookeeper_tls", cfg.ZooKeeper.TLS.Enabled), zap.Strings("acl", cfg.ZooKeeper.ACL), zap.Bool("control_token", !sec.ControlToken.Empty()),
		zap.Duration("session_timeout", cfg.ZooKeeper.SessionTimeout), zap.Duration("self_fence_margin", cfg.ZooKeeper.SelfFenceMargin))
	cctx, ccancel := context.WithCancel(ctx)
	defer ccancel()
	go func() {
		select {
		case err := <-errc:
			lg.Error("component failed; stopping", zap.Error(err))
			ccancel()
		case <-cctx.Done():
		}
	}()
	err = ctrl.Run(cctx)
	if errors.Is(err, controller.ErrServiceStateUnknown) {
		// Leave now: no deferred cleanup, which would close the ZooKeeper
		// session. The session expires on its own, after systemd, seeing
		// zkfc gone, has stopped the bound service.
		lg.Error("exiting with status 3", zap.Error(err))
		_ = lg.Sync()
		fmt.Fprintf(os.Stderr, "zkfc run: %v\n", err)
		os.Exit(exitServiceStateUnknown)
	}
	n.stopping()
	cancel()
	if errors.Is(err, elector.ErrNotFormatted) {
		return fmt.Errorf("%w\n(zkfc format --config %s creates it)", err, cfg.Source)
	}
	return err
}

// exitServiceStateUnknown is zkfc run's status when a demote failed while
// lease_expired may fence this node (see controller.ErrServiceStateUnknown).
const exitServiceStateUnknown = 3

// usesLeaseExpired: peers may fence this node by its session's expiry,
// trusting that a live zkfc demoted its service first.
func usesLeaseExpired(cfg *config.Config) bool {
	for _, m := range cfg.Fencing.Methods {
		if m.Type == "lease_expired" {
			return true
		}
	}
	return false
}

// replication is the controller's view of the replication and restart
// keys; none of the mechanisms is on unless its keys are set.
func replication(cfg *config.Config, act *action.Runner, el *elector.Elector) controller.Replication {
	a := cfg.Actions
	r := controller.Replication{
		Rejoin: len(a.Rejoin.Command) > 0, Position: len(a.Position.Command) > 0,
		PositionInterval: cfg.Replication.PositionInterval, MaxLag: cfg.Replication.MaxLag,
		Durable: cfg.Replication.Durable, WhenAloneBlock: cfg.Replication.WhenAlone == config.WhenAloneBlock,
		RestartAttempts: cfg.Restart.MaxAttempts, RestartWindow: cfg.Restart.Window,
		// Enough for health.rise passing probes after the restart, each
		// possibly as slow as its timeout, plus one interval of slack.
		RestartSettle: time.Duration(cfg.Health.Rise+1) * (cfg.Health.Interval + cfg.Health.Timeout),
	}
	if r.Rejoin || r.Position || r.Durable || r.RestartAttempts > 0 {
		r.Actions = action.NewReplica(act, actionCommand(a.Rejoin), actionCommand(a.Position), actionCommand(a.SyncOn),
			actionCommand(a.SyncOff), actionCommand(a.Restart))
		r.Records = el
	}
	return r
}

func actionCommand(c config.Command) action.Command {
	return action.Command{Argv: c.Command, Env: c.Env, Timeout: c.Timeout}
}

type roleAdapter struct{ *action.Runner }

func (r roleAdapter) QueryRole(ctx context.Context) (string, error) {
	s, err := r.Runner.QueryRole(ctx)
	if errors.Is(err, action.ErrNoRoleCommand) {
		return "", controller.ErrNoRoleCheck
	}
	return s, err
}

// fenceSlack is added to the fencer's budget (the sum of the methods'
// timeouts) for the controller's bound on one fencing attempt, so that the
// time spent between methods never cuts the last one short of its own
// timeout.
const fenceSlack = 5 * time.Second

// buildFencer returns the fencer of fencing.methods.
func buildFencer(cfg *config.Config, client *control.Client, lg *zap.Logger, opts ...fencing.Option) (*fenceAdapter, error) {
	f, err := fencing.New(cfg.FenceMethods(), client, lg.Named("fencing"), opts...)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", cfg.Source, err)
	}
	return &fenceAdapter{f: f, lg: lg, self: cfg.Node.ID}, nil
}

// fenceAdapter turns the controller's breadcrumb into a fencing target.
type fenceAdapter struct {
	f    *fencing.Fencer
	lg   *zap.Logger
	self string       // this node's id (leaseUnproven)
	rec  *history.Log // nil: fencings are not recorded (fence-test)
}

func target(i elector.Info) fencing.Target {
	return fencing.Target{NodeID: i.NodeID, Host: i.Host, Port: i.Port, ControlURL: i.ControlURL, Token: i.Token, Session: i.Session}
}

func (a *fenceAdapter) Fence(ctx context.Context, i elector.Info) error {
	t := target(i)
	t.LeaseUnproven = leaseUnproven(i, a.self)
	rep, err := a.f.Fence(ctx, t)
	a.lg.Info("fencing report", zap.String("report", rep.String()), zap.Error(err))
	recordFence(a.rec, i, rep, err)
	return err
}
