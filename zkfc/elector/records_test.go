package elector

import (
	"errors"
	"testing"
)

// The Position and Sync znodes: absent, created, replaced, and never
// overwritten under an older fencing token; a member's position travels
// in its registry entry.
func TestRecordsAgainstServer(t *testing.T) {
	e, _ := openConnected(t, testCluster(t, Config{ClusterPath: "/zkfc/records"}))

	if p, err := e.ReadPosition(); err != nil || p != nil {
		t.Fatalf("no Position yet: %+v %v", p, err)
	}
	if err := e.WritePosition(Position{Node: "a", Token: 2, Position: 100}); err != nil {
		t.Fatal(err)
	}
	if err := e.WritePosition(Position{Node: "a", Token: 2, Position: 150}); err != nil {
		t.Fatal(err)
	}
	err := e.WritePosition(Position{Node: "b", Token: 1, Position: 999})
	if !errors.Is(err, ErrStaleRecord) {
		t.Fatalf("a write under an older token: %v, want ErrStaleRecord", err)
	}
	if p, err := e.ReadPosition(); err != nil || p == nil || *p != (Position{Node: "a", Token: 2, Position: 150}) {
		t.Fatalf("Position %+v %v", p, err)
	}

	if s, err := e.ReadSync(); err != nil || s != nil {
		t.Fatalf("no Sync yet: %+v %v", s, err)
	}
	if err := e.WriteSync(Sync{Active: "a", Token: 3, Standby: "b", Position: 150}); err != nil {
		t.Fatal(err)
	}
	if err := e.WriteSync(Sync{Active: "b", Token: 2}); !errors.Is(err, ErrStaleRecord) {
		t.Fatalf("a Sync under an older token: %v", err)
	}
	if s, err := e.ReadSync(); err != nil || s == nil || s.Standby != "b" || s.Token != 3 {
		t.Fatalf("Sync %+v %v", s, err)
	}

	pos := uint64(42)
	if err := e.Register(Info{NodeID: "b", Candidate: true, Position: &pos}); err != nil {
		t.Fatal(err)
	}
	m, err := e.Members()
	if err != nil || len(m) != 1 || m[0].Position == nil || *m[0].Position != 42 {
		t.Fatalf("members %+v %v", m, err)
	}
}
