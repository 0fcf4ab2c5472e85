package bench

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/integration/drill"
	"github.com/zkfc-project/zkfc/integration/loadgen"
)

func fakeEnsemble(setup, server string, tput float64, p99 time.Duration, rss int64, start time.Duration) Ensemble {
	e := Ensemble{Setup: setup, Server: server, Results: map[loadgen.Op]loadgen.Result{}, RSSMax: rss, RSSTotal: 3 * rss, Start: start}
	for i, op := range Workloads {
		e.Results[op] = loadgen.Result{Op: op, Throughput: tput * float64(i+1), P50: p99 / 4, P99: p99, Max: 2 * p99}
	}
	return e
}

func fakeReport() *Report {
	ms := time.Millisecond
	return &Report{
		Machine: Machine{Host: "box", CPU: "cpu", Cores: 2, MemMB: 4096, LoadAvg: "1.00 2.00 3.00", Started: time.Date(2026, 11, 23, 7, 0, 0, 0, time.UTC)},
		Client:  Client{Sessions: 8, InFlight: 4, ValueSize: 100, Duration: 5 * time.Second, Runs: 2},
		Ensembles: []Ensemble{
			fakeEnsemble("standalone", Apache, 1000, 40*ms, 300<<20, 3*time.Second),
			fakeEnsemble("standalone", Ours, 2000, 10*ms, 60<<20, time.Second/2),
			fakeEnsemble("3 members", Apache, 400, 80*ms, 200<<20, 6*time.Second),
			fakeEnsemble("3 members", Ours, 1200, 20*ms, 50<<20, 3*time.Second),
		},
		Outages:      map[string][]time.Duration{Apache: {1100 * ms, 1000 * ms}, Ours: {200 * ms, 150 * ms}},
		Memory:       map[string]int64{Apache: 400 << 20, Ours: 100 << 20},
		MemoryZnodes: 1000,
		Failover: Failover{Source: "made up.", Settings: drill.File{HealthInterval: 500 * ms, SessionTimeout: 4 * time.Second, TickTime: 500 * ms},
			Runs: []drill.Timing{
				{Drill: "service-crash", Run: 1, Detect: 600 * ms, Fence: 700 * ms, Promote: 900 * ms, Total: 900 * ms, OldDemoted: 650 * ms, Promoted: true, TargetHeld: true, Target: "2 intervals"},
				{Drill: "service-crash", Run: 2, Detect: 400 * ms, Fence: 500 * ms, Promote: 800 * ms, Total: 800 * ms, Promoted: true, TargetHeld: true, Target: "2 intervals"},
				{Drill: "fencing-impossible", Run: 1, Detect: 500 * ms, Note: "ssh target down"},
			}},
		LBOutages: []drill.LBOutage{
			{Case: "service fails", Outage: 900 * ms, AfterPromotion: 300 * ms},
			{Case: "service killed", Outage: 1500 * ms, AfterPromotion: 400 * ms},
			{Case: "service fails", Outage: 1100 * ms, AfterPromotion: 500 * ms},
		},
	}
}

func TestReportWritesMarkdownAndPlots(t *testing.T) {
	dir := t.TempDir()
	path, err := fakeReport().Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	md := string(b)
	for _, want := range []string{
		"| standalone | 2.00x | 2.00x | 2.00x | 2.00x | 0.25x | 0.25x | 0.25x | 0.25x | 0.20x | 0.17x |", // ours/apache
		"| 3 members | 3.00x |",
		"| Apache ZooKeeper 3.8 | 2 | 1000 ms | 1050 ms | 1100 ms | 1100, 1000 ms |",
		"| service-crash | 2 | 2 | 500 ms | 100 ms | 250 ms | 800 / 850 / 900 ms |",
		"| fencing-impossible | 1 | 0 | 500 ms | not reached | not reached | none |",
		"fencing-impossible #1: ssh target down",
		"1.00 2.00 3.00",
		"compare the ratios",
		"| zkfc quorum | 1000 | 100 MB |",
		"Ratio zkfc quorum / Apache ZooKeeper 3.8: 0.25x.",
		"## Client-observed outage through HAProxy",
		"| service fails | 2 | 900 ms | 1000 ms | 1100 ms | 300 ms | 400 ms | 500 ms | 900, 1100 ms |",
		"| service killed | 1 | 1500 ms |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	for _, name := range []string{plotThroughput, plotP99, plotResources, plotOutage, plotTimeline} {
		if !strings.Contains(md, "]("+name+")") {
			t.Errorf("report does not embed %s", name)
		}
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r := img.Bounds(); r.Dx() < 200 || r.Dy() < 100 {
			t.Errorf("%s is only %v", name, r)
		}
	}
}

