// Package bench measures zkfc and its quorum on this machine and writes the
// report the README embeds (docs/bench/README.md and its PNG plots): our
// quorum against Apache ZooKeeper 3.8 side by side in one run (throughput
// and p99 latency per workload, standalone and 3 members, resident memory,
// time from start to serving, the write outage after kill -9 of the
// leader), and the failover time per drill split into detection, fence and
// promote, drawn as a timeline. `make bench` runs BenchmarkReport.
//
// This file holds the measurements and turns them into markdown and plots;
// it never measures and never starts a process, so it is tested with
// made-up numbers. Absolute numbers drift with the machine's load: the
// report says so and leads with ratios measured in the same run.
package bench

import (
	"fmt"
	"image/color"
	"iter"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/zkfc-project/zkfc/integration/drill"
	"github.com/zkfc-project/zkfc/integration/loadgen"
)

// Server names as the report prints them; Servers is their order.
const (
	Apache = "Apache ZooKeeper 3.8"
	Ours   = "zkfc quorum"
)

// Servers is the order in which servers appear in tables and plots.
var Servers = []string{Apache, Ours}

// Setups are the ensemble shapes compared, in report order.
var Setups = []string{"standalone", "3 members"}

// Workloads are the load generator's workloads, in report order.
var Workloads = []loadgen.Op{loadgen.Get, loadgen.Set, loadgen.Create, loadgen.Mix}

// Machine describes where and when the numbers were taken.
type Machine struct {
	Host    string
	CPU     string
	Cores   int
	MemMB   int64
	LoadAvg string // /proc/loadavg's first three fields at start
	Started time.Time
	Elapsed time.Duration // wall time of the whole bench
}

// Client describes the load the servers saw.
type Client struct {
	Sessions, InFlight, ValueSize int
	Duration                      time.Duration // per workload
	Runs                          int           // repetitions of the outage and failover drills
	Rounds                        int           // rounds of the comparison, each figure their median
}

// Ensemble is one server in one setup: its workloads, memory and start.
type Ensemble struct {
	Setup   string // one of Setups
	Server  string // one of Servers
	Members int
	Results map[loadgen.Op]loadgen.Result
	// RSSMax is the largest member's resident memory after the workloads,
	// RSSTotal the sum over members.
	RSSMax, RSSTotal int64
	// Start is the time from launching the processes to every member
	// answering srvr with a serving mode.
	Start time.Duration
}

// Failover is where the failover timeline comes from.
type Failover struct {
	Source   string // how the runs were produced, in words
	Settings drill.File
	Runs     []drill.Timing
}

// Report is everything one bench run measured.
type Report struct {
	Machine   Machine
	Client    Client
	Ensembles []Ensemble
	// Outages holds, per server, the longest write gap a client on a
	// follower saw after kill -9 of the leader, one entry per run.
	Outages map[string][]time.Duration
	// Memory holds, per server, the resident memory of a fresh standalone
	// server after exactly MemoryZnodes creates: the same data set on
	// both, unlike the RSS after the workloads, which counts each
	// server's own throughput against it.
	Memory       map[string]int64
	MemoryZnodes int64
	Failover     Failover
	// Postgres is the PostgreSQL section (zkfc beside Patroni), nil when
	// not measured.
	Postgres *PGBench
	// QuorumOutages: the whole quorum stopped under a guarded pair
	// (quorumoutage.go).
	QuorumOutages []drill.QuorumOutageRun
	Restarts      Restarts
	// LBOutages are failovers as clients through HAProxy saw them (the
	// HAProxy test, run by the bench), one per run and case.
	LBOutages []drill.LBOutage
	// Missing lists what could not be measured and why: the report shows
	// it instead of silently dropping a section.
	Missing []string
}

func (r *Report) ensemble(setup, server string) *Ensemble {
	for i := range r.Ensembles {
		if r.Ensembles[i].Setup == setup && r.Ensembles[i].Server == server {
			return &r.Ensembles[i]
		}
	}
	return nil
}

