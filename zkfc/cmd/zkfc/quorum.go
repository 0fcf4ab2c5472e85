package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"go.uber.org/zap"

	zkfcconfig "github.com/zkfc-project/zkfc/zkfc/config"

	qconfig "github.com/zkfc-project/zkfc/quorum/config"
	"github.com/zkfc-project/zkfc/quorum/server"
)

func init() {
	register("quorum", "run one member of the ZooKeeper-compatible quorum from a zoo.cfg", cmdQuorum)
	EmbeddedQuorum = startEmbeddedQuorum
}

const quorumUsage = `zkfc quorum: run one member of the ZooKeeper-compatible quorum.

Serves the ZooKeeper client protocol (the wire protocol of Apache ZooKeeper
3.8: Java, C, Go and Python clients connect unchanged) from the zoo.cfg an
Apache ZooKeeper member would use. Without server.N lines it runs
standalone; with them it joins the ensemble as the member named by
dataDir/myid. It reads ZooKeeper system properties (-Dkey=value) from the
SERVER_JVMFLAGS and JVMFLAGS environment variables, e.g.
  SERVER_JVMFLAGS="-Dzookeeper.extendedTypesEnabled=true"
SIGTERM or SIGINT stops it cleanly: acknowledged writes complete first.
quorum/bin/zkServer.sh wraps it as a drop-in for ZooKeeper's script.

Example zoo.cfg (a member of a three-member ensemble):
  tickTime=2000
  initLimit=10
  syncLimit=5
  dataDir=/var/lib/zookeeper
  clientPort=2181
  4lw.commands.whitelist=srvr,ruok,mntr
  server.1=zk1:2888:3888
  server.2=zk2:2888:3888
  server.3=zk3:2888:3888
and in /var/lib/zookeeper/myid this member's N, e.g. 1.

Logs go to stderr (JSON lines by default); zkServer.sh start redirects them
to $ZOO_LOG_DIR/zookeeper-$USER-server-$HOSTNAME.out.

Subcommands (see zkfc quorum SUBCOMMAND --help):
  import    take over a stopped Apache ZooKeeper server's data
  backup    copy a running member's data, consistent at one zxid
  restore   seed a new member or ensemble from a backup
  members   list the members, their roles and lag
  add       add a member to the running quorum (reconfig)
  remove    remove a member from the running quorum (reconfig)

Examples:
  zkfc quorum --zoo-cfg /etc/zookeeper/conf/zoo.cfg
  ZOOCFGDIR=/etc/zookeeper/conf zkfc quorum --log-format console
  zkfc quorum --zoo-cfg zoo.cfg --check     # validate and print the resolved settings
`

func cmdQuorum(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// Once the first signal has started the clean shutdown, restore the
	// default action so that a second Ctrl-C ends a shutdown that hangs.
	go func() {
		<-ctx.Done()
		stop()
	}()
	return quorumMain(ctx, args, os.Getenv, os.Stdout, os.Stderr)
}

// quorumMain is the subcommand with its environment passed in, so tests
// run it in-process.
func quorumMain(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if code, ok := quorumSubcommand(args, stdout, stderr); ok {
		return code
	}
	fs := newFlagSet("quorum", quorumUsage)
	fs.SetOutput(stderr)
	zooCfg := fs.String("zoo-cfg", "", "zoo.cfg to serve (default $ZOOCFGDIR/$ZOOCFG, ZOOCFG defaulting to zoo.cfg)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	format := fs.String("log-format", "json", "json or console")
	check := fs.Bool("check", false, "validate the configuration, print the resolved settings as KEY=VALUE lines and exit")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if *format != "json" && *format != "console" {
		fmt.Fprintf(stderr, "zkfc quorum: --log-format %q: use json or console\n", *format)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "zkfc quorum: unexpected argument %q; pass the configuration as --zoo-cfg FILE\n", fs.Arg(0))
		return 2
	}
	path := *zooCfg
	if path == "" {
		dir := getenv("ZOOCFGDIR")
		if dir == "" {
			fmt.Fprintln(stderr, "zkfc quorum: --zoo-cfg is required (or set ZOOCFGDIR, and ZOOCFG if the file is not zoo.cfg); see zkfc quorum --help")
			return 2
		}
		name := getenv("ZOOCFG")
		if name == "" {
			name = "zoo.cfg"
		}
		path = filepath.Join(dir, name)
	}
	cfg, err := qconfig.Load(path, getenv("SERVER_JVMFLAGS")+" "+getenv("JVMFLAGS"))
	if err != nil {
		fmt.Fprintf(stderr, "zkfc quorum: %v\n", err)
		return 1
	}
	if *check {
		printResolved(stdout, cfg)
		for _, w := range cfg.Warnings {
			fmt.Fprintf(stderr, "warning: %s\n", w)
		}
		return 0
	}
	lg, err := newLogger(zkfcconfig.Log{Level: *level, Format: *format})
	if err != nil {
		fmt.Fprintf(stderr, "zkfc quorum: --log-level %q: use debug, info, warn or error\n", *level)
		return 2
	}
	defer func() { _ = lg.Sync() }()
	for _, w := range cfg.Warnings {
		lg.Warn(w)
	}
	if err := runQuorum(ctx, cfg, lg); err != nil {
		lg.Error("quorum member stopped", zap.Error(err))
		fmt.Fprintf(stderr, "zkfc quorum: %v\n", err)
		return 1
	}
	return 0
}

