package zkimport

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/zkfc-project/zkfc/quorum/proto"
	"github.com/zkfc-project/zkfc/quorum/tree"
)

// File headers (FileSnap, FileTxnLog): magic, version 2, then a dbid.
const (
	snapMagic   = 0x5A4B534E // "ZKSN"
	logMagic    = 0x5A4B4C47 // "ZKLG"
	fileVersion = 2
)

// openACL is the ACL cache's reference -1: world:anyone with every
// permission, never stored in the cache.
const openACLRef = -1

// readSnapshot loads a snapshot file (FileSnap.serialize): header,
// sessions, the ACL cache, the nodes up to the "/" end marker, then the
// Adler32 seal, and in 3.6+ a digest record with a second seal.
func readSnapshot(path string, sizeHint int) (*state, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open snapshot: %w", err)
	}
	defer f.Close()
	var in io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, &CorruptError{File: path, Offset: 0, Reason: fmt.Sprintf("gzip: %v", err)}
		}
		defer gz.Close()
		in = gz
	}
	return decodeSnapshot(in, path, sizeHint)
}

// decodeSnapshot reads a snapshot's content; name is for errors.
func decodeSnapshot(in io.Reader, name string, sizeHint int) (*state, error) {
	j := newReader(in, name)
	if m, v := j.int(), j.int(); j.err == nil && (m != snapMagic || v != fileVersion) {
		j.corrupt(0, "not a ZooKeeper 3.x snapshot (magic %#x version %d, want %#x version %d)", m, v, snapMagic, fileVersion)
	}
	j.long() // dbid

	st := newState(sizeHint)
	ns := j.int()
	if j.err == nil && ns < 0 {
		j.corrupt(j.at, "bad session count %d", ns)
	}
	for i := int32(0); i < ns && j.err == nil; i++ {
		id, timeout := j.long(), j.int()
		st.sessions[id] = timeout
	}

	acls := map[int64][]proto.ACL{}
	na := j.int()
	if j.err == nil && na < 0 {
		j.corrupt(j.at, "bad ACL cache size %d", na)
	}
	for i := int32(0); i < na && j.err == nil; i++ {
		ref := j.long()
		acls[ref] = readACLs(j)
	}

	for j.err == nil {
		at := j.off
		p := j.string()
		if j.err != nil || p == "/" {
			break
		}
		n := &tree.NodeImage{Path: p, Data: j.buffer()}
		if p == "" {
			n.Path = "/"
		}
		ref := j.long()
		n.Czxid, n.Mzxid, n.Ctime, n.Mtime = j.long(), j.long(), j.long(), j.long()
		n.Version, n.Cversion, n.Aversion = j.int(), j.int(), j.int()
		n.Owner, n.Pzxid = j.long(), j.long()
		if j.err != nil {
			break
		}
		if ref == openACLRef {
			n.ACL = proto.OpenACL
		} else if n.ACL = acls[ref]; n.ACL == nil {
			j.corrupt(at, "node %q names ACL %d, which the ACL cache lacks", n.Path, ref)
			break
		}
		if n.Path != "/" && (n.Path[0] != '/' || st.nodes[parentOf(n.Path)] == nil) {
			// DataTree.serialize writes every parent before its children.
			j.corrupt(at, "node %q comes before its parent", n.Path)
			break
		}
		if st.nodes[n.Path] != nil {
			j.corrupt(at, "node %q appears twice", n.Path)
			break
		}
		st.put(n)
	}
	if j.err == nil && st.nodes["/"] == nil {
		j.corrupt(j.off, "snapshot has no root node")
	}
	readSeal(j)
	if j.err == nil && !j.atEOF() {
		// 3.6+ with zookeeper.digest.enabled: zxid, digest version, digest,
		// then a seal over the whole file again.
		j.long()
		j.int()
		j.long()
		readSeal(j)
	}
	if j.err == nil && !j.atEOF() {
		j.corrupt(j.off, "unexpected bytes after the snapshot's seal")
	}
	if j.err != nil {
		return nil, j.err
	}
	return st, nil
}

// readSeal checks the Adler32 of everything read so far against the
// long that follows, then the "/" that ends the seal.
func readSeal(j *reader) {
	if j.err != nil {
		return
	}
	want := int64(j.sum.Sum32())
	at := j.off
	got := j.long()
	if j.err == nil && got != want {
		j.corrupt(at, "checksum mismatch: file says %#x, content hashes to %#x", got, want)
		return
	}
	if p := j.string(); j.err == nil && p != "/" {
		j.corrupt(j.at, "seal ends with %q, want \"/\"", p)
	}
}

// readACLs reads a jute vector<ACL>.
func readACLs(j *reader) []proto.ACL {
	n := j.int()
	if j.err != nil || n == -1 {
		return nil
	}
	if n < 0 || n > 1<<16 {
		j.corrupt(j.at, "bad ACL count %d", n)
		return nil
	}
	out := make([]proto.ACL, 0, n)
	for i := int32(0); i < n && j.err == nil; i++ {
		a := proto.ACL{Perms: j.int()}
		a.ID.Scheme = j.string()
		a.ID.ID = j.string()
		out = append(out, a)
	}
	return out
}
