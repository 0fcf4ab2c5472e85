// Package zkimport reads the data directory of a stopped Apache ZooKeeper
// 3.8 server (version-2/snapshot.* and log.*, jute-encoded, Adler32
// sealed) and rebuilds the state the server would recover: every znode
// with its data, ACL and stat, the live sessions with their timeouts and
// passwords, and the last zxid.
//
// It must never write anything, and never guess: a file that is
// truncated, fails its checksum or breaks the format stops the import
// with a *CorruptError naming the file and byte offset. (ZooKeeper itself
// falls back to an older snapshot or drops a torn log tail; an import is
// run by an operator who can look at the files first.)
package zkimport

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/zkfc-project/zkfc/quorum/tree"
)

// Result is a recovered ZooKeeper state.
type Result struct {
	Tree *tree.Tree
	// LastZxid is the zxid of the last transaction applied.
	LastZxid int64
	// Epoch is the member's currentEpoch: replies of its leader's epoch
	// carry zxids from Epoch<<32 even before a write.
	Epoch    int64
	Snapshot string   // the snapshot loaded
	Logs     []string // the logs replayed, in order
	Txns     int      // transactions applied after the snapshot
	Nodes    int
	Sessions int
	// DroppedEphemerals are ephemerals of sessions that had already ended,
	// which ZooKeeper deletes when it loads the database.
	DroppedEphemerals []string
}

// Zxid is where the imported state resumes: no zxid a client of the old
// server can have seen is above it, so no client is refused for having
// seen the future.
func (r *Result) Zxid() int64 { return max(r.LastZxid, r.Epoch<<32) }

type zkFile struct {
	path string
	zxid int64
}

// listFiles returns the files named prefix.<hex zxid>[.suffix] in dir,
// sorted by zxid.
func listFiles(dir, prefix string) ([]zkFile, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []zkFile
	for _, de := range des {
		parts := strings.Split(de.Name(), ".")
		if len(parts) < 2 || parts[0] != prefix || !de.Type().IsRegular() {
			continue
		}
		z, err := strconv.ParseUint(parts[1], 16, 64)
		if err != nil {
			continue
		}
		out = append(out, zkFile{path: filepath.Join(dir, de.Name()), zxid: int64(z)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].zxid < out[j].zxid })
	return out, nil
}

// Load reads dataDir (and logDir, ZooKeeper's dataLogDir; "" means
// dataDir) of a stopped ZooKeeper server.
func Load(dataDir, logDir string) (*Result, error) {
	if logDir == "" {
		logDir = dataDir
	}
	snapDir := filepath.Join(dataDir, "version-2")
	snaps, err := listFiles(snapDir, "snapshot")
	if err != nil {
		return nil, fmt.Errorf("list ZooKeeper snapshots: %w (is %s a ZooKeeper dataDir?)", err, dataDir)
	}
	if len(snaps) == 0 {
		return nil, fmt.Errorf("no snapshot.* in %s: ZooKeeper writes one when it first starts; is %s the dataDir of a ZooKeeper that ran?", snapDir, dataDir)
	}
	snap := snaps[len(snaps)-1]
	if strings.HasSuffix(snap.path, ".snappy") {
		return nil, fmt.Errorf("%s: snappy-compressed snapshots are not supported; restart ZooKeeper once with zookeeper.snapshot.compression.method=gz or none, stop it, and import again", snap.path)
	}
	logs, err := listFiles(filepath.Join(logDir, "version-2"), "log")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("list ZooKeeper logs: %w", err)
	}
	// The logs that matter (FileTxnLog.getLogFiles): the last one that
	// starts at or before the snapshot, and every later one.
	first := 0
	for i, l := range logs {
		if l.zxid <= snap.zxid {
			first = i
		}
	}
	logs = logs[first:]

	st, err := readSnapshot(snap.path, 0)
	if err != nil {
		return nil, err
	}
	st.lastZxid = snap.zxid
	res := &Result{Snapshot: snap.path}
	for _, l := range logs {
		n, err := replayLog(l.path, st)
		if err != nil {
			return nil, err
		}
		res.Logs = append(res.Logs, l.path)
		res.Txns += n
	}
	res.LastZxid = st.lastZxid
	res.Epoch, err = readEpoch(filepath.Join(snapDir, "currentEpoch"))
	if err != nil {
		return nil, err
	}

	// ZooKeeperServer.loadData: ephemerals of sessions that are gone are
	// deleted when the database is loaded.
	var dead []int64
	for id := range st.ephemerals {
		if _, ok := st.sessions[id]; !ok {
			dead = append(dead, id)
		}
	}
	sort.Slice(dead, func(i, j int) bool { return dead[i] < dead[j] })
	for _, id := range dead {
		for p := range st.ephemerals[id] {
			res.DroppedEphemerals = append(res.DroppedEphemerals, p)
		}
		st.killSession(id, st.lastZxid)
	}
	sort.Strings(res.DroppedEphemerals)

	b := tree.NewBuilder(st.lastZxid, len(st.nodes))
	ids := make([]int64, 0, len(st.sessions))
	for id := range st.sessions {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		b.Session(id, st.sessions[id], Passwd(id))
	}
	for _, n := range st.nodes {
		if err := b.Node(n); err != nil {
			return nil, fmt.Errorf("%s: %w", snap.path, err)
		}
	}
	res.Nodes, res.Sessions = len(st.nodes), len(st.sessions)
	st = nil
	res.Tree, err = b.Tree()
	if err != nil {
		return nil, fmt.Errorf("rebuild tree from %s and its logs: %w", snap.path, err)
	}
	return res, nil
}

// readEpoch reads currentEpoch (decimal text); a standalone server that
// never joined an ensemble has none, and its epoch is 0.
func readEpoch(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	e, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || e < 0 || e > 1<<31 {
		return 0, &CorruptError{File: path, Offset: 0, Reason: fmt.Sprintf("not an epoch: %q", strings.TrimSpace(string(b)))}
	}
	return e, nil
}

// Passwd is the password ZooKeeper gives session id
// (ZooKeeperServer.generatePasswd): 16 bytes of java.util.Random seeded
// with the id xor a fixed constant. Clients present it to resume their
// session, so an imported session must have the same one.
func Passwd(id int64) []byte {
	const (
		superSecret = 0xB3415C00
		multiplier  = 0x5DEECE66D
		mask        = 1<<48 - 1
	)
	seed := (id ^ superSecret ^ multiplier) & mask
	out := make([]byte, 16)
	for i := 0; i < len(out); {
		seed = (seed*multiplier + 0xB) & mask
		rnd := int32(seed >> 16)
		for n := min(len(out)-i, 4); n > 0; n-- {
			out[i] = byte(rnd)
			rnd >>= 8
			i++
		}
	}
	return out
}
