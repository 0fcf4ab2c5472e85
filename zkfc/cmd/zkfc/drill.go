package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/fencing"
	"github.com/zkfc-project/zkfc/zkfc/control"
	"github.com/zkfc-project/zkfc/zkfc/controller"
	"github.com/zkfc-project/zkfc/zkfc/elector"
)

func init() {
	register("drill", "run a controlled failover and report each step with its timing", cmdDrill)
}

const drillUsage = `zkfc drill: a fencing drill against a running cluster.

Triggers a controlled failover, follows it through the control API of every
node, and prints each step with its time since the trigger:

  trigger    what the drill did
  unhealthy  the old active's zkfc saw its service's health check fail
  demoted    the old active left the election and demoted its service
  lock       a new node acquired the election lock
  fenced     the new node fenced the old active (required, except after
             a graceful handover: the old active removes its breadcrumb)
  promoted   the new node's service is active, with a higher fencing token

It exits 0 only if every step happened within --timeout, the old active
ended standby (or, unreachable, was fenced) and the new token is higher.

Modes:
  --mode graceful --to NODE   graceful failover to NODE ('zkfc failover')
  --mode fail-health          the active's zkfc treats its service as
                              unhealthy (the service itself is untouched),
                              so the new active must fence the old one; the
                              override ends when the drill does
  --mode exec --exec CMD      run CMD (through /bin/sh, with a deadline) as
                              the fault, e.g. "ssh nn1 pkill -9 myservice"

--dry-run changes nothing: it checks that every configured fencing method
(fencing.methods of --config) can reach every node, as 'zkfc fence-test'
does for one.

Nodes are the registered members (GET /members of --url or of the
config's control.listen). Step times come from the nodes' own clocks when
they fall between the trigger and the moment the drill saw the step (one
machine, or synchronised clocks); otherwise from when the drill saw it,
to within --poll.

Examples:
  zkfc drill --config /etc/zkfc/zkfc.yaml --dry-run
  zkfc drill --url http://10.0.0.1:8019 --token-file /etc/zkfc/control.token --mode graceful --to nn2
  zkfc drill --url http://10.0.0.1:8019 --mode fail-health --timeout 60s
  zkfc drill --url http://127.0.0.1:8019 --mode exec --exec 'kill -9 4242'
`

func cmdDrill(args []string) int {
	fs := newFlagSet("drill", drillUsage)
	cf := addConfigFlags(fs)
	url := addAPIFlags(fs, cf, "control API of any zkfc of the cluster")
	mode := fs.String("mode", "", "graceful, fail-health or exec")
	to := fs.String("to", "", "graceful mode: the node to make active")
	execCmd := fs.String("exec", "", "exec mode: the fault, a /bin/sh command line")
	expectFence := fs.Bool("expect-fence", true, "exec mode: require the new active to fence the old one (set false for a fault after which the old active quits gracefully, e.g. SIGTERM to its zkfc)")
	dryRun := fs.Bool("dry-run", false, "only check every node's fencing methods; change nothing")
	timeout := fs.Duration("timeout", 60*time.Second, "how long the whole takeover may take")
	poll := fs.Duration("poll", 50*time.Millisecond, "how often every node's status is read")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if *timeout <= 0 || *poll <= 0 {
		return fail("drill: --timeout and --poll must be positive")
	}
	if *dryRun {
		return drillDryRun(cf, *url)
	}
	// The token and client certificate come from the config when its file
	// exists, even with --url.
	client, base, err := cliClient(*url, cf)
	if err != nil {
		return fail("%v", err)
	}
	d := &drill{client: client, base: base, mode: *mode, to: *to, exec: *execCmd,
		timeout: *timeout, poll: *poll, out: os.Stdout,
		// A graceful handover removes the breadcrumb: nobody fences.
		expectFence: *mode == "fail-health" || (*mode == "exec" && *expectFence)}
	if err := d.validate(); err != nil {
		return fail("drill: %v", err)
	}
	ctx, cancel := cliContext(*timeout + 30*time.Second)
	defer cancel()
	if err := d.run(ctx); err != nil {
		fmt.Fprintf(os.Stdout, "FAIL: %v\n", err)
		return 1
	}
	return 0
}

