package server

import (
	"math"
	"runtime/debug"
	"testing"

	"go.uber.org/zap"
)

func TestTuneMemory(t *testing.T) {
	origGC := debug.SetGCPercent(100)
	origLimit := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() {
		debug.SetGCPercent(origGC)
		debug.SetMemoryLimit(origLimit)
	})

	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	TuneMemory(64<<20, zap.NewNop())
	if gc := debug.SetGCPercent(-1); gc != DefaultGCPercent {
		t.Errorf("GC percent = %d, want the default %d", gc, DefaultGCPercent)
	}
	if l := debug.SetMemoryLimit(-1); l != 64<<20 {
		t.Errorf("memory limit = %d, want the -Xmx value %d", l, 64<<20)
	}

	// The runtime's own knobs win over our defaults and over -Xmx.
	debug.SetGCPercent(80)
	debug.SetMemoryLimit(math.MaxInt64)
	t.Setenv("GOGC", "80")
	t.Setenv("GOMEMLIMIT", "1GiB")
	TuneMemory(64<<20, zap.NewNop())
	if gc := debug.SetGCPercent(-1); gc != 80 {
		t.Errorf("with GOGC=80 the GC percent = %d, want 80", gc)
	}
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		t.Errorf("with GOMEMLIMIT set the limit = %d, want it untouched", l)
	}
}
