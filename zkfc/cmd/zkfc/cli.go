package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
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
last fencing token issued in the cluster and this node's own last token,
who holds the lock, whether automatic failover is paused, and the recent
role transitions, the scheduled switchover if any, and the failover
budget: the worst-case time to a new active for each kind of failure,
computed from the asked zkfc's configuration, term by term
(configs/README.md, "Failover budget"). A witness has none of these: its status is its role and
the state of the quorum member it hosts.

Example:
  zkfc status --config /etc/zkfc/zkfc.yaml
  zkfc status --url http://10.0.0.2:8019 --token-file /etc/zkfc/control.token --json
`

func cmdStatus(args []string) int {
	fs := newFlagSet("status", statusUsage)
	cf := addConfigFlags(fs)
	url := addAPIFlags(fs, cf, "control API of the zkfc to ask")
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
	st, err := client.FullStatus(ctx, base)
	if err != nil {
		return apiFail("status", err, base)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(st)
		return 0
	}
	printStatus(os.Stdout, st.Status)
	printOperator(os.Stdout, st)
	return 0
}

func tokenText(tok uint64, what, none string) string {
	if tok == 0 {
		return "none (" + none + ")"
	}
	return fmt.Sprintf("%d (%s)", tok, what)
}

// printStatus writes the status for a reader. A witness has no service,
// no ZooKeeper session and no election: it gets only what it has.
func printStatus(w io.Writer, st controller.Status) {
	if st.Role == WitnessRole {
		fmt.Fprintf(w, "node:          %s (cluster %s)\n", st.NodeID, st.Cluster)
		fmt.Fprintf(w, "role:          %s (hosts a quorum member, guards no service)\n", st.Role)
		fmt.Fprintf(w, "quorum member: %s\n", st.Health)
		return
	}
	fmt.Fprintf(w, "node:          %s (cluster %s, priority %d%s)\n", st.NodeID, st.Cluster, st.Priority, map[bool]string{true: ", no-failover", false: ""}[st.NoFailover])
	fmt.Fprintf(w, "role:          %s\n", st.Role)
	if st.Reason != "" {
		fmt.Fprintf(w, "why:           %s\n", st.Reason)
	}
	fmt.Fprintf(w, "health:        %s\n", st.Health)
	fmt.Fprintf(w, "cluster token: %s\n", tokenText(st.ClusterToken, "the last fencing token issued in the cluster", "none issued yet, or not connected"))
	fmt.Fprintf(w, "node token:    %s\n", tokenText(st.FencingToken, "this node's last promotion", "not promoted since this zkfc started"))
	active := "(none known)"
	if st.Active != nil {
		active = st.Active.NodeID
	}
	fmt.Fprintf(w, "lock holder:   %s\n", active)
	fmt.Fprintf(w, "zookeeper:     connected=%v epoch=%d last-ack=%dms ago session-timeout=%dms\n", st.Connected, st.SessionEpoch, st.LastAckAgeMs, st.SessionTimeoutMs)
	paused := fmt.Sprint(st.Paused)
	switch {
	case st.PauseUnknown:
		paused = "unknown (the pause flag could not be read; no election step until it is)"
	case st.Paused:
		paused = fmt.Sprintf("true (generation %d)", st.PauseGeneration)
	}
	fmt.Fprintf(w, "election:      in=%v holds-lock=%v paused=%s\n", st.InElection, st.HoldsLock, paused)
	if st.LastError != "" {
		fmt.Fprintf(w, "last error:    %s\n", st.LastError)
	}
	if len(st.Transitions) > 0 {
		fmt.Fprintln(w, "transitions:")
		for _, t := range st.Transitions {
			tok := ""
			if t.Token != 0 {
				tok = fmt.Sprintf(" token=%d", t.Token)
			}
			fmt.Fprintf(w, "  %s  %s -> %s%s  %s\n", t.At.Format(time.RFC3339Nano), t.From, t.To, tok, t.Reason)
		}
	}
}

const failoverUsage = `zkfc failover: make a named node active, gracefully.

The request goes to the zkfc of the target node (through any zkfc of the
cluster). The current active demotes its service and stays out of the
election for failover.cede_period; the target, which must be healthy,
connected and without the no-failover tag, then wins the lock. No fencing
is needed because the old active removed its own breadcrumb.

With --at TIME (RFC 3339) the switchover is scheduled instead: stored in
the quorum, shown by 'zkfc status', and run by the active at that time as
the same graceful failover. It is refused while paused, when the target
is unknown, unhealthy or not eligible, or when one is already scheduled.
If the active changes before the time, it is cancelled, not run.
--cancel removes the scheduled switchover.

Example:
  zkfc failover --to nn2
  zkfc failover --to nn2 --url http://10.0.0.1:8019 --timeout 60s
  zkfc failover --to nn2 --at 2026-12-03T02:00:00Z
  zkfc failover --cancel
`

func cmdFailover(args []string) int {
	fs := newFlagSet("failover", failoverUsage)
	cf := addConfigFlags(fs)
	url := addAPIFlags(fs, cf, "control API of any zkfc of the cluster")
	to := fs.String("to", "", "node id to make active (required)")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the target to become active")
	at := fs.String("at", "", "schedule the switchover for this time (RFC 3339) instead of now")
	cancelIt := fs.Bool("cancel", false, "cancel the scheduled switchover")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if *cancelIt || fs.Changed("at") {
		return scheduledFailover(*url, cf, *to, *at, *cancelIt)
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
		return apiFail("failover to "+*to, err, base)
	}
	fmt.Printf("%s is active (fencing token %d)\n", st.NodeID, st.FencingToken)
	return 0
}

const pauseUsage = `zkfc pause | resume: stop or restart automatic failover, cluster-wide.

While paused (a znode <parent>/<cluster>/Paused exists) no zkfc joins or
leaves the election: the active stays active even if its health check
fails, and standbys do not take over. Self-fencing on loss of the quorum
still happens: pausing never trades safety. Use it for maintenance.

The command sets the flag through one zkfc, then waits (at most --timeout)
until every zkfc registered in the cluster reports that its controller
has applied it, printing each as it does. From that report on, no health
change makes that node quit or promote. If a node does not report in time
the command names it and exits 1: the flag is set all the same, and the
node applies it as soon as it can read it, before any election step.

Exit codes: 0 every registered zkfc applied the change, 1 otherwise.

Example:
  zkfc pause  --config /etc/zkfc/zkfc.yaml
  zkfc resume --url http://10.0.0.1:8019 --token-file /etc/zkfc/control.token
`

func cmdPause(args []string, on bool) int {
	name := map[bool]string{true: "pause", false: "resume"}[on]
	fs := newFlagSet(name, pauseUsage)
	cf := addConfigFlags(fs)
	url := addAPIFlags(fs, cf, "control API of any zkfc of the cluster")
	timeout := fs.Duration("timeout", 15*time.Second, "how long to wait for every zkfc to apply the change")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if *timeout <= 0 {
		return fail("%s: --timeout must be positive", name)
	}
	client, base, err := cliClient(*url, cf)
	if err != nil {
		return fail("%v", err)
	}
	ctx, cancel := cliContext(*timeout + 5*time.Second)
	defer cancel()
	want, err := client.SetPaused(ctx, base, on)
	if err != nil {
		return apiFail(name, err, base)
	}
	res := awaitPause(ctx, client, base, want, *timeout, os.Stdout)
	return res.report(name, os.Stdout)
}