// drill is one controlled failover, watched from outside.
type drill struct {
	client  *control.Client
	base    string
	mode    string
	to      string
	exec    string
	timeout time.Duration
	poll    time.Duration
	out     io.Writer
	// expectFence: the takeover must include fencing the old active.
	expectFence bool

	nodes  []elector.Info               // with control URLs, sorted by id
	before map[string]controller.Status // every node's status before the trigger
	t0     time.Time                    // the trigger
	steps  []drillStep                  // printed in time order by flush
}

type drillStep struct {
	at   time.Time
	name string
	text string
}

func (d *drill) validate() error {
	switch d.mode {
	case "graceful":
		if d.to == "" {
			return errors.New("--mode graceful needs --to NODE")
		}
	case "fail-health":
	case "exec":
		if strings.TrimSpace(d.exec) == "" {
			return errors.New("--mode exec needs --exec 'COMMAND'")
		}
	case "":
		return errors.New("--mode is required: graceful, fail-health or exec (or --dry-run)")
	default:
		return fmt.Errorf("--mode %q: want graceful, fail-health or exec", d.mode)
	}
	return nil
}

func (d *drill) printf(format string, args ...any) { fmt.Fprintf(d.out, format, args...) }

// step records one step; at is its time, reported or observed. Steps are
// seen in polling order, not in the order they happened (the old active
// records its demotion only after releasing the lock), so flush prints
// them sorted.
func (d *drill) step(at time.Time, name, text string) {
	d.steps = append(d.steps, drillStep{at, name, text})
}

func (d *drill) flush() {
	sort.SliceStable(d.steps, func(i, j int) bool { return d.steps[i].at.Before(d.steps[j].at) })
	for _, s := range d.steps {
		d.printf("  %+8.3fs  %-10s %s\n", s.at.Sub(d.t0).Seconds(), s.name, s.text)
	}
	d.steps = nil
}

// placed picks the time of a step: the node's own timestamp when it lies
// between the trigger and the moment the drill saw the step, else the
// moment seen (the node's clock disagrees with ours).
func placed(t0, reported, seen time.Time) time.Time {
	if !reported.IsZero() && !reported.Before(t0) && !reported.After(seen) {
		return reported
	}
	return seen
}

func (d *drill) status(ctx context.Context, n elector.Info) (controller.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return d.client.Status(ctx, n.ControlURL)
}

// discover lists the nodes from the members registry of base.
func (d *drill) discover(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ms, err := d.client.Members(cctx, d.base)
	if err != nil {
		return fmt.Errorf("list the members through %s: %w", d.base, err)
	}
	for _, m := range ms {
		if m.ControlURL != "" {
			d.nodes = append(d.nodes, m)
		}
	}
	if len(d.nodes) < 2 {
		return fmt.Errorf("%d node(s) with a control API registered through %s; a failover needs two", len(d.nodes), d.base)
	}
	sort.Slice(d.nodes, func(i, j int) bool { return d.nodes[i].NodeID < d.nodes[j].NodeID })
	return nil
}

func (d *drill) node(id string) (elector.Info, bool) {
	for _, n := range d.nodes {
		if n.NodeID == id {
			return n, true
		}
	}
	return elector.Info{}, false
}

