package drill

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Netns is a network namespace joined to the host by a veth pair; the
// test creates both and removes them in t.Cleanup, even on failure.
type Netns struct {
	Name    string
	HostIP  string // host end of the veth pair
	InnerIP string // namespace end
	hostIf  string
}

func run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// NewNetns creates namespace name with a veth pair: 10.<octet>.0.1/24 on
// the host, 10.<octet>.0.2/24 inside, loopback up. It skips the test when
// not root or when `ip netns` does not work here.
func NewNetns(t testing.TB, name string, octet int) *Netns {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("partition drill needs root (network namespaces, veth, iptables)")
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("partition drill needs iptables")
	}
	if _, err := run("ip", "netns", "list"); err != nil {
		t.Skipf("partition drill needs `ip netns`: %v", err)
	}
	n := &Netns{Name: name, HostIP: fmt.Sprintf("10.%d.0.1", octet), InnerIP: fmt.Sprintf("10.%d.0.2", octet),
		hostIf: "vd" + name}
	inner := "vi" + name
	// Leftovers of an earlier crashed run would make the setup fail.
	_, _ = run("ip", "netns", "del", name)
	_, _ = run("ip", "link", "del", n.hostIf)
	t.Cleanup(func() {
		// Deleting the namespace deletes its veth end, the peer and the
		// namespace's iptables rules with it.
		if out, err := run("ip", "netns", "del", name); err != nil {
			t.Logf("cleanup: %v %s", err, out)
		}
		_, _ = run("ip", "link", "del", n.hostIf)
	})
	for _, cmd := range [][]string{
		{"ip", "netns", "add", name},
		{"ip", "link", "add", n.hostIf, "type", "veth", "peer", "name", inner},
		{"ip", "link", "set", inner, "netns", name},
		{"ip", "addr", "add", n.HostIP + "/24", "dev", n.hostIf},
		{"ip", "link", "set", n.hostIf, "up"},
		{"ip", "netns", "exec", name, "ip", "addr", "add", n.InnerIP + "/24", "dev", inner},
		{"ip", "netns", "exec", name, "ip", "link", "set", inner, "up"},
		{"ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"},
	} {
		if _, err := run(cmd...); err != nil {
			t.Skipf("cannot build the partition's namespace here: %v", err)
		}
	}
	return n
}

// Cut drops every packet between the namespace and the host inside the
// namespace (connections hang as in a real partition, not refused).
func (n *Netns) Cut(t testing.TB) {
	t.Helper()
	for _, cmd := range n.cutRules("-A") {
		if _, err := run(cmd...); err != nil {
			t.Fatal(err)
		}
	}
}

// Heal removes the rules Cut added.
func (n *Netns) Heal(t testing.TB) {
	t.Helper()
	for _, cmd := range n.cutRules("-D") {
		if _, err := run(cmd...); err != nil {
			t.Error(err)
		}
	}
}

// cutRules are the iptables commands that append (-A) or delete (-D) the
// rules of a cut, so Heal removes exactly what Cut added.
func (n *Netns) cutRules(op string) [][]string {
	return [][]string{
		n.iptables(op, "INPUT", "-s", n.HostIP, "-j", "DROP"),
		n.iptables(op, "OUTPUT", "-d", n.HostIP, "-j", "DROP"),
	}
}

// CutExcept drops every packet between the namespace and the host except
// TCP to or from the given ports (a host cut off from the quorum that can
// still reach its peer's control API, say). Flush undoes it.
func (n *Netns) CutExcept(t testing.TB, ports ...int) {
	t.Helper()
	var accepts [][]string
	for _, p := range ports {
		accepts = append(accepts, n.acceptServing(p)...)
		accepts = append(accepts, n.acceptDialing(p)...)
	}
	n.dropRest(t, accepts)
}

// CutExceptServing drops every packet between the namespace and the host
// except TCP connections the host opens to the given ports inside the
// namespace: a server cut off from its peers whose clients on the host
// still reach it. Unlike CutExcept it matches one direction only, so a
// peer's connection whose ephemeral source port happens to equal one of
// these ports stays cut. Flush undoes it.
func (n *Netns) CutExceptServing(t testing.TB, ports ...int) {
	t.Helper()
	var accepts [][]string
	for _, p := range ports {
		accepts = append(accepts, n.acceptServing(p)...)
	}
	n.dropRest(t, accepts)
}

// acceptServing accepts TCP connections the host opens to port inside the
// namespace: the requests in, the replies out.
func (n *Netns) acceptServing(port int) [][]string {
	ps := fmt.Sprint(port)
	return [][]string{
		n.iptables("-A", "INPUT", "-s", n.HostIP, "-p", "tcp", "--dport", ps, "-j", "ACCEPT"),
		n.iptables("-A", "OUTPUT", "-d", n.HostIP, "-p", "tcp", "--sport", ps, "-j", "ACCEPT"),
	}
}

// acceptDialing accepts TCP connections the namespace opens to port on the
// host: the requests out, the replies in.
func (n *Netns) acceptDialing(port int) [][]string {
	ps := fmt.Sprint(port)
	return [][]string{
		n.iptables("-A", "OUTPUT", "-d", n.HostIP, "-p", "tcp", "--dport", ps, "-j", "ACCEPT"),
		n.iptables("-A", "INPUT", "-s", n.HostIP, "-p", "tcp", "--sport", ps, "-j", "ACCEPT"),
	}
}

// dropRest runs the ACCEPT rules in accepts, then Cut's DROP rules.
func (n *Netns) dropRest(t testing.TB, accepts [][]string) {
	t.Helper()
	for _, cmd := range append(accepts, n.cutRules("-A")...) {
		if _, err := run(cmd...); err != nil {
			t.Fatal(err)
		}
	}
}

// iptables is the command running iptables with args inside the namespace.
func (n *Netns) iptables(args ...string) []string {
	return append([]string{"ip", "netns", "exec", n.Name, "iptables"}, args...)
}

// Flush removes every rule of the namespace (Cut's and CutExcept's).
func (n *Netns) Flush(t testing.TB) {
	t.Helper()
	for _, chain := range []string{"INPUT", "OUTPUT"} {
		if _, err := run(n.iptables("-F", chain)...); err != nil {
			t.Error(err)
		}
	}
}
