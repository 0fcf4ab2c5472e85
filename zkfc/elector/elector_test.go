package elector

import (
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"
)

func waitKind(t *testing.T, e *Elector, epoch uint64, k Kind) {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case ev := <-e.Events():
			if ev.Epoch == epoch && ev.Kind == k {
				return
			}
		case <-timeout:
			t.Fatalf("no %s event for epoch %d within 60s", k, epoch)
		}
	}
}

// TestElectorAgainstServer exercises the znode protocol on a real server:
// one lock winner, the loser's watch firing, breadcrumb versioning, the
// token counter, and a new session bumping the epoch and dropping the lock.
func TestElectorAgainstServer(t *testing.T) {
	lg := zap.NewNop()
	const cp = "/zkfc/test"
	fc := testCluster(t, Config{ClusterPath: cp})
	servers := fc.Servers
	if err := Format(fc, false, lg); err == nil {
		t.Fatal("second Format without force succeeded")
	}
	a, _ := openConnected(t, fc)
	b, eb := openConnected(t, fc)
	if err := a.CheckFormatted(); err != nil {
		t.Fatal(err)
	}

	held, _, err := a.TryAcquire(Info{NodeID: "a"})
	if err != nil || !held {
		t.Fatalf("a: held=%v err=%v", held, err)
	}
	held, holder, err := b.TryAcquire(Info{NodeID: "b"})
	if err != nil || held || holder == nil || holder.NodeID != "a" {
		t.Fatalf("b: held=%v holder=%+v err=%v", held, holder, err)
	}
	// Re-acquiring in the same session reports the lock as ours.
	if held, _, _ := a.TryAcquire(Info{NodeID: "a"}); !held {
		t.Fatal("a lost its own lock on re-acquire")
	}

	// Breadcrumb: absent, created, then a stale version is refused.
	bc, v, err := a.Breadcrumb()
	if err != nil || bc != nil || v != -1 {
		t.Fatalf("empty breadcrumb: %+v %d %v", bc, v, err)
	}
	tok, err := a.NextToken()
	if err != nil || tok != 1 {
		t.Fatalf("first token = %d, %v", tok, err)
	}
	if tok, _ = b.NextToken(); tok != 2 {
		t.Fatalf("second token = %d", tok)
	}
	if err := a.WriteBreadcrumb(Info{NodeID: "a", Token: 1}, -1); err != nil {
		t.Fatal(err)
	}
	if err := b.WriteBreadcrumb(Info{NodeID: "b"}, -1); err == nil {
		t.Fatal("create over an existing breadcrumb succeeded")
	}
	if err := b.DeleteBreadcrumb("b"); err != nil {
		t.Fatal(err)
	}
	if bc, _, _ := b.Breadcrumb(); bc == nil || bc.NodeID != "a" {
		t.Fatalf("b deleted a's breadcrumb: %+v", bc)
	}

	// a marks its session as the one it is active under; b, without the
	// lock, cannot; while a's session lives b cannot call it ended.
	sa, err := a.MarkSession("a")
	if err != nil || sa == 0 {
		t.Fatalf("a.MarkSession = %x, %v", sa, err)
	}
	if _, err := b.MarkSession("b"); err == nil {
		t.Fatal("b marked its session without holding the lock")
	}
	if ended, ev, err := b.SessionEnded("a", sa); err != nil || ended {
		t.Fatalf("SessionEnded(a's live session) = %v, %q, %v", ended, ev, err)
	}
	if _, _, err := b.SessionEnded("a", 0); err == nil {
		t.Fatal("SessionEnded without a session id answered")
	}

	// a releases: b's watch fires and b wins.
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	waitKind(t, b, eb, LockChanged)
	if held, _, _ := b.TryAcquire(Info{NodeID: "b"}); !held {
		t.Fatal("b did not win after a released")
	}

	// A new session for b: new epoch, and its ephemeral lock is gone.
	eb2, err := b.Open()
	if err != nil || eb2 != eb+1 {
		t.Fatalf("reopen: epoch %d (was %d) err %v", eb2, eb, err)
	}
	waitKind(t, b, eb2, Connected)
	if h, err := b.Holder(); err != nil || h != nil {
		t.Fatalf("lock survived its session: %+v %v", h, err)
	}
	// A read is no acknowledgment (a member cut off from the leader still
	// answers reads); a write is. r's pinger stays quiet, so that only its
	// own requests can ack.
	r, _ := openConnected(t, Config{Servers: servers, SessionTimeout: 4 * time.Second, ClusterPath: cp, PingInterval: time.Hour})
	if _, err := r.Holder(); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := r.LastAck(); ok {
		t.Fatal("a read counted as an acknowledgment")
	}
	if _, err := r.NextToken(); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := r.LastAck(); !ok {
		t.Fatal("no ack recorded after a write")
	}

	if tok, err := b.CurrentToken(); err != nil || tok != 3 {
		t.Fatalf("CurrentToken = %d, %v; want 3 (a, b and r each took one)", tok, err)
	}

	// w's pinger is idle for an hour: only the watch can tell it.
	w, ew := openConnected(t, Config{Servers: servers, SessionTimeout: 4 * time.Second, ClusterPath: cp, PingInterval: time.Hour})
	set, err := a.SetPaused(true)
	if err != nil || !set.Paused || set.Generation == 0 {
		t.Fatalf("SetPaused(true) = %+v, %v", set, err)
	}
	waitKind(t, w, ew, PauseChanged)
	if got := w.Pause(); got != set {
		t.Fatalf("w observed %+v, a set %+v", got, set)
	}
	if again, _ := a.SetPaused(true); again != set {
		t.Fatalf("a second pause changed the generation: %+v, then %+v", set, again)
	}
	if _, err := a.SetPaused(false); err != nil {
		t.Fatal(err)
	}
	waitKind(t, w, ew, PauseChanged)
	if got, err := w.RefreshPause(); err != nil || got.Paused || w.Pause().Paused {
		t.Fatalf("after resume w reads %+v (%v), stored %+v", got, err, w.Pause())
	}

	// A daemon started before the format learns of it through a watch.
	u, eu := openConnected(t, Config{Servers: servers, SessionTimeout: 4 * time.Second, ClusterPath: "/zkfc/later", PingInterval: time.Hour})
	if err := u.CheckFormatted(); !errors.Is(err, ErrNotFormatted) {
		t.Fatalf("CheckFormatted of a missing cluster = %v", err)
	}
	if err := Format(Config{Servers: servers, SessionTimeout: 5 * time.Second, ClusterPath: "/zkfc/later", ConnectWait: 60 * time.Second}, false, lg); err != nil {
		t.Fatal(err)
	}
	waitKind(t, u, eu, ClusterCreated)

	// a's session ends (closed): its marker goes with it, and now the
	// quorum's records prove it.
	a.Close()
	if ended, ev, err := b.SessionEnded("a", sa); err != nil || !ended {
		t.Fatalf("SessionEnded(a's closed session) = %v, %q, %v", ended, ev, err)
	}
}
