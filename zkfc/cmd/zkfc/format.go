package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/zkfc-project/zkfc/fencing"
	"github.com/zkfc-project/zkfc/zkfc/elector"
)

func init() {
	register("format", "create the cluster's znode in ZooKeeper (like Hadoop's -formatZK)", cmdFormat)
	register("fence-test", "check each fencing method can reach a node, without fencing it", cmdFenceTest)
}

const formatUsage = `zkfc format: create <cluster.parent_znode>/<cluster.name> in ZooKeeper.

Run once per cluster before the first 'zkfc run'. If the znode already
exists, format asks before wiping it (lock, breadcrumb, fencing token,
pause flag) unless --non-interactive is given, in which case it fails;
--force wipes without asking. Never wipe a cluster whose zkfc daemons are
running: the fencing token would restart from 1.

A quorum that does not serve yet (an embedded quorum still electing its
leader, say) is waited for, up to --wait, with a line of progress per
attempt; daemons already running pick the format up at once.

Exit codes: 0 formatted, 1 error, 2 exists and not wiped.

Example:
  zkfc format --config /etc/zkfc/zkfc.yaml
  zkfc format --config zkfc.yaml --force --non-interactive
`

func cmdFormat(args []string) int {
	fs := newFlagSet("format", formatUsage)
	cf := addConfigFlags(fs)
	force := fs.Bool("force", false, "wipe an existing cluster znode without asking")
	nonInteractive := fs.Bool("non-interactive", false, "never prompt; fail if the znode exists and --force is not given")
	wait := fs.Duration("wait", time.Minute, "how long to wait for the quorum to serve")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	cfg, _, ec, lg, err := loadForZooKeeper(cf)
	if err != nil {
		return fail("%v", err)
	}
	if cfg.ZooKeeper.Connect == "" {
		return fail("format: zookeeper.connect is empty in %s; with quorum.enabled, set it to the quorum's client address", cfg.Source)
	}
	if *wait <= 0 {
		return fail("format: --wait must be positive")
	}
	path := cfg.ClusterPath()
	wipe := *force
	deadline := time.Now().Add(*wait)
	if !wipe {
		var exists bool
		err := untilServing(cfg.ZooKeeper.Connect, deadline, &ec, func() (err error) { exists, err = elector.Exists(ec, lg); return })
		if err != nil {
			return fail("format: %v", err)
		}
		if exists {
			if *nonInteractive {
				fmt.Fprintf(os.Stderr, "zkfc format: %s already exists in %s; not wiping it (pass --force to wipe)\n", path, cfg.ZooKeeper.Connect)
				return 2
			}
			fmt.Printf("%s already exists in %s. Wipe it (lock, breadcrumb, fencing token)? (Y or N) ", path, cfg.ZooKeeper.Connect)
			line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
			if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
				fmt.Println("not formatted")
				return 2
			}
			wipe = true
		}
	}
	if err := untilServing(cfg.ZooKeeper.Connect, deadline, &ec, func() error { return elector.Format(ec, wipe, lg) }); err != nil {
		return fail("format: %v", err)
	}
	fmt.Printf("formatted %s in %s with ACL %s\n", path, cfg.ZooKeeper.Connect, aclText(cfg.ZooKeeper.ACL))
	return 0
}

// untilServing runs op until it succeeds, fails for a reason other than an
// unavailable quorum, or deadline passes; each attempt's session wait is
// bounded by what is left, and each failed attempt prints a line.
func untilServing(connect string, deadline time.Time, ec *elector.Config, op func() error) error {
	start := time.Now()
	for attempt := 1; ; attempt++ {
		left := time.Until(deadline).Round(100 * time.Millisecond)
		ec.ConnectWait = max(min(3*time.Second, left), time.Second)
		err := op()
		if err == nil || !elector.Unavailable(err) {
			return err
		}
		if time.Until(deadline) <= 0 {
			return fmt.Errorf("%w\n(the quorum at %s did not serve in %s; raise --wait if it is still starting)", err, connect, time.Since(start).Round(time.Second))
		}
		fmt.Fprintf(os.Stderr, "zkfc format: waiting for the quorum at %s to serve (attempt %d, %s so far): %v\n",
			connect, attempt, time.Since(start).Round(time.Second), err)
		time.Sleep(min(time.Second, time.Until(deadline)))
	}
}

const fenceTestUsage = `zkfc fence-test NODE: check that every fencing method could fence NODE.

Looks NODE up in ZooKeeper (its candidate registration, or the lock or
breadcrumb), then runs each configured method's check: the graceful method
reaches NODE's control API, ssh connects and verifies the host key and the
tools on the target, shell checks its command exists. Nothing is fenced.
--host/--port/--control-url describe a node that is not running.

Exit code 0 only if every method's check passed.

Example:
  zkfc fence-test nn2 --config /etc/zkfc/zkfc.yaml
  zkfc fence-test nn2 --host 10.0.0.2 --port 8020 --control-url http://10.0.0.2:8019
`

func cmdFenceTest(args []string) int {
	fs := newFlagSet("fence-test", fenceTestUsage)
	cf := addConfigFlags(fs)
	host := fs.String("host", "", "target host (skips the ZooKeeper lookup)")
	port := fs.Int("port", 0, "target service port")
	curl := fs.String("control-url", "", "target control API URL")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	node := fs.Arg(0)
	cfg, sec, ec, lg, err := loadForZooKeeper(cf)
	if err != nil {
		return fail("%v", err)
	}
	client, err := controlClient(cfg, sec)
	if err != nil {
		return fail("%v", err)
	}
	t := elector.Info{NodeID: node, Host: *host, Port: *port, ControlURL: *curl}
	if *host == "" {
		info, err := elector.Lookup(ec, node, lg)
		if err != nil {
			return fail("fence-test: %v\n(or describe the node with --host, --port, --control-url)", err)
		}
		t = *info
	}
	f, err := fencing.New(cfg.FenceMethods(), client, lg)
	if err != nil {
		return fail("config %s: %v", cfg.Source, err)
	}
	ctx, cancel := cliContext(2 * time.Minute)
	defer cancel()
	rep := f.Check(ctx, target(t))
	ok := true
	for _, a := range rep.Attempts {
		res := "ok"
		if a.Err != nil {
			res, ok = "FAIL: "+a.Err.Error(), false
		}
		fmt.Printf("[%d] %-8s %-8s %s\n", a.Index, a.Method, a.Duration.Round(time.Millisecond), res)
	}
	if !ok {
		return 1
	}
	fmt.Printf("all %d fencing methods can reach %s\n", len(rep.Attempts), node)
	return 0
}
