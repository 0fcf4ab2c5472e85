package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/zkfc/control"
	"github.com/zkfc-project/zkfc/zkfc/controller"
	"github.com/zkfc-project/zkfc/zkfc/elector"
)

func TestPlaced(t *testing.T) {
	t0 := time.Unix(100, 0)
	seen := t0.Add(2 * time.Second)
	for _, c := range []struct {
		name     string
		reported time.Time
		want     time.Time
	}{
		{"within the window: the node's clock", t0.Add(time.Second), t0.Add(time.Second)},
		{"at the trigger", t0, t0},
		{"before the trigger: clock skew, use when seen", t0.Add(-time.Millisecond), seen},
		{"after it was seen: clock skew, use when seen", seen.Add(time.Millisecond), seen},
		{"not reported", time.Time{}, seen},
	} {
		if got := placed(t0, c.reported, seen); !got.Equal(c.want) {
			t.Errorf("%s: placed = %v, want %v", c.name, got.Sub(t0), c.want.Sub(t0))
		}
	}
}

// fakeCluster is two control APIs whose statuses play a takeover once
// nn1's health is failed; fenceOK says whether nn2's fencing succeeds.
// The steps' timestamps are microseconds apart, so they precede the
// drill's next poll and their order is the one reported.
type fakeCluster struct {
	mu        sync.Mutex
	st        map[string]*controller.Status
	srv       map[string]*httptest.Server
	fenceOK   bool
	overrides []string
}

func newFakeCluster(t *testing.T, fenceOK bool) *fakeCluster {
	fc := &fakeCluster{st: map[string]*controller.Status{}, srv: map[string]*httptest.Server{}, fenceOK: fenceOK}
	fc.st["nn1"] = &controller.Status{NodeID: "nn1", Role: "active", FencingToken: 4, HoldsLock: true}
	fc.st["nn2"] = &controller.Status{NodeID: "nn2", Role: "standby"}
	for _, id := range []string{"nn1", "nn2"} {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
			fc.mu.Lock()
			defer fc.mu.Unlock()
			_ = json.NewEncoder(w).Encode(fc.st[id])
		})
		mux.HandleFunc("GET /members", func(w http.ResponseWriter, _ *http.Request) {
			_ = json.NewEncoder(w).Encode([]elector.Info{{NodeID: "nn2", ControlURL: fc.srv["nn2"].URL}, {NodeID: "nn1", ControlURL: fc.srv["nn1"].URL}})
		})
		mux.HandleFunc("POST /drill/fail-health", func(w http.ResponseWriter, r *http.Request) {
			fc.mu.Lock()
			defer fc.mu.Unlock()
			fc.overrides = append(fc.overrides, id+" "+r.URL.Query().Get("duration"))
			if r.URL.Query().Get("duration") == "0s" {
				return
			}
			now := time.Now()
			a, b := fc.st["nn1"], fc.st["nn2"]
			a.Role, a.HoldsLock = "standby", false
			a.Health, a.HealthSince = controller.DrillHealthState, now
			a.Transitions = append(a.Transitions, controller.Transition{At: now.Add(2 * time.Microsecond), From: "active", To: "standby", Reason: "service SERVICE_UNHEALTHY (drill)"})
			b.HoldsLock, b.LockSince = true, now.Add(time.Microsecond)
			b.LastFence = &controller.FenceRecord{At: now.Add(3 * time.Microsecond), Target: "nn1", TargetToken: 4}
			if !fc.fenceOK {
				b.LastFence.Error = "fence nn1: all 1 methods failed"
				return
			}
			b.Role, b.FencingToken = "active", 5
			b.Transitions = append(b.Transitions, controller.Transition{At: now.Add(4 * time.Microsecond), From: "standby", To: "active", Token: 5})
		})
		fc.srv[id] = httptest.NewServer(mux)
		t.Cleanup(fc.srv[id].Close)
	}
	return fc
}

