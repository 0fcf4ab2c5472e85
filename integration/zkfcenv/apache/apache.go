// Package apache starts a standalone Apache ZooKeeper 3.8 on loopback for
// zkfc's tests (the elector's and the integration suite's).
//
// It must never be imported by non-test code, and everything it starts is
// stopped by t.Cleanup.
package apache

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// ZooKeeper is a running standalone Apache ZooKeeper server.
type ZooKeeper struct {
	Addr string
	cmd  *exec.Cmd
	dir  string
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// StartApache starts Apache ZooKeeper 3.8 (the Debian package) on a free
// loopback port with tickTime tick (sessions may range 2..20 ticks) and
// waits until it answers. It skips the test if java or the jar is missing.
func StartApache(t testing.TB, tick time.Duration) *ZooKeeper {
	t.Helper()
	jar := "/usr/share/java/zookeeper.jar"
	if _, err := os.Stat(jar); err != nil {
		t.Skipf("Apache ZooKeeper not installed (%s): %v", jar, err)
	}
	java, err := exec.LookPath("java")
	if err != nil {
		t.Skip("java not installed")
	}
	dir := t.TempDir()
	port := FreePort(t)
	cfg := fmt.Sprintf("tickTime=%d\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\nmaxClientCnxns=0\nforceSync=no\n4lw.commands.whitelist=ruok,srvr\n",
		tick.Milliseconds(), filepath.Join(dir, "data"), port)
	must(t, os.WriteFile(filepath.Join(dir, "zoo.cfg"), []byte(cfg), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "log4j.properties"), []byte(
		"log4j.rootLogger=WARN, F\nlog4j.appender.F=org.apache.log4j.FileAppender\nlog4j.appender.F.File="+filepath.Join(dir, "zk.log")+"\nlog4j.appender.F.layout=org.apache.log4j.PatternLayout\nlog4j.appender.F.layout.ConversionPattern=%d %p %c{1}: %m%n\n"), 0o644))
	// logback for 3.8 builds that use it.
	must(t, os.WriteFile(filepath.Join(dir, "logback.xml"), []byte(
		`<configuration><appender name="F" class="ch.qos.logback.core.FileAppender"><file>`+filepath.Join(dir, "zk.log")+`</file><encoder><pattern>%d %p %c{1}: %m%n</pattern></encoder></appender><root level="WARN"><appender-ref ref="F"/></root></configuration>`), 0o644))
	must(t, os.MkdirAll(filepath.Join(dir, "data"), 0o755))
	cmd := exec.Command(java, "-Xmx256m", "-XX:+UseSerialGC", "-Dzookeeper.admin.enableServer=false",
		"-cp", dir+":"+jar+":/usr/share/java/*", "org.apache.zookeeper.server.quorum.QuorumPeerMain", filepath.Join(dir, "zoo.cfg"))
	out, err := os.Create(filepath.Join(dir, "stdout.log"))
	must(t, err)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	must(t, cmd.Start())
	z := &ZooKeeper{Addr: fmt.Sprintf("127.0.0.1:%d", port), cmd: cmd, dir: dir}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGCONT)
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		out.Close()
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		if ruok(z.Addr) {
			return z
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "stdout.log"))
			t.Fatalf("zookeeper did not start within 60s on %s:\n%s", z.Addr, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func ruok(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("ruok")); err != nil {
		return false
	}
	buf := make([]byte, 4)
	n, _ := c.Read(buf)
	return string(buf[:n]) == "imok"
}

// Stop freezes the server with SIGSTOP: connections hang as in a partition.
func (z *ZooKeeper) Stop(t testing.TB) {
	t.Helper()
	must(t, syscall.Kill(-z.cmd.Process.Pid, syscall.SIGSTOP))
}

// Kill ends the server with SIGKILL: connections are reset and new ones
// refused.
func (z *ZooKeeper) Kill(t testing.TB) {
	t.Helper()
	must(t, syscall.Kill(-z.cmd.Process.Pid, syscall.SIGKILL))
}

// Cont resumes a server frozen by Stop.
func (z *ZooKeeper) Cont(t testing.TB) {
	t.Helper()
	must(t, syscall.Kill(-z.cmd.Process.Pid, syscall.SIGCONT))
}

// Log returns the server's log, for failure messages.
func (z *ZooKeeper) Log() string {
	b, _ := os.ReadFile(filepath.Join(z.dir, "zk.log"))
	return string(b)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
