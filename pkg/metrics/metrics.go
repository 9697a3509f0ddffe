// Package metrics is the server's metrics vocabulary — counters, gauges and
// histograms with labels on a registry of its own (no global state) — built
// on prometheus/client_golang, which also serves them (promhttp).
//
// An earlier version wrote the text format by hand so that the one jit
// binary's credential_process did not pay client_golang's package init
// (about 1 ms per start). The credential path now lives in its own binary
// (cmd/jit-credential-process, which a test keeps free of prometheus), so the
// server uses the standard library for it. The API stayed, so callers and
// metric names did not change.
package metrics

import (
	"fmt"
	"io"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// Registry holds metrics; Handler serves them with those of included
// registries.
type Registry struct {
	reg      *prometheus.Registry
	included []*Registry
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{reg: prometheus.NewRegistry()} }

// Include makes r's exposition also carry other's metrics (another
// package's registry served on the same endpoint).
func (r *Registry) Include(other *Registry) { r.included = append(r.included, other) }

func (r *Registry) gatherers() prometheus.Gatherers {
	g := prometheus.Gatherers{r.reg}
	for _, o := range r.included {
		g = append(g, o.gatherers()...)
	}
	return g
}

// Write writes every metric in the Prometheus text format.
func (r *Registry) Write(w io.Writer) {
	fams, err := r.gatherers().Gather()
	if err != nil {
		fmt.Fprintf(w, "# error gathering metrics: %v\n", err)
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range fams {
		_ = enc.Encode(f)
	}
}

// Handler serves the registry at /metrics.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.gatherers(), promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// register adds c; a clash (two metrics of one name) is a programming error.
func register[C prometheus.Collector](r *Registry, c C) C {
	r.reg.MustRegister(c)
	return c
}

func value(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		return 0
	}
	switch {
	case d.Counter != nil:
		return d.Counter.GetValue()
	case d.Gauge != nil:
		return d.Gauge.GetValue()
	}
	return 0
}

// Counter only goes up.
type Counter struct{ c prometheus.Counter }

// Inc adds one.
func (c *Counter) Inc() { c.c.Inc() }

// Add adds d (≥ 0; a negative d is ignored, as a counter cannot go down).
func (c *Counter) Add(d float64) {
	if d < 0 {
		return
	}
	c.c.Add(d)
}

// Value is the current count.
func (c *Counter) Value() float64 { return value(c.c) }

// CounterVec is a counter per label values.
type CounterVec struct{ v *prometheus.CounterVec }

// NewCounterVec registers a counter family.
func (r *Registry) NewCounterVec(name, help string, labels ...string) *CounterVec {
	return &CounterVec{register(r, prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels))}
}

// NewCounter registers a counter without labels.
func (r *Registry) NewCounter(name, help string) *Counter {
	return &Counter{register(r, prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help}))}
}

// With returns the counter for the label values.
func (cv *CounterVec) With(values ...string) *Counter {
	return &Counter{cv.v.WithLabelValues(values...)}
}

// Gauge goes up and down.
type Gauge struct{ g prometheus.Gauge }

// Add adds d (may be negative).
func (g *Gauge) Add(d float64) { g.g.Add(d) }

// Value is the current value.
func (g *Gauge) Value() float64 { return value(g.g) }

// NewGauge registers a gauge without labels.
func (r *Registry) NewGauge(name, help string) *Gauge {
	return &Gauge{register(r, prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help}))}
}

// NewGaugeFunc registers a gauge whose value fn computes at each scrape.
func (r *Registry) NewGaugeFunc(name, help string, fn func() float64) {
	register(r, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, fn))
}

// Histogram counts observations into cumulative buckets.
type Histogram struct{ o prometheus.Observer }

// Observe records v.
func (h *Histogram) Observe(v float64) { h.o.Observe(v) }

// HistogramVec is a histogram per label values.
type HistogramVec struct{ v *prometheus.HistogramVec }

// NewHistogramVec registers a histogram family with the given upper bounds.
func (r *Registry) NewHistogramVec(name, help string, buckets []float64, labels ...string) *HistogramVec {
	return &HistogramVec{register(r, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels))}
}

// NewHistogram registers a histogram without labels.
func (r *Registry) NewHistogram(name, help string, buckets []float64) *Histogram {
	return &Histogram{register(r, prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}))}
}

// With returns the histogram for the label values.
func (hv *HistogramVec) With(values ...string) *Histogram {
	return &Histogram{hv.v.WithLabelValues(values...)}
}
