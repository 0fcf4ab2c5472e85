package storage

import (
	"fmt"
	"io"
	"log"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
)

// raftNode is the server's persistence loop in miniature: persist each
// Ready through the WAL before anything else, then feed raft's
// MemoryStorage and apply. It checks that the package's API fits the raft
// library as the quorum server will use it.
type raftNode struct {
	rn      *raft.RawNode
	ms      *raft.MemoryStorage
	w       *WAL
	cs      *raftpb.ConfState
	applied uint64
	values  []string
}

func startNode(t *testing.T, w *WAL, ms *raft.MemoryStorage, applied uint64) *raftNode {
	t.Helper()
	rn, err := raft.NewRawNode(&raft.Config{ID: 1, ElectionTick: 10, HeartbeatTick: 1, Storage: ms,
		Applied: applied, MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 64,
		Logger: &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)}})
	if err != nil {
		t.Fatal(err)
	}
	return &raftNode{rn: rn, ms: ms, w: w, applied: applied}
}

func (n *raftNode) drain(t *testing.T) {
	t.Helper()
	for i := 0; i < 1000 && n.rn.HasReady(); i++ {
		rd := n.rn.Ready()
		if err := n.w.Save(rd.HardState, rd.Entries); err != nil {
			t.Fatal(err)
		}
		if err := n.ms.Append(rd.Entries); err != nil {
			t.Fatal(err)
		}
		if rd.HardState != nil {
			n.ms.SetHardState(rd.HardState)
		}
		for _, e := range rd.CommittedEntries {
			switch e.GetType() {
			case raftpb.EntryConfChange:
				var cc raftpb.ConfChange
				if err := proto.Unmarshal(e.GetData(), &cc); err != nil {
					t.Fatal(err)
				}
				n.cs = n.rn.ApplyConfChange(&cc)
			case raftpb.EntryNormal:
				if len(e.GetData()) > 0 {
					n.values = append(n.values, string(e.GetData()))
				}
			}
			n.applied = e.GetIndex()
		}
		n.rn.Advance(rd)
	}
}

func TestRaftSingleMemberRestart(t *testing.T) {
	walDir, snapDir := t.TempDir(), t.TempDir()
	w, err := Create(walDir, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	snaps := NewSnapshotter(snapDir, zap.NewNop())
	n := startNode(t, w, raft.NewMemoryStorage(), 0)
	if err := n.rn.Bootstrap([]raft.Peer{{ID: 1}}); err != nil {
		t.Fatal(err)
	}
	n.drain(t)
	if err := n.rn.Campaign(); err != nil {
		t.Fatal(err)
	}
	n.drain(t)
	propose := func(from, to int) {
		for i := from; i < to; i++ {
			if err := n.rn.Propose([]byte(fmt.Sprintf("v%d", i))); err != nil {
				t.Fatal(err)
			}
			n.drain(t)
		}
	}
	propose(0, 20)
	// Snapshot the "tree" (here: the applied values) and compact.
	snap, err := n.ms.CreateSnapshot(n.applied, n.cs, []byte(fmt.Sprint(len(n.values))))
	if err != nil {
		t.Fatal(err)
	}
	if err := snaps.Save(snap); err != nil {
		t.Fatal(err)
	}
	if err := w.SaveSnapshot(PosOf(snap)); err != nil {
		t.Fatal(err)
	}
	propose(20, 30)
	commit := n.rn.Status().GetCommit()
	w.Close()

	// Restart as the server will: snapshot, then the log after it.
	w, err = Open(walDir, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	loaded, err := snaps.Load()
	if err != nil {
		t.Fatal(err)
	}
	hs, es, err := w.ReadAll(PosOf(loaded))
	if err != nil {
		t.Fatal(err)
	}
	ms := raft.NewMemoryStorage()
	if err := ms.ApplySnapshot(loaded); err != nil {
		t.Fatal(err)
	}
	ms.SetHardState(hs)
	if err := ms.Append(es); err != nil {
		t.Fatal(err)
	}
	n2 := startNode(t, w, ms, PosOf(loaded).Index)
	n2.cs = loaded.GetMetadata().GetConfState()
	if got := n2.rn.Status().GetCommit(); got != commit {
		t.Fatalf("commit after restart = %d, want %d", got, commit)
	}
	n2.drain(t)
	if len(n2.values) != 10 || n2.values[0] != "v20" || n2.values[9] != "v29" {
		t.Fatalf("replayed after the snapshot: %v, want v20..v29", n2.values)
	}
	// And it carries on as leader of its one-member group.
	for i := 0; i < 30 && n2.rn.Status().RaftState != raft.StateLeader; i++ {
		n2.rn.Tick()
		n2.drain(t)
	}
	if err := n2.rn.Propose([]byte("after")); err != nil {
		t.Fatal(err)
	}
	n2.drain(t)
	if last := n2.values[len(n2.values)-1]; last != "after" {
		t.Fatalf("last applied value %q, want \"after\"", last)
	}
}
