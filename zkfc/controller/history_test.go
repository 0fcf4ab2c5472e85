package controller

import (
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/zkfc/history"
)

type entries []history.Entry

func (e *entries) Record(x history.Entry) { *e = append(*e, x) }

// A standby that sees the lock freed, fences the old active and promotes
// records one promotion with its lock, fence and promote phases; a sick
// active records its demotion with the detection from its first failed
// probe; a self-fence is recorded as such. Other role changes are not.
func TestHistoryHooks(t *testing.T) {
	f := newFixture(t)
	var rec entries
	f.c.cfg.History = &rec
	otherHoldsLock("peer")(f)
	breadcrumbOf("peer")(f)
	healthy(f)
	if len(rec) != 0 {
		t.Fatalf("becoming standby recorded %+v", rec)
	}
	lockFreed(f)
	f.now = f.now.Add(time.Second)
	lockChanged(0)(f)
	if len(rec) != 1 || rec[0].Kind != history.Promotion || rec[0].Token != 1 {
		t.Fatalf("promotion: %+v", rec)
	}
	if p := rec[0].Phases; p == nil || p.Lock == nil || p.Fence == nil || p.Promote == nil {
		t.Fatalf("promotion phases %+v: want lock, fence and promote", p)
	}

	// Two failed probes 500ms apart (fall 2): detection 500ms.
	f.c.handleHealth(Health{State: "SERVICE_HEALTHY", Progress: "fall 1 of 2", Healthy: true, Known: true})
	f.c.tick()
	f.now = f.now.Add(500 * time.Millisecond)
	unhealthy(f)
	if len(rec) != 2 || rec[1].Kind != history.Demotion || rec[1].Reason != "service SERVICE_UNHEALTHY" {
		t.Fatalf("demotion: %+v", rec)
	}
	if p := rec[1].Phases; p == nil || p.Detection == nil || *p.Detection != 500 {
		t.Fatalf("demotion phases %+v: want detection 500ms", p)
	}

	// Healthy again, active again, then the quorum stays silent: self-fence.
	healthy(f)
	f.now = f.now.Add(time.Hour)
	tickAt(0)(f)
	if f.c.svc.role != Active {
		t.Fatalf("role %s, want active again", f.c.svc.role)
	}
	f.el.ack = f.now.Add(-9 * time.Second)
	tickAt(0)(f)
	last := rec[len(rec)-1]
	if last.Kind != history.SelfFence {
		t.Fatalf("last entry %+v, want a self-fence", last)
	}
}
