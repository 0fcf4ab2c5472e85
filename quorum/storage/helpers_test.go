package storage

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/protobuf/proto"
)

// testOpts keeps segments small so tests rotate and read files quickly.
var testOpts = Options{SegmentSize: 64 << 10}

func ent(index, term uint64, data string) *raftpb.Entry {
	return &raftpb.Entry{Index: proto.Uint64(index), Term: proto.Uint64(term),
		Type: raftpb.EntryNormal.Enum(), Data: []byte(data)}
}

// ents returns entries lo..hi of term with data derived from index and term.
func ents(lo, hi, term uint64) []*raftpb.Entry {
	var es []*raftpb.Entry
	for i := lo; i <= hi; i++ {
		es = append(es, ent(i, term, entData(i, term)))
	}
	return es
}

func entData(index, term uint64) string { return fmt.Sprintf("entry-%d-term-%d", index, term) }

func hardst(term, vote, commit uint64) *raftpb.HardState {
	return &raftpb.HardState{Term: proto.Uint64(term), Vote: proto.Uint64(vote), Commit: proto.Uint64(commit)}
}

func observed() (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.DebugLevel)
	return zap.New(core), logs
}

func mustCreate(t testing.TB, dir string) *WAL {
	t.Helper()
	return mustCreateWith(t, dir, testOpts)
}

func mustCreateWith(t testing.TB, dir string, opts Options) *WAL {
	t.Helper()
	w, err := CreateWithOptions(dir, zap.NewNop(), opts)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return w
}

func mustOpen(t testing.TB, dir string, lg *zap.Logger) *WAL {
	t.Helper()
	if lg == nil {
		lg = zap.NewNop()
	}
	w, err := OpenWithOptions(dir, lg, testOpts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return w
}

func mustSave(t testing.TB, w *WAL, hs *raftpb.HardState, es []*raftpb.Entry) {
	t.Helper()
	if err := w.Save(hs, es); err != nil {
		t.Fatalf("Save: %v", err)
	}
}

func mustReadAll(t testing.TB, w *WAL, from Pos) (hardState, []*raftpb.Entry) {
	t.Helper()
	hs, es, err := w.ReadAll(from)
	if err != nil {
		t.Fatalf("ReadAll(%+v): %v", from, err)
	}
	return hardStateOf(hs), es
}

// checkEntries compares entries by content.
func checkEntries(t testing.TB, got, want []*raftpb.Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d entries (%s), want %d (%s)", len(got), span(got), len(want), span(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.GetIndex() != w.GetIndex() || g.GetTerm() != w.GetTerm() || g.GetType() != w.GetType() || !bytes.Equal(g.GetData(), w.GetData()) {
			t.Fatalf("entry %d: got %v, want %v", i, g, w)
		}
	}
}

func span(es []*raftpb.Entry) string {
	if len(es) == 0 {
		return "none"
	}
	return fmt.Sprintf("%d..%d", es[0].GetIndex(), es[len(es)-1].GetIndex())
}

func segmentFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segmentExt))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// copyDir copies the regular files of src into a new temp dir.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	des, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		b, err := os.ReadFile(filepath.Join(src, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, de.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}
