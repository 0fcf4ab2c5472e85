package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkfc-project/zkfc/integration/drill"
	"github.com/zkfc-project/zkfc/integration/harness"
	"github.com/zkfc-project/zkfc/integration/loadgen"
	"github.com/zkfc-project/zkfc/integration/zkenv"
	"github.com/zkfc-project/zkfc/integration/zkfcenv"
)

// Knobs, from the environment so `make bench` stays one command:
//
//	BENCH_DURATION  measured time per workload (default 5s)
//	BENCH_RUNS      repetitions of the outage and failover drills (default 5)
//	BENCH_ONLY      comma list of parts to run: compare, outage, failover, haproxy, postgres, quorum-outage, restarts (default all)
//	BENCH_PG_FAULTS regexp of the PostgreSQL faults to run (default all)
//	BENCH_DRILLS    go test -run pattern of the drills to time (default: every failure drill)
//	BENCH_OUT       report directory (default docs/bench in the repository)
func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil && d > 0 {
		return d
	}
	return def
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func want(part string) bool {
	only := os.Getenv("BENCH_ONLY")
	if only == "" {
		return true
	}
	for _, p := range strings.Split(only, ",") {
		if strings.TrimSpace(p) == part {
			return true
		}
	}
	return false
}

var benchStart = time.Now()

// progress goes to stderr, outside go test's buffering, with the time
// since the bench began so a watcher can tell slow from stuck.
func progress(format string, args ...any) {
	el := time.Since(benchStart).Round(time.Second)
	fmt.Fprintf(os.Stderr, "bench [%6s] "+format+"\n", append([]any{el}, args...)...)
}