// measured yields the measured ensembles in report order: by setup, then
// by server.
func (r *Report) measured() iter.Seq[*Ensemble] {
	return func(yield func(*Ensemble) bool) {
		for _, setup := range Setups {
			for _, server := range Servers {
				if e := r.ensemble(setup, server); e != nil && !yield(e) {
					return
				}
			}
		}
	}
}

// Plot file names inside the output directory.
const (
	plotThroughput = "throughput.png"
	plotP99        = "p99.png"
	plotResources  = "resources.png"
	plotOutage     = "outage.png"
	plotTimeline   = "failover-timeline.png"
)

// Write renders the markdown report and its plots into dir (created if
// needed) and returns the report's path.
func (r *Report) Write(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("report dir %s: %w", dir, err)
	}
	plots := map[string]func(string) error{
		plotThroughput: r.plotThroughput,
		plotP99:        r.plotP99,
		plotResources:  r.plotResources,
		plotOutage:     r.plotOutage,
		plotTimeline:   r.plotTimeline,
		plotPostgres:   func(p string) error { return r.Postgres.plot(p) },
	}
	drawn := map[string]bool{}
	for name, fn := range plots {
		p := filepath.Join(dir, name)
		if !r.hasData(name) {
			_ = os.Remove(p) // a stale plot from an earlier run would lie
			continue
		}
		if err := fn(p); err != nil {
			return "", fmt.Errorf("plot %s: %w", p, err)
		}
		drawn[name] = true
	}
	p := filepath.Join(dir, "README.md")
	if err := os.WriteFile(p, []byte(r.Markdown(drawn)), 0o644); err != nil {
		return "", fmt.Errorf("write report %s: %w", p, err)
	}
	return p, nil
}

