// Package bench compares our quorum with Apache ZooKeeper 3.8 side by side
// on this machine: throughput and latency per workload, resident memory,
// time to serve, and the write outage after kill -9 of the leader. Run it
// with `make bench`; it writes BENCH_REPORT (default bench-report.md).
// Numbers drift with machine load; the ratios, measured in one run, are
// what to read.
package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkfc-project/zkfc/integration/cluster"
	"github.com/zkfc-project/zkfc/integration/loadgen"
)

var workloads = []loadgen.Op{loadgen.Get, loadgen.Set, loadgen.Create, loadgen.Mix}

type row struct {
	setup   string
	backend cluster.Backend
	results map[loadgen.Op]loadgen.Result
	rss     int64
	start   time.Duration
}

func duration() time.Duration {
	if v := os.Getenv("BENCH_DURATION"); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return 5 * time.Second
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

func measure(b *testing.B, backend cluster.Backend, members int) row {
	t0 := time.Now()
	c := cluster.Start(b, backend, members, cluster.Options{})
	r := row{backend: backend, results: map[loadgen.Op]loadgen.Result{}, start: time.Since(t0)}
	r.setup = "standalone"
	if members > 1 {
		r.setup = fmt.Sprintf("%d members", members)
	}
	for _, op := range workloads {
		progress("%s %s: %s for %v", backend, r.setup, op, duration())
		res, err := loadgen.Run(context.Background(), loadgen.Config{Addrs: c.Addrs(), Duration: duration()}, op)
		if err != nil {
			b.Fatalf("%s %s %s: %v", backend, r.setup, op, err)
		}
		progress("  %v", res)
		r.results[op] = res
	}
	for _, m := range c.Members {
		if rss := m.RSS(); rss > r.rss {
			r.rss = rss
		}
	}
	for _, m := range c.Members {
		m.Kill()
	}
	return r
}

// writeOutage kills the leader of a 3-member ensemble while a client on a
// follower writes in a loop, and returns the longest gap between two
// acknowledged writes.
func writeOutage(b *testing.B, backend cluster.Backend) time.Duration {
	c := cluster.Start(b, backend, 3, cluster.Options{})
	l, err := c.WaitLeader(30 * time.Second)
	if err != nil {
		b.Fatal(err)
	}
	f := (l + 1) % 3
	conn, ev, err := zk.Connect([]string{c.Members[f].Addr()}, 20*time.Second, zk.WithLogger(quiet{}))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	for e := range ev {
		if e.State == zk.StateHasSession {
			break
		}
	}
	if _, err := conn.Create("/outage", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		b.Fatal(err)
	}
	var acks []time.Time
	stop := time.Now().Add(8 * time.Second)
	killAt := time.Now().Add(2 * time.Second)
	killed := false
	for time.Now().Before(stop) {
		if !killed && time.Now().After(killAt) {
			progress("%s: kill -9 leader (member %d)", backend, l+1)
			c.Members[l].Kill()
			killed = true
		}
		if _, err := conn.Set("/outage", []byte("x"), -1); err == nil {
			acks = append(acks, time.Now())
		} else {
			time.Sleep(time.Millisecond)
		}
	}
	var worst time.Duration
	for i := 1; i < len(acks); i++ {
		if g := acks[i].Sub(acks[i-1]); g > worst {
			worst = g
		}
	}
	for _, m := range c.Members {
		m.Kill()
	}
	return worst
}

type quiet struct{}

func (quiet) Printf(string, ...any) {}

func BenchmarkCompare(b *testing.B) {
	if os.Getenv("ZKFC_BIN") == "" {
		b.Fatal("ZKFC_BIN unset: run `make bench`")
	}
	var rows []row
	only := os.Getenv("BENCH_ONLY") // "outage" skips the throughput runs
	for _, members := range []int{1, 3} {
		if only == "outage" {
			break
		}
		for _, backend := range []cluster.Backend{cluster.Apache, cluster.Ours} {
			rows = append(rows, measure(b, backend, members))
		}
	}
	outages := map[cluster.Backend][]time.Duration{}
	for i := 0; i < 3; i++ {
		for _, backend := range []cluster.Backend{cluster.Apache, cluster.Ours} {
			d := writeOutage(b, backend)
			progress("%s write outage after kill -9 of the leader: %v", backend, d)
			outages[backend] = append(outages[backend], d)
		}
	}
	report := render(rows, outages)
	path := os.Getenv("BENCH_REPORT")
	if path == "" {
		path = "bench-report.md"
	}
	if err := os.WriteFile(path, []byte(report), 0o644); err != nil {
		b.Fatal(err)
	}
	abs, _ := filepath.Abs(path)
	progress("report written to %s", abs)
	fmt.Println(report)
	for _, r := range rows {
		if r.backend == cluster.Ours {
			for op, res := range r.results {
				b.ReportMetric(res.Throughput, fmt.Sprintf("%s-%s-ops/s", strings.ReplaceAll(r.setup, " ", ""), op))
			}
		}
	}
}

func render(rows []row, outages map[cluster.Backend][]time.Duration) string {
	var s strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&s, "Measured %s on %s (%d-core), go-zookeeper/zk client, 8 sessions x 4 requests in flight, 100-byte values, %v per workload.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), host, runtime.NumCPU(), duration())
	fmt.Fprintf(&s, "| setup | server | get/s | set/s | create/s | 90%% get/s | p99 get | p99 set | RSS | start to serving |\n")
	fmt.Fprintf(&s, "|---|---|---|---|---|---|---|---|---|---|\n")
	byKey := map[string]row{}
	for _, r := range rows {
		byKey[r.setup+string(r.backend)] = r
		fmt.Fprintf(&s, "| %s | %s | %.0f | %.0f | %.0f | %.0f | %.1f ms | %.1f ms | %.0f MB | %.1f s |\n",
			r.setup, name(r.backend), r.results[loadgen.Get].Throughput, r.results[loadgen.Set].Throughput,
			r.results[loadgen.Create].Throughput, r.results[loadgen.Mix].Throughput,
			ms(r.results[loadgen.Get].P99), ms(r.results[loadgen.Set].P99), float64(r.rss)/1e6, r.start.Seconds())
	}
	fmt.Fprintf(&s, "\nRatios (ours / Apache ZooKeeper, same run):\n\n| setup | get | set | create | 90%% get | RSS |\n|---|---|---|---|---|---|\n")
	for _, setup := range []string{"standalone", "3 members"} {
		a, o := byKey[setup+string(cluster.Apache)], byKey[setup+string(cluster.Ours)]
		if a.results == nil || o.results == nil {
			continue
		}
		ratio := func(op loadgen.Op) string {
			return fmt.Sprintf("%.2fx", o.results[op].Throughput/a.results[op].Throughput)
		}
		fmt.Fprintf(&s, "| %s | %s | %s | %s | %s | %.2f |\n", setup, ratio(loadgen.Get), ratio(loadgen.Set),
			ratio(loadgen.Create), ratio(loadgen.Mix), float64(o.rss)/float64(a.rss))
	}
	fmt.Fprintf(&s, "\nLongest write outage seen by a client on a follower after kill -9 of the leader (3 members, tickTime 2000):\n\n| server | runs | worst | median |\n|---|---|---|---|\n")
	for _, b := range []cluster.Backend{cluster.Apache, cluster.Ours} {
		ds := append([]time.Duration(nil), outages[b]...)
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		if len(ds) == 0 {
			continue
		}
		fmt.Fprintf(&s, "| %s | %d | %.0f ms | %.0f ms |\n", name(b), len(ds), ms(ds[len(ds)-1]), ms(ds[len(ds)/2]))
	}
	return s.String()
}

func name(b cluster.Backend) string {
	if b == cluster.Apache {
		return "Apache ZooKeeper 3.8"
	}
	return "zkfc quorum"
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