// BenchmarkReport runs every measurement once and writes the report with
// its plots. A part that fails is named in the report and fails the
// benchmark, but the other parts are still written.
func BenchmarkReport(b *testing.B) {
	if os.Getenv("ZKFC_BIN") == "" {
		b.Fatal("ZKFC_BIN unset: run `make bench`")
	}
	benchStart = time.Now()
	runs := envInt("BENCH_RUNS", 5)
	r := &Report{
		Machine: machine(),
		Client: Client{Sessions: 8, InFlight: 4, ValueSize: 100, Duration: envDuration("BENCH_DURATION", 5*time.Second), Runs: runs,
			Rounds: envInt("BENCH_ROUNDS", 3)},
		Outages: map[string][]time.Duration{},
	}
	progress("load average at start %s; %s per workload, %d runs of each drill", r.Machine.LoadAvg, r.Client.Duration, runs)
	if err := preflight(); err != nil {
		b.Fatal(err)
	}
	// A measurement is tried up to three times: an ensemble that fails to
	// start (a port taken between choosing and binding it, a JVM that dies
	// on a busy machine) should not cost the whole report. A part that
	// fails every try fails the benchmark, and the report names it.
	part := func(name string, tries int, fn func(tb testing.TB)) {
		for try := 1; ; try++ {
			err := attempt(b, fn)
			if err == nil {
				return
			}
			progress("%s: try %d of %d failed: %v", name, try, tries, err)
			if try == tries {
				b.Errorf("%s: %v", name, err)
				r.Missing = append(r.Missing, fmt.Sprintf("%s failed (%s)", name, firstLine(err.Error())))
				return
			}
		}
	}
	if want("compare") {
		// Rounds alternate which server goes first, and each figure is the
		// median over the rounds: a load spike or a cold cache then cannot
		// decide a ratio on its own.
		var all []Ensemble
		for round := 1; round <= r.Client.Rounds; round++ {
			order := []harness.Backend{harness.Apache, harness.Ours}
			if round%2 == 0 {
				order[0], order[1] = order[1], order[0]
			}
			progress("comparison round %d of %d: %s first", round, r.Client.Rounds, serverName(order[0]))
			for _, members := range []int{1, 3} {
				for _, backend := range order {
					part(fmt.Sprintf("compare/%s/%d/round %d", backend, members, round), 3, func(b testing.TB) {
						all = append(all, measure(b, r.Client, backend, members))
					})
				}
			}
		}
		r.Ensembles = medians(all)
		// Memory holding the same data set, standalone, once per server.
		r.MemoryZnodes = int64(envInt("BENCH_MEMORY_ZNODES", 100000))
		r.Memory = map[string]int64{}
		for _, backend := range []harness.Backend{harness.Apache, harness.Ours} {
			part(fmt.Sprintf("memory/%s", backend), 3, func(b testing.TB) {
				r.Memory[serverName(backend)] = memoryAt(b, r.Client, backend, r.MemoryZnodes)
			})
		}
	}
	if want("outage") {
		for i := 1; i <= runs; i++ {
			for _, backend := range []harness.Backend{harness.Apache, harness.Ours} {
				part(fmt.Sprintf("outage/%s/%d", backend, i), 3, func(b testing.TB) {
					d := writeOutage(b, backend)
					progress("%s run %d/%d: write outage after kill -9 of the leader %.0f ms", serverName(backend), i, runs, ms(d))
					r.Outages[serverName(backend)] = append(r.Outages[serverName(backend)], d)
				})
			}
		}
	}
	if want("failover") {
		// Once: the drills take minutes, and a failing drill is a finding
		// to report, not noise to retry.
		var skipped []string
		part("failover", 1, func(b testing.TB) { r.Failover, skipped = failover(b, runs) })
		// A skipped drill leaves a hole in the timeline: name it and fail,
		// as for a part that failed.
		for _, s := range skipped {
			b.Errorf("drill skipped: %s", s)
			r.Missing = append(r.Missing, "drill skipped: "+s)
		}
	}
	if want("haproxy") {
		part("haproxy", 1, func(b testing.TB) { r.LBOutages = haproxyOutage(b, runs) })
	}
	if want("postgres") {
		r.Postgres = postgresBench(b, runs, part)
	}
	if want("quorum-outage") {
		part("quorum-outage", 1, func(b testing.TB) { r.QuorumOutages = quorumOutages(b) })
	}
	if want("restarts") {
		part("restarts", 1, func(b testing.TB) {
			var err error
			if r.Restarts, err = rollingRestarts(b, runs); err != nil {
				b.Errorf("%v", err)
			}
		})
	}
	r.Machine.Elapsed = time.Since(benchStart)
	out := os.Getenv("BENCH_OUT")
	if out == "" {
		out = filepath.Join(harness.RepoRoot(), "docs", "bench")
	}
	path, err := r.Write(out)
	if err != nil {
		b.Fatal(err)
	}
	progress("report written to %s (%s in all)", path, r.Machine.Elapsed.Round(time.Second))
}

// attemptTB is the testing.TB an attempt runs with: failures are
// recorded instead of failing the benchmark, Fatal/Skip end only the
// attempt's goroutine, and cleanups run when the attempt ends, so a failed
// ensemble's survivors do not run on beside the next measurement. Logs
// and temporary directories come from the benchmark.
type attemptTB struct {
	testing.TB
	mu       sync.Mutex
	errs     []string
	failed   bool
	cleanups []func()
}

func (a *attemptTB) Cleanup(f func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cleanups = append(a.cleanups, f)
}

func (a *attemptTB) runCleanups() {
	for {
		a.mu.Lock()
		n := len(a.cleanups)
		if n == 0 {
			a.mu.Unlock()
			return
		}
		f := a.cleanups[n-1]
		a.cleanups = a.cleanups[:n-1]
		a.mu.Unlock()
		f()
	}
}

func (a *attemptTB) record(msg string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failed = true
	a.errs = append(a.errs, msg)
}

