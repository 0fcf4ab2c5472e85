package storage

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
)

// benchDir is where benchmarks write: $ZKFC_BENCH_DIR (to compare disks,
// e.g. /tmp against /work) or the test's temp dir.
func benchDir(b *testing.B) string {
	if base := os.Getenv("ZKFC_BENCH_DIR"); base != "" {
		dir, err := os.MkdirTemp(base, "walbench")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	return b.TempDir()
}

// BenchmarkSave measures one Save (one fdatasync) of n 200-byte entries
// into a segment preallocated with fallocate, one the log zero-fills ahead
// of its end as it goes (the default for a new log's first segment), one
// written full of zeros beforehand (the default for rotated segments), or
// one not preallocated.
func BenchmarkSave(b *testing.B) {
	for _, prealloc := range []string{"fallocate", "zero-ahead", "zeroed", "none"} {
		for _, n := range []int{1, 64} {
			b.Run(fmt.Sprintf("entries=%d/prealloc=%s", n, prealloc), func(b *testing.B) {
				opts := Options{NoPreallocate: prealloc == "none", NoZeroFill: prealloc == "fallocate"}
				w, err := CreateWithOptions(benchDir(b), zap.NewNop(), opts)
				if err != nil {
					b.Fatal(err)
				}
				defer w.Close()
				if prealloc == "zeroed" {
					// The first segment is only fallocated; later ones come
					// zero-filled from segmentPrep. Measure the steady state.
					zeros := make([]byte, DefaultSegmentSize-w.off)
					if _, err := w.f.WriteAt(zeros, w.off); err != nil {
						b.Fatal(err)
					}
					if err := w.f.Sync(); err != nil {
						b.Fatal(err)
					}
				}
				data := []byte(strings.Repeat("d", 200))
				batch := make([]*raftpb.Entry, n)
				next := uint64(1)
				b.SetBytes(int64(n * len(data)))
				b.ResetTimer()
				for b.Loop() {
					for k := range batch {
						batch[k] = ent(next, 1, "")
						batch[k].Data = data
						next++
					}
					if err := w.Save(hardst(1, 1, next-1), batch); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(w.syncs)/float64(b.N), "fsyncs/op")
			})
		}
	}
}

// BenchmarkFdatasync is the floor under Save: a write plus fdatasync, into
// a file that grows with every write ("grow"), one preallocated with
// fallocate ("fallocate": unwritten extents, converted on first write), or
// one whose space was written with zeros beforehand ("zeroed"). Writes of
// 256 bytes share blocks as small Saves do; 4 KiB writes each touch a new
// block.
func BenchmarkFdatasync(b *testing.B) {
	for _, size := range []int{256, 4096} {
		for _, mode := range []string{"grow", "fallocate", "zeroed"} {
			b.Run(fmt.Sprintf("write=%d/%s", size, mode), func(b *testing.B) {
				f, err := os.CreateTemp(benchDir(b), "sync")
				if err != nil {
					b.Fatal(err)
				}
				defer f.Close()
				const space = 256 << 20
				switch mode {
				case "fallocate":
					err = preallocate(f, space)
				case "zeroed":
					zeros := make([]byte, 1<<20)
					for off := int64(0); off < space && err == nil; off += int64(len(zeros)) {
						_, err = f.WriteAt(zeros, off)
					}
					if err == nil {
						err = f.Sync()
					}
				}
				if err != nil {
					b.Fatal(err)
				}
				buf := make([]byte, size)
				var off int64
				for b.Loop() {
					if _, err := f.WriteAt(buf, off%space); err != nil {
						b.Fatal(err)
					}
					off += int64(len(buf))
					if err := fdatasync(f); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