// A part that did not run leaves no plot behind, not even a stale one
// from an earlier run, and the report says what is missing.
func TestReportDropsPlotsWithoutData(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, plotTimeline)
	if err := os.WriteFile(stale, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := fakeReport()
	r.Failover = Failover{}
	r.Missing = []string{"failover failed (see the bench output)"}
	path, err := r.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale %s kept (err %v)", plotTimeline, err)
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), plotTimeline) || !strings.Contains(string(b), "Not measured in this run: failover failed") {
		t.Errorf("report:\n%s", b)
	}
}

func TestPhases(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name             string
		in               drill.Timing
		det, fence, prom time.Duration
	}{
		{"ordered", drill.Timing{Detect: 100 * ms, Fence: 300 * ms, Promote: 600 * ms, Promoted: true}, 100 * ms, 200 * ms, 300 * ms},
		{"no promotion", drill.Timing{Detect: 100 * ms, Fence: 300 * ms}, 100 * ms, 200 * ms, 0},
		{"not fenced", drill.Timing{Detect: 100 * ms}, 100 * ms, 0, 0},
		// The old active demoted itself before the candidate noticed.
		{"fence before detection", drill.Timing{Detect: 400 * ms, Fence: 300 * ms, Promote: 500 * ms, Promoted: true}, 400 * ms, 0, 100 * ms},
		{"fence step skipped", drill.Timing{Detect: 100 * ms, Promote: 500 * ms, Promoted: true}, 100 * ms, 0, 400 * ms},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, f, p := phases(tc.in)
			if d != tc.det || f != tc.fence || p != tc.prom {
				t.Errorf("phases = %v, %v, %v; want %v, %v, %v", d, f, p, tc.det, tc.fence, tc.prom)
			}
		})
	}
}

// Each figure of the comparison is the median over the rounds; a
// workload's latencies come from the round of its median throughput.
func TestMediansOverRounds(t *testing.T) {
	round := func(setup string, tput float64, p99 time.Duration, rss int64, start time.Duration) Ensemble {
		return Ensemble{Setup: setup, Server: Ours, Members: 1, RSSMax: rss, RSSTotal: rss, Start: start,
			Results: map[loadgen.Op]loadgen.Result{loadgen.Set: {Op: loadgen.Set, Throughput: tput, P99: p99}}}
	}
	got := medians([]Ensemble{
		round("standalone", 100, 9*time.Millisecond, 70, 3*time.Second),
		round("standalone", 300, 1*time.Millisecond, 90, 1*time.Second),
		round("standalone", 200, 5*time.Millisecond, 50, 2*time.Second),
	})
	if len(got) != 1 {
		t.Fatalf("%d ensembles, want 1", len(got))
	}
	e := got[0]
	if r := e.Results[loadgen.Set]; r.Throughput != 200 || r.P99 != 5*time.Millisecond {
		t.Fatalf("set = %v ops/s p99 %v, want the median round's 200 ops/s, p99 5ms", r.Throughput, r.P99)
	}
	if e.RSSMax != 70 || e.Start != 2*time.Second {
		t.Fatalf("rss %d start %v, want the medians 70 and 2s", e.RSSMax, e.Start)
	}
}
