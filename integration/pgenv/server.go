// Package pgenv is what the PostgreSQL tests and bench need beyond the
// harness: PostgreSQL 15 servers run by examples/postgresql's own scripts
// (so the tests exercise what operators run), a zkfc pair plus witness
// guarding them from the example's loopback templates, an independent
// writer that records every acknowledged commit, and the checker that
// judges a history.
//
// PostgreSQL refuses to run as root: as root, every server runs as the
// `postgres` account that Debian's postgresql-15 creates, with data
// directories the test owns. It never touches the system's own cluster.
// Everything it starts is stopped by t.Cleanup. It must never be imported
// by non-test code.
package pgenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/integration/harness"
)

// Bin is where Debian's postgresql-15 puts its programs.
const Bin = "/usr/lib/postgresql/15/bin"

// OSUser is the account servers run as when the test runs as root.
const OSUser = "postgres"

// ExampleDir is examples/postgresql: the scripts and templates under test.
func ExampleDir() string { return filepath.Join(harness.RepoRoot(), "examples", "postgresql") }

// Require skips the test when PostgreSQL 15 is not installed.
func Require(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(Bin, "postgres")); err != nil {
		t.Skip("needs PostgreSQL 15 (apt-get install -y postgresql-15)")
	}
	if os.Geteuid() == 0 {
		if _, err := user.Lookup(OSUser); err != nil {
			t.Skipf("running as root needs the %s account (apt-get install -y postgresql-15)", OSUser)
		}
	}
}

// BaseDir creates a directory the servers' account can use for data
// directories and logs (t.TempDir is private to root), removed at the end.
func BaseDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "zkfc-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if keep := os.Getenv("PG_KEEP_LOGS"); keep != "" {
			keepLogs(t, dir, keep)
		}
		os.RemoveAll(dir)
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	Own(t, dir)
	return dir
}

// Own hands path to the servers' account when running as root.
func Own(t testing.TB, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		return
	}
	u, err := user.Lookup(OSUser)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(path, uid, gid); err != nil {
		t.Fatal(err)
	}
}

func keepLogs(t testing.TB, dir, dst string) {
	logs, _ := filepath.Glob(filepath.Join(dir, "*", "*.log"))
	zkfcLogs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	logs = append(logs, zkfcLogs...)
	// One directory per cluster: a benchmark starts many under one name.
	base := filepath.Join(dst, strings.NewReplacer("/", "_").Replace(t.Name()))
	sub := base
	for i := 2; i < 10000; i++ {
		if _, err := os.Stat(sub); os.IsNotExist(err) {
			break
		}
		sub = fmt.Sprintf("%s-%d", base, i)
	}
	if err := os.MkdirAll(sub, 0o755); err != nil {
		return
	}
	for _, f := range logs {
		if b, err := os.ReadFile(f); err == nil {
			name := filepath.Base(f)
			if filepath.Dir(f) != dir {
				name = filepath.Base(filepath.Dir(f)) + "-" + name
			}
			_ = os.WriteFile(filepath.Join(sub, name), b, 0o644)
		}
	}
	t.Logf("PG_KEEP_LOGS: logs kept in %s", sub)
}

// Server is one PostgreSQL server of a test, driven through the example's
// scripts with the same environment zkfc gives them.
type Server struct {
	Name string // the zkfc node id guarding it (its application_name)
	Host string
	Port int
	Data string // PGDATA
	NS   string // network namespace its scripts run in, "" for the host's
}

// NewServer describes (does not create) server name under base.
func NewServer(t testing.TB, base, name, host string, port int) *Server {
	t.Helper()
	dir := filepath.Join(base, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	Own(t, dir)
	s := &Server{Name: name, Host: host, Port: port, Data: filepath.Join(dir, "pgdata")}
	t.Cleanup(func() { s.Kill() })
	return s
}

// Env is the environment of the example's scripts for this server.
func (s *Server) Env() []string {
	return []string{"PGDATA=" + s.Data, "PG_HOST=" + s.Host, "PG_PORT=" + strconv.Itoa(s.Port), "ZKFC_NODE_ID=" + s.Name,
		"PG_TRUST_NETS=127.0.0.1/32 10.0.0.0/8"}
}

// Script runs examples/postgresql/<name>.sh with args for this server
// (inside its namespace), bounded to two minutes, and returns its output.
func (s *Server) Script(name string, env []string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	argv := harness.InNetns(s.NS, append([]string{filepath.Join(ExampleDir(), name+".sh")}, args...)...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(append(os.Environ(), s.Env()...), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s for %s: %w: %s", name, strings.Join(args, " "), s.Name, err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

// MustScript is Script failing the test on error.
func (s *Server) MustScript(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := s.Script(name, nil, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Role is what role.sh says ("active", "standby"), "" when it fails.
func (s *Server) Role() string {
	out, err := s.Script("role", nil)
	if err != nil {
		return ""
	}
	return out
}

// DSN is a lib/pq connection string to the server.
func (s *Server) DSN() string {
	return fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres sslmode=disable connect_timeout=2", s.Host, s.Port)
}

// PostmasterPID is the running postmaster's pid, 0 when there is none.
func (s *Server) PostmasterPID() int {
	b, err := os.ReadFile(filepath.Join(s.Data, "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return 0
	}
	return pid
}

// Signal sends sig to the postmaster only (its backends go on), and
// returns when it was sent; false if no postmaster runs.
func (s *Server) Signal(sig syscall.Signal) bool {
	pid := s.PostmasterPID()
	if pid == 0 {
		return false
	}
	return syscall.Kill(pid, sig) == nil
}

// Kill ends the server at once: SIGKILL to the postmaster and every
// process it forked (a frozen one too), as a machine losing power would.
// It returns a time by which none of them ran any more.
func (s *Server) Kill() time.Time {
	pid := s.PostmasterPID()
	if pid == 0 {
		return time.Now()
	}
	children := childrenOf(pid)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for _, c := range children {
		_ = syscall.Kill(c, syscall.SIGKILL)
	}
	for i := 0; i < 100 && (alive(pid) || anyAlive(children)); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	return time.Now()
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	// A zombie (state Z) runs no code any more.
	return err == nil && !strings.Contains(string(b), ") Z ")
}

func anyAlive(pids []int) bool {
	for _, p := range pids {
		if alive(p) {
			return true
		}
	}
	return false
}

// childrenOf lists the direct children of pid (a postmaster's backends
// and auxiliary processes).
func childrenOf(pid int) []int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if c, err := strconv.Atoi(f); err == nil {
			out = append(out, c)
		}
	}
	return out
}

// Log is the server's own log (pg_ctl -l).
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(filepath.Dir(s.Data), "pgdata.log"))
	return string(b)
}
