package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

type fakeMember struct {
	mode    string
	serving bool
}

func (f fakeMember) Mode() string                 { return f.mode }
func (f fakeMember) Serving() bool                { return f.serving }
func (f fakeMember) Metrics() prometheus.Gatherer { return prometheus.NewRegistry() }

// The witness is as healthy as the member it hosts, and refuses every
// call that acts on a service or an election.
func TestWitnessBackend(t *testing.T) {
	for _, m := range []fakeMember{{"leader", true}, {"follower", false}} {
		w := &witness{member: m}
		st := w.Status()
		if st.Role != WitnessRole || st.Healthy != m.serving || !strings.Contains(st.Health, "("+m.mode) {
			t.Errorf("member %+v: status role %q healthy %v health %q", m, st.Role, st.Healthy, st.Health)
		}
	}
	w := &witness{member: fakeMember{"leader", true}}
	_, pauseErr := w.SetPaused(true)
	_, tokenErr := w.ClusterToken()
	for name, err := range map[string]error{
		"cede": w.Cede(context.Background(), 0), "demote": w.GracefulDemote(context.Background(), 1),
		"failover": w.PrepareFailover(context.Background()), "pause": pauseErr, "token": tokenErr,
		"fail-health": w.FailHealth(context.Background(), 0),
	} {
		if !errors.Is(err, errWitness) {
			t.Errorf("%s on a witness: %v, want a refusal", name, err)
		}
	}
}