func TestDrillFailHealth(t *testing.T) {
	for _, c := range []struct {
		name    string
		fenceOK bool
		wantErr string   // "" for success
		want    []string // in this order
	}{
		{"takeover", true, "", []string{"+0.000s  trigger    nn1's zkfc now treats", "unhealthy  nn1's zkfc found its service SERVICE_UNHEALTHY (drill)", "lock       nn2 acquired", "demoted    nn1 left the election and is standby (service SERVICE_UNHEALTHY (drill))",
			"fenced     nn2 fenced nn1 (its token 4) in 0ms", "promoted   nn2 is active with fencing token 5 (was 4)", "nn1 demoted and fenced", "PASS: nn2 took over from nn1", "cleanup: nn1's health override ended"}},
		{"fencing fails", false, "fenced: nn2 did not fence nn1 within 300ms (last attempt: fence nn1: all 1 methods failed)",
			[]string{"fence!     nn2 could not fence nn1: fence nn1: all 1 methods failed", "cleanup: nn1's health override ended"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			fc := newFakeCluster(t, c.fenceOK)
			var out bytes.Buffer
			d := &drill{client: control.NewClient(), base: fc.srv["nn2"].URL, mode: "fail-health", expectFence: true, timeout: 300 * time.Millisecond,
				poll: 5 * time.Millisecond, out: &out}
			err := d.run(context.Background())
			t.Logf("%s", out.String())
			if c.wantErr == "" && err != nil {
				t.Fatalf("drill failed: %v", err)
			}
			if c.wantErr != "" && (err == nil || err.Error() != c.wantErr) {
				t.Fatalf("drill error %v, want %q", err, c.wantErr)
			}
			rest := out.String()
			for _, w := range c.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output lacks %q (in this order)", w)
				}
				rest = rest[i+len(w):]
			}
			if got := strings.Join(fc.overrides, ","); got != "nn1 "+(300*time.Millisecond+10*time.Second).String()+",nn1 0s" {
				t.Fatalf("health overrides %q: want one on the active, ended by the drill", got)
			}
		})
	}
}

func TestDrillRefusesBadStart(t *testing.T) {
	for _, c := range []struct {
		name, mode, to, want string
	}{
		{"no mode", "", "", "--mode is required"},
		{"graceful without --to", "graceful", "", "needs --to NODE"},
		{"graceful to an unknown node", "graceful", "nn9", "--to nn9 is not a registered member (members: nn1, nn2)"},
		{"graceful to the active", "graceful", "nn1", "--to nn1 is already active"},
		{"exec without a command", "exec", "", "needs --exec"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fc := newFakeCluster(t, true)
			d := &drill{client: control.NewClient(), base: fc.srv["nn1"].URL, mode: c.mode, to: c.to, timeout: time.Second, poll: time.Millisecond, out: &bytes.Buffer{}}
			err := d.validate()
			if err == nil {
				err = d.run(context.Background())
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if fc.st["nn1"].Role != "active" || len(fc.overrides) != 0 {
				t.Fatal("a refused drill changed the cluster")
			}
		})
	}
}

// drill takes --token-file like the other commands that call a control
// API, and sends its token from the first call on.
func TestDrillTokenFileFlag(t *testing.T) {
	const token = "drill-token-0123456789abcdef"
	auth := make(chan string, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth <- r.Method + " " + r.URL.Path + " " + r.Header.Get("Authorization")
		w.WriteHeader(http.StatusServiceUnavailable) // the drill stops at its first call
	}))
	defer srv.Close()
	dir := t.TempDir()
	t.Setenv("ZKFC_CONFIG", filepath.Join(dir, "absent.yaml"))
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code := cmdDrill([]string{"--url", srv.URL, "--token-file", tokenFile, "--mode", "graceful", "--to", "nn2", "--timeout", "5s"}); code != 1 {
		t.Fatalf("drill against a refusing API: exit %d, want 1 (2 is a flag error)", code)
	}
	select {
	case got := <-auth:
		if got != "GET /members Bearer "+token {
			t.Fatalf("first call %q, want GET /members with the --token-file token", got)
		}
	default:
		t.Fatal("the drill made no call")
	}
}
