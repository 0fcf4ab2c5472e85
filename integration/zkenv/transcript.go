package zkenv

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

// A Transcript is what one client observed in one scenario, one line per
// observation. Values that legitimately differ between two servers are
// written as tokens that Normalize rewrites: Zxid(z) and SessionID(id).
// Times are reduced at formatting time (FormatStat), children lists sorted.
// Safe for concurrent use (watch goroutines may append).
type Transcript struct {
	mu    sync.Mutex
	lines []string
}

// Printf appends one line.
func (t *Transcript) Printf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, fmt.Sprintf(format, args...))
}

// Lines returns a copy of the raw lines.
func (t *Transcript) Lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.lines...)
}

// Zxid renders a zxid as a token for Normalize.
func Zxid(z int64) string { return fmt.Sprintf("Z(%#x)", z) }

// SessionID renders a session id as a token for Normalize.
func SessionID(id int64) string { return fmt.Sprintf("S(%#x)", id) }

// Owner renders Stat.EphemeralOwner: 0, container, ttl(ms) or a session token.
func Owner(owner int64) string {
	switch {
	case owner == 0:
		return "0"
	case owner == proto.ContainerEphemeralOwner:
		return "container"
	case proto.IsTTLOwner(owner):
		return fmt.Sprintf("ttl(%d)", owner&proto.MaxTTL)
	}
	return SessionID(owner)
}

// FormatStat renders every Stat field. Times are reduced to what two servers
// must agree on: ctime is non-zero, and mtime equals ctime on a node never
// written since creation (version 0) and is not before it otherwise (two
// writes can land in the same millisecond, so "after" would be flaky).
func FormatStat(s proto.Stat) string {
	ctime := "0"
	if s.Ctime != 0 {
		ctime = "set"
	}
	var mtime string
	switch {
	case s.Mtime == s.Ctime && s.Version == 0:
		mtime = "=ctime"
	case s.Mtime >= s.Ctime && s.Version > 0:
		mtime = ">=ctime"
	default:
		// Unusual but real: /zookeeper/config in an ensemble has ctime 0,
		// a wall-clock mtime and version -1. Only the relation is stable.
		rel := "="
		if s.Mtime > s.Ctime {
			rel = ">"
		} else if s.Mtime < s.Ctime {
			rel = "<"
		}
		mtime = fmt.Sprintf("odd(mtime%sctime,version=%d)", rel, s.Version)
	}
	return fmt.Sprintf("czxid=%s mzxid=%s pzxid=%s ctime=%s mtime=%s version=%d cversion=%d aversion=%d owner=%s dataLength=%d numChildren=%d",
		Zxid(s.Czxid), Zxid(s.Mzxid), Zxid(s.Pzxid), ctime, mtime, s.Version, s.Cversion, s.Aversion,
		Owner(s.EphemeralOwner), s.DataLength, s.NumChildren)
}

// SortedList renders a children list in sorted order (ZooKeeper returns a
// hash order that a compatible server need not reproduce).
func SortedList(v []string) string {
	c := append([]string(nil), v...)
	sort.Strings(c)
	return "[" + strings.Join(c, " ") + "]"
}

var (
	zxidToken    = regexp.MustCompile(`Z\((0x[0-9a-f]+|0)\)`)
	sessionToken = regexp.MustCompile(`S\((-?0x[0-9a-f]+|0)\)`)
)

// Normalize rewrites tokens so that transcripts of two servers compare
// equal when they differ only in numbering: each distinct zxid becomes its
// rank among the transcript's zxids (Z1 smallest; zero stays Z0), each
// distinct session id its order of first appearance (S1, S2...; zero stays S0).
func Normalize(lines []string) []string {
	var zxids []int64
	seen := map[int64]bool{}
	for _, l := range lines {
		for _, m := range zxidToken.FindAllStringSubmatch(l, -1) {
			v := parseToken(m[1])
			if v != 0 && !seen[v] {
				seen[v] = true
				zxids = append(zxids, v)
			}
		}
	}
	sort.Slice(zxids, func(i, j int) bool { return zxids[i] < zxids[j] })
	rank := map[int64]int{0: 0}
	for i, z := range zxids {
		rank[z] = i + 1
	}
	sessions := map[int64]int{0: 0}
	out := make([]string, len(lines))
	for i, l := range lines {
		l = zxidToken.ReplaceAllStringFunc(l, func(tok string) string {
			return "Z" + strconv.Itoa(rank[parseToken(zxidToken.FindStringSubmatch(tok)[1])])
		})
		l = sessionToken.ReplaceAllStringFunc(l, func(tok string) string {
			v := parseToken(sessionToken.FindStringSubmatch(tok)[1])
			n, ok := sessions[v]
			if !ok {
				n = len(sessions)
				sessions[v] = n
			}
			return "S" + strconv.Itoa(n)
		})
		out[i] = l
	}
	return out
}

func parseToken(s string) int64 {
	if s == "0" {
		return 0
	}
	neg := strings.HasPrefix(s, "-")
	u, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(s, "-"), "0x"), 16, 64)
	if err != nil {
		return math.MinInt64 // cannot happen with the token regexps
	}
	if neg {
		return -int64(u)
	}
	return int64(u)
}

// UnifiedDiff returns a unified diff of a and b with three lines of
// context, or "" when they are equal.
func UnifiedDiff(nameA, nameB string, a, b []string) string {
	n, m := len(a), len(b)
	// lcs[i][j] = length of the LCS of a[i:] and b[j:].
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type edit struct {
		op   byte // ' ', '-', '+'
		text string
		ai   int
		bj   int
	}
	var edits []edit
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			edits = append(edits, edit{' ', a[i], i, j})
			i, j = i+1, j+1
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			edits = append(edits, edit{'-', a[i], i, j})
			i++
		default:
			edits = append(edits, edit{'+', b[j], i, j})
			j++
		}
	}
	const ctx = 3
	var out strings.Builder
	for k := 0; k < len(edits); {
		if edits[k].op == ' ' {
			k++
			continue
		}
		start := max(0, k-ctx)
		end := k
		// Extend the hunk while changes are within 2*ctx of each other.
		for e := k; e < len(edits); e++ {
			if edits[e].op != ' ' {
				end = e
			} else if e-end > 2*ctx {
				break
			}
		}
		stop := min(len(edits), end+ctx+1)
		if out.Len() == 0 {
			fmt.Fprintf(&out, "--- %s\n+++ %s\n", nameA, nameB)
		}
		fmt.Fprintf(&out, "@@ -%d +%d @@\n", edits[start].ai+1, edits[start].bj+1)
		for _, e := range edits[start:stop] {
			fmt.Fprintf(&out, "%c%s\n", e.op, e.text)
		}
		k = stop
	}
	return out.String()
}
