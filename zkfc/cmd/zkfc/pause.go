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
	id   string
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
// until each reports it applied want, or timeout passes; it prints each
// node as it acknowledges. The registry lists every zkfc with a session,
// the one that wrote the flag included; one without a session is not live
// in the cluster's eyes, and reads the flag when it connects.
func awaitPause(ctx context.Context, client *control.Client, base string, want elector.PauseState, timeout time.Duration, out io.Writer) pauseWait {
	w := pauseWait{want: want, timeout: timeout}
	deadline := time.Now().Add(timeout)
	members, err := client.Members(ctx, base)
	switch {
	case err != nil:
		w.listErr = err
	case len(members) == 0:
		w.listErr = fmt.Errorf("%s lists no registered zkfc (is it a witness, or not connected to zookeeper?)", base)
	}
	for _, m := range members {
		t := &pauseTarget{id: m.NodeID, url: m.ControlURL}
		if m.ControlURL == "" {
			t.last = "registered without a control URL: its status cannot be asked"
		}
		w.targets = append(w.targets, t)
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
		if t.done {
			ok = append(ok, t.id)
		} else {
			missing = append(missing, fmt.Sprintf("  %s at %s: %s", t.id, t.url, t.last))
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