func (a *attemptTB) Error(args ...any)                 { a.record(fmt.Sprint(args...)) }
func (a *attemptTB) Errorf(format string, args ...any) { a.record(fmt.Sprintf(format, args...)) }
func (a *attemptTB) Fail()                             { a.record("failed") }
func (a *attemptTB) FailNow()                          { a.record("failed"); runtime.Goexit() }
func (a *attemptTB) Fatal(args ...any)                 { a.Error(args...); runtime.Goexit() }
func (a *attemptTB) Fatalf(format string, args ...any) { a.Errorf(format, args...); runtime.Goexit() }
func (a *attemptTB) Skip(args ...any)                  { a.Error(args...); runtime.Goexit() }
func (a *attemptTB) Skipf(format string, args ...any)  { a.Errorf(format, args...); runtime.Goexit() }
func (a *attemptTB) SkipNow()                          { a.record("skipped"); runtime.Goexit() }
func (a *attemptTB) Failed() bool                      { a.mu.Lock(); defer a.mu.Unlock(); return a.failed }
func (a *attemptTB) Helper()                           {}

// attempt runs fn in its own goroutine (Fatal ends it with Goexit) and
// returns what it failed with.
func attempt(b *testing.B, fn func(tb testing.TB)) error {
	a := &attemptTB{TB: b}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(a)
	}()
	<-done
	// Cleanups run here, outside the attempt's goroutine; one that fails
	// (Fatal) must not leave the rest undone.
	for {
		finished := make(chan struct{})
		go func() { defer close(finished); a.runCleanups() }()
		<-finished
		a.mu.Lock()
		left := len(a.cleanups)
		a.mu.Unlock()
		if left == 0 {
			break
		}
	}
	if a.Failed() {
		return errors.New(strings.Join(a.errs, "; "))
	}
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func serverName(b harness.Backend) string {
	if b == harness.Apache {
		return Apache
	}
	return Ours
}

func machine() Machine {
	m := Machine{Cores: runtime.NumCPU(), Started: time.Now()}
	m.Host, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				m.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				m.MemMB = kb / 1024
			}
		}
	}
	return m
}

// benchOptions cap both servers' heaps alike at 512 MB (the JVM's maximum
// heap, our server's soft memory limit) and leave the JVM its default
// collector, as a production Apache ZooKeeper runs.
var benchOptions = harness.Options{JavaOpts: []string{"-Xmx512m"}}

// measure starts an ensemble, times it to serving, runs every workload
// against it and reads its members' memory.
func measure(b testing.TB, client Client, backend harness.Backend, members int) Ensemble {
	e := Ensemble{Server: serverName(backend), Members: members, Setup: Setups[0], Results: map[loadgen.Op]loadgen.Result{}}
	if members > 1 {
		e.Setup = fmt.Sprintf("%d members", members)
	}
	progress("%s %s: starting", e.Server, e.Setup)
	t0 := time.Now()
	c := harness.StartEnsemble(b, backend, members, benchOptions)
	e.Start = time.Since(t0)
	progress("%s %s: serving after %.2f s", e.Server, e.Setup, e.Start.Seconds())
	defer c.Kill()
	for _, op := range Workloads {
		ctx, cancel := context.WithTimeout(context.Background(), client.Duration+2*time.Minute)
		res, err := loadgen.Run(ctx, loadgen.Config{Addrs: c.Addrs(), Duration: client.Duration,
			Sessions: client.Sessions, InFlight: client.InFlight, ValueSize: client.ValueSize}, op)
		cancel()
		if err != nil {
			b.Fatalf("%s %s %s: %v", e.Server, e.Setup, op, err)
		}
		progress("%s %s: %v", e.Server, e.Setup, res)
		e.Results[op] = res
	}
	for _, m := range c.Members {
		rss, _ := m.RSS() // 0 when unknown
		e.RSSTotal += rss
		if rss > e.RSSMax {
			e.RSSMax = rss
		}
	}
	return e
}

