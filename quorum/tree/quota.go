package tree

import (
	"fmt"
	"strconv"
	"strings"
)

// Quotas, as ZooKeeper 3.8 keeps them: a path P has a quota when
// /zookeeper/quota/P/zookeeper_limits exists, and the server keeps
// /zookeeper/quota/P/zookeeper_stats up to date ("count=N,bytes=M": the
// znodes in P's subtree and their data bytes). Like ZooKeeper it only
// tracks; it never refuses a write. The stats node's data changes without
// touching its version or mzxid, as in ZooKeeper.
const (
	quotaLimits = "zookeeper_limits"
	quotaStats  = "zookeeper_stats"
)

// quotaPrefix is the longest ancestor-or-self of path with a quota.
func (t *Tree) quotaPrefix(path string) (string, bool) {
	q := t.lookup(pathQuota)
	if q == nil || len(q.children) == 0 || strings.HasPrefix(path, pathZooKeeper+"/") || path == pathZooKeeper {
		return "", false
	}
	for p := path; p != "/"; p = parentPath(p) {
		if t.lookup(pathQuota+p+"/"+quotaLimits) != nil {
			return p, true
		}
	}
	return "", false
}

// quotaChanged records a change of count and bytes under path.
func (t *Tree) quotaChanged(path string, bytes, count int64) {
	prefix, ok := t.quotaPrefix(path)
	if !ok {
		return
	}
	st := t.lookup(pathQuota + prefix + "/" + quotaStats)
	if st == nil {
		return
	}
	c, b := parseStats(st.data)
	t.setStatsData(st, c+count, b+bytes)
}

// quotaNodeCreated handles the creation of a node under /zookeeper/quota:
// a new stats node starts from the subtree's current count and bytes.
func (t *Tree) quotaNodeCreated(n *node) {
	if !strings.HasPrefix(n.path, pathQuota+"/") || n.name() != quotaStats {
		return
	}
	target := strings.TrimPrefix(parentPath(n.path), pathQuota)
	root := t.lookup(target)
	if root == nil {
		return
	}
	var count, bytes int64
	var walk func(*node)
	walk = func(x *node) {
		count++
		bytes += int64(len(x.data))
		for _, c := range x.children {
			walk(c)
		}
	}
	walk(root)
	t.setStatsData(n, count, bytes)
}

func (t *Tree) setStatsData(st *node, count, bytes int64) {
	t.saveFields(st)
	data := []byte(fmt.Sprintf("count=%d,bytes=%d", count, bytes))
	t.dataSize += int64(len(data) - len(st.data))
	st.data = data
}

// parseStats reads "count=N,bytes=M" (other keys ignored).
func parseStats(b []byte) (count, bytes int64) {
	for _, kv := range strings.Split(string(b), ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		switch strings.TrimSpace(k) {
		case "count":
			count = n
		case "bytes":
			bytes = n
		}
	}
	return count, bytes
}
