package server

import (
	"net/http"
	"runtime"
	"time"

	"github.com/jit-access/jit/pkg/metrics"
)

// serverMetrics are the server's Prometheus series, on a registry of its
// own (no global state).
type serverMetrics struct {
	registry    *metrics.Registry
	httpSeconds *metrics.HistogramVec
	authFailed  *metrics.Counter
	waiting     *metrics.Gauge
	activity    *metrics.CounterVec
	unmatched   *metrics.CounterVec
}

func newMetrics(now func() time.Time) *serverMetrics {
	r := metrics.NewRegistry()
	started := now()
	m := &serverMetrics{
		registry: r,
		httpSeconds: r.NewHistogramVec("jit_http_request_duration_seconds", "API latency by route and status.",
			[]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10, 60}, "route", "code"),
		authFailed: r.NewCounter("jit_auth_failures_total", "Requests refused for a missing or bad token."),
		waiting:    r.NewGauge("jit_waiting_clients", "Clients long-polling for a decision."),
		activity:   r.NewCounterVec("jit_activity_events_total", "API calls of grants recorded from activity deliveries, by source.", "source"),
		unmatched: r.NewCounterVec("jit_activity_unmatched_total",
			"Activity events that matched no grant jit vended (other keys, jit's own STS calls), by source.", "source"),
	}
	r.NewGaugeFunc("go_goroutines", "Number of goroutines that currently exist.", func() float64 { return float64(runtime.NumGoroutine()) })
	r.NewGaugeFunc("jit_uptime_seconds", "Seconds since the server started.", func() float64 { return now().Sub(started).Seconds() })
	return m
}

func (m *serverMetrics) handler() http.Handler { return m.registry.Handler() }