func (r *Report) hasData(plotName string) bool {
	switch plotName {
	case plotThroughput, plotP99, plotResources:
		return len(r.Ensembles) > 0
	case plotOutage:
		return len(r.Outages) > 0
	case plotTimeline:
		return len(r.Failover.Runs) > 0
	case plotPostgres:
		return r.Postgres != nil && len(r.Postgres.Results) > 0
	}
	return false
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// Markdown renders the report; drawn names the plots that exist.
func (r *Report) Markdown(drawn map[string]bool) string {
	var s strings.Builder
	m, c := r.Machine, r.Client
	s.WriteString("# Benchmarks: zkfc's quorum beside Apache ZooKeeper 3.8, and failover drills\n\n")
	s.WriteString("Regenerate with `make bench` (quick run: `BENCH_DURATION=2s BENCH_ROUNDS=1 BENCH_RUNS=2 make bench`). ")
	s.WriteString("Both servers ran on the same machine in the same run, one after the other, with the same client; ")
	fmt.Fprintf(&s, "the comparison ran in %d rounds that alternate which server goes first, and every figure of it is the median over the rounds (per workload: the round with the median throughput, with that round's latencies). ", max(c.Rounds, 1))
	s.WriteString("**Absolute numbers drift with the machine's load from run to run; compare the ratios.**\n\n")
	fmt.Fprintf(&s, "| | |\n|---|---|\n")
	fmt.Fprintf(&s, "| date | %s (bench took %s) |\n", m.Started.UTC().Format("2006-01-02 15:04 MST"), m.Elapsed.Round(time.Second))
	fmt.Fprintf(&s, "| machine | %s: %s, %d cores, %d MB RAM |\n", m.Host, m.CPU, m.Cores, m.MemMB)
	fmt.Fprintf(&s, "| load average at start | %s (other work shared the machine) |\n", m.LoadAvg)
	fmt.Fprintf(&s, "| client | go-zookeeper/zk, %d sessions x %d requests in flight, %d-byte values, %s per workload |\n",
		c.Sessions, c.InFlight, c.ValueSize, c.Duration)
	fmt.Fprintf(&s, "| servers | tickTime 2000, forceSync on (both defaults), loopback, one process per member; Apache with -Xmx512m |\n")
	fmt.Fprintf(&s, "| repetitions | %d runs of each outage and failover drill |\n\n", c.Runs)
	for _, miss := range r.Missing {
		fmt.Fprintf(&s, "> Not measured in this run: %s\n\n", miss)
	}

	if len(r.Ensembles) > 0 {
		r.ratios(&s)
		r.throughput(&s, drawn)
		r.resources(&s, drawn)
	}
	if len(r.Outages) > 0 {
		r.outage(&s, drawn)
	}
	if len(r.Failover.Runs) > 0 {
		r.failover(&s, drawn)
	}
	if len(r.LBOutages) > 0 {
		r.lbOutage(&s)
	}
	if r.Postgres != nil && len(r.Postgres.Results) > 0 {
		r.Postgres.markdown(&s, drawn)
	}
	if len(r.QuorumOutages) > 0 {
		r.quorumOutage(&s)
	}
	if len(r.Restarts.Runs) > 0 {
		r.restarts(&s)
	}
	return s.String()
}

// section opens a part of the report: its heading, the prose that says
// what was measured and how, and those of its plots (alt text, file name)
// that were drawn.
func section(s *strings.Builder, drawn map[string]bool, title, prose string, plots ...[2]string) {
	fmt.Fprintf(s, "## %s\n\n%s\n\n", title, prose)
	for _, p := range plots {
		if drawn[p[1]] {
			fmt.Fprintf(s, "![%s](%s)\n\n", p[0], p[1])
		}
	}
}

// tableHead writes a table's header row and a separator row with as many
// columns, so the two cannot disagree.
func tableHead(s *strings.Builder, cols ...string) {
	fmt.Fprintf(s, "| %s |\n|%s\n", strings.Join(cols, " | "), strings.Repeat("---|", len(cols)))
}

func ratio(ours, apache float64) string {
	if apache <= 0 || ours <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", ours/apache)
}

func (r *Report) ratios(s *strings.Builder) {
	section(s, nil, "Ratios: zkfc quorum / Apache ZooKeeper, same run",
		"Throughput above 1 is better; p99 latency, memory and start time below 1 are better.")
	tableHead(s, "setup", "get ops/s", "set ops/s", "create ops/s", "90/10 ops/s", "get p99", "set p99", "create p99", "90/10 p99",
		"RSS per member", "start to serving")
	for _, setup := range Setups {
		a, o := r.ensemble(setup, Apache), r.ensemble(setup, Ours)
		if a == nil || o == nil {
			continue
		}
		fmt.Fprintf(s, "| %s |", setup)
		for _, op := range Workloads {
			fmt.Fprintf(s, " %s |", ratio(o.Results[op].Throughput, a.Results[op].Throughput))
		}
		for _, op := range Workloads {
			fmt.Fprintf(s, " %s |", ratio(ms(o.Results[op].P99), ms(a.Results[op].P99)))
		}
		fmt.Fprintf(s, " %s | %s |\n", ratio(float64(o.RSSMax), float64(a.RSSMax)), ratio(o.Start.Seconds(), a.Start.Seconds()))
	}
	s.WriteString("\n")
}

func (r *Report) throughput(s *strings.Builder, drawn map[string]bool) {
	section(s, drawn, "Throughput and p99 latency per workload",
		"get and set act on one existing znode per client worker; create makes new znodes; "+
			"90/10 is 90% getData, 10% setData. With 3 members the sessions are spread over all members, "+
			"so reads are served locally and writes go through the leader.",
		[2]string{"throughput per workload", plotThroughput}, [2]string{"p99 latency per workload", plotP99})
	tableHead(s, "setup", "server", "workload", "ops/s", "p50", "p99", "max", "errors")
	for e := range r.measured() {
		for _, op := range Workloads {
			res := e.Results[op]
			fmt.Fprintf(s, "| %s | %s | %s | %.0f | %.2f ms | %.2f ms | %.1f ms | %d |\n",
				e.Setup, e.Server, opName(op), res.Throughput, ms(res.P50), ms(res.P99), ms(res.Max), res.Errors)
		}
	}
	s.WriteString("\n")
}

func (r *Report) resources(s *strings.Builder, drawn map[string]bool) {
	section(s, drawn, "Resident memory and time from start to serving",
		"Memory is each process's VmRSS after the workloads above (largest member, and the sum over members). "+
			"Start to serving runs from launching the processes to every member answering `srvr` with a serving mode "+
			"(for 3 members this includes the leader election).",
		[2]string{"memory and start time", plotResources})
	tableHead(s, "setup", "server", "RSS per member (largest)", "RSS all members", "start to serving")
	for e := range r.measured() {
		fmt.Fprintf(s, "| %s | %s | %.0f MB | %.0f MB | %.2f s |\n", e.Setup, e.Server, mb(e.RSSMax), mb(e.RSSTotal), e.Start.Seconds())
	}
	s.WriteString("\n")
	r.memory(s)
}

// memory renders the same-data-set comparison, when it was measured.
func (r *Report) memory(s *strings.Builder) {
	if len(r.Memory) == 0 {
		return
	}
	fmt.Fprintf(s, "The same data set on both: a fresh standalone server, exactly %d creates of %d-byte znodes, then its VmRSS.\n\n",
		r.MemoryZnodes, r.Client.ValueSize)
	tableHead(s, "server", "znodes", "RSS")
	for _, server := range Servers {
		if v, ok := r.Memory[server]; ok {
			fmt.Fprintf(s, "| %s | %d | %.0f MB |\n", server, r.MemoryZnodes, mb(v))
		}
	}
	if o, a := r.Memory[Servers[1]], r.Memory[Servers[0]]; o > 0 && a > 0 {
		fmt.Fprintf(s, "\nRatio %s / %s: %s.\n", Servers[1], Servers[0], ratio(float64(o), float64(a)))
	}
	s.WriteString("\n")
}

// stats returns min, median and max of ds (sorted copy).
func stats(ds []time.Duration) (lo, med, hi time.Duration) {
	c := append([]time.Duration(nil), ds...)
	sort.Slice(c, func(i, j int) bool { return c[i] < c[j] })
	if len(c) == 0 {
		return 0, 0, 0
	}
	med = c[len(c)/2]
	if len(c)%2 == 0 {
		med = (c[len(c)/2-1] + c[len(c)/2]) / 2
	}
	return c[0], med, c[len(c)-1]
}

func (r *Report) outage(s *strings.Builder, drawn map[string]bool) {
	section(s, drawn, "Write outage after kill -9 of the leader",
		"A fresh 3-member ensemble per run; one client on a follower writes (setData) in a loop; "+
			"the leader is killed with SIGKILL; the outage is the longest gap between two acknowledged writes.",
		[2]string{"write outage distribution", plotOutage})
	tableHead(s, "server", "runs", "min", "median", "max", "every run")
	for _, server := range Servers {
		ds := r.Outages[server]
		if len(ds) == 0 {
			continue
		}
		lo, med, hi := stats(ds)
		var all []string
		for _, d := range ds {
			all = append(all, fmt.Sprintf("%.0f", ms(d)))
		}
		fmt.Fprintf(s, "| %s | %d | %.0f ms | %.0f ms | %.0f ms | %s ms |\n", server, len(ds), ms(lo), ms(med), ms(hi), strings.Join(all, ", "))
	}
	s.WriteString("\n")
}

// phases splits a drill run's cumulative offsets into the timeline's
// segments. A phase the run did not reach contributes nothing, and an
// offset earlier than the previous phase (e.g. the old active demoted
// itself before the candidate noticed) is clamped so segments never go
// negative.
func phases(t drill.Timing) (detect, fence, promote time.Duration) {
	at := func(d time.Duration, floor time.Duration) time.Duration {
		if d < floor {
			return floor
		}
		return d
	}
	d := at(t.Detect, 0)
	f := d
	if t.Fence > 0 {
		f = at(t.Fence, d)
	}
	p := f
	if t.Promoted {
		p = at(t.Promote, f)
	}
	return d, f - d, p - f
}

func (r *Report) drills() []string {
	var names []string
	seen := map[string]bool{}
	for _, t := range r.Failover.Runs {
		if !seen[t.Drill] {
			seen[t.Drill] = true
			names = append(names, t.Drill)
		}
	}
	return names
}

func (r *Report) failover(s *strings.Builder, drawn map[string]bool) {
	f := r.Failover
	section(s, drawn, "Failover time per drill",
		fmt.Sprintf("%s Settings: health-check interval %s, session timeout %s, quorum tickTime %s. ",
			f.Source, f.Settings.HealthInterval, f.Settings.SessionTimeout, f.Settings.TickTime)+
			"Each bar is one run, measured from the fault: **detection** (the candidate saw the failure), "+
			"**fence** (the old active was fenced or had demoted itself), **promote** (the new active's service serves, "+
			"from its own roles file); the triangle marks when the old active's service stopped being active (its demotion or death, "+
			"from its roles file). A run without a bar segment did not reach that phase.",
		[2]string{"failover timeline", plotTimeline})
	tableHead(s, "drill", "runs", "promoted", "detection (median)", "fence (median)", "promote (median)",
		"to new active: min / median / max", "old active demoted (median)", "target", "held")
	for _, name := range r.drills() {
		// Phase medians are over the runs that reached the phase.
		var det, fen, pro, tot, old []time.Duration
		promoted, held, n := 0, 0, 0
		target := ""
		for _, t := range f.Runs {
			if t.Drill != name {
				continue
			}
			n++
			d, fe, p := phases(t)
			if t.Detect > 0 {
				det = append(det, d)
			}
			if t.Fence > 0 {
				fen = append(fen, fe)
			}
			if t.Promoted {
				pro = append(pro, p)
			}
			if t.Promoted {
				promoted++
				tot = append(tot, t.Total)
			}
			if t.OldDemoted > 0 {
				old = append(old, t.OldDemoted)
			}
			if t.TargetHeld {
				held++
			}
			target = t.Target
		}
		median := func(ds []time.Duration) string {
			if len(ds) == 0 {
				return "not reached"
			}
			_, m, _ := stats(ds)
			return fmt.Sprintf("%.0f ms", ms(m))
		}
		totStr := "none"
		if len(tot) > 0 {
			lo, med, hi := stats(tot)
			totStr = fmt.Sprintf("%.0f / %.0f / %.0f ms", ms(lo), ms(med), ms(hi))
		}
		oldStr := "n/a"
		if len(old) > 0 {
			_, om, _ := stats(old)
			oldStr = fmt.Sprintf("%.0f ms", ms(om))
		}
		fmt.Fprintf(s, "| %s | %d | %d | %s | %s | %s | %s | %s | %s | %d of %d |\n",
			name, n, promoted, median(det), median(fen), median(pro), totStr, oldStr, target, held, n)
	}
	s.WriteString("\n")
	var notes []string
	for _, t := range f.Runs {
		if t.Note != "" {
			notes = append(notes, fmt.Sprintf("- %s #%d: %s", t.Drill, t.Run, t.Note))
		}
	}
	if len(notes) > 0 {
		s.WriteString("Notes from the drills:\n\n" + strings.Join(notes, "\n") + "\n\n")
	}
}

func opName(op loadgen.Op) string {
	if op == loadgen.Mix {
		return "90/10"
	}
	return string(op)
}

// --- plots ---

var serverColor = map[string]color.Color{
	Apache: color.RGBA{R: 0xd6, G: 0x61, B: 0x1c, A: 0xff},
	Ours:   color.RGBA{R: 0x1f, G: 0x6f, B: 0xb4, A: 0xff},
}

// valuePlot is a plot of values from 0 up the vertical axis, with a grid:
// what every comparison in the report draws on.
func valuePlot(title, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	p.Y.Min = 0
	p.Add(plotter.NewGrid())
	return p
}

// grouped draws one panel: a group of bars per label, one bar per server.
func grouped(title, ylabel string, labels []string, value func(server string, i int) (float64, bool)) (*plot.Plot, error) {
	p := valuePlot(title, ylabel)
	p.Legend.Top = true
	w := vg.Points(18)
	top := 0.0
	for k, server := range Servers {
		vals := make(plotter.Values, len(labels))
		have := false
		for i := range labels {
			if v, ok := value(server, i); ok {
				vals[i] = v
				have = true
				top = math.Max(top, v)
			}
		}
		if !have {
			continue
		}
		b, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return nil, err
		}
		b.Color = serverColor[server]
		b.LineStyle.Width = 0
		b.Offset = w * vg.Length(float64(k)-0.5)
		p.Add(b)
		p.Legend.Add(server, b)
	}
	p.NominalX(labels...)
	p.Y.Max = top * 1.25 // room for the legend above the bars
	p.X.Min, p.X.Max = -0.6, float64(len(labels))-0.4
	return p, nil
}

