package integration

import (
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/integration/harness"
	"github.com/zkfc-project/zkfc/integration/zkenv"
	"github.com/zkfc-project/zkfc/quorum/proto"
)

// TestSessionMovedThenClosedDropsOldConnection: a client's session moves
// from member 1 to member 2 (it reconnects there while its old connection
// is still open) and is closed there. The old connection on member 1 must
// close without reporting the deletion of the session's own ephemeral and
// without answering anything more: a client reading that connection (Curator's
// PersistentNode does) would otherwise see its node deleted and re-create
// it. Apache ZooKeeper usually closes the old connection first and
// sometimes answers ConnectionLoss; that race makes it no reference here.
func TestSessionMovedThenClosedDropsOldConnection(t *testing.T) {
	e := harness.StartEnsemble(t, harness.Ours, 3, cfgExtended.options())
	old, err := zkenv.ConnectRaw(e.Members[0].Addr(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	create := &proto.CreateRequest{Path: "/moved-eph", Data: []byte("x"), ACL: proto.OpenACL, Flags: proto.ModeEphemeral}
	if rep, err := old.Call(proto.OpCreate, create, &proto.PathResponse{}); err != nil || rep.Header.Err != proto.ErrOK {
		t.Fatalf("create ephemeral: %v %v", err, rep.Header.Err)
	}
	if rep, err := old.Call(proto.OpExists, &proto.PathWatchRequest{Path: "/moved-eph", Watch: true}, &proto.StatResponse{}); err != nil || rep.Header.Err != proto.ErrOK {
		t.Fatalf("exists with watch: %v %v", err, rep.Header.Err)
	}

	// Member 2 refuses the session (closes) until it has applied what the
	// client saw on member 1, as ZooKeeper does; a client tries again.
	var moved *zkenv.RawConn
	var lastErr error
	for i := 0; moved == nil && i < 50; i++ {
		r, resp, err := zkenv.ResumeRaw(e.Members[1].Addr(), old.Session, old.LastZxid)
		if err == nil && resp.SessionID == old.Session.SessionID {
			moved = r
			break
		}
		if r != nil {
			r.Close()
		}
		lastErr = err
		time.Sleep(100 * time.Millisecond)
	}
	if moved == nil {
		t.Fatalf("member 2 did not take the session over within 50 tries (last: %v)", lastErr)
	}
	if err := moved.CloseSession(); err != nil {
		t.Fatalf("closeSession on member 2: %v", err)
	}

	// Once member 1 applies the close, its old connection must go; until
	// then it may still be open. Anything it reads first is a failure.
	ev, ok, err := old.NextEvent(5 * time.Second)
	if ok {
		t.Errorf("old connection reported %+v after its session was closed elsewhere", ev)
	}
	if err == nil && !old.WaitClosed(5*time.Second) {
		t.Errorf("old connection still open 10s after its session was closed on another member")
	}
}
