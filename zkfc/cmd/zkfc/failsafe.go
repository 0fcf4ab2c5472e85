package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/zkfc-project/zkfc/zkfc/config"
	"github.com/zkfc-project/zkfc/zkfc/control"
	"github.com/zkfc-project/zkfc/zkfc/controller"
	"github.com/zkfc-project/zkfc/zkfc/elector"
)

// failsafeConfig is the controller's failsafe mode from failover.failsafe
// (off: no peers). A peer's promise lasts this node's session timeout.
func failsafeConfig(cfg *config.Config, client *control.Client) controller.FailsafeConfig {
	if !cfg.Failover.Failsafe {
		return controller.FailsafeConfig{}
	}
	fc := controller.FailsafeConfig{Asker: client, Promise: cfg.ZooKeeper.SessionTimeout}
	for _, p := range cfg.Failover.FailsafePeers {
		fc.Peers = append(fc.Peers, controller.FailsafePeer{ID: p.ID, URL: p.URL})
	}
	return fc
}

// leaseUnproven says why the end of an old active's session proves
// nothing to self ("" when it does): the old active ran in failsafe mode
// and never asked self, so it may have kept its service active past its
// session while other peers answered.
func leaseUnproven(old elector.Info, self string) string {
	if old.FailsafePeers == nil || slices.Contains(old.FailsafePeers, self) {
		return ""
	}
	return fmt.Sprintf("it runs in failsafe mode asking only %s, not %s, so it may serve past its session (add %s to its failover.failsafe_peers)",
		strings.Join(old.FailsafePeers, ", "), self, self)
}

// printQuorumLoss adds to 'zkfc status' how long the quorum has been gone
// and what failsafe mode is doing about it.
func printQuorumLoss(w io.Writer, st controller.Status) {
	if !st.QuorumUnreachableSince.IsZero() {
		fmt.Fprintf(w, "quorum:        unreachable for %s (since %s)\n",
			(time.Duration(st.QuorumUnreachableMs) * time.Millisecond).Round(time.Millisecond), st.QuorumUnreachableSince.Format(time.RFC3339))
	}
	f := st.Failsafe
	if f == nil {
		return
	}
	switch {
	case f.Holding:
		fmt.Fprintf(w, "failsafe:      HOLDING the role without the quorum since %s (self-fences at %s unless every peer answers again)\n",
			f.Since.Format(time.RFC3339Nano), f.Until.Format(time.RFC3339Nano))
	default:
		fmt.Fprintf(w, "failsafe:      on, not holding\n")
	}
	for _, p := range f.Peers {
		fmt.Fprintf(w, "  peer %s at %s: %s\n", p.ID, p.At.Format(time.RFC3339Nano), p.Answer)
	}
	if !f.NoPromotionUntil.IsZero() {
		fmt.Fprintf(w, "  no promotion before %s: promise to %s\n", f.NoPromotionUntil.Format(time.RFC3339Nano), f.PromisedTo)
	}
}
