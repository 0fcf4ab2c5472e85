package server

import "github.com/prometheus/client_golang/prometheus"

// Serving reports whether the member serves clients: its log is replayed
// and it knows a leader (srvr's "not currently serving" otherwise).
func (s *Server) Serving() bool { return s.serving.Load() }

// Metrics is the member's Prometheus registry (the zk_* series and the Go
// and process collectors), for a process hosting the member to serve.
func (s *Server) Metrics() prometheus.Gatherer { return s.metrics.reg }
