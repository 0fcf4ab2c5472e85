package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/zkfc-project/zkfc/zkfc/control"
	"github.com/zkfc-project/zkfc/zkfc/controller"
	"github.com/zkfc-project/zkfc/zkfc/elector"
)

// pauseTarget is one zkfc 'zkfc pause' waits for.
type pauseTarget struct {
	id   string // "" until its status names it (the API the CLI was given)
	url  string
	last string // why it has not acknowledged yet
	done bool
}

// pauseWait is what awaitPause found: who applied the change, who did not.
type pauseWait struct {
	want    elector.PauseState
	timeout time.Duration
	targets []*pauseTarget
	listErr error
}

// pauseApplied reports whether a node's loop has applied want: for a
// pause, that very generation (not an earlier pause it never left).
func pauseApplied(st controller.Status, want elector.PauseState) bool {
	if st.PauseUnknown || st.Paused != want.Paused {
		return false
	}
	return !want.Paused || st.PauseGeneration == want.Generation
}

// awaitPause polls the status of every zkfc registered in the cluster
// (and of base) until each reports it applied want, or timeout passes.
// It prints each node as it acknowledges.
func awaitPause(ctx context.Context, client *control.Client, base string, want elector.PauseState, timeout time.Duration, out io.Writer) pauseWait {
	w := pauseWait{want: want, timeout: timeout}
	deadline := time.Now().Add(timeout)
	members, err := client.Members(ctx, base)
	if err != nil {
		w.listErr = err
	}
	baseListed := false
	for _, m := range members {
		t := &pauseTarget{id: m.NodeID, url: m.ControlURL}
		if m.ControlURL == "" {
			t.last = "registered without a control URL: its status cannot be asked"
		}
		baseListed = baseListed || strings.TrimRight(m.ControlURL, "/") == base
		w.targets = append(w.targets, t)
	}
	if !baseListed {
		w.targets = append(w.targets, &pauseTarget{url: base})
	}
	for {
		pending := 0
		for _, t := range w.targets {
			if t.done || t.url == "" {
				continue
			}
			w.poll(ctx, client, t, out)
			if !t.done {
				pending++
			}
		}
		if pending == 0 || !time.Now().Before(deadline) {
			return w
		}
		select {
		case <-ctx.Done():
			return w
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (w *pauseWait) poll(ctx context.Context, client *control.Client, t *pauseTarget, out io.Writer) {
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := client.Status(sctx, t.url)
	switch {
	case err != nil:
		t.last = err.Error()
		if h := apiHint(err, t.url); h != "" {
			t.last += " (" + h + ")"
		}
		return
	case t.id == "":
		t.id = st.NodeID
		for _, o := range w.targets {
			if o != t && o.id == st.NodeID {
				t.done, t.url = true, "" // listed already under its registered URL
				return
			}
		}
	case st.NodeID != t.id:
		t.last = fmt.Sprintf("%s answers as node %s", t.url, st.NodeID)
		return
	}
	if !pauseApplied(st, w.want) {
		switch {
		case st.PauseUnknown:
			t.last = "its controller cannot read the pause flag"
		case !st.Connected:
			t.last = "not connected to zookeeper"
		case w.want.Paused && st.Paused:
			t.last = fmt.Sprintf("applied pause generation %d, not %d (a concurrent resume and pause?)", st.PauseGeneration, w.want.Generation)
		default:
			t.last = fmt.Sprintf("its controller still reports paused=%v", st.Paused)
		}
		return
	}
	t.done = true
	fmt.Fprintf(out, "  %s: %s applied by its controller\n", t.id, pauseWord(w.want.Paused))
}

func pauseWord(on bool) string {
	if on {
		return "pause"
	}
	return "resume"
}

// report prints the outcome and returns the exit code: 0 only when every
// zkfc found applied the change.
func (w pauseWait) report(name string, out io.Writer) int {
	var ok, missing []string
	for _, t := range w.targets {
		switch {
		case t.done && t.url != "":
			ok = append(ok, t.id)
		case !t.done:
			id := t.id
			if id == "" {
				id = "(unknown node)"
			}
			missing = append(missing, fmt.Sprintf("  %s at %s: %s", id, t.url, t.last))
		}
	}
	sort.Strings(ok)
	state := map[bool]string{true: "paused", false: "resumed"}[w.want.Paused]
	if len(missing) == 0 && w.listErr == nil {
		fmt.Fprintf(out, "automatic failover %s: applied by every registered zkfc (%s)\n", state, strings.Join(ok, ", "))
		return 0
	}
	fmt.Fprintf(os.Stderr, "zkfc %s: the flag is set in ZooKeeper, but not every zkfc reported applying it within %s.\n", name, w.timeout)
	if w.listErr != nil {
		fmt.Fprintf(os.Stderr, "  the registered zkfc could not be listed: %v\n", w.listErr)
	}
	for _, m := range missing {
		fmt.Fprintln(os.Stderr, m)
	}
	fmt.Fprintf(os.Stderr, "Applied by: %s. A zkfc that is down or cut off from ZooKeeper reads the flag when it connects, before any\n"+
		"election step; check each with 'zkfc status --url URL', or run 'zkfc %s' again.\n", orNone(ok), name)
	return 1
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