// runQuorum serves cfg until ctx ends.
func runQuorum(ctx context.Context, cfg *qconfig.Config, lg *zap.Logger) error {
	lg.Info("starting quorum member", zap.String("zoo_cfg", cfg.Source), zap.Uint64("myid", cfg.MyID),
		zap.Bool("standalone", cfg.Standalone), zap.String("client_addr", cfg.ClientAddr()), zap.String("data_dir", cfg.DataDir))
	server.TuneMemory(cfg.MemoryLimit, lg)
	srv, err := server.New(cfg, lg)
	if err != nil {
		return err
	}
	if err := srv.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	lg.Info("quorum member stopped cleanly")
	return nil
}

// printResolved writes the settings zkServer.sh needs (and a person
// checking a zoo.cfg wants to see) as shell-readable KEY=VALUE lines.
func printResolved(w io.Writer, c *qconfig.Config) {
	mode := "quorum"
	if c.Standalone {
		mode = "standalone"
	}
	fmt.Fprintf(w, "mode=%s\nmyid=%d\ndataDir=%s\ndataLogDir=%s\nclientHost=%s\nclientPort=%d\nservers=%d\n",
		mode, c.MyID, c.DataDir, c.DataLogDir, c.ClientPortAddress, c.ClientPort, len(c.Servers))
	fmt.Fprintf(w, "tickTime=%s\n", strconv.FormatInt(c.TickTime.Milliseconds(), 10))
}

// startEmbeddedQuorum runs the quorum member of a zkfc configuration (its
// quorum section) inside the zkfc process; see EmbeddedQuorum in run.go.
func startEmbeddedQuorum(ctx context.Context, q zkfcconfig.Quorum, lg *zap.Logger) (Member, string, <-chan error, error) {
	cfg, err := embeddedConfig(q, os.Getenv("SERVER_JVMFLAGS")+" "+os.Getenv("JVMFLAGS"))
	if err != nil {
		return nil, "", nil, err
	}
	for _, w := range cfg.Warnings {
		lg.Warn(w)
	}
	server.TuneMemory(cfg.MemoryLimit, lg)
	srv, err := server.New(cfg, lg)
	if err != nil {
		return nil, "", nil, err
	}
	done := make(chan error, 1)
	go func() {
		err := srv.Run(ctx)
		if errors.Is(err, context.Canceled) {
			err = nil
		}
		done <- err
		close(done)
	}()
	return srv, dialAddr(cfg), done, nil
}

// embeddedConfig turns the quorum section into the configuration of a
// member: quorum.config_file is a zoo.cfg used as is (its dataDir/myid
// names the member); otherwise the fields become the zoo.cfg an operator
// would have written, so they go through the same validation. The peer
// address doubles as the election port, which the raft-based server does
// not use.
func embeddedConfig(q zkfcconfig.Quorum, jvmFlags string) (*qconfig.Config, error) {
	if q.ConfigFile != "" {
		return qconfig.Load(q.ConfigFile, jvmFlags)
	}
	host, port, err := net.SplitHostPort(q.ClientListen)
	if err != nil {
		return nil, fmt.Errorf("quorum.client_listen %q: %w", q.ClientListen, err)
	}
	tick := q.TickTime
	if tick <= 0 { // a Quorum not from config.Load
		tick = zkfcconfig.DefaultQuorumTickTime
	}
	var b strings.Builder
	fmt.Fprintf(&b, "tickTime=%d\ndataDir=%s\nclientPort=%s\nadmin.enableServer=false\n", tick.Milliseconds(), q.DataDir, port)
	if q.PreferredLeader != 0 {
		fmt.Fprintf(&b, "preferredLeader=%d\n", q.PreferredLeader)
	}
	if q.ReconfigEnabled {
		b.WriteString("reconfigEnabled=true\n")
	}
	if host != "" {
		fmt.Fprintf(&b, "clientPortAddress=%s\n", host)
	}
	for i, m := range q.Members {
		peer, err := zooHostPort(m.Peer)
		if err != nil {
			return nil, fmt.Errorf("quorum.members[%d].peer %q: %w", i, m.Peer, err)
		}
		peerPort := peer[strings.LastIndexByte(peer, ':')+1:]
		fmt.Fprintf(&b, "server.%d=%s:%s", m.ID, peer, peerPort)
		if m.Client != "" {
			client, err := zooHostPort(m.Client)
			if err != nil {
				return nil, fmt.Errorf("quorum.members[%d].client %q: %w", i, m.Client, err)
			}
			fmt.Fprintf(&b, ";%s", client)
		}
		b.WriteString("\n")
	}
	cfg, err := qconfig.Parse(strings.NewReader(b.String()), "quorum section", qconfig.ParseJVMFlags(jvmFlags))
	if err != nil {
		return nil, err
	}
	if cfg.MemoryLimit, err = qconfig.ParseJVMHeap(jvmFlags); err != nil {
		return nil, fmt.Errorf("SERVER_JVMFLAGS/JVMFLAGS: %w", err)
	}
	// The member's own client address is quorum.client_listen.
	for i := range cfg.Servers {
		if cfg.Servers[i].ID == q.ID {
			cfg.Servers[i].ClientHost, cfg.Servers[i].ClientPort = "", 0
		}
	}
	if err := cfg.SetMember(q.ID); err != nil {
		return nil, err
	}
	return cfg, nil
}

// zooHostPort writes host:port as a server.N line wants it (IPv6 in
// brackets).
func zooHostPort(hp string) (string, error) {
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		return "", err
	}
	if host == "" {
		return "", errors.New("missing host")
	}
	return net.JoinHostPort(host, port), nil
}

// dialAddr is where a client on this host reaches the member: its bound
// address, or loopback when it listens on all addresses.
func dialAddr(c *qconfig.Config) string {
	host := c.ClientPortAddress
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, strconv.Itoa(c.ClientPort))
}
