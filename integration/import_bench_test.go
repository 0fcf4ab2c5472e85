package integration

// The README's figures for taking over a large ZooKeeper: a real Apache
// ZooKeeper 3.8 is loaded with ZNODES znodes (default one million) by a
// pipelined multi loader, stopped, imported, and our server started on
// the result; then a backup of it is taken while it runs.
//
// Run (about 5 minutes on 2 cores):
//
//	make build && ZKFC_BIN=$PWD/bin/zkfc go test -count=1 -run '^$' \
//	  -bench BenchmarkImportAndBackup -benchtime 1x -timeout 30m -v ./integration

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkfc-project/zkfc/integration/harness"
)

func BenchmarkImportAndBackup(b *testing.B) {
	total := envCount(b, "ZNODES", 1000000, 1000, math.MaxInt32)
	const perDir, perMulti, loaders, nconns = 1000, 1000, 16, 4
	dirs := (total + perDir - 1) / perDir
	apache := harness.StartApache(b, harness.Options{
		JavaOpts: []string{"-Xmx3g", "-XX:+UseSerialGC"},
		// Loading is not what is measured: skip its fsyncs.
		Extra: []string{"forceSync=no"},
	})
	loadStart := time.Now()
	conns := make([]*zk.Conn, nconns)
	for i := range conns {
		c := connectZK(b, 30*time.Second, apache.Addr())
		defer c.Close()
		conns[i] = c
	}
	open := zk.WorldACL(zk.PermAll)
	if _, err := conns[0].Create("/bench", nil, 0, open); err != nil {
		b.Fatal(err)
	}
	data := []byte("0123456789abcdef0123456789abcdef")
	var wg sync.WaitGroup
	errs := make(chan error, loaders)
	for l := 0; l < loaders; l++ {
		wg.Add(1)
		go func(l int) {
			defer wg.Done()
			c := conns[l%nconns]
			for d := l; d < dirs; d += loaders {
				dir := fmt.Sprintf("/bench/d%04d", d)
				if _, err := c.Create(dir, nil, 0, open); err != nil {
					errs <- err
					return
				}
				n := min(perDir, total-d*perDir)
				for start := 0; start < n; start += perMulti {
					ops := make([]any, 0, perMulti)
					for i := start; i < min(start+perMulti, n); i++ {
						ops = append(ops, &zk.CreateRequest{Path: fmt.Sprintf("%s/n%04d", dir, i), Data: data, Acl: open})
					}
					if _, err := c.Multi(ops...); err != nil {
						errs <- fmt.Errorf("multi under %s: %w", dir, err)
						return
					}
				}
			}
		}(l)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.Logf("loaded %d znodes into Apache ZooKeeper in %v", total, time.Since(loadStart).Round(time.Second))
	for _, c := range conns {
		c.Close()
	}
	apache.Terminate()

	b.ResetTimer()
	to := filepath.Join(b.TempDir(), "zkfc-data")
	start := time.Now()
	out, errOut, err := runZkfc(b, 20*time.Minute, "quorum", "import", "--from", apache.DataDir, "--to", to)
	importTime := time.Since(start)
	if err != nil {
		b.Fatalf("import: %v\n%s%s", err, out, errOut)
	}
	b.Logf("import:\n%s", out)
	m := regexp.MustCompile(`peak memory (\d+) kB`).FindStringSubmatch(out)
	if m == nil {
		b.Fatalf("import printed no peak memory:\n%s", out)
	}
	peakKB, _ := strconv.ParseInt(m[1], 10, 64)

	adminPort := harness.FreePort(b)
	ours := harness.StartOurs(b, harness.Options{Extra: []string{"admin.enableServer=true", "admin.serverAddress=127.0.0.1",
		fmt.Sprintf("admin.serverPort=%d", adminPort)}, StartTimeout: 5 * time.Minute})
	ours.Terminate()
	if err := ours.Reseat(harness.Ours, to); err != nil {
		b.Fatal(err)
	}
	start = time.Now()
	if err := harness.StartAll(90*time.Second, ours); err != nil {
		b.Fatal(err)
	}
	startTime := time.Since(start)
	rss, _ := ours.RSS()
	file := filepath.Join(b.TempDir(), "big.zkfcbak")
	start = time.Now()
	out, errOut, err = runZkfc(b, 20*time.Minute, "quorum", "backup", "--admin-url", fmt.Sprintf("http://127.0.0.1:%d", adminPort), "--to", file)
	backupTime := time.Since(start)
	if err != nil {
		b.Fatalf("backup: %v\n%s%s", err, out, errOut)
	}
	b.Logf("backup: %s", strings.TrimSpace(out))
	b.StopTimer()
	// How long the member's writes waited for the in-memory copy.
	logText, err := os.ReadFile(ours.LogPath)
	if err != nil {
		b.Fatal(err)
	}
	pm := regexp.MustCompile(`"writes_paused":([0-9.]+)`).FindSubmatch(logText)
	if pm == nil {
		b.Fatalf("the server logged no backup with writes_paused:\n%s", ours.LogTail(20))
	}
	paused, _ := strconv.ParseFloat(string(pm[1]), 64)
	b.ReportMetric(paused, "backup-writes-paused-s")
	b.ReportMetric(importTime.Seconds(), "import-s")
	b.ReportMetric(float64(peakKB)/1024, "import-peak-MiB")
	b.ReportMetric(startTime.Seconds(), "start-s")
	b.ReportMetric(float64(rss)/(1<<20), "server-rss-MiB")
	b.ReportMetric(backupTime.Seconds(), "backup-s")
}
