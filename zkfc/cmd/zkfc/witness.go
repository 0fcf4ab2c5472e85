package main

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/zkfc/config"
	"github.com/zkfc-project/zkfc/zkfc/control"
	"github.com/zkfc-project/zkfc/zkfc/controller"
	"github.com/zkfc-project/zkfc/zkfc/elector"
)

// WitnessRole is the role a witness reports: it votes in the quorum and
// guards no service, so it is never active or standby.
const WitnessRole = "witness"

// errWitness answers the control-API calls that act on a guarded service
// or on the election, which a witness has neither of.
var errWitness = errors.New("this zkfc is a witness: it hosts a quorum member and guards no service; ask nn1 or nn2's zkfc")

// runWitness serves the control API of a witness until ctx ends or the
// member fails: status and health report the quorum member it hosts,
// /metrics the member's metrics. A ZooKeeper session of its own registers
// the witness in the quorum, where the console of any node finds it, and
// serves its own console.
func runWitness(ctx context.Context, cfg *config.Config, sec config.Secrets, m Member, errc <-chan error, lg *zap.Logger) error {
	wiring, err := newControlWiring(cfg, sec)
	if err != nil {
		return err
	}
	el := elector.New(wiring.elector, lg.Named("elector"))
	if _, err := el.Open(); err != nil {
		return err
	}
	defer el.Close()
	w := &witness{self: elector.Info{NodeID: cfg.Node.ID, ControlURL: cfg.AdvertisedControlURL()}, cluster: cfg.Cluster.Name, member: m, el: el}
	srv := control.NewServer(w, cfg.Failover.CedePeriod, m.Metrics(), lg.Named("control"))
	wiring.secure(srv, el)
	served := make(chan error, 1)
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { served <- srv.Serve(sctx, cfg.Control.Listen) }()
	go registerWitness(sctx, el, w.self, lg)
	lg.Info("witness: hosting a quorum member only, no service to guard", zap.String("control", cfg.AdvertisedControlURL()))
	newNotifier(lg).onRole(controller.Standby, WitnessRole)
	select {
	case err := <-served:
		return err // it names control.listen
	case <-ctx.Done():
		err = nil
	case err = <-errc:
	}
	stop()
	<-served // Serve returns once its listener is closed
	return err
}

// registerWitness keeps the witness's entry in the quorum: after every
// new session, and every witnessRecheck in case it was removed. It ends
// with ctx.
func registerWitness(ctx context.Context, el *elector.Elector, self elector.Info, lg *zap.Logger) {
	retry := time.NewTimer(0)
	defer retry.Stop()
	failing := false
	for {
		select {
		case ev := <-el.Events():
			if ev.Kind == elector.Connected {
				retry.Reset(0)
			}
			continue
		case <-retry.C:
		case <-ctx.Done():
			return
		}
		if err := el.RegisterWitness(self); err != nil {
			if !failing {
				lg.Info("witness not registered in the quorum yet (the console of the other nodes does not list it until it is); retrying", zap.Error(err))
			}
			failing = true
			retry.Reset(witnessRetry)
			continue
		}
		if failing {
			lg.Info("witness registered in the quorum")
		}
		failing = false
		retry.Reset(witnessRecheck)
	}
}

const (
	witnessRetry   = 2 * time.Second
	witnessRecheck = 30 * time.Second
)

// witness is the control API's backend on a witness.
type witness struct {
	self    elector.Info
	cluster string
	member  Member
	el      *elector.Elector // nil in unit tests
}

// Status reports the member as the health of the witness: healthy while
// it serves (it is part of a quorum that has a leader).
func (w *witness) Status() controller.Status {
	mode, serving := w.member.Mode(), w.member.Serving()
	health := "QUORUM_MEMBER_SERVING (" + mode + ")"
	if !serving {
		health = "QUORUM_MEMBER_NOT_SERVING (" + mode + ", no leader known)"
	}
	// Connected stays false: the witness runs no ZooKeeper client, and
	// it is no candidate, so no lock holder is looked up for it either.
	return controller.Status{NodeID: w.self.NodeID, Cluster: w.cluster, Role: WitnessRole, Health: health, Healthy: serving,
		Transitions: []controller.Transition{}}
}

func (w *witness) Self() elector.Info                           { return w.self }
func (w *witness) Cede(context.Context, time.Duration) error    { return errWitness }
func (w *witness) GracefulDemote(context.Context, uint64) error { return errWitness }
func (w *witness) PrepareFailover(context.Context) error        { return errWitness }
func (w *witness) SetPaused(bool) (elector.PauseState, error) {
	return elector.PauseState{}, errWitness
}
func (w *witness) ClusterToken() (uint64, error) { return 0, errWitness }
func (w *witness) Members() ([]elector.Info, error) {
	if w.el == nil {
		return nil, errWitness
	}
	return w.el.Members()
}
func (w *witness) Holder() (*elector.Info, error)                  { return nil, errWitness }
func (w *witness) FailHealth(context.Context, time.Duration) error { return errWitness }
