package controller

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the controller's Prometheus series.
type Metrics struct {
	active      prometheus.Gauge
	healthy     prometheus.Gauge
	connected   prometheus.Gauge
	paused      prometheus.Gauge
	token       prometheus.Gauge
	transitions *prometheus.CounterVec
	promotions  *prometheus.CounterVec
	fences      *prometheus.CounterVec
	selfFences  prometheus.Counter
	drifts      prometheus.Counter
	staleEvents prometheus.Counter
	// quorumUnreachable and failsafeHolding: failsafe.go.
	quorumUnreachable prometheus.Gauge
	failsafeHolding   prometheus.Gauge
}

// NewMetrics creates the series and registers them with reg (nil: none).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		active:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "zkfc_active", Help: "1 while the local service is active under this zkfc."}),
		healthy:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "zkfc_service_healthy", Help: "1 while the local service's health check passes."}),
		connected:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "zkfc_zookeeper_connected", Help: "1 while the ZooKeeper session is connected."}),
		paused:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "zkfc_failover_paused", Help: "1 while automatic failover is paused cluster-wide."}),
		token:       prometheus.NewGauge(prometheus.GaugeOpts{Name: "zkfc_fencing_token", Help: "Fencing token of this node's last promotion."}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zkfc_role_transitions_total", Help: "Role changes, by new role."}, []string{"to"}),
		promotions:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zkfc_promotions_total", Help: "Promotion attempts after winning the lock, by result."}, []string{"result"}),
		fences:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zkfc_fence_attempts_total", Help: "Fencing of a previous active, by result."}, []string{"result"}),
		selfFences:  prometheus.NewCounter(prometheus.CounterOpts{Name: "zkfc_self_fence_total", Help: "Demotions because ZooKeeper stopped acknowledging."}),
		drifts:      prometheus.NewCounter(prometheus.CounterOpts{Name: "zkfc_role_drift_total", Help: "Times the service reported a role zkfc did not expect."}),
		staleEvents: prometheus.NewCounter(prometheus.CounterOpts{Name: "zkfc_stale_session_events_total", Help: "Events from an old ZooKeeper session, ignored."}),
	}
	m.quorumUnreachable = prometheus.NewGauge(prometheus.GaugeOpts{Name: "zkfc_quorum_unreachable_seconds",
		Help: "How long the ZooKeeper session has been disconnected or without a fresh acknowledgment; 0 while it is fine."})
	m.failsafeHolding = prometheus.NewGauge(prometheus.GaugeOpts{Name: "zkfc_failsafe_holding",
		Help: "1 while failsafe mode keeps the service active without the quorum."})
	if reg != nil {
		reg.MustRegister(m.active, m.healthy, m.connected, m.paused, m.token, m.transitions, m.promotions, m.fences, m.selfFences, m.drifts, m.staleEvents,
			m.quorumUnreachable, m.failsafeHolding)
	}
	return m
}