// panels saves plots side by side as one PNG.
func panels(path string, w, h vg.Length, ps ...*plot.Plot) error {
	img := vgimg.New(w, h)
	dc := draw.New(img)
	t := draw.Tiles{Rows: 1, Cols: len(ps), PadX: vg.Millimeter * 4, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2,
		PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	row := [][]*plot.Plot{ps}
	canvases := plot.Align(row, t, dc)
	for i, p := range ps {
		p.Draw(canvases[0][i])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func workloadLabels() []string {
	var l []string
	for _, op := range Workloads {
		l = append(l, opName(op))
	}
	return l
}

func (r *Report) perSetup(title, ylabel string, metric func(loadgen.Result) float64) ([]*plot.Plot, error) {
	var ps []*plot.Plot
	for _, setup := range Setups {
		p, err := grouped(title+", "+setup, ylabel, workloadLabels(), func(server string, i int) (float64, bool) {
			e := r.ensemble(setup, server)
			if e == nil {
				return 0, false
			}
			res, ok := e.Results[Workloads[i]]
			return metric(res), ok
		})
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, nil
}

func (r *Report) plotThroughput(path string) error {
	ps, err := r.perSetup("Throughput", "ops/s (higher is better)", func(res loadgen.Result) float64 { return res.Throughput })
	if err != nil {
		return err
	}
	return panels(path, 26*vg.Centimeter, 10*vg.Centimeter, ps...)
}

func (r *Report) plotP99(path string) error {
	ps, err := r.perSetup("p99 latency", "ms (lower is better)", func(res loadgen.Result) float64 { return ms(res.P99) })
	if err != nil {
		return err
	}
	return panels(path, 26*vg.Centimeter, 10*vg.Centimeter, ps...)
}

func (r *Report) plotResources(path string) error {
	value := func(metric func(*Ensemble) float64) func(string, int) (float64, bool) {
		return func(server string, i int) (float64, bool) {
			e := r.ensemble(Setups[i], server)
			if e == nil {
				return 0, false
			}
			return metric(e), true
		}
	}
	mem, err := grouped("Resident memory per member (largest)", "MB (lower is better)", Setups,
		value(func(e *Ensemble) float64 { return mb(e.RSSMax) }))
	if err != nil {
		return err
	}
	start, err := grouped("Start to serving", "seconds (lower is better)", Setups,
		value(func(e *Ensemble) float64 { return e.Start.Seconds() }))
	if err != nil {
		return err
	}
	return panels(path, 26*vg.Centimeter, 10*vg.Centimeter, mem, start)
}

// plotOutage draws each server's outages as a box with every run as a dot.
func (r *Report) plotOutage(path string) error {
	p := valuePlot("Write outage after kill -9 of the leader (3 members)", "longest gap between acknowledged writes, ms")
	var names []string
	for i, server := range Servers {
		names = append(names, server)
		ds := r.Outages[server]
		if len(ds) == 0 {
			continue
		}
		vals := make([]float64, len(ds))
		for j, d := range ds {
			vals[j] = ms(d)
		}
		if _, err := boxWithDots(p, float64(i), 0.25, vg.Points(40), vals, serverColor[server]); err != nil {
			return err
		}
	}
	p.NominalX(names...)
	return p.Save(16*vg.Centimeter, 11*vg.Centimeter, path)
}

// boxWithDots adds to p a box of vals at x, width wide, and every value
// as a dot of colour c, spread over spread sideways so that equal values
// stay visible; it returns the dots for a legend entry.
func boxWithDots(p *plot.Plot, x, spread float64, width vg.Length, vals []float64, c color.Color) (*plotter.Scatter, error) {
	pts := make(plotter.XYs, len(vals))
	for j, v := range vals {
		pts[j] = plotter.XY{X: x + spread*(float64(j)/math.Max(1, float64(len(vals)-1))-0.5), Y: v}
	}
	box, err := plotter.NewBoxPlot(width, x, plotter.Values(vals))
	if err != nil {
		return nil, err
	}
	box.FillColor = color.RGBA{R: 0xee, G: 0xee, B: 0xee, A: 0xff}
	sc, err := plotter.NewScatter(pts)
	if err != nil {
		return nil, err
	}
	sc.GlyphStyle.Color = c
	sc.GlyphStyle.Radius = vg.Points(3)
	sc.GlyphStyle.Shape = draw.CircleGlyph{}
	p.Add(box, sc)
	return sc, nil
}

// plotTimeline draws one horizontal bar per drill run, stacked from the
// fault: detection, then fence, then promote.
func (r *Report) plotTimeline(path string) error {
	runs := append([]drill.Timing(nil), r.Failover.Runs...)
	order := map[string]int{}
	for i, n := range r.drills() {
		order[n] = i
	}
	sort.SliceStable(runs, func(i, j int) bool {
		if order[runs[i].Drill] != order[runs[j].Drill] {
			return order[runs[i].Drill] < order[runs[j].Drill]
		}
		return runs[i].Run < runs[j].Run
	})
	// NominalY puts the first label at the bottom: reverse so the first
	// drill reads at the top.
	n := len(runs)
	labels := make([]string, n)
	det, fen, pro := make(plotter.Values, n), make(plotter.Values, n), make(plotter.Values, n)
	var demoted plotter.XYs
	for i, t := range runs {
		k := n - 1 - i
		d, f, pr := phases(t)
		det[k], fen[k], pro[k] = ms(d), ms(f), ms(pr)
		if t.OldDemoted > 0 {
			demoted = append(demoted, plotter.XY{X: ms(t.OldDemoted), Y: float64(k)})
		}
		labels[k] = fmt.Sprintf("%s #%d", t.Drill, t.Run)
		if !t.Promoted {
			labels[k] += " (no promotion)"
		}
	}
	p := plot.New()
	p.Title.Text = "Failover timeline per drill run (from the fault)"
	p.X.Label.Text = "ms after the fault"
	p.Add(plotter.NewGrid())
	p.X.Min = 0
	top := 0.0
	for i := range det {
		top = math.Max(top, det[i]+fen[i]+pro[i])
	}
	for _, d := range demoted {
		top = math.Max(top, d.X)
	}
	p.X.Max = top * 1.45 // room for the legend right of the bars
	w := vg.Points(9)
	var prev *plotter.BarChart
	for i, seg := range []struct {
		name string
		vals plotter.Values
	}{{"detection", det}, {"fence", fen}, {"promote", pro}} {
		b, err := plotter.NewBarChart(seg.vals, w)
		if err != nil {
			return err
		}
		b.Horizontal = true
		b.Color = plotutil.Color(i)
		b.LineStyle.Width = 0
		if prev != nil {
			b.StackOn(prev)
		}
		p.Add(b)
		p.Legend.Add(seg.name, b)
		prev = b
	}
	// The old active's own end (demotion or death, from its roles file):
	// for a partition it must lie left of the promote segment.
	if len(demoted) > 0 {
		sc, err := plotter.NewScatter(demoted)
		if err != nil {
			return err
		}
		sc.GlyphStyle.Shape = draw.PyramidGlyph{}
		sc.GlyphStyle.Radius = vg.Points(4)
		sc.GlyphStyle.Color = color.Black
		p.Add(sc)
		p.Legend.Add("old active stopped", sc)
	}
	p.NominalY(labels...)
	p.Legend.Top = true
	h := 3*vg.Centimeter + vg.Length(n)*vg.Points(14)
	return p.Save(22*vg.Centimeter, h, path)
}

// medians folds the rounds of the comparison into one Ensemble per server
// and setup, in the order they first appear: per workload the result of
// the round with the median throughput (its latencies with it), and the
// median memory and start time.
func medians(rounds []Ensemble) []Ensemble {
	var out []Ensemble
	groups := map[string][]Ensemble{}
	for _, e := range rounds {
		k := e.Server + "/" + e.Setup
		if _, seen := groups[k]; !seen {
			out = append(out, Ensemble{Setup: e.Setup, Server: e.Server, Members: e.Members, Results: map[loadgen.Op]loadgen.Result{}})
		}
		groups[k] = append(groups[k], e)
	}
	for i := range out {
		g := groups[out[i].Server+"/"+out[i].Setup]
		ops := map[loadgen.Op][]loadgen.Result{}
		var rssMax, rssTotal, start []float64
		for _, e := range g {
			for op, res := range e.Results {
				ops[op] = append(ops[op], res)
			}
			rssMax = append(rssMax, float64(e.RSSMax))
			rssTotal = append(rssTotal, float64(e.RSSTotal))
			start = append(start, float64(e.Start))
		}
		for op, rs := range ops {
			sort.Slice(rs, func(a, b int) bool { return rs[a].Throughput < rs[b].Throughput })
			out[i].Results[op] = rs[(len(rs)-1)/2]
		}
		out[i].RSSMax = int64(median(rssMax))
		out[i].RSSTotal = int64(median(rssTotal))
		out[i].Start = time.Duration(median(start))
	}
	return out
}

// median of xs (the lower middle for an even count: a figure that was
// measured, not an average of two).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	ys := append([]float64(nil), xs...)
	sort.Float64s(ys)
	return ys[(len(ys)-1)/2]
}

// lbOutage is the client-observed outage through HAProxy, per case.
func (r *Report) lbOutage(s *strings.Builder) {
	s.WriteString("## Client-observed outage through HAProxy\n\n")
	s.WriteString("From `TestHAProxyFollowsFailover` (integration/haproxy_test.go), run by the bench: real HAProxy with ")
	s.WriteString("examples/haproxy's check (`GET /active`, inter 500 ms, fall 1, rise 1) in front of the two demo services of a zkfc pair ")
	s.WriteString("(Apache ZooKeeper, health interval 200 ms, fall 1, `control.lb_drain` 1.2 s); a client sends a request through HAProxy every 5 ms ")
	s.WriteString("while the active's service fails its health check, or is killed. The outage is the longest time between two answers ")
	s.WriteString("from an active service; \"after promotion\" is from the new active's promotion to its first answer through HAProxy.\n\n")
	s.WriteString("| case | runs | outage min | median | max | after promotion min | median | max | every run (outage) |\n|---|---|---|---|---|---|---|---|---|\n")
	var cases []string
	by := map[string][]drill.LBOutage{}
	for _, o := range r.LBOutages {
		if _, ok := by[o.Case]; !ok {
			cases = append(cases, o.Case)
		}
		by[o.Case] = append(by[o.Case], o)
	}
	for _, c := range cases {
		var outs, after []time.Duration
		var all []string
		for _, o := range by[c] {
			outs = append(outs, o.Outage)
			after = append(after, o.AfterPromotion)
			all = append(all, fmt.Sprintf("%.0f", ms(o.Outage)))
		}
		lo, med, hi := stats(outs)
		alo, amed, ahi := stats(after)
		fmt.Fprintf(s, "| %s | %d | %.0f ms | %.0f ms | %.0f ms | %.0f ms | %.0f ms | %.0f ms | %s ms |\n", c, len(outs),
			ms(lo), ms(med), ms(hi), ms(alo), ms(amed), ms(ahi), strings.Join(all, ", "))
	}
	s.WriteString("\n")
}
