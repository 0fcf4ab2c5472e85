package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/zkfc-project/zkfc/zkfc/controller"
)

func init() {
	register("status", "show role, health, fencing token and recent transitions", cmdStatus)
	register("failover", "graceful failover to a named node", cmdFailover)
	register("pause", "pause automatic failover cluster-wide", func(a []string) int { return cmdPause(a, true) })
	register("resume", "resume automatic failover cluster-wide", func(a []string) int { return cmdPause(a, false) })
}

const statusUsage = `zkfc status: show what a running zkfc knows.

Prints the node's role (active/standby), the health of its service, the
fencing token of its last promotion, who holds the lock, whether automatic
failover is paused, and the recent role transitions.

Example:
  zkfc status --config /etc/zkfc/zkfc.yaml
  zkfc status --url http://10.0.0.2:8019 --json
`

func cmdStatus(args []string) int {
	fs := newFlagSet("status", statusUsage)
	cf := addConfigFlags(fs)
	url := fs.String("url", "", "control API of the zkfc to ask (default: from the config)")
	asJSON := fs.Bool("json", false, "print the raw JSON status")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	client, base, err := cliClient(*url, cf)
	if err != nil {
		return fail("%v", err)
	}
	ctx, cancel := cliContext(10 * time.Second)
	defer cancel()
	st, err := client.Status(ctx, base)
	if err != nil {
		return fail("%v\n(is zkfc running? check control.listen)", err)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(st)
		return 0
	}
	printStatus(st)
	return 0
}

func printStatus(st controller.Status) {
	fmt.Printf("node:          %s (cluster %s, priority %d%s)\n", st.NodeID, st.Cluster, st.Priority, map[bool]string{true: ", no-failover", false: ""}[st.NoFailover])
	fmt.Printf("role:          %s\n", st.Role)
	fmt.Printf("health:        %s\n", st.Health)
	fmt.Printf("fencing token: %d\n", st.FencingToken)
	active := "(none known)"
	if st.Active != nil {
		active = st.Active.NodeID
	}
	fmt.Printf("lock holder:   %s\n", active)
	fmt.Printf("zookeeper:     connected=%v epoch=%d last-ack=%dms ago session-timeout=%dms\n", st.Connected, st.SessionEpoch, st.LastAckAgeMs, st.SessionTimeoutMs)
	fmt.Printf("election:      in=%v holds-lock=%v paused=%v\n", st.InElection, st.HoldsLock, st.Paused)
	if st.LastError != "" {
		fmt.Printf("last error:    %s\n", st.LastError)
	}
	if len(st.Transitions) > 0 {
		fmt.Println("transitions:")
		for _, t := range st.Transitions {
			tok := ""
			if t.Token != 0 {
				tok = fmt.Sprintf(" token=%d", t.Token)
			}
			fmt.Printf("  %s  %s -> %s%s  %s\n", t.At.Format(time.RFC3339Nano), t.From, t.To, tok, t.Reason)
		}
	}
}

const failoverUsage = `zkfc failover: make a named node active, gracefully.

The request goes to the zkfc of the target node (through any zkfc of the
cluster). The current active demotes its service and stays out of the
election for failover.cede_period; the target, which must be healthy,
connected and without the no-failover tag, then wins the lock. No fencing
is needed because the old active removed its own breadcrumb.

Example:
  zkfc failover --to nn2
  zkfc failover --to nn2 --url http://10.0.0.1:8019 --timeout 60s
`

func cmdFailover(args []string) int {
	fs := newFlagSet("failover", failoverUsage)
	cf := addConfigFlags(fs)
	url := fs.String("url", "", "control API of any zkfc of the cluster (default: from the config)")
	to := fs.String("to", "", "node id to make active (required)")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the target to become active")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if *to == "" {
		return fail("failover: --to NODE is required")
	}
	client, base, err := cliClient(*url, cf)
	if err != nil {
		return fail("%v", err)
	}
	ctx, cancel := cliContext(*timeout + 10*time.Second)
	defer cancel()
	st, err := client.Failover(ctx, base, *to, *timeout)
	if err != nil {
		return fail("failover to %s: %v", *to, err)
	}
	fmt.Printf("%s is active (fencing token %d)\n", st.NodeID, st.FencingToken)
	return 0
}

const pauseUsage = `zkfc pause | resume: stop or restart automatic failover, cluster-wide.

While paused (a znode <parent>/<cluster>/Paused exists) no zkfc joins or
leaves the election: the active stays active even if its health check
fails, and standbys do not take over. Self-fencing on loss of the quorum
still happens: pausing never trades safety. Use it for maintenance.

Example:
  zkfc pause  --config /etc/zkfc/zkfc.yaml
  zkfc resume --url http://10.0.0.1:8019
`

func cmdPause(args []string, on bool) int {
	name := map[bool]string{true: "pause", false: "resume"}[on]
	fs := newFlagSet(name, pauseUsage)
	cf := addConfigFlags(fs)
	url := fs.String("url", "", "control API of any zkfc of the cluster (default: from the config)")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	client, base, err := cliClient(*url, cf)
	if err != nil {
		return fail("%v", err)
	}
	ctx, cancel := cliContext(15 * time.Second)
	defer cancel()
	if err := client.SetPaused(ctx, base, on); err != nil {
		return fail("%s: %v", name, err)
	}
	fmt.Printf("automatic failover %s\n", strings.TrimSuffix(name, "e")+"ed")
	return 0
}
