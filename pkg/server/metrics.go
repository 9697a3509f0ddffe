package server

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus series, on a registry of its own (no
// global state).
type metrics struct {
	registry    *prometheus.Registry
	transitions *prometheus.CounterVec
	httpSeconds *prometheus.HistogramVec
	vends       *prometheus.CounterVec
	authFailed  prometheus.Counter
	waiting     prometheus.Gauge
	sweepLag    prometheus.Histogram
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jit_request_events_total", Help: "Audit events written, by type.",
		}, []string{"type"}),
		httpSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "jit_http_request_duration_seconds", Help: "API latency by route and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10, 60},
		}, []string{"route", "code"}),
		vends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jit_credentials_vended_total", Help: "Credential vends by outcome.",
		}, []string{"outcome"}),
		authFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jit_auth_failures_total", Help: "Requests refused for a missing or bad token.",
		}),
		waiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "jit_waiting_clients", Help: "Clients long-polling for a decision.",
		}),
		sweepLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "jit_sweep_lag_seconds", Help: "How long after its end a grant or pending request was swept.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2, 5, 10, 30},
		}),
	}
	m.registry.MustRegister(m.transitions, m.httpSeconds, m.vends, m.authFailed, m.waiting, m.sweepLag,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}