// memoryAt starts a fresh standalone server, creates exactly n znodes of
// the client's value size through the same client, and reads its VmRSS.
func memoryAt(b testing.TB, client Client, backend harness.Backend, n int64) int64 {
	c := harness.StartEnsemble(b, backend, 1, benchOptions)
	defer c.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := loadgen.Run(ctx, loadgen.Config{Addrs: c.Addrs(), Duration: 4 * time.Minute,
		Sessions: client.Sessions, InFlight: client.InFlight, ValueSize: client.ValueSize, Ops: n}, loadgen.Create)
	if err != nil {
		b.Fatalf("%s: %d creates: %v", serverName(backend), n, err)
	}
	if res.Errors > 0 || res.Ops < n {
		b.Fatalf("%s: %d of %d creates done, %d errors", serverName(backend), res.Ops, n, res.Errors)
	}
	rss, _ := c.Members[0].RSS() // 0 when unknown
	progress("%s standalone holding %d znodes: RSS %.0f MB", serverName(backend), n, float64(rss)/(1<<20))
	return rss
}

// writeOutage kills the leader of a fresh 3-member ensemble while a client
// on a follower writes in a loop, and returns the longest gap between two
// acknowledged writes (or from the last one to the end, if writes never
// came back).
func writeOutage(b testing.TB, backend harness.Backend) time.Duration {
	c := harness.StartEnsemble(b, backend, 3, benchOptions)
	defer c.Kill()
	l, err := c.WaitLeader(30 * time.Second)
	if err != nil {
		b.Fatal(err)
	}
	f := (l + 1) % 3
	conn, ev, err := zkenv.DialZK(c.Members[f].Addr(), 20*time.Second)
	if err != nil {
		b.Fatalf("session on member %d: %v", f+1, err)
	}
	defer conn.Close()
	if _, err := conn.Create("/outage", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		b.Fatal(err)
	}
	// Drain the event channel so the client never blocks on it.
	go func() {
		for range ev {
		}
	}()
	var acks []time.Time
	killAt := time.Now().Add(time.Second)
	stop := killAt.Add(6 * time.Second)
	killed := false
	for time.Now().Before(stop) {
		if !killed && time.Now().After(killAt) {
			c.Members[l].Kill()
			killed = true
		}
		if _, err := conn.Set("/outage", []byte("x"), -1); err == nil {
			acks = append(acks, time.Now())
		} else {
			time.Sleep(time.Millisecond)
		}
	}
	// The loop ends at the first answer after stop; a write that hung
	// past stop is an outage too, up to that answer (an earlier version
	// counted only gaps between acknowledgments and missed such hangs).
	end := time.Now()
	var worst time.Duration
	for i := 1; i < len(acks); i++ {
		if g := acks[i].Sub(acks[i-1]); g > worst {
			worst = g
		}
	}
	if len(acks) > 0 {
		worst = max(worst, end.Sub(acks[len(acks)-1]))
	}
	if len(acks) == 0 || acks[len(acks)-1].Before(killAt) {
		b.Logf("%s: no write acknowledged within %s of the kill", backend, end.Sub(killAt).Round(time.Millisecond))
	}
	return worst
}

// defaultDrills are the failure drills of integration/drills_test.go
// (TestDrillCommand, the `zkfc drill` CLI test, times nothing).
const defaultDrills = "^TestDrill(ServiceCrash|ServiceHang|KillActiveZKFC|KillQuorumLeaderMidFailover|PartitionActiveHost|FencingImpossible|HealthFlapping)$"

