package proto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func TestRoundTrips(t *testing.T) {
	st := Stat{Czxid: 1, Mzxid: 2, Ctime: 3, Mtime: 4, Version: 5, Cversion: 6, Aversion: 7, EphemeralOwner: 8, DataLength: 9, NumChildren: 10, Pzxid: 11}
	cases := []struct {
		name string
		in   Record
		out  Record
	}{
		{"stat", &st, &Stat{}},
		{"connect with readOnly", &ConnectRequest{ProtocolVersion: 0, LastZxidSeen: 9, TimeOut: 4000, SessionID: 7, Passwd: make([]byte, 16), HasReadOnly: true}, &ConnectRequest{}},
		{"connect without readOnly", &ConnectRequest{TimeOut: 4000, Passwd: []byte{1}}, &ConnectRequest{}},
		{"create", &CreateRequest{Path: "/a", Data: []byte("x"), ACL: OpenACL, Flags: 3}, &CreateRequest{}},
		{"create null data", &CreateRequest{Path: "/a", ACL: OpenACL}, &CreateRequest{}},
		{"createTTL", &CreateTTLRequest{Path: "/t", ACL: OpenACL, Flags: ModeTTL, TTL: 1000}, &CreateTTLRequest{}},
		{"getData reply", &GetDataResponse{Data: []byte("d"), Stat: st}, &GetDataResponse{}},
		{"children2", &GetChildren2Response{Children: []string{"a", "b"}, Stat: st}, &GetChildren2Response{}},
		{"setWatches2", &SetWatches2Request{RelativeZxid: 5, DataWatches: []string{"/a"}, ExistWatches: []string{}, ChildWatches: []string{"/b"}, PersistentWatches: []string{}, PersistentRecursiveWatches: []string{"/"}}, &SetWatches2Request{}},
		{"multi", &MultiRequest{Ops: []MultiOp{
			{Type: OpCreate, Op: &CreateRequest{Path: "/m", ACL: OpenACL}},
			{Type: OpCheck, Op: &PathVersionRequest{Path: "/m", Version: 0}},
			{Type: OpSetData, Op: &SetDataRequest{Path: "/m", Data: []byte("v"), Version: -1}},
			{Type: OpDelete, Op: &PathVersionRequest{Path: "/m", Version: -1}},
		}}, &MultiRequest{}},
		{"multi reply", &MultiResponse{Results: []MultiResult{
			{Type: OpCreate, Body: &PathResponse{Path: "/m"}},
			{Type: OpError, Err: ErrNoNode},
			{Type: OpSetData, Body: &StatResponse{Stat: st}},
			{Type: OpDelete},
		}}, &MultiResponse{}},
		{"whoAmI", &WhoAmIResponse{ClientInfo: []ClientInfo{{AuthScheme: "ip", User: "127.0.0.1"}}}, &WhoAmIResponse{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := Marshal(c.in)
			if err := Unmarshal(b, c.out); err != nil {
				t.Fatal(err)
			}
			if again := Marshal(c.out); !bytes.Equal(b, again) {
				t.Fatalf("re-encoding differs:\n%x\n%x", b, again)
			}
		})
	}
}

func TestHugeCountRefusedWithoutAllocation(t *testing.T) {
	var e Encoder
	e.String("/p")
	e.Int(0x7fffffff) // vector count claiming two billion ACLs
	var r SetACLRequest
	err := Unmarshal(e.Buf, &r)
	if !errors.Is(err, ErrBadLength) {
		t.Fatalf("err = %v, want ErrBadLength", err)
	}
	allocs := testing.AllocsPerRun(100, func() { _ = Unmarshal(e.Buf, &SetACLRequest{}) })
	if allocs > 3 {
		t.Fatalf("%v allocations decoding a bogus count: the count was trusted", allocs)
	}
}

func TestNegativeAndOversizedLengths(t *testing.T) {
	for _, n := range []int32{-2, 1 << 30} {
		var e Encoder
		e.Int(n)
		d := NewDecoder(e.Buf)
		if s := d.String(); s != "" || !errors.Is(d.Err(), ErrBadLength) {
			t.Fatalf("length %d: %q %v", n, s, d.Err())
		}
	}
	// A null buffer is -1.
	var e Encoder
	e.Buffer(nil)
	if b := NewDecoder(e.Buf).Buffer(); b != nil {
		t.Fatal("null buffer decoded as non-nil")
	}
}

func TestReadFrameRefusesOversizedLength(t *testing.T) {
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], DefaultMaxBuffer+1)
	if _, err := ReadFrame(bytes.NewReader(hdr[:]), nil, DefaultMaxBuffer); err == nil {
		t.Fatal("frame above jute.maxbuffer accepted")
	}
	binary.BigEndian.PutUint32(hdr[:], 0x80000000)
	if _, err := ReadFrame(bytes.NewReader(hdr[:]), nil, DefaultMaxBuffer); err == nil {
		t.Fatal("negative frame length accepted")
	}
}

// FuzzDecodeRequest feeds arbitrary frames to every request decoder, as the
// server does with what a client sends: no input may panic, and whatever
// decodes must re-encode to something that decodes to the same encoding.
func FuzzDecodeRequest(f *testing.F) {
	for _, r := range []Record{
		&CreateRequest{Path: "/a", Data: []byte("x"), ACL: OpenACL, Flags: 1},
		&MultiRequest{Ops: []MultiOp{{Type: OpCreate, Op: &CreateRequest{Path: "/m", ACL: OpenACL}}, {Type: OpDelete, Op: &PathVersionRequest{Path: "/m", Version: -1}}}},
		&SetWatches2Request{RelativeZxid: 1, DataWatches: []string{"/a"}},
		&SetACLRequest{Path: "/a", ACL: OpenACL, Version: 1},
		&AuthPacket{Scheme: "digest", Auth: []byte("u:p")},
	} {
		var e Encoder
		h := RequestHeader{Xid: 1, Type: opOf(r)}
		h.Encode(&e)
		r.Encode(&e)
		f.Add(e.Buf)
	}
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 14, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDecoder(b)
		var h RequestHeader
		h.Decode(d)
		if d.Err() != nil {
			return
		}
		r := NewRequestRecord(h.Type)
		if r == nil {
			return
		}
		r.Decode(d)
		if d.Err() != nil {
			return
		}
		enc := Marshal(r)
		r2 := NewRequestRecord(h.Type)
		if err := Unmarshal(enc, r2); err != nil {
			t.Fatalf("re-encoded %T does not decode: %v", r, err)
		}
		if !bytes.Equal(enc, Marshal(r2)) {
			t.Fatalf("%T encoding not stable", r)
		}
	})
}

func opOf(r Record) int32 {
	switch r.(type) {
	case *CreateRequest:
		return OpCreate
	case *MultiRequest:
		return OpMulti
	case *SetWatches2Request:
		return OpSetWatches2
	case *SetACLRequest:
		return OpSetACL
	case *AuthPacket:
		return OpAuth
	}
	return -1
}

// FuzzConnectRequest covers the handshake decoder.
func FuzzConnectRequest(f *testing.F) {
	f.Add(Marshal(&ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16), HasReadOnly: true}))
	f.Add([]byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r ConnectRequest
		_ = Unmarshal(b, &r)
	})
}
