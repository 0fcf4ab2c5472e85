// Package bench measures zkfc end to end with real processes: how long
// from the active service failing its health check to the standby's
// service serving as active. Run with `make bench` (not part of make test).
package bench

import (
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/integration/zkfcenv"
)

// BenchmarkFailoverOnHealthFailure fails the active service's health
// check and times until the other service has been promoted (the start of
// its active interval in the roles file), several times back and forth.
// Target: at most 2 health-check intervals plus fence and promote time.
func BenchmarkFailoverOnHealthFailure(b *testing.B) {
	const rounds = 6
	interval := 200 * time.Millisecond
	zk := zkfcenv.StartApache(b, 500*time.Millisecond)
	roles := filepath.Join(b.TempDir(), "roles.jsonl")
	var demos [2]*zkfcenv.Demo
	var zkfcs [2]*zkfcenv.ZKFC
	for i, name := range []string{"nn1", "nn2"} {
		demos[i] = zkfcenv.StartDemo(b, name, roles)
		o := zkfcenv.ZKFCOptions{NodeID: name, Connect: zk.Addr, Demo: demos[i], SessionTimeout: 4 * time.Second,
			Margin: 1500 * time.Millisecond, HealthInterval: interval}
		cfg, url := zkfcenv.WriteConfig(b, o)
		if i == 0 {
			zkfcenv.Format(b, cfg)
		}
		zkfcs[i] = zkfcenv.StartZKFCWithConfig(b, o, cfg, url)
		zkfcenv.WaitFor(b, 30*time.Second, name+" settled", func() bool {
			r := zkfcs[i].Role()
			return r == "active" || r == "standby"
		})
	}
	var took []time.Duration
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		for r := 0; r < rounds; r++ {
			// The status is published after the promote action returns:
			// wait until one zkfc reports active before picking the victim.
			act := -1
			zkfcenv.WaitFor(b, 30*time.Second, "one active", func() bool {
				for i := range zkfcs {
					if zkfcs[i].Role() == "active" {
						act = i
						return true
					}
				}
				return false
			})
			stb := 1 - act
			zkfcenv.WaitFor(b, 30*time.Second, "standby in the election", func() bool {
				st, err := zkfcs[stb].Status()
				return err == nil && st.InElection && st.Role == "standby"
			})
			failed := time.Now()
			demos[act].Fail(b)
			var start time.Time
			zkfcenv.WaitFor(b, 60*time.Second, "failover", func() bool {
				ivs := zkfcenv.ReadIntervals(b, roles, time.Now())
				last := ivs[len(ivs)-1]
				if last.Name == demos[stb].Name && last.Start.After(failed) {
					start = last.Start
					return true
				}
				return false
			})
			took = append(took, start.Sub(failed))
			demos[act].Recover(b)
		}
	}
	b.StopTimer()
	zkfcenv.CheckNoOverlap(b, zkfcenv.ReadIntervals(b, roles, time.Now()))
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	var sum time.Duration
	for _, d := range took {
		sum += d
	}
	b.ReportMetric(float64(sum.Milliseconds())/float64(len(took)), "ms/failover-mean")
	b.ReportMetric(float64(took[len(took)/2].Milliseconds()), "ms/failover-p50")
	b.ReportMetric(float64(took[len(took)-1].Milliseconds()), "ms/failover-max")
	b.ReportMetric(float64(interval.Milliseconds()), "ms/health-interval")
	b.Logf("failover times (health interval %s, fall 1): %v", interval, took)
}
