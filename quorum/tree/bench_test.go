package tree

import (
	"bytes"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

var value100 = bytes.Repeat([]byte("v"), 100)

// benchTree has n persistent nodes /b/n0000000000... with 100-byte values.
func benchTree(b *testing.B, n int) (*Tree, []string) {
	b.Helper()
	tr := New()
	tr.Apply(&Entry{Zxid: 1, Op: proto.OpCreate, Req: &proto.CreateRequest{Path: "/b", ACL: proto.OpenACL}})
	paths := make([]string, n)
	for i := range paths {
		r := tr.Apply(&Entry{Zxid: int64(i + 2), Op: proto.OpCreate,
			Req: &proto.CreateRequest{Path: "/b/n", Data: value100, ACL: proto.OpenACL, Flags: proto.ModePersistentSequential}})
		if r.Err != proto.ErrOK {
			b.Fatalf("create: %v", r.Err)
		}
		paths[i] = r.Resp.(*proto.PathResponse).Path
	}
	return tr, paths
}

func BenchmarkApplyCreate(b *testing.B) {
	tr := New()
	tr.Apply(&Entry{Zxid: 1, Op: proto.OpCreate, Req: &proto.CreateRequest{Path: "/b", ACL: proto.OpenACL}})
	entries := make([]Entry, b.N)
	for i := range entries {
		entries[i] = Entry{Zxid: int64(i + 2), Time: int64(i), Session: 0, Op: proto.OpCreate,
			Req: &proto.CreateRequest{Path: fmt.Sprintf("/b/node-%d", i), Data: value100, ACL: proto.OpenACL}}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range entries {
		if r := tr.Apply(&entries[i]); r.Err != proto.ErrOK {
			b.Fatal(r.Err)
		}
	}
}

func BenchmarkApplySetData(b *testing.B) {
	tr, paths := benchTree(b, 10000)
	reqs := make([]proto.SetDataRequest, len(paths))
	for i, p := range paths {
		reqs[i] = proto.SetDataRequest{Path: p, Data: value100, Version: -1}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := Entry{Zxid: int64(i + 1e6), Op: proto.OpSetData, Req: &reqs[i%len(reqs)]}
		if r := tr.Apply(&e); r.Err != proto.ErrOK {
			b.Fatal(r.Err)
		}
	}
}

func BenchmarkGet(b *testing.B) {
	tr, paths := benchTree(b, 10000)
	auth := []proto.Id{{Scheme: "ip", ID: "127.0.0.1"}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := tr.Get(paths[i%len(paths)], auth); err != proto.ErrOK {
			b.Fatal(err)
		}
	}
}

// BenchmarkSnapshot1M builds a million 100-byte nodes, reports the heap
// they take, and times one snapshot write and one restore:
//
//	go test ./quorum/tree -run XXX -bench Snapshot1M -benchtime 1x
func BenchmarkSnapshot1M(b *testing.B) {
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	tr, _ := benchTree(b, 1_000_000)
	runtime.GC()
	runtime.ReadMemStats(&m1)
	heap := float64(m1.HeapAlloc-m0.HeapAlloc) / 1e6
	var buf bytes.Buffer
	buf.Grow(200 << 20)
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		buf.Reset()
		if err := tr.WriteSnapshot(&buf); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(buf.Len())/1e6, "snapMB")
	b.ReportMetric(heap, "heapMB")
	if _, err := Restore(bytes.NewReader(buf.Bytes())); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRestore1M times restoring the snapshot of a million nodes.
func BenchmarkRestore1M(b *testing.B) {
	tr, _ := benchTree(b, 1_000_000)
	var buf bytes.Buffer
	if err := tr.WriteSnapshot(&buf); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if _, err := Restore(bytes.NewReader(buf.Bytes())); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}

// cpuTime is the process's user+system CPU time: on a shared, busy
// machine it says more about the cost than wall time does (it includes
// the garbage collector's work on the other core).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
