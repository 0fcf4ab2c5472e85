package server

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/zkfc-project/zkfc/quorum/backup"
	"github.com/zkfc-project/zkfc/quorum/proto"
	"github.com/zkfc-project/zkfc/quorum/tree"
)

// writeSeed puts a seed at index holding /seeded in dir.
func writeSeed(t *testing.T, dir string, index uint64) {
	t.Helper()
	tr := tree.New()
	e := &tree.Entry{Zxid: 7, Time: 1, Op: proto.OpCreate,
		Req: &proto.CreateRequest{Path: "/seeded", Data: []byte("from the seed"), ACL: proto.OpenACL}}
	if res := tr.Apply(e); res.Err != proto.ErrOK {
		t.Fatalf("apply: %v", res.Err)
	}
	if err := os.MkdirAll(filepath.Dir(SeedPath(dir)), 0o700); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(SeedPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := backup.Write(f, backup.Header{Index: index, Created: time.Now()}, tr.WriteSnapshot); err != nil {
		t.Fatal(err)
	}
}

func TestMemberStartsFromSeed(t *testing.T) {
	dir := t.TempDir()
	writeSeed(t, dir, 0x500000000)
	ts := startServer(t, testConfig(t, dir))
	c, _ := connect(t, ts.addr, 5*time.Second)
	data, st, err := c.Get("/seeded")
	if err != nil || string(data) != "from the seed" {
		t.Fatalf("get /seeded: %q %v", data, err)
	}
	if st.Czxid != 7 {
		t.Fatalf("czxid %#x, want the seed's 7", st.Czxid)
	}
	if _, err := os.Stat(SeedPath(dir)); !os.IsNotExist(err) {
		t.Fatalf("the seed is still there after the first start (stat: %v)", err)
	}
	st, err = c.Set("/seeded", nil, -1)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mzxid <= 0x500000000 {
		t.Fatalf("a write after the seed got zxid %#x, not after the seed's %#x", st.Mzxid, 0x500000000)
	}
}

func TestSeedBesideAnExistingLogIsRefused(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, testConfig(t, dir))
	ts.stop()
	writeSeed(t, dir, 0x500000000)
	_, err := New(testConfig(t, dir), zaptest.NewLogger(t))
	if err == nil || !strings.Contains(err.Error(), "holds a seed") {
		t.Fatalf("New with a stale seed beside a log: %v", err)
	}
}

// A backup holds every znode whatever its ACL: the admin server hands one
// only to a client on the member's host.
func TestBackupOnlyForLoopbackClients(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, testConfig(t, dir))
	for _, c := range []struct {
		remote string
		want   int
	}{{"10.1.2.3:4567", http.StatusForbidden}, {"[2001:db8::1]:80", http.StatusForbidden}, {"127.0.0.1:4567", http.StatusOK}, {"[::1]:80", http.StatusOK}} {
		req := httptest.NewRequest(http.MethodGet, BackupPath, nil)
		req.RemoteAddr = c.remote
		rec := httptest.NewRecorder()
		ts.srv.serveBackup(rec, req)
		if rec.Code != c.want {
			t.Errorf("backup for %s: status %d, want %d", c.remote, rec.Code, c.want)
		}
	}
}