// failover times the drills of the integration suite (integration/
// drills_test.go), each repeated runs times, through the timings file they
// write. Without those drills it falls back to timing health failures
// itself, so the timeline always comes from real runs.
func failover(b testing.TB, runs int) (Failover, []string) {
	pattern := os.Getenv("BENCH_DRILLS")
	if pattern == "" {
		pattern = defaultDrills
	}
	names, err := listTests(pattern)
	if err != nil || len(names) == 0 {
		progress("no drills matching %s in ./integration (%v): timing health failures here instead", pattern, err)
		return healthFailover(b, runs), nil
	}
	progress("running %d drills x %d runs: %s", len(names), runs, strings.Join(names, ", "))
	out := filepath.Join(b.TempDir(), "drill-timings.json")
	skipped, runErr := goTest(b, 90*time.Minute, []string{"DRILL_TIMINGS=" + out},
		"-count="+strconv.Itoa(runs), "-run", pattern, "-v", "-timeout", "80m", "./integration")
	f, err := drill.Read(out)
	if err != nil {
		progress("the drills wrote no timings (%v; drill run: %v): timing health failures here instead", err, runErr)
		fo := healthFailover(b, runs)
		fo.Source = fmt.Sprintf("The integration drills (`%s`) failed without timings in this run, so: %s", pattern, fo.Source)
		if runErr == nil {
			runErr = errors.New("no drill wrote a timing")
		}
		b.Errorf("drill run failed: %v", runErr)
		return fo, skipped
	}
	if runErr != nil {
		b.Errorf("drill run failed: %v (the timings it wrote are still drawn)", runErr)
	}
	// -count repeats each test; number the runs of one drill in order.
	seen := map[string]int{}
	for i := range f.Runs {
		seen[f.Runs[i].Drill]++
		f.Runs[i].Run = seen[f.Runs[i].Drill]
	}
	which := "the failure drills of integration/drills_test.go"
	if pattern != defaultDrills {
		which = fmt.Sprintf("the drills matching `%s` in integration/", pattern)
	}
	fo := Failover{Source: fmt.Sprintf("From %s, %d runs each (DRILL_TIMINGS): the embedded 3-member quorum hosted by three zkfc, "+
		"two guarding a demo-service each and one witness, judged by an independent observer.", which, runs),
		Settings: *f}
	fo.Runs, fo.Settings.Runs = f.Runs, nil
	return fo, skipped
}

// listTests lists the tests of ./integration matching pattern.
func listTests(pattern string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-list", pattern, "./integration")
	cmd.Dir = harness.RepoRoot()
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go test -list %s: %w", pattern, err)
	}
	var names []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "Test") {
			names = append(names, strings.TrimSpace(l))
		}
	}
	return names, nil
}

var testLine = regexp.MustCompile(`^\s*(=== RUN|--- PASS|--- FAIL|--- SKIP)`)

// goTest runs `go test args...` in the repository under a deadline,
// relaying its test start and result lines as progress. It returns the
// tests that skipped, each with its reason.
func goTest(b testing.TB, limit time.Duration, env []string, args ...string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append([]string{"test"}, args...)...)
	cmd.Dir = harness.RepoRoot()
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// On the deadline, end the whole group: the test binary's children too.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	logPath := filepath.Join(b.TempDir(), "drills.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		pw.Close()
		pr.Close()
		return nil, err
	}
	pw.Close()
	var tail, skipped []string
	said := "" // the running test's last log line: a skip's reason
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		fmt.Fprintln(logf, l)
		if testLine.MatchString(l) {
			progress("  %s", strings.TrimSpace(l))
		}
		switch f := strings.Fields(l); {
		case len(f) >= 3 && f[0] == "---" && f[1] == "SKIP:":
			// go test -v prints t.Skip's message just before this line.
			skipped = append(skipped, f[2]+": "+said)
			progress("  %s skipped: %s", f[2], said)
		case strings.HasPrefix(l, "=== RUN"):
			said = ""
		case strings.HasPrefix(l, "    ") && len(f) > 0:
			said = strings.TrimSpace(l)
		}
		tail = append(tail, l)
		if len(tail) > 60 {
			tail = tail[1:]
		}
	}
	pr.Close()
	if err := cmd.Wait(); err != nil {
		b.Logf("go test %s: last lines:\n%s", strings.Join(args, " "), strings.Join(tail, "\n"))
		return skipped, fmt.Errorf("go test %s: %w", strings.Join(args, " "), err)
	}
	return skipped, nil
}

