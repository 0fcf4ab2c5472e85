package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"go.uber.org/zap"

	zkfcconfig "github.com/zkfc-project/zkfc/zkfc/config"

	qconfig "github.com/zkfc-project/zkfc/quorum/config"
	"github.com/zkfc-project/zkfc/quorum/server"
)

func init() {
	register("quorum", "run one member of the ZooKeeper-compatible quorum from a zoo.cfg", cmdQuorum)
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

Examples:
  zkfc quorum --zoo-cfg /etc/zookeeper/conf/zoo.cfg
  ZOOCFGDIR=/etc/zookeeper/conf zkfc quorum --log-format console
  zkfc quorum --zoo-cfg zoo.cfg --check     # validate and print the resolved settings
`

func cmdQuorum(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return quorumMain(ctx, args, os.Getenv, os.Stdout, os.Stderr)
}

// quorumMain is the subcommand with its environment passed in, so tests
// run it in-process.
func quorumMain(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := newFlagSet("quorum", quorumUsage)
	fs.SetOutput(stderr)
	zooCfg := fs.String("zoo-cfg", "", "zoo.cfg to serve (default $ZOOCFGDIR/$ZOOCFG, ZOOCFG defaulting to zoo.cfg)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	format := fs.String("log-format", "json", "json or console")
	check := fs.Bool("check", false, "validate the configuration, print the resolved settings as KEY=VALUE lines and exit")
	if code, done := parseFlags(fs, args); done {
		return code
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
		fmt.Fprintf(stderr, "zkfc quorum: --log-level %q: %v\n", *level, err)
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
