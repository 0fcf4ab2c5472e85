package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/zkfc-project/zkfc/quorum/proto"
)

// metrics are the member's Prometheus metrics, each server with its own
// registry so that several members can live in one process (tests, zkfc
// hosting a member).
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	// byOp holds each opcode's requests counter, resolved once: looking a
	// label up per request would hash strings on the hot path.
	byOp      map[int32]prometheus.Counter
	unknownOp prometheus.Counter
	latency   prometheus.Histogram
	fsync     prometheus.Histogram
	batch     prometheus.Histogram
	expired   prometheus.Counter
	refused   prometheus.Counter
}

func newMetrics(s *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "zk_requests_total", Help: "Client requests received, by operation.",
	}, []string{"op"})
	m.byOp = map[int32]prometheus.Counter{}
	for _, op := range proto.ClientOps() {
		m.byOp[op] = m.requests.WithLabelValues(proto.OpName(op))
	}
	m.unknownOp = m.requests.WithLabelValues("unknown")
	m.latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "zk_request_latency_seconds", Help: "Time from reading a request to writing its reply.",
		Buckets: prometheus.ExponentialBuckets(0.00005, 2, 18),
	})
	m.fsync = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "zk_fsync_seconds", Help: "Time to append and fsync one batch of log entries.",
		Buckets: prometheus.ExponentialBuckets(0.00005, 2, 18),
	})
	m.batch = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "zk_log_batch_entries", Help: "Entries made durable by one fsync (group commit).",
		Buckets: prometheus.ExponentialBuckets(1, 2, 12),
	})
	m.expired = prometheus.NewCounter(prometheus.CounterOpts{Name: "zk_sessions_expired_total", Help: "Sessions expired by this member."})
	m.refused = prometheus.NewCounter(prometheus.CounterOpts{Name: "zk_connections_refused_total", Help: "Connections refused by maxClientCnxns."})
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	m.reg.MustRegister(m.requests, m.latency, m.fsync, m.batch, m.expired, m.refused,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		gauge("zk_znode_count", "Znodes in the data tree.", func() float64 {
			s.mu.RLock()
			defer s.mu.RUnlock()
			return float64(s.tree.NodeCount())
		}),
		gauge("zk_ephemerals_count", "Ephemeral znodes.", func() float64 {
			s.mu.RLock()
			defer s.mu.RUnlock()
			return float64(s.tree.EphemeralCount())
		}),
		gauge("zk_sessions", "Live sessions.", func() float64 { return float64(s.sessions.count()) }),
		gauge("zk_watch_count", "Registered watches.", func() float64 { return float64(s.watches.Stats().Total) }),
		gauge("zk_num_alive_connections", "Open client connections.", func() float64 {
			s.connMu.Lock()
			defer s.connMu.Unlock()
			return float64(len(s.conns))
		}),
		gauge("zk_outstanding_requests", "Requests read but not yet answered.", func() float64 { return float64(s.stats.outstanding.Load()) }),
		gauge("zk_last_zxid", "Zxid of the last applied transaction.", func() float64 { return float64(s.lastZxid()) }),
	)
	return m
}

// countRequest counts one request of opcode op.
func (m *metrics) countRequest(op int32) {
	if c, ok := m.byOp[op]; ok {
		c.Inc()
		return
	}
	m.unknownOp.Inc()
}

// serverStats are the counters srvr/stat/mntr report.
type serverStats struct {
	received    atomic.Int64
	sent        atomic.Int64
	outstanding atomic.Int64
	minLat      atomic.Int64
	maxLat      atomic.Int64
	sumLat      atomic.Int64
	countLat    atomic.Int64
}

func (st *serverStats) observeLatency(us int64) {
	st.sumLat.Add(us)
	st.countLat.Add(1)
	for {
		m := st.minLat.Load()
		if (m != 0 || st.countLat.Load() > 1) && m <= us {
			break
		}
		if st.minLat.CompareAndSwap(m, us) {
			break
		}
	}
	for {
		m := st.maxLat.Load()
		if us <= m || st.maxLat.CompareAndSwap(m, us) {
			break
		}
	}
}

func (st *serverStats) reset() {
	st.received.Store(0)
	st.sent.Store(0)
	st.minLat.Store(0)
	st.maxLat.Store(0)
	st.sumLat.Store(0)
	st.countLat.Store(0)
}

func sessionHex(id int64) string { return fmt.Sprintf("0x%x", uint64(id)) }

// startAdmin serves /metrics (and /commands/<4lw>) on admin.serverAddress:
// admin.serverPort. Like ZooKeeper's admin server, failing to bind is logged
// and the member goes on serving clients.
func (s *Server) startAdmin() {
	if !s.cfg.AdminEnabled {
		return
	}
	addr := net.JoinHostPort(s.cfg.AdminAddress, strconv.Itoa(s.cfg.AdminPort))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.lg.Warn("admin server not started (metrics unavailable)", zap.String("address", addr), zap.Error(err))
		return
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	// Profiles for operators chasing latency or memory, as etcd offers
	// them; the admin address is meant for the operator's network only.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc(BackupPath, s.serveBackup)
	mux.HandleFunc("/commands/", func(w http.ResponseWriter, r *http.Request) {
		cmd := r.URL.Path[len("/commands/"):]
		if len(cmd) != 4 || !s.isFourLetterWord([]byte(cmd)) {
			http.Error(w, "unknown command", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write(s.fourLetterWord(cmd))
	})
	s.admin = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	s.lg.Info("admin server listening", zap.String("address", ln.Addr().String()))
	go func() {
		if err := s.admin.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.lg.Warn("admin server", zap.Error(err))
		}
	}()
	_ = context.Background
}