// healthFailover is the fallback timeline: Apache ZooKeeper, two zkfc
// guarding a demo-service each; the active service's health check is
// failed runs times, back and forth. Detection is the old active's zkfc
// leaving active (from its control API), fence the end of the old
// service's active interval, promote the start of the new one's (both
// from the services' roles file).
func healthFailover(b testing.TB, runs int) Failover {
	interval := 200 * time.Millisecond
	session := 4 * time.Second
	zkS := zkfcenv.StartApache(b, 500*time.Millisecond)
	roles := filepath.Join(b.TempDir(), "roles.jsonl")
	var demos [2]*zkfcenv.Demo
	var zkfcs [2]*zkfcenv.ZKFC
	for i, name := range []string{"nn1", "nn2"} {
		demos[i] = zkfcenv.StartDemo(b, name, roles)
		o := zkfcenv.ZKFCOptions{NodeID: name, Connect: zkS.Addr(), Demo: demos[i], SessionTimeout: session,
			Margin: 1500 * time.Millisecond, HealthInterval: interval}
		cfg, url := zkfcenv.WriteConfig(b, o)
		if i == 0 {
			zkfcenv.Format(b, cfg)
		}
		zkfcs[i] = zkfcenv.StartZKFCWithConfig(b, o, cfg, url)
		harness.WaitFor(b, 30*time.Second, name+" settled", func() bool {
			r := zkfcs[i].Role()
			return r == "active" || r == "standby"
		})
	}
	fo := Failover{Source: "Measured by the bench itself (the drills were not available): Apache ZooKeeper standalone, " +
		"two zkfc guarding a demo-service each, the active service's health check failed, back and forth.",
		Settings: drill.File{HealthInterval: interval, SessionTimeout: session, TickTime: 500 * time.Millisecond}}
	for run := 1; run <= runs; run++ {
		act := -1
		harness.WaitFor(b, 30*time.Second, "one active", func() bool {
			for i := range zkfcs {
				if zkfcs[i].Role() == "active" {
					act = i
					return true
				}
			}
			return false
		})
		stb := 1 - act
		harness.WaitFor(b, 30*time.Second, "standby in the election", func() bool {
			st, err := zkfcs[stb].Status()
			return err == nil && st.InElection && st.Role == "standby"
		})
		oldTok, _ := zkfcs[act].Status()
		fault := time.Now()
		demos[act].Fail(b)
		var newIv, oldIv zkfcenv.Interval
		harness.WaitFor(b, 60*time.Second, "failover", func() bool {
			ivs := zkfcenv.ReadIntervals(b, roles, time.Now())
			for _, iv := range ivs {
				if iv.Name == demos[act].Name && iv.Start.Before(fault) && iv.End != nil && iv.End.After(fault) {
					oldIv = iv
				}
			}
			last := ivs[len(ivs)-1]
			if last.Name == demos[stb].Name && last.Start.After(fault) {
				newIv = last
				return true
			}
			return false
		})
		t := drill.Timing{Drill: "health-failure", Run: run, Fault: fault, Promoted: true,
			OldActive: demos[act].Name, NewActive: demos[stb].Name, OldToken: oldTok.FencingToken, NewToken: newIv.Token,
			Promote: newIv.Start.Sub(fault), Total: newIv.Start.Sub(fault)}
		if st, err := zkfcs[act].Status(); err == nil {
			for _, tr := range st.Transitions {
				if tr.From == "active" && tr.At.After(fault) {
					t.Detect = tr.At.Sub(fault)
					break
				}
			}
		}
		if oldIv.End != nil {
			t.OldDemoted = oldIv.End.Sub(fault)
			t.Fence = t.OldDemoted
		}
		// Detection here ends when the old zkfc reports standby, which is
		// after its demote action ran: allow the action a second.
		t.Target = fmt.Sprintf("detected and demoted within 2 x %s + 1 s", interval)
		t.TargetHeld = t.Detect > 0 && t.Detect <= 2*interval+time.Second
		progress("failover run %d/%d: %s -> %s: detected %.0f ms, old demoted %.0f ms, new active %.0f ms",
			run, runs, t.OldActive, t.NewActive, ms(t.Detect), ms(t.Fence), ms(t.Promote))
		fo.Runs = append(fo.Runs, t)
		demos[act].Recover(b)
	}
	zkfcenv.CheckNoOverlap(b, zkfcenv.ReadIntervals(b, roles, time.Now()))
	return fo
}

