package proto

import "testing"

// The records a server encodes and decodes on every request: the headers,
// a read's reply with its Stat, a create, and a multi. They measure the
// per-field cost of the codec, which every record pays through Fields.
func benchRecords() []struct {
	name string
	in   Record
	out  func() Record
} {
	st := Stat{Czxid: 1, Mzxid: 2, Ctime: 3, Mtime: 4, Version: 5, Cversion: 6, Aversion: 7, EphemeralOwner: 8, DataLength: 9, NumChildren: 10, Pzxid: 11}
	return []struct {
		name string
		in   Record
		out  func() Record
	}{
		{"requestHeader", &RequestHeader{Xid: 7, Type: OpGetData}, func() Record { return &RequestHeader{} }},
		{"replyHeader", &ReplyHeader{Xid: 7, Zxid: 1 << 33, Err: ErrNoNode}, func() Record { return &ReplyHeader{} }},
		{"getDataReply", &GetDataResponse{Data: make([]byte, 64), Stat: st}, func() Record { return &GetDataResponse{} }},
		{"create", &CreateRequest{Path: "/service/lock-0000000001", Data: make([]byte, 32), ACL: OpenACL, Flags: ModeEphemeralSequential}, func() Record { return &CreateRequest{} }},
		{"multi", &MultiRequest{Ops: []MultiOp{
			{Type: OpCheck, Op: &PathVersionRequest{Path: "/m", Version: 3}},
			{Type: OpSetData, Op: &SetDataRequest{Path: "/m", Data: make([]byte, 16), Version: 3}},
		}}, func() Record { return &MultiRequest{} }},
	}
}

func BenchmarkEncode(b *testing.B) {
	for _, c := range benchRecords() {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			e := Encoder{Buf: make([]byte, 0, 512)}
			for i := 0; i < b.N; i++ {
				e.Buf = e.Buf[:0]
				c.in.Encode(&e)
			}
			b.SetBytes(int64(len(e.Buf)))
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, c := range benchRecords() {
		b.Run(c.name, func(b *testing.B) {
			buf := Marshal(c.in)
			b.ReportAllocs()
			b.SetBytes(int64(len(buf)))
			for i := 0; i < b.N; i++ {
				if err := Unmarshal(buf, c.out()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