// run performs the drill; the error names the step that failed.
func (d *drill) run(ctx context.Context) error {
	if err := d.discover(ctx); err != nil {
		return err
	}
	// Before: exactly one active.
	var old elector.Info
	var oldSt controller.Status
	var parts []string
	d.before = map[string]controller.Status{}
	for _, n := range d.nodes {
		st, err := d.status(ctx, n)
		if err != nil {
			return fmt.Errorf("before the drill: %s does not answer: %w", n.NodeID, err)
		}
		d.before[n.NodeID] = st
		parts = append(parts, fmt.Sprintf("%s %s (token %d)", n.NodeID, st.Role, st.FencingToken))
		if st.Role == controller.Active.String() {
			if old.NodeID != "" {
				return fmt.Errorf("before the drill: two nodes report active (%s, %s)", old.NodeID, n.NodeID)
			}
			old, oldSt = n, st
		}
	}
	d.printf("zkfc drill: mode %s, %d nodes\n  before: %s\n", d.mode, len(d.nodes), strings.Join(parts, ", "))
	if old.NodeID == "" {
		return errors.New("before the drill: no node is active; nothing to fail over")
	}
	if d.mode == "graceful" {
		if _, ok := d.node(d.to); !ok {
			return fmt.Errorf("--to %s is not a registered member (members: %s)", d.to, d.ids())
		}
		if d.to == old.NodeID {
			return fmt.Errorf("--to %s is already active", d.to)
		}
	}

	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	triggerErr, err := d.trigger(ctx, old)
	if err != nil {
		return fmt.Errorf("trigger: %w", err)
	}
	d.printf("  waiting for the takeover (up to %s)...\n", d.timeout)
	if d.mode == "fail-health" {
		defer d.endFailHealth(old)
	}
	return d.follow(ctx, old, oldSt, triggerErr)
}

func (d *drill) ids() string {
	var s []string
	for _, n := range d.nodes {
		s = append(s, n.NodeID)
	}
	return strings.Join(s, ", ")
}

// trigger starts the failover. A graceful failover runs in the
// background (the call returns once the target is active): its error
// arrives on the returned channel.
func (d *drill) trigger(ctx context.Context, old elector.Info) (<-chan error, error) {
	errc := make(chan error, 1)
	d.t0 = time.Now()
	switch d.mode {
	case "graceful":
		target, _ := d.node(d.to)
		go func() {
			_, err := d.client.Failover(ctx, target.ControlURL, d.to, d.timeout)
			errc <- err
		}()
		d.step(d.t0, "trigger", fmt.Sprintf("graceful failover %s -> %s requested", old.NodeID, d.to))
	case "fail-health":
		if err := d.client.FailHealth(ctx, old.ControlURL, d.timeout+10*time.Second); err != nil {
			return nil, err
		}
		d.step(d.t0, "trigger", fmt.Sprintf("%s's zkfc now treats its service as unhealthy", old.NodeID))
	case "exec":
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(cctx, "/bin/sh", "-c", d.exec)
		cmd.WaitDelay = 2 * time.Second
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("%s: %w; output: %s", d.exec, err, strings.TrimSpace(string(out)))
		}
		d.step(d.t0, "trigger", "ran: "+d.exec)
	}
	return errc, nil
}

func (d *drill) endFailHealth(old elector.Info) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.client.FailHealth(ctx, old.ControlURL, 0); err != nil {
		d.printf("  warning: could not end the health override on %s (it ends by itself): %v\n", old.NodeID, err)
		return
	}
	d.printf("  cleanup: %s's health override ended; it rejoins as a standby candidate\n", old.NodeID)
}

// newFence returns n's last fence if it targets old and happened after
// the drill started (it differs from the one before: no clock involved).
func (d *drill) newFence(n string, st controller.Status, old string) *controller.FenceRecord {
	f := st.LastFence
	if f == nil || f.Target != old {
		return nil
	}
	if b := d.before[n].LastFence; b != nil && b.At.Equal(f.At) {
		return nil
	}
	return f
}

