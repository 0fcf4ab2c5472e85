package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/fencing"
	"github.com/zkfc-project/zkfc/zkfc/budget"
	"github.com/zkfc-project/zkfc/zkfc/config"
	"github.com/zkfc-project/zkfc/zkfc/control"
	"github.com/zkfc-project/zkfc/zkfc/controller"
	"github.com/zkfc-project/zkfc/zkfc/elector"
	"github.com/zkfc-project/zkfc/zkfc/history"
	"github.com/zkfc-project/zkfc/zkfc/switchover"
)

// operator is the control API's Operator on a zkfc guarding a service:
// the history and the schedule in the quorum, through the elector's
// session, and the budget of the running configuration.
type operator struct {
	*elector.Elector
	log    *history.Log
	budget budget.Budget
}

func (o *operator) Record(e history.Entry) { o.log.Record(e) }

func (o *operator) Budget() budget.Budget { return o.budget }

// History reads the log, annotating promotions with the failure they
// ended and its budget.
func (o *operator) History(since time.Time) ([]history.Entry, error) {
	recs, err := o.Elector.History()
	if err != nil {
		return nil, err
	}
	seqs := make([]int64, len(recs))
	data := make([][]byte, len(recs))
	for i, r := range recs {
		seqs[i], data[i] = r.Seq, r.Data
	}
	all := history.Decode(seqs, data, time.Time{})
	history.Annotate(all, o.budget)
	out := all[:0]
	for _, e := range all {
		if since.IsZero() || !e.Time.Before(since) {
			out = append(out, e)
		}
	}
	return out, nil
}

// budgetOf computes the failover budget of the running configuration.
func budgetOf(cfg *config.Config, methods []fencing.MethodTimeout, loopTick time.Duration) budget.Budget {
	in := budget.Inputs{
		HealthInterval: cfg.Health.Interval, Fall: cfg.Health.Fall, ProbeTimeout: cfg.Health.Timeout,
		SessionTimeout: cfg.ZooKeeper.SessionTimeout, SelfFenceMargin: cfg.ZooKeeper.SelfFenceMargin,
		Embedded:       cfg.Quorum.Enabled,
		PromoteTimeout: cfg.Actions.Promote.Timeout, DemoteTimeout: cfg.Actions.Demote.Timeout,
		LBDrain: cfg.Control.LBDrain, LoopTick: loopTick,
	}
	if cfg.Quorum.Enabled && cfg.Quorum.ConfigFile == "" {
		in.TickTime = cfg.Quorum.TickTime
	}
	for _, m := range methods {
		in.Methods = append(in.Methods, budget.Method{Type: m.Method, Timeout: m.Timeout})
	}
	return budget.Compute(in)
}

// configHash identifies the running configuration: the file's keys after
// defaults and overrides (file names, never secrets).
func configHash(cfg *config.Config) string {
	b, _ := json.Marshal(cfg)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])[:16]
}

// recordConfig adds a config entry when the running configuration's hash
// differs from the last one this node recorded (or none is in the log),
// once the history can be read; it gives up when ctx ends.
func recordConfig(ctx context.Context, op *operator, node, source, hash string, lg *zap.Logger) {
	for {
		entries, err := op.History(time.Time{})
		if err == nil {
			last := ""
			for _, e := range entries {
				if e.Kind == history.Config && e.Node == node {
					last = e.ConfigHash
				}
			}
			if last == hash {
				return
			}
			why := "configuration " + hash + " from " + source + ": "
			if last == "" {
				why += "none recorded before by this node"
			} else {
				why += "changed since " + last
			}
			op.Record(history.Entry{Kind: history.Config, ConfigHash: hash, Reason: why})
			return
		}
		select {
		case <-ctx.Done():
			lg.Warn("configuration change not recorded in the history: the quorum was not reachable", zap.Error(err))
			return
		case <-time.After(time.Second):
		}
	}
}

// startOperator starts the history writer, the configuration check and
// the switchover runner; each stops when ctx ends.
func startOperator(ctx context.Context, wg *sync.WaitGroup, cfg *config.Config, op *operator, ctrl *controller.Controller, client *control.Client, lg *zap.Logger) {
	runner := switchover.NewRunner(op, switchover.Node{
		ID: cfg.Node.ID,
		Active: func() bool {
			st := ctrl.Status()
			return st.Role == controller.Active.String() && st.HoldsLock
		},
		Paused: func() bool { return ctrl.Status().Paused },
		Failover: func(ctx context.Context, to string) error {
			members, err := ctrl.Members()
			if err != nil {
				return err
			}
			for _, m := range members {
				if m.NodeID == to && m.ControlURL != "" {
					ctx, cancel := context.WithTimeout(ctx, 40*time.Second)
					defer cancel()
					_, err := client.Failover(ctx, m.ControlURL, to, 30*time.Second)
					return err
				}
			}
			return fmt.Errorf("%s is not registered (is its zkfc running?)", to)
		},
	}, op.log, lg.Named("switchover"))
	wg.Add(3)
	go func() { defer wg.Done(); op.log.Run(ctx) }()
	go func() { defer wg.Done(); recordConfig(ctx, op, cfg.Node.ID, cfg.Source, configHash(cfg), lg) }()
	go func() { defer wg.Done(); runner.Run(ctx) }()
}

// recordFence adds one fencing to the history.
func recordFence(rec *history.Log, t elector.Info, rep fencing.Report, err error) {
	if rec == nil {
		return
	}
	var took time.Duration
	var tried []string
	for _, a := range rep.Attempts {
		took += a.Duration
		tried = append(tried, a.Method)
	}
	f := &history.FenceResult{Method: rep.FencedBy, Target: t.NodeID, Outcome: "ok", DurationMs: took.Milliseconds()}
	reason := "fenced by " + rep.FencedBy
	if err != nil {
		f.Method, f.Outcome, reason = strings.Join(tried, ","), "failed", err.Error()
		if errors.Is(err, fencing.ErrSuperseded) {
			f.Outcome = "superseded"
		}
	}
	rec.Record(history.Entry{Kind: history.Fence, Token: t.Token, Reason: reason, Fence: f})
}
