package server

import (
	"encoding/binary"
	"fmt"
	"io"
	"reflect"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/quorum/proto"
	"github.com/zkfc-project/zkfc/quorum/tree"
)

// recordingSM is a state machine that records what the replica applies.
type recordingSM struct {
	applied []string
	zxid    int64
}

func (m *recordingSM) initialState() (uint64, []byte, error) { return 1, nil, nil }
func (m *recordingSM) restore([]byte) error                  { return nil }
func (m *recordingSM) writeSnapshot(io.Writer) error         { return nil }
func (m *recordingSM) setApplied(z int64)                    { m.zxid = z }
func (m *recordingSM) snapshotInstalled()                    {}
func (m *recordingSM) roleChanged(role, role)                {}
func (m *recordingSM) leaderGone()                           {}
func (m *recordingSM) leaderHeard()                          {}
func (m *recordingSM) fatal(error)                           {}
func (m *recordingSM) membershipFinal(bool)                  {}
func (m *recordingSM) inEnsemble(uint64) bool                { return true }
func (m *recordingSM) applyBatch(b []committed) {
	for i := range b {
		c := &b[i]
		if c.entry == nil {
			m.applied = append(m.applied, fmt.Sprintf("%d -", c.index))
		} else {
			p := c.entry.Req.(*proto.CreateRequest).Path
			m.applied = append(m.applied, fmt.Sprintf("%d %s", c.index, p))
			c.res = tree.Result{Resp: &proto.PathResponse{Path: p}}
		}
		m.setApplied(int64(c.index))
		if c.applied != nil {
			c.applied()
		}
	}
}

// apply decodes every kind of normal entry the same way on every member:
// a write stamped with the term it was appended in is applied and
// completes its proposal; a late copy (stamped with an earlier term), a
// new leader's empty entry and an undecodable entry only move the zxid
// on; a legacy entry (8-byte header) is applied.
func TestApplyDecodesEachKindOfEntry(t *testing.T) {
	sm := &recordingSM{}
	r := newReplica(sm, nil, zap.NewNop(), 1, 100, 200*time.Millisecond, 0)
	r.pending = map[uint64]*proposal{}
	create := func(path string) *tree.Entry {
		return &tree.Entry{Op: proto.OpCreate, Req: &proto.CreateRequest{Path: path, ACL: proto.OpenACL}}
	}
	var got []string
	own := &proposal{id: 1<<48 | 7, data: encodeProposal(create("/own"))}
	own.done = func(zxid int64, res tree.Result, err error) {
		got = append(got, fmt.Sprintf("done %d %v %v", zxid, res.Resp, err))
	}
	own.applied = func() { got = append(got, "applied hook") }
	own.stamp(2)
	r.pending[own.id] = own
	late := &proposal{id: 2<<48 | 1, data: encodeProposal(create("/late"))}
	late.stamp(2)
	legacy := create("/legacy").AppendMarshal(make([]byte, legacyEntryHeader))
	binary.BigEndian.PutUint64(legacy, 42)
	cut := make([]byte, entryHeader-1)
	binary.BigEndian.PutUint64(cut, 3|stampedFlag)
	ent := func(index, term uint64, data []byte) *raftpb.Entry {
		return &raftpb.Entry{Index: u64(index), Term: u64(term), Type: raftpb.EntryType_EntryNormal.Enum(), Data: data}
	}
	r.appliedIndex = 1
	r.apply([]*raftpb.Entry{
		ent(1, 1, nil), // applied before: skipped
		ent(2, 2, own.data),
		ent(3, 3, late.data),
		ent(4, 3, nil),
		ent(5, 3, legacy),
		ent(6, 3, cut),
	})
	want := []string{"2 /own", "3 -", "4 -", "5 /legacy", "6 -"}
	if !reflect.DeepEqual(sm.applied, want) {
		t.Errorf("applied %q, want %q", sm.applied, want)
	}
	if wantGot := []string{"applied hook", "done 2 &{/own} <nil>"}; !reflect.DeepEqual(got, wantGot) {
		t.Errorf("own proposal: %q, want %q", got, wantGot)
	}
	if r.appliedIndex != 6 || sm.zxid != 6 || r.appliedTerm != 3 || r.lastOwn != own.id || len(r.pending) != 0 {
		t.Errorf("after the batch: applied index %d, zxid %d, term %d, last own %x, %d pending; want 6, 6, 3, %x, 0",
			r.appliedIndex, sm.zxid, r.appliedTerm, r.lastOwn, len(r.pending), own.id)
	}
}