// follow polls every node until the takeover is complete or fails. Any
// node other than the old active may take the lock (one may fail to
// promote and release it); the first one seen active is the new active.
func (d *drill) follow(ctx context.Context, old elector.Info, oldSt controller.Status, triggerErr <-chan error) error {
	var (
		unhealthy, demoted, locked, fenced bool
		promoted                           bool
		oldDown                            string // why we know the old active is down
		newID                              string
		newSt                              controller.Status
		lastFenceErr                       string
		oldUnreachable                     error
		lockSeen                           = map[string]bool{}
	)
	tick := time.NewTicker(d.poll)
	defer tick.Stop()
	for {
		seen := time.Now()
		st, err := d.status(ctx, old)
		oldUnreachable = err
		if err == nil && !unhealthy && !st.Healthy && !st.HealthSince.Equal(d.before[old.NodeID].HealthSince) {
			unhealthy = true
			d.step(placed(d.t0, st.HealthSince, seen), "unhealthy", fmt.Sprintf("%s's zkfc found its service %s", old.NodeID, st.Health))
		}
		if err == nil && !demoted && st.Role != controller.Active.String() {
			demoted = true
			at, reason := seen, "role "+st.Role
			for i := len(st.Transitions) - 1; i >= 0; i-- {
				if tr := st.Transitions[i]; tr.From == controller.Active.String() {
					at, reason = placed(d.t0, tr.At, seen), tr.Reason
					break
				}
			}
			oldDown = "demoted"
			d.step(at, "demoted", fmt.Sprintf("%s left the election and is %s (%s)", old.NodeID, st.Role, reason))
		}
		for _, n := range d.nodes {
			if n.NodeID == old.NodeID || (promoted && n.NodeID != newID) {
				continue
			}
			st, err := d.status(ctx, n)
			if err != nil {
				continue
			}
			if n.NodeID == newID || (!promoted && st.HoldsLock) {
				// The new active, or until there is one the lock holder:
				// what a timeout reports on.
				newID, newSt = n.NodeID, st
			}
			if !lockSeen[n.NodeID] && (st.HoldsLock || st.Role == controller.Active.String()) {
				lockSeen[n.NodeID], locked = true, true
				d.step(placed(d.t0, st.LockSince, seen), "lock", n.NodeID+" acquired the election lock")
			}
			if f := d.newFence(n.NodeID, st, old.NodeID); f != nil && !fenced {
				if f.Error == "" {
					fenced = true
					d.step(placed(d.t0, f.At.Add(time.Duration(f.TookMs)*time.Millisecond), seen), "fenced",
						fmt.Sprintf("%s fenced %s (its token %d) in %dms", n.NodeID, old.NodeID, f.TargetToken, f.TookMs))
				} else if f.Error != lastFenceErr {
					lastFenceErr = f.Error
					d.step(placed(d.t0, f.At, seen), "fence!", fmt.Sprintf("%s could not fence %s: %s", n.NodeID, old.NodeID, f.Error))
				}
			}
			if !promoted && st.Role == controller.Active.String() {
				promoted, newID, newSt = true, n.NodeID, st
				at := seen
				for i := len(st.Transitions) - 1; i >= 0; i-- {
					if tr := st.Transitions[i]; tr.To == controller.Active.String() {
						at = placed(d.t0, tr.At, seen)
						break
					}
				}
				d.step(at, "promoted", fmt.Sprintf("%s is active with fencing token %d (was %d)", n.NodeID, st.FencingToken, oldSt.FencingToken))
			}
		}
		if fenced && oldDown == "" {
			oldDown = "fenced"
		}
		if promoted && d.expectFence && !fenced {
			// The controller fences before it promotes, and the status
			// that shows the promotion shows the last fence: none will come.
			d.flush()
			return fmt.Errorf("fenced: %s was promoted without fencing %s first", newID, old.NodeID)
		}
		if promoted && (oldDown != "" || fenced) && (fenced || !d.expectFence) {
			d.flush()
			return d.verdict(old, oldSt, newID, newSt, demoted, fenced, oldUnreachable)
		}
		select {
		case err := <-triggerErr:
			if err != nil {
				d.flush()
				return fmt.Errorf("trigger: %w", err)
			}
		case <-ctx.Done():
			d.flush()
			return d.timedOut(old, newID, demoted, locked, fenced, promoted, lastFenceErr, newSt, oldUnreachable)
		case <-tick.C:
		}
	}
}

