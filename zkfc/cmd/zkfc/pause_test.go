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
	"sync/atomic"
	"testing"
	"time"

	"github.com/zkfc-project/zkfc/zkfc/control"
	"github.com/zkfc-project/zkfc/zkfc/controller"
	"github.com/zkfc-project/zkfc/zkfc/elector"
)

// fakeNode is a control API whose status applies the pause after a
// number of polls (-1: never).
type fakeNode struct {
	id      string
	after   int64
	polls   atomic.Int64
	gen     int64 // generation it reports once applied
	srv     *httptest.Server
	members []elector.Info
}

func startFakeNode(t *testing.T, id string, after, gen int64) *fakeNode {
	n := &fakeNode{id: id, after: after, gen: gen}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		st := controller.Status{NodeID: n.id, Connected: true}
		if p := n.polls.Add(1); n.after >= 0 && p > n.after {
			st.Paused, st.PauseGeneration = true, n.gen
		}
		_ = json.NewEncoder(w).Encode(st)
	})
	mux.HandleFunc("GET /members", func(w http.ResponseWriter, _ *http.Request) { _ = json.NewEncoder(w).Encode(n.members) })
	n.srv = httptest.NewServer(mux)
	t.Cleanup(n.srv.Close)
	return n
}

// pause waits for every registered zkfc; it succeeds only when each
// applied this very generation, and names every one that did not.
func TestAwaitPause(t *testing.T) {
	want := elector.PauseState{Paused: true, Generation: 5}
	cases := []struct {
		name    string
		nodes   [][2]int64 // polls before applying, generation applied
		dead    bool       // a registered node whose API does not answer
		alone   bool       // the API asked lists no registered zkfc (a witness)
		code    int
		missing []string
	}{
		{name: "all apply", nodes: [][2]int64{{0, 5}, {3, 5}}, code: 0},
		{name: "one never applies", nodes: [][2]int64{{0, 5}, {-1, 5}}, code: 1, missing: []string{"nn2", "still reports paused=false"}},
		{name: "one applies an older pause", nodes: [][2]int64{{0, 5}, {0, 4}}, code: 1, missing: []string{"nn2", "generation 4, not 5"}},
		{name: "one is down", nodes: [][2]int64{{0, 5}}, dead: true, code: 1, missing: []string{"nn9", "is zkfc running"}},
		{name: "nobody registered", nodes: [][2]int64{{0, 5}}, alone: true, code: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var nodes []*fakeNode
			var members []elector.Info
			for i, n := range c.nodes {
				f := startFakeNode(t, "nn"+string(rune('1'+i)), n[0], n[1])
				nodes = append(nodes, f)
				members = append(members, elector.Info{NodeID: f.id, ControlURL: f.srv.URL})
			}
			if c.dead {
				dead := httptest.NewServer(http.NotFoundHandler())
				dead.Close()
				members = append(members, elector.Info{NodeID: "nn9", ControlURL: dead.URL})
			}
			if !c.alone {
				nodes[0].members = members
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var out bytes.Buffer
			w := awaitPause(ctx, control.NewClient(), nodes[0].srv.URL, want, 2*time.Second, &out)
			code := w.report("pause", &out)
			if code != c.code {
				t.Fatalf("exit %d, want %d; output:\n%s", code, c.code, out.String())
			}
			var missing []string
			for _, tg := range w.targets {
				if !tg.done {
					missing = append(missing, tg.id+": "+tg.last)
				}
			}
			got := strings.Join(missing, "\n")
			for _, m := range c.missing {
				if !strings.Contains(got, m) {
					t.Errorf("not acknowledged %q lacks %q", got, m)
				}
			}
			if c.code == 0 && got != "" {
				t.Errorf("success with unacknowledged nodes: %s", got)
			}
		})
	}
}

// A CLI call refused for want of a token says how to give one, and
// --token-file gives it, with or without a config file.
func TestTokenFileAndHint(t *testing.T) {
	const token = "cli-token-0123456789abcdef"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(controller.Status{NodeID: "nn1"})
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cf := &configFlags{path: filepath.Join(t.TempDir(), "absent.yaml")}
	c, base, err := cliClient(srv.URL, cf)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Status(ctx, base)
	if h := apiHint(err, base); err == nil || !strings.Contains(h, "--token-file") {
		t.Fatalf("status without a token: %v, hint %q", err, h)
	}
	cf.tokenFile = filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(cf.tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, base, err = cliClient(srv.URL, cf); err != nil {
		t.Fatal(err)
	}
	if st, err := c.Status(ctx, base); err != nil || st.NodeID != "nn1" {
		t.Fatalf("status with --token-file: %+v %v", st, err)
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	_, err = c.Status(ctx, closed.URL)
	if h := apiHint(err, closed.URL); !strings.Contains(h, "is zkfc running") {
		t.Fatalf("hint for a refused connection: %q", h)
	}
}

// With --url, a default config file that cannot be loaded is passed over
// (it may be another cluster's, or unreadable to this user); one chosen
// with -c is an error.
func TestURLWithABrokenDefaultConfig(t *testing.T) {
	t.Setenv("ZKFC_CONFIG", "")
	bad := filepath.Join(t.TempDir(), "zkfc.yaml")
	if err := os.WriteFile(bad, []byte("node: {id: nn1}\nzookeeper: {auth_file: /nonexistent}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fs := newFlagSet("status", "")
	cf := addConfigFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	cf.path = bad
	if _, base, err := cliClient("http://127.0.0.1:1", cf); err != nil || base != "http://127.0.0.1:1" {
		t.Fatalf("default config, --url: %q %v; want the URL and no error", base, err)
	}
	if err := fs.Parse([]string{"-c", bad}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cliClient("http://127.0.0.1:1", cf); err == nil {
		t.Fatal("a broken config chosen with -c was passed over")
	}
}
