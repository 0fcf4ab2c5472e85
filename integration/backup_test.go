package integration

// Backup and restore of the quorum (zkfc quorum backup / restore): a
// backup taken while 8 writers change the tree must restore to exactly
// the state after some zxid X of the server's history, and seed a new
// 3-member ensemble that serves.
//
// Run: make build && ZKFC_BIN=$PWD/bin/zkfc go test -count=1 -run 'TestBackup' -v ./integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkfc-project/zkfc/integration/harness"
)

// write is one acknowledged setData of a writer's counter.
type write struct {
	value int
	zxid  int64
}

func TestBackupDuringWritersRestoresOnePointInHistory(t *testing.T) {
	adminPort := harness.FreePort(t)
	opts := harness.Options{Extra: []string{"admin.enableServer=true", "admin.serverAddress=127.0.0.1",
		fmt.Sprintf("admin.serverPort=%d", adminPort)}}
	srv := harness.StartOurs(t, opts)
	const writers = 8
	setup := connectZK(t, 10*time.Second, srv.Addr())
	defer setup.Close()
	if _, err := setup.Create("/w", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < writers; i++ {
		if _, err := setup.Create(fmt.Sprintf("/w/%d", i), []byte("0"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}

	// Each writer increments its own counter, one write at a time, and
	// records the zxid each value was committed at.
	history := make([][]write, writers)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < writers; i++ {
		c := connectZK(t, 10*time.Second, srv.Addr())
		defer c.Close()
		wg.Add(1)
		go func(i int, c *zk.Conn) {
			defer wg.Done()
			for n := 1; n <= 20000; n++ {
				select {
				case <-stop:
					return
				default:
				}
				st, err := c.Set(fmt.Sprintf("/w/%d", i), []byte(strconv.Itoa(n)), -1)
				if err != nil {
					t.Errorf("writer %d: set %d: %v", i, n, err)
					return
				}
				history[i] = append(history[i], write{n, st.Mzxid})
			}
		}(i, c)
	}
	time.Sleep(time.Second)
	file := filepath.Join(t.TempDir(), "quorum.zkfcbak")
	out, errOut, err := runZkfc(t, 2*time.Minute, "quorum", "backup", "--admin-url", fmt.Sprintf("http://127.0.0.1:%d", adminPort), "--to", file)
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("backup: %v\n%s%s", err, out, errOut)
	}
	t.Logf("%s", out)
	m := regexp.MustCompile(`at zxid 0x([0-9a-f]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("backup output names no zxid:\n%s", out)
	}
	x, _ := strconv.ParseInt(m[1], 16, 64)

	// The state after zxid X: each counter at its last value committed at
	// or before X.
	want := make([]write, writers)
	before, after := 0, 0
	for i, h := range history {
		for _, w := range h {
			if w.zxid <= x {
				want[i] = w
				before++
			} else {
				after++
			}
		}
	}
	if before == 0 || after == 0 {
		t.Fatalf("the backup (zxid %#x) was not taken while the writers ran: %d writes before it, %d after", x, before, after)
	}
	t.Logf("backup at zxid %#x: %d writes before it, %d after", x, before, after)

	// Restore refuses a target that holds data.
	busy := t.TempDir()
	if err := os.WriteFile(filepath.Join(busy, "something"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runZkfc(t, time.Minute, "quorum", "restore", "--from", file, "--to", busy); err == nil {
		t.Fatal("restore into a non-empty directory succeeded")
	}

	checkState := func(t *testing.T, addr string) {
		t.Helper()
		c := connectZK(t, 10*time.Second, addr)
		defer c.Close()
		if _, err := c.Sync("/w"); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < writers; i++ {
			data, st, err := c.Get(fmt.Sprintf("/w/%d", i))
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != strconv.Itoa(want[i].value) || (want[i].zxid != 0 && st.Mzxid != want[i].zxid) {
				t.Errorf("%s /w/%d = %q (mzxid %#x), but after zxid %#x it was %d (mzxid %#x): a torn backup",
					addr, i, data, st.Mzxid, x, want[i].value, want[i].zxid)
			}
		}
	}

	// A new standalone member from the backup.
	single := harness.StartOurs(t, harness.Options{})
	single.Terminate()
	dir := filepath.Join(t.TempDir(), "restored")
	if out, errOut, err := runZkfc(t, time.Minute, "quorum", "restore", "--from", file, "--to", dir); err != nil {
		t.Fatalf("restore: %v\n%s%s", err, out, errOut)
	}
	if err := single.Reseat(harness.Ours, dir); err != nil {
		t.Fatal(err)
	}
	if err := harness.StartAll(90*time.Second, single); err != nil {
		t.Fatal(err)
	}
	checkState(t, single.Addr())

	// A new 3-member ensemble, every member restored from the same file.
	ens := harness.StartEnsemble(t, harness.Ours, 3, harness.Options{})
	for _, m := range ens.Members {
		m.Terminate()
	}
	for _, m := range ens.Members {
		dir := filepath.Join(t.TempDir(), "restored")
		if out, errOut, err := runZkfc(t, time.Minute, "quorum", "restore", "--from", file, "--to", dir); err != nil {
			t.Fatalf("restore member %d: %v\n%s%s", m.ID, err, out, errOut)
		}
		if err := m.Reseat(harness.Ours, dir); err != nil {
			t.Fatal(err)
		}
	}
	if err := harness.StartAll(90*time.Second, ens.Members...); err != nil {
		t.Fatal(err)
	}
	for _, m := range ens.Members {
		checkState(t, m.Addr())
	}
	// It serves writes, which continue the zxid sequence after X.
	c := connectZK(t, 10*time.Second, ens.Addrs()...)
	defer c.Close()
	st, err := c.Set("/w/0", []byte("after restore"), -1)
	if err != nil {
		t.Fatalf("the restored ensemble does not take writes: %v", err)
	}
	if st.Mzxid <= x {
		t.Fatalf("a write after the restore got zxid %#x, not after the backup's %#x", st.Mzxid, x)
	}
	for _, m := range ens.Members {
		r := connectZK(t, 10*time.Second, m.Addr())
		_, _ = r.Sync("/w/0")
		data, _, err := r.Get("/w/0")
		r.Close()
		if err != nil || string(data) != "after restore" {
			t.Fatalf("member %d reads /w/0 = %q (%v) after the write", m.ID, data, err)
		}
	}
}
