package integration

// Differential scenarios through the client tools: kazoo and zkCli.sh.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zkfc-project/zkfc/integration/zkenv"
	"github.com/zkfc-project/zkfc/quorum/proto"
)

// scenarioKazoo runs kazoo_scenarios.py, which prints its own transcript
// in the same token form.
func scenarioKazoo(e env, tr *zkenv.Transcript) error {
	out, err := zkenv.RunKazoo(60*time.Second, "kazoo_scenarios.py", e.addr(), e.root)
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if l != "" {
			tr.Printf("%s", l)
		}
	}
	return err
}

var (
	zkCliZxid  = regexp.MustCompile(`^([cmp]Zxid = )(0x[0-9a-f]+)$`)
	zkCliTime  = regexp.MustCompile(`^([cm]time = ).+$`)
	zkCliOwner = regexp.MustCompile(`^(ephemeralOwner = )(0x[0-9a-f]+)$`)
)

// zkCliLine turns zkCli.sh's stat lines into transcript tokens: zxids and
// session ids as tokens, dates (second resolution) as "set".
func zkCliLine(l string) string {
	if m := zkCliZxid.FindStringSubmatch(l); m != nil {
		v, _ := strconv.ParseInt(strings.TrimPrefix(m[2], "0x"), 16, 64)
		return m[1] + zkenv.Zxid(v)
	}
	if m := zkCliTime.FindStringSubmatch(l); m != nil {
		return m[1] + "set"
	}
	if m := zkCliOwner.FindStringSubmatch(l); m != nil {
		v, _ := strconv.ParseUint(strings.TrimPrefix(m[2], "0x"), 16, 64)
		return m[1] + zkenv.Owner(int64(v))
	}
	// Children lists, "[a, b]", come in the server's hash order.
	if strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]") {
		items := strings.Split(strings.Trim(l, "[]"), ", ")
		sort.Strings(items)
		return "[" + strings.Join(items, ", ") + "]"
	}
	return l
}

// scenarioZkCli feeds each testdata/zkcli script, with ROOT replaced by a
// path of its own, to zkCli.sh and records the filtered output.
func scenarioZkCli(e env, tr *zkenv.Transcript) error {
	scripts, err := filepath.Glob("testdata/zkcli/*.txt")
	if err != nil || len(scripts) == 0 {
		return fmt.Errorf("no zkCli scripts in testdata/zkcli: %v", err)
	}
	for _, script := range scripts {
		b, err := os.ReadFile(script)
		if err != nil {
			return err
		}
		root := e.path(strings.TrimSuffix(filepath.Base(script), ".txt"))
		if _, err := rcallOnce(e.addr(), tr, e.root); err != nil {
			return err
		}
		tr.Printf("== %s", filepath.Base(script))
		out, code, err := zkenv.RunZkCli(60*time.Second, e.addr(), strings.ReplaceAll(string(b), "ROOT", root))
		for _, l := range sortWhoAmIBlocks(strings.Split(out, "\n")) {
			tr.Printf("%s", zkCliLine(l))
		}
		if err != nil {
			return err
		}
		tr.Printf("exit code %d", code)
	}
	return nil
}

var whoamiLine = regexp.MustCompile(`^[a-z0-9]+: ?\S*$`)

// sortWhoAmIBlocks sorts the "scheme: user" lines after each "Auth scheme:
// User" header of zkCli's whoami (see whoText for why).
func sortWhoAmIBlocks(lines []string) []string {
	out := append([]string(nil), lines...)
	for i := 0; i < len(out); i++ {
		if out[i] != "Auth scheme: User" {
			continue
		}
		j := i + 1
		for j < len(out) && whoamiLine.MatchString(out[j]) {
			j++
		}
		sort.Strings(out[i+1 : j])
		i = j - 1
	}
	return out
}

// rcallOnce makes sure path exists, through a short raw session.
func rcallOnce(addr string, tr *zkenv.Transcript, path string) (proto.Err, error) {
	r, err := zkenv.ConnectRaw(addr, 10*time.Second)
	if err != nil {
		return 0, err
	}
	defer r.CloseSession()
	return rcall(tr, r, "ensure "+path, proto.OpCreate, &proto.CreateRequest{Path: path, ACL: proto.OpenACL}, &proto.PathResponse{})
}
