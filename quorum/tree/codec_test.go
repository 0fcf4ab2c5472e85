package tree

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

func sampleEntries() []*Entry {
	auth := []proto.Id{{Scheme: "ip", ID: "127.0.0.1"}, {Scheme: "digest", ID: "alice:x"}}
	return []*Entry{
		{Time: 1, Session: 2, Auth: auth, Op: proto.OpCreate, Req: &proto.CreateRequest{Path: "/a", Data: []byte("d"), ACL: proto.OpenACL, Flags: 3}},
		{Time: 1, Session: 2, Op: proto.OpCreate2, Req: &proto.CreateRequest{Path: "/a", ACL: proto.OpenACL}},
		{Time: 1, Op: proto.OpCreateContainer, Req: &proto.CreateRequest{Path: "/c", Data: []byte{}, ACL: proto.OpenACL, Flags: 4}},
		{Time: 1, Op: proto.OpCreateTTL, Req: &proto.CreateTTLRequest{Path: "/t", ACL: proto.OpenACL, Flags: 5, TTL: 99}},
		{Op: proto.OpDelete, Req: &proto.PathVersionRequest{Path: "/a", Version: 3}},
		{Op: proto.OpSetData, Req: &proto.SetDataRequest{Path: "/a", Data: []byte("x"), Version: -1}},
		{Op: proto.OpSetACL, Req: &proto.SetACLRequest{Path: "/a", ACL: proto.OpenACL, Version: -1}},
		{Op: proto.OpCheck, Req: &proto.PathVersionRequest{Path: "/a", Version: 1}},
		{Op: proto.OpMulti, Req: &proto.MultiRequest{Ops: []proto.MultiOp{
			{Type: proto.OpCreate, Op: &proto.CreateRequest{Path: "/m", ACL: proto.OpenACL}},
			{Type: proto.OpCheck, Op: &proto.PathVersionRequest{Path: "/m", Version: 0}},
		}}},
		{Op: proto.OpCreateSession, Req: &CreateSession{ID: 7, Timeout: 4000, Passwd: make([]byte, 16)}},
		{Session: 7, Op: proto.OpCloseSession, Req: proto.Empty{}},
		{Time: 5, Op: proto.OpDeleteContainer, Req: &proto.PathRequest{Path: "/c"}},
	}
}

func TestEntryRoundTrip(t *testing.T) {
	for _, e := range sampleEntries() {
		got, err := UnmarshalEntry(e.Marshal())
		if err != nil {
			t.Fatalf("op %d: %v", e.Op, err)
		}
		if !reflect.DeepEqual(got, e) {
			t.Errorf("op %d: got %+v, want %+v", e.Op, got, e)
		}
	}
}

func TestUnmarshalEntryRejects(t *testing.T) {
	good := sampleEntries()[0].Marshal()
	cases := map[string][]byte{
		"empty":     nil,
		"truncated": good[:len(good)-1],
		"trailing":  append(bytes.Clone(good), 0),
		"read op":   (&Entry{Op: proto.OpGetData, Req: &proto.PathWatchRequest{Path: "/"}}).Marshal(),
		"unknown":   (&Entry{Op: 999}).Marshal(),
		"huge auth": {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff},
	}
	for name, b := range cases {
		if _, err := UnmarshalEntry(b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// FuzzUnmarshalEntry checks that no input panics and that whatever
// decodes re-encodes to something that decodes to the same entry.
func FuzzUnmarshalEntry(f *testing.F) {
	for _, e := range sampleEntries() {
		f.Add(e.Marshal())
	}
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := UnmarshalEntry(b)
		if err != nil {
			return
		}
		again, err := UnmarshalEntry(e.Marshal())
		if err != nil {
			t.Fatalf("re-encoded entry does not decode: %v", err)
		}
		if !reflect.DeepEqual(normalize(again), normalize(e)) {
			t.Fatalf("round trip changed the entry:\n%+v\n%+v", e, again)
		}
		// Applying garbage that decodes must not panic either.
		New().Apply(e)
	})
}

// normalize renders an entry through its encoding, since a null and an
// empty string decode alike.
func normalize(e *Entry) string { return string(e.Marshal()) }

// AppendMarshal frames an entry in place (the server puts the proposal id
// before it): what it appends is Marshal's encoding, and the prefix stays.
func TestAppendMarshalKeepsPrefix(t *testing.T) {
	for _, e := range sampleEntries() {
		prefix := []byte{1, 2, 3, 4, 5, 6, 7, 8}
		got := e.AppendMarshal(append([]byte(nil), prefix...))
		if !bytes.Equal(got[:len(prefix)], prefix) || !bytes.Equal(got[len(prefix):], e.Marshal()) {
			t.Fatalf("op %d: AppendMarshal gave %x, want %x then %x", e.Op, got, prefix, e.Marshal())
		}
	}
}