// verdict checks the end state once every step was seen.
func (d *drill) verdict(old elector.Info, oldSt controller.Status, newID string, newSt controller.Status, demoted, fenced bool, oldErr error) error {
	if d.mode == "graceful" && newID != d.to {
		return fmt.Errorf("promoted: %s became active, not the requested %s", newID, d.to)
	}
	if newSt.FencingToken <= oldSt.FencingToken {
		return fmt.Errorf("promoted: %s's fencing token %d is not higher than the old active's %d", newID, newSt.FencingToken, oldSt.FencingToken)
	}
	switch {
	case demoted && fenced:
		d.printf("  after:  %s active (token %d); %s demoted and fenced\n", newID, newSt.FencingToken, old.NodeID)
	case demoted:
		d.printf("  after:  %s active (token %d); %s demoted (no fencing needed: it handed over gracefully)\n", newID, newSt.FencingToken, old.NodeID)
	default:
		d.printf("  after:  %s active (token %d); %s unreachable (%v) but fenced\n", newID, newSt.FencingToken, old.NodeID, oldErr)
	}
	d.printf("PASS: %s took over from %s in %.3fs\n", newID, old.NodeID, time.Since(d.t0).Seconds())
	return nil
}

func (d *drill) timedOut(old elector.Info, newID string, demoted, locked, fenced, promoted bool, fenceErr string, newSt controller.Status, oldErr error) error {
	who := newID
	if who == "" {
		who = "no node"
	}
	switch {
	case !demoted && oldErr != nil && !fenced:
		return fmt.Errorf("demoted: %s does not answer (%v) and nobody fenced it within %s", old.NodeID, oldErr, d.timeout)
	case !demoted && oldErr == nil:
		return fmt.Errorf("demoted: %s is still active after %s", old.NodeID, d.timeout)
	case !locked:
		return fmt.Errorf("lock: %s acquired the election lock within %s (a candidate must be healthy, connected and without no_failover)", who, d.timeout)
	case d.expectFence && !fenced:
		reason := "no fencing seen"
		if fenceErr != "" {
			reason = "last attempt: " + fenceErr
		}
		return fmt.Errorf("fenced: %s did not fence %s within %s (%s)", who, old.NodeID, d.timeout, reason)
	case !promoted:
		return fmt.Errorf("promoted: %s did not become active within %s (last error: %s)", who, d.timeout, newSt.LastError)
	}
	return fmt.Errorf("the takeover did not complete within %s", d.timeout)
}

// drillDryRun checks every fencing method against every node.
func drillDryRun(cf *configFlags, flagURL string) int {
	cfg, sec, err := loadWithSecrets(cf)
	if err != nil {
		return fail("drill --dry-run needs the fencing methods of a config: %v", err)
	}
	lg, err := newLogger(cfg.Log)
	if err != nil {
		return fail("%v", err)
	}
	lg = lg.WithOptions(zap.IncreaseLevel(zap.WarnLevel))
	client, err := controlClient(cfg, sec)
	if err == nil {
		err = cf.useTokenFile(client)
	}
	if err != nil {
		return fail("%v", err)
	}
	base := cfg.AdvertisedControlURL()
	if flagURL != "" {
		base = flagURL
	}
	d := &drill{client: client, base: base}
	ctx, cancel := cliContext(2 * time.Minute)
	defer cancel()
	if err := d.discover(ctx); err != nil {
		return fail("drill --dry-run: %v", err)
	}
	f, err := fencing.New(cfg.FenceMethods(), client, lg)
	if err != nil {
		return fail("config %s: %v", cfg.Source, err)
	}
	fmt.Printf("zkfc drill --dry-run: fencing methods of %s against %d nodes (nothing is fenced)\n", cfg.Source, len(d.nodes))
	failed := 0
	for _, n := range d.nodes {
		rep := f.Check(ctx, target(n))
		for _, a := range rep.Attempts {
			res := "ok"
			if a.Err != nil {
				res = "FAIL: " + a.Err.Error()
				failed++
			}
			fmt.Printf("  %-10s [%d] %-8s %8s  %s\n", n.NodeID, a.Index, a.Method, a.Duration.Round(time.Millisecond), res)
		}
	}
	if failed > 0 {
		fmt.Printf("FAIL: %d fencing check(s) failed\n", failed)
		return 1
	}
	fmt.Println("PASS: every fencing method can reach every node")
	return 0
}
