package controller

import (
	"strings"
	"testing"
	"time"
)

// A fail-health drill takes the unhealthy-active path for real (quit,
// breadcrumb kept for fencing), ignores the monitor while it lasts, and
// hands health back to the monitor when it ends.
func TestFailHealthDrill(t *testing.T) {
	f := newFixture(t)
	healthy(f)
	if f.c.svc.role != Active {
		t.Fatalf("role %s before the drill, want active", f.c.svc.role)
	}
	f.log = nil
	f.now = f.now.Add(time.Second)
	if err := f.c.handleRequest(request{kind: reqFailHealth, d: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	f.c.tick()
	f.c.publish()
	if got := f.c.Status().HealthSince; !got.Equal(f.now) {
		t.Fatalf("health_since %v, want the drill's start %v", got, f.now)
	}
	if f.c.svc.role != Standby || f.el.breadcrumb == nil || f.el.breadcrumb.NodeID != "me" {
		t.Fatalf("after the drill started: role %s, breadcrumb %+v; want standby with own breadcrumb kept", f.c.svc.role, f.el.breadcrumb)
	}
	if got := strings.Join(f.log, "|"); got != "release|demote" {
		t.Fatalf("calls %q, want release|demote", got)
	}
	// The real monitor still says healthy: ignored while the drill lasts.
	f.c.SetHealth("SERVICE_HEALTHY", true, true)
	healthy(f)
	if st := f.c.svc.health.state; st != DrillHealthState {
		t.Fatalf("health %q during the drill, want %q", st, DrillHealthState)
	}
	f.c.publish()
	if f.c.Status().HealthDrillUntil.IsZero() {
		t.Fatal("status does not show the drill")
	}
	f.log = nil
	tickAt(5 * time.Second)(f)
	if f.c.svc.health.state != "SERVICE_HEALTHY" || !f.c.elec.joined {
		t.Fatalf("after the drill: health %q joined=%v; want the monitor's healthy state and back in the election", f.c.svc.health.state, f.c.elec.joined)
	}
}

// Ending a drill early (duration 0) restores the monitor's state at once.
func TestFailHealthDrillEndsEarly(t *testing.T) {
	f := newFixture(t)
	healthy(f)
	f.c.SetHealth("SERVICE_HEALTHY", true, true)
	_ = f.c.handleRequest(request{kind: reqFailHealth, d: time.Hour})
	f.c.tick()
	_ = f.c.handleRequest(request{kind: reqFailHealth})
	f.c.tick()
	if f.c.svc.health.state != "SERVICE_HEALTHY" || !f.c.svc.drillUntil.IsZero() {
		t.Fatalf("health %q drillUntil %v after ending the drill", f.c.svc.health.state, f.c.svc.drillUntil)
	}
}

// The fencing of a previous active and the lock acquisition are
// published, successful or not, so a drill can time them.
func TestFenceAndLockArePublished(t *testing.T) {
	f := newFixture(t)
	breadcrumbOf("peer")(f)
	fenceFails(f)
	healthy(f)
	f.c.publish()
	st := f.c.Status()
	if st.LastFence == nil || st.LastFence.Target != "peer" || st.LastFence.TargetToken != 7 || st.LastFence.Error == "" {
		t.Fatalf("failed fence: last_fence %+v", st.LastFence)
	}
	if !st.LockSince.IsZero() {
		t.Fatalf("lock_since %v after the lock was released", st.LockSince)
	}
	fenceWorks(f)
	tickAt(time.Second)(f)
	f.c.publish()
	st = f.c.Status()
	if st.Role != "active" || st.LastFence == nil || st.LastFence.Error != "" || st.LockSince.IsZero() {
		t.Fatalf("successful fence: role %s last_fence %+v lock_since %v", st.Role, st.LastFence, st.LockSince)
	}
}