// preflight refuses to start a bench that would come out incomplete for
// want of a package: the comparison needs Apache ZooKeeper and java, the
// partition drill root, iptables and ip netns.
func preflight() error {
	var miss []string
	if want("compare") || want("outage") {
		if _, err := os.Stat(harness.ZooKeeperJar); err != nil {
			miss = append(miss, "Apache ZooKeeper 3.8, the reference ("+harness.ZooKeeperJar+"): apt-get install -y zookeeper")
		}
		if _, err := exec.LookPath("java"); err != nil {
			miss = append(miss, "java: apt-get install -y default-jre-headless")
		}
	}
	if want("failover") && os.Getenv("BENCH_DRILLS") == "" {
		if os.Geteuid() != 0 {
			miss = append(miss, "root, for the partition drill's network namespaces (or set BENCH_DRILLS to leave it out)")
		}
		for _, tool := range []string{"iptables", "ip", "fuser", "curl"} {
			if _, err := exec.LookPath(tool); err != nil {
				miss = append(miss, tool+", for the drills: apt-get install -y iptables iproute2 psmisc curl")
			}
		}
	}
	if want("haproxy") {
		if _, err := exec.LookPath("haproxy"); err != nil {
			miss = append(miss, "haproxy, for the outage through a load balancer: apt-get install -y haproxy")
		}
	}
	if want("postgres") {
		if _, err := os.Stat("/usr/lib/postgresql/15/bin/postgres"); err != nil {
			miss = append(miss, "PostgreSQL 15: apt-get install -y postgresql-15")
		}
		if _, err := exec.LookPath("patroni"); err != nil {
			miss = append(miss, "Patroni: apt-get install -y patroni")
		}
	}
	if len(miss) > 0 {
		return fmt.Errorf("make bench needs, and this machine lacks:\n  %s\n(.ci/run's apt-get line installs all of it)", strings.Join(miss, "\n  "))
	}
	return nil
}

// haproxyOutage runs the HAProxy test of the integration suite runs times
// (both its cases each time) and reads the client-observed outages it
// records through HAPROXY_OUTAGE.
func haproxyOutage(b testing.TB, runs int) []drill.LBOutage {
	out := filepath.Join(b.TempDir(), "haproxy-outage.jsonl")
	progress("running TestHAProxyFollowsFailover x %d runs", runs)
	_, err := goTest(b, 30*time.Minute, []string{"HAPROXY_OUTAGE=" + out},
		"-count="+strconv.Itoa(runs), "-run", "^TestHAProxyFollowsFailover$", "-v", "-timeout", "25m", "./integration")
	if err != nil {
		b.Errorf("HAProxy test: %v (the runs it recorded are still reported)", err)
	}
	recs, rerr := drill.ReadJSONLines[drill.LBOutage](out)
	if rerr != nil {
		b.Fatalf("the HAProxy test recorded no outage: %v", rerr)
	}
	for _, o := range recs {
		progress("HAProxy %s: client-observed outage %.0f ms, first answer by the new active %.0f ms after its promotion", o.Case, ms(o.Outage), ms(o.AfterPromotion))
	}
	return recs
}
