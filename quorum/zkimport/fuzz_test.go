package zkimport

import (
	"bytes"
	"errors"
	"hash/adler32"
	"os"
	"path/filepath"
	"testing"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

// minimalSnapshot is a valid snapshot holding a root, one node and one
// session, sealed as ZooKeeper seals it.
func minimalSnapshot() []byte {
	var e proto.Encoder
	e.Int(snapMagic)
	e.Int(fileVersion)
	e.Long(-1)
	e.Int(1) // sessions
	e.Long(0x42)
	e.Int(4000)
	e.Int(1) // ACL cache
	e.Long(1)
	e.Int(1)
	e.Int(proto.PermRead)
	e.String("world")
	e.String("anyone")
	for _, n := range []struct {
		path string
		acl  int64
	}{{"", -1}, {"/a", 1}} {
		e.String(n.path)
		e.Buffer([]byte("data"))
		e.Long(n.acl)
		for i := 0; i < 4; i++ {
			e.Long(int64(i))
		}
		e.Int(0)
		e.Int(0)
		e.Int(0)
		e.Long(0)
		e.Long(3)
	}
	e.String("/")
	e.Long(int64(adler32.Checksum(e.Buf)))
	e.String("/")
	return e.Buf
}

// minimalLog is a valid log with one create and one setData after zxid 0.
func minimalLog() []byte {
	var e proto.Encoder
	e.Int(logMagic)
	e.Int(fileVersion)
	e.Long(0)
	record := func(zxid int64, typ int32, body func(*proto.Encoder)) {
		var p proto.Encoder
		p.Long(0x42)
		p.Int(1)
		p.Long(zxid)
		p.Long(1000)
		p.Int(typ)
		body(&p)
		e.Long(int64(adler32.Checksum(p.Buf)))
		e.Int(int32(len(p.Buf)))
		e.Buf = append(e.Buf, p.Buf...)
		e.Buf = append(e.Buf, endOfRecord)
	}
	record(1, opCreate, func(p *proto.Encoder) {
		p.String("/b")
		p.Buffer([]byte("x"))
		p.Int(1)
		p.Int(proto.PermAll)
		p.String("world")
		p.String("anyone")
		p.Bool(true)
		p.Int(-1)
	})
	record(2, opSetData, func(p *proto.Encoder) {
		p.String("/b")
		p.Buffer([]byte("y"))
		p.Int(1)
	})
	return e.Buf
}

// checkErr allows only a *CorruptError: every other error would mean an
// input the reader did not understand but did not call damaged either.
func checkErr(t *testing.T, err error) {
	var ce *CorruptError
	if err != nil && !errors.As(err, &ce) {
		t.Fatalf("not a CorruptError: %v", err)
	}
}

func writeInput(t *testing.T, name string, b []byte) string {
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMinimalFilesRead(t *testing.T) {
	st, err := readSnapshot(writeInput(t, "snapshot.0", minimalSnapshot()), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.nodes) != 2 || st.sessions[0x42] != 4000 || st.nodes["/a"].ACL[0].Perms != proto.PermRead {
		t.Fatalf("snapshot read as %d nodes, sessions %v", len(st.nodes), st.sessions)
	}
	n, err := replayLog(writeInput(t, "log.1", minimalLog()), st)
	if err != nil || n != 2 {
		t.Fatalf("replayed %d: %v", n, err)
	}
	b := st.nodes["/b"]
	if b == nil || string(b.Data) != "y" || b.Owner != 0x42 || b.Version != 1 || st.nodes["/"].Cversion != 1 {
		t.Fatalf("/b after replay: %+v", b)
	}
}

func FuzzSnapshot(f *testing.F) {
	f.Add(minimalSnapshot())
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := decodeSnapshot(bytes.NewReader(b), "snapshot.0", 0)
		checkErr(t, err)
	})
}

func FuzzLog(f *testing.F) {
	f.Add(minimalLog())
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := decodeSnapshot(bytes.NewReader(minimalSnapshot()), "snapshot.0", 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = replayRecords(bytes.NewReader(b), "log.1", st)
		checkErr(t, err)
	})
}
