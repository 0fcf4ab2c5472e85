// Package loadgen drives a ZooKeeper-compatible server with a fixed number of
// sessions and requests in flight, through the go-zookeeper/zk client, and
// measures throughput and latency. The same load runs against Apache
// ZooKeeper and against our quorum so the two can be compared side by side.
// It must never interpret results: it only measures.
package loadgen

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkfc-project/zkfc/integration/zkenv"
)

// Op is a workload.
type Op string

const (
	Get    Op = "get"
	Set    Op = "set"
	Create Op = "create"
	// Mix is 90% getData, 10% setData.
	Mix Op = "mix90"
)

// Config shapes the load.
type Config struct {
	Addrs     []string      // servers; sessions are spread over them round-robin
	Sessions  int           // concurrent sessions (default 8)
	InFlight  int           // requests in flight per session (default 4)
	Duration  time.Duration // measured time per workload (default 5s)
	ValueSize int           // bytes per value (default 100)
	Root      string        // znode under which keys live (default /loadgen)
	// Ops, when positive, ends the workload once that many requests were
	// issued (Duration still bounds it): a fixed amount of work, e.g. a
	// data set of exactly Ops znodes for a memory comparison.
	Ops int64
}

func (c *Config) defaults() {
	if c.Sessions <= 0 {
		c.Sessions = 8
	}
	if c.InFlight <= 0 {
		c.InFlight = 4
	}
	if c.Duration <= 0 {
		c.Duration = 5 * time.Second
	}
	if c.ValueSize <= 0 {
		c.ValueSize = 100
	}
	if c.Root == "" {
		c.Root = "/loadgen"
	}
}

// Result is one workload's measurement.
type Result struct {
	Op         Op
	Ops        int64
	Errors     int64
	Elapsed    time.Duration
	Throughput float64 // ops per second
	P50, P99   time.Duration
	Max        time.Duration
	FirstError string // the first failed request's error, if any
}

func (r Result) String() string {
	s := fmt.Sprintf("%-6s %9.0f ops/s  p50 %6.2f ms  p99 %6.2f ms  (%d ops, %d errors)",
		r.Op, r.Throughput, ms(r.P50), ms(r.P99), r.Ops, r.Errors)
	if r.FirstError != "" {
		s += "; first error: " + r.FirstError
	}
	return s
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Run runs one workload and returns its measurement.
func Run(ctx context.Context, cfg Config, op Op) (Result, error) {
	cfg.defaults()
	conns := make([]*zk.Conn, cfg.Sessions)
	for i := range conns {
		addr := cfg.Addrs[i%len(cfg.Addrs)]
		c, _, err := zkenv.DialZK(addr, 10*time.Second)
		if err != nil {
			return Result{}, fmt.Errorf("session %d: %w", i, err)
		}
		defer c.Close()
		conns[i] = c
	}
	value := make([]byte, cfg.ValueSize)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	root := fmt.Sprintf("%s-%s-%d", cfg.Root, op, time.Now().UnixNano())
	if _, err := conns[0].Create(root, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		return Result{}, fmt.Errorf("create %s: %w", root, err)
	}
	workers := cfg.Sessions * cfg.InFlight
	keys := make([]string, workers)
	if op != Create {
		for w := range keys {
			keys[w] = fmt.Sprintf("%s/k%04d", root, w)
			if _, err := conns[0].Create(keys[w], value, 0, zk.WorldACL(zk.PermAll)); err != nil {
				return Result{}, fmt.Errorf("create %s: %w", keys[w], err)
			}
		}
	}
	// Sessions on other members may not have applied those creates yet
	// (ZooKeeper promises each client its own order, not others'): a sync
	// through every session makes them visible before the clock starts,
	// so a get does not fail with "node does not exist" in the first
	// milliseconds of a run on an ensemble.
	for i, c := range conns {
		if _, err := c.Sync(root); err != nil {
			return Result{}, fmt.Errorf("sync session %d: %w", i, err)
		}
	}
	var ops, errs, issued atomic.Int64
	var firstErr atomic.Pointer[error]
	lat := make([][]time.Duration, workers)
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < workers; w++ {
		w := w
		c := conns[w%cfg.Sessions]
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1<<14)
			for n := 0; runCtx.Err() == nil; n++ {
				if cfg.Ops > 0 && issued.Add(1) > cfg.Ops {
					break
				}
				t0 := time.Now()
				var err error
				switch op {
				case Get:
					_, _, err = c.Get(keys[w])
				case Set:
					_, err = c.Set(keys[w], value, -1)
				case Create:
					_, err = c.Create(fmt.Sprintf("%s/c%04d-%d", root, w, n), value, 0, zk.WorldACL(zk.PermAll))
				case Mix:
					if n%10 == 0 {
						_, err = c.Set(keys[w], value, -1)
					} else {
						_, _, err = c.Get(keys[w])
					}
				}
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, &err)
					continue
				}
				local = append(local, time.Since(t0))
				ops.Add(1)
			}
			lat[w] = local
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	r := Result{Op: op, Ops: ops.Load(), Errors: errs.Load(), Elapsed: elapsed,
		Throughput: float64(ops.Load()) / elapsed.Seconds()}
	if e := firstErr.Load(); e != nil {
		r.FirstError = (*e).Error()
	}
	if len(all) > 0 {
		r.P50 = all[len(all)/2]
		r.P99 = all[len(all)*99/100]
		r.Max = all[len(all)-1]
	}
	return r, nil
}
