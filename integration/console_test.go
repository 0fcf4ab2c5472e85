package integration

// The web console in a real browser: headless Chromium (Debian chromium)
// driven through the DevTools protocol (chromedp) against the drill
// cluster (nn1, nn2, a witness; a control token on every node).
//
// Run: make build && ZKFC_BIN=$PWD/bin/zkfc go test -run 'TestConsole' -v ./integration
// CONSOLE_SCREENSHOTS=docs also writes the README's screenshots there.

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/zkfc-project/zkfc/integration/drill"
	"github.com/zkfc-project/zkfc/integration/harness"
)

const consoleToken = "console-test-token-5f1c2d"

// browser starts headless Chromium with a fresh profile and nothing that
// reaches beyond loopback.
func browser(t *testing.T) context.Context {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium: %v (apt-get install chromium)", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin), chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	// The first run starts the browser, which lives as long as the
	// context of that run: no timeout here.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// cdpRun runs browser actions with a bound.
func cdpRun(t *testing.T, ctx context.Context, d time.Duration, what string, acts ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := chromedp.Do(c, acts...); err != nil {
		dc, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		page, _ := chromedp.Run(dc, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
		t.Fatalf("%s: %v\npage now:\n%s", what, err, page)
	}
}

// pageEval evaluates a JavaScript expression in the page.
func pageEval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, err := chromedp.Run(c, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func roleInPage(t *testing.T, ctx context.Context, node string) string {
	return pageEval[string](t, ctx, fmt.Sprintf(`(document.querySelector('#nodes .card[data-node=%q]')||{dataset:{}}).dataset.role||''`, node))
}

func TestConsole(t *testing.T) {
	s := drill.DefaultSettings()
	s.Token = consoleToken
	c := drill.StartCluster(t, s, drill.Loopback)
	nn1 := c.Nodes[0]
	ctx := browser(t)

	// Without credentials the page is a sign-in form and nothing else.
	cdpRun(t, ctx, 20*time.Second, "open the console", chromedp.Navigate(nn1.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#login")))
	if txt := pageEval[string](t, ctx, `document.body.innerText`); strings.Contains(txt, "nn2") || strings.Contains(txt, "witness") {
		t.Fatalf("the console shows cluster data before sign-in:\n%s", txt)
	}
	cdpRun(t, ctx, 20*time.Second, "sign in", chromedp.SendKeys(chromedp.CSS("#token"), consoleToken), chromedp.Click(chromedp.CSS("#login-form button")),
		chromedp.WaitVisible(chromedp.CSS(`#nodes .card[data-node="nn1"]`)))

	t.Run("shows both nodes and the witness", func(t *testing.T) {
		harness.WaitFor(t, 15*time.Second, "nn1, nn2 and the witness in the page", func() bool {
			a, b, w := roleInPage(t, ctx, "nn1"), roleInPage(t, ctx, "nn2"), roleInPage(t, ctx, "witness")
			return w == "witness" && ((a == "active" && b == "standby") || (a == "standby" && b == "active"))
		})
	})

	t.Run("quorum view", func(t *testing.T) {
		cdpRun(t, ctx, 5*time.Second, "open the quorum tab", chromedp.Click(chromedp.CSS(`nav [data-tab="quorum"]`)))
		harness.WaitFor(t, 15*time.Second, "three members, one leader", func() bool {
			return pageEval[int](t, ctx, `document.querySelectorAll('#quorum tbody tr').length`) == 3 &&
				pageEval[int](t, ctx, `document.querySelectorAll('#quorum tbody tr.leader').length`) == 1
		})
		shoot(t, ctx, "console-quorum.png")
		cdpRun(t, ctx, 5*time.Second, "back to the cluster", chromedp.Click(chromedp.CSS(`nav [data-tab="cluster"]`)))
	})

	t.Run("znode browser shows the election znodes", func(t *testing.T) {
		cdpRun(t, ctx, 15*time.Second, "browse /zkfc/drill", chromedp.Click(chromedp.CSS(`nav [data-tab="znodes"]`)),
			chromedp.SetValue(chromedp.CSS("#znode-path"), "/zkfc/drill"), chromedp.Click(chromedp.CSS("#znode-form button")),
			chromedp.WaitVisible(chromedp.CSS(`#znode-children a[data-child="ActiveStandbyElectorLock"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#znode-children a[data-child="ActiveBreadCrumb"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#znode-children a[data-child="members"]`)),
			chromedp.Click(chromedp.CSS(`#znode-children a[data-child="ActiveStandbyElectorLock"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#znode-acl tbody tr`)))
		active := c.Active()
		harness.WaitFor(t, 10*time.Second, "the lock's data", func() bool {
			return strings.Contains(pageEval[string](t, ctx, `document.querySelector('#znode-data').textContent`), `"node_id":"`+active.Name+`"`)
		})
		if st := pageEval[string](t, ctx, `document.querySelector('#znode-stat').innerText`); !strings.Contains(st, "ephemeral of") {
			t.Errorf("the lock's stat does not show it ephemeral:\n%s", st)
		}
		shoot(t, ctx, "console-znodes.png")
		cdpRun(t, ctx, 5*time.Second, "back to the cluster", chromedp.Click(chromedp.CSS(`nav [data-tab="cluster"]`)))
	})

	shoot(t, ctx, "console-desktop.png")

	t.Run("failover button refused without credentials", func(t *testing.T) {
		active, standby := c.Active(), c.Standby()
		// The page keeps working with whatever token it holds; a wrong one
		// is a caller without credentials.
		pageEval[bool](t, ctx, `(state.token = 'not-the-token', true)`)
		cdpRun(t, ctx, 10*time.Second, "ask for a failover",
			chromedp.Click(chromedp.CSS(fmt.Sprintf(`#nodes .card[data-node=%q] button.failover`, standby.Name))),
			chromedp.WaitVisible(chromedp.CSS("#confirm")), chromedp.Click(chromedp.CSS("#confirm-yes")))
		harness.WaitFor(t, 15*time.Second, "the refusal in the page", func() bool {
			return strings.Contains(pageEval[string](t, ctx, `document.querySelector('#msg').textContent`), "refused")
		})
		// And straight from a client without a token.
		req, _ := http.NewRequest(http.MethodPost, nn1.URL+"/failover?to="+standby.Name, nil)
		if code, _ := roundTrip(t, http.DefaultClient, req); code != http.StatusUnauthorized {
			t.Errorf("POST /failover without a token: %d, want 401", code)
		}
		time.Sleep(2 * time.Second) // a failover that slipped through would finish well within this
		if active.Role() != "active" || standby.Role() != "standby" {
			t.Fatalf("roles changed after refused failovers: %s %s, %s %s", active.Name, active.Role(), standby.Name, standby.Role())
		}
		pageEval[bool](t, ctx, fmt.Sprintf(`(state.token = %q, true)`, consoleToken))
	})

	t.Run("failover button works with credentials", func(t *testing.T) {
		standby := c.Standby()
		cdpRun(t, ctx, 10*time.Second, "ask for a failover",
			chromedp.Click(chromedp.CSS(fmt.Sprintf(`#nodes .card[data-node=%q] button.failover`, standby.Name))),
			chromedp.WaitVisible(chromedp.CSS("#confirm")), chromedp.Click(chromedp.CSS("#confirm-yes")))
		harness.WaitFor(t, 60*time.Second, standby.Name+" active in the page", func() bool {
			return roleInPage(t, ctx, standby.Name) == "active" &&
				strings.Contains(pageEval[string](t, ctx, `document.querySelector('#msg').textContent`), standby.Name+" is active")
		})
		if standby.Role() != "active" {
			t.Fatalf("the page says %s is active, its zkfc says %q", standby.Name, standby.Role())
		}
	})

	t.Run("cross-site POST refused", func(t *testing.T) {
		// Another origin (another port on loopback) whose page posts a form
		// to the console's pause endpoint as soon as it loads.
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<form id=f method=POST action="%s/pause"></form><script>document.getElementById('f').submit()</script>`, nn1.URL)
		}))
		defer evil.Close()
		tab, cancel := chromedp.NewContext(ctx)
		defer cancel()
		if err := chromedp.Do(tab); err != nil { // opens the tab for its whole context
			t.Fatal(err)
		}
		cdpRun(t, tab, 20*time.Second, "load the foreign page", chromedp.Navigate(evil.URL+"/"))
		var body string
		harness.WaitFor(t, 15*time.Second, "the form's answer", func() bool {
			// The page navigates away under the evaluation: errors are retried.
			c, cancel := context.WithTimeout(tab, 2*time.Second)
			defer cancel()
			body, _ = chromedp.Run(c, chromedp.Evaluate[string](`location.href.startsWith(`+fmt.Sprintf("%q", nn1.URL)+`) ? document.body.innerText : ''`))
			return body != ""
		})
		if !strings.Contains(body, "cross-site request refused") {
			t.Errorf("the foreign form's POST was answered %q, want the cross-site refusal", body)
		}
		// With the token, from a foreign origin: what a leaked token in
		// another page's hands would try.
		req, _ := http.NewRequest(http.MethodPost, nn1.URL+"/pause", nil)
		req.Header.Set("Authorization", "Bearer "+consoleToken)
		req.Header.Set("Origin", evil.URL)
		if code, _ := roundTrip(t, http.DefaultClient, req); code != http.StatusForbidden {
			t.Errorf("POST /pause from origin %s: %d, want 403", evil.URL, code)
		}
		st, err := nn1.Status()
		if err != nil || st.Paused {
			t.Fatalf("after the cross-site POSTs: paused=%v (%v)", st.Paused, err)
		}
	})

	t.Run("new active shown without a reload", func(t *testing.T) {
		old := c.Active()
		next := c.Other(old)
		// The page notes when it first draws next as active; the mark also
		// proves the page was not reloaded.
		pageEval[bool](t, ctx, fmt.Sprintf(`(() => {
			window.__sawActive = 0;
			new MutationObserver(() => {
				const c = document.querySelector('#nodes .card[data-node=%q]');
				if (!window.__sawActive && c && c.dataset.role === 'active') window.__sawActive = Date.now();
			}).observe(document.querySelector('#nodes'), {childList: true, subtree: true});
			return true;
		})()`, next.Name))
		old.Demo.Kill()
		var saw int64
		harness.WaitFor(t, 60*time.Second, next.Name+" active in the page", func() bool {
			saw = pageEval[int64](t, ctx, `window.__sawActive === undefined ? -1 : window.__sawActive`)
			return saw != 0
		})
		if saw < 0 {
			t.Fatal("the page was reloaded")
		}
		st, err := next.Status()
		if err != nil || st.Role != "active" {
			t.Fatalf("the page shows %s active; its zkfc: %q %v", next.Name, st.Role, err)
		}
		var changed time.Time
		for _, tr := range st.Transitions {
			if tr.To == "active" {
				changed = tr.At
			}
		}
		t.Logf("console drew %s active %s after its controller's role change (transition at %s, page at %s)",
			next.Name, time.UnixMilli(saw).Sub(changed).Round(time.Millisecond), changed.Format("15:04:05.000"), time.UnixMilli(saw).Format("15:04:05.000"))
		// The durable history draws this failover's phases.
		cdpRun(t, ctx, 10*time.Second, "open the timeline", chromedp.Click(chromedp.CSS(`nav [data-tab="timeline"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#timeline li`)))
		harness.WaitFor(t, 15*time.Second, "a failover drawn in the timeline", func() bool {
			return pageEval[int](t, ctx, `document.querySelectorAll('#timeline .bar').length`) > 0
		})
		shoot(t, ctx, "console-timeline.png")
		cdpRun(t, ctx, 5*time.Second, "back to the cluster", chromedp.Click(chromedp.CSS(`nav [data-tab="cluster"]`)))
	})

	t.Run("phone width", func(t *testing.T) {
		cdpRun(t, ctx, 10*time.Second, "phone-sized window", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulatePortrait))
		// Nothing may be wider than the screen: no sideways scrolling.
		if w := pageEval[int](t, ctx, `document.documentElement.scrollWidth`); w > 390 {
			t.Errorf("at 390px the page is %dpx wide", w)
		}
		shoot(t, ctx, "console-phone.png")
	})
}

// shoot writes a full-page screenshot to $CONSOLE_SCREENSHOTS/name.
func shoot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("CONSOLE_SCREENSHOTS")
	if dir == "" {
		return
	}
	c, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	time.Sleep(300 * time.Millisecond) // the last event's redraw
	png, err := chromedp.Run(c, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
