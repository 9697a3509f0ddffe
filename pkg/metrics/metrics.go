// Package metrics is a small Prometheus text-format registry: counters,
// gauges and histograms with labels, written out by Handler.
//
// Why not prometheus/client_golang: jit is one binary, and every package it
// links runs its init on every start — including `jit credential-process`,
// which the AWS SDKs call before almost every API call near a grant's end.
// client_golang (with procfs and protobuf) costs about 1 ms of init there;
// this package costs nothing until the server uses it. The exposition format
// is the stable text format 0.0.4.
package metrics

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Registry holds metrics and writes them in the text format.
type Registry struct {
	mu      sync.Mutex
	metrics []metric
}

type metric interface {
	write(w io.Writer)
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

func (r *Registry) add(m metric) {
	r.mu.Lock()
	r.metrics = append(r.metrics, m)
	r.mu.Unlock()
}

// Include makes r's exposition also carry other's metrics (another
// package's registry served on the same endpoint).
func (r *Registry) Include(other *Registry) {
	r.add(included{other})
}

type included struct{ r *Registry }

func (i included) write(w io.Writer) { i.r.Write(w) }

// Write writes every metric in registration order.
func (r *Registry) Write(w io.Writer) {
	r.mu.Lock()
	ms := append([]metric(nil), r.metrics...)
	r.mu.Unlock()
	for _, m := range ms {
		m.write(w)
	}
}

// Handler serves the registry at /metrics.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		r.Write(w)
	})
}

// family is what every metric shares: name, help, label names and the
// children per label values.
type family[T any] struct {
	name, help, typ string
	labels          []string
	mu              sync.Mutex
	children        map[string]*T
	order           []string
	newChild        func() *T
}

func (f *family[T]) with(values ...string) *T {
	if len(values) != len(f.labels) {
		panic(fmt.Sprintf("metrics: %s takes %d label values, got %d", f.name, len(f.labels), len(values)))
	}
	key := strings.Join(values, "\xff")
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.children[key]
	if !ok {
		c = f.newChild()
		f.children[key] = c
		f.order = append(f.order, key)
	}
	return c
}

func (f *family[T]) header(w io.Writer) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", f.name, escapeHelp(f.help), f.name, f.typ)
}

func (f *family[T]) each(fn func(labels string, c *T)) {
	f.mu.Lock()
	keys := append([]string(nil), f.order...)
	f.mu.Unlock()
	sort.Strings(keys)
	for _, k := range keys {
		f.mu.Lock()
		c := f.children[k]
		f.mu.Unlock()
		fn(f.labelString(k, "", ""), c)
	}
}

// labelString renders {a="x",b="y"} plus an optional extra pair (le).
func (f *family[T]) labelString(key, extraName, extraValue string) string {
	var parts []string
	if len(f.labels) > 0 {
		for i, v := range strings.Split(key, "\xff") {
			parts = append(parts, f.labels[i]+`="`+escapeValue(v)+`"`)
		}
	}
	if extraName != "" {
		parts = append(parts, extraName+`="`+extraValue+`"`)
	}
	if len(parts) == 0 {
		return ""
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

func escapeValue(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`).Replace(s)
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// value is a float64 guarded by a mutex (counters and gauges).
type value struct {
	mu sync.Mutex
	v  float64
}

func (v *value) add(d float64) { v.mu.Lock(); v.v += d; v.mu.Unlock() }
func (v *value) get() float64  { v.mu.Lock(); defer v.mu.Unlock(); return v.v }

// Counter only goes up.
type Counter struct{ v value }

// Inc adds one.
func (c *Counter) Inc() { c.v.add(1) }

// Add adds d (≥ 0).
func (c *Counter) Add(d float64) {
	if d >= 0 {
		c.v.add(d)
	}
}

// Value is the current count.
func (c *Counter) Value() float64 { return c.v.get() }

// CounterVec is a counter per label values.
type CounterVec struct{ f *family[Counter] }

// NewCounterVec registers a counter family.
func (r *Registry) NewCounterVec(name, help string, labels ...string) *CounterVec {
	cv := &CounterVec{f: &family[Counter]{name: name, help: help, typ: "counter", labels: labels,
		children: map[string]*Counter{}, newChild: func() *Counter { return &Counter{} }}}
	r.add(cv)
	return cv
}

// NewCounter registers a counter without labels.
func (r *Registry) NewCounter(name, help string) *Counter {
	return r.NewCounterVec(name, help).With()
}

// With returns the counter for the label values.
func (cv *CounterVec) With(values ...string) *Counter { return cv.f.with(values...) }

func (cv *CounterVec) write(w io.Writer) {
	cv.f.header(w)
	cv.f.each(func(l string, c *Counter) { fmt.Fprintf(w, "%s%s %s\n", cv.f.name, l, formatFloat(c.Value())) })
}

// Gauge goes up and down.
type Gauge struct{ v value }

// Add adds d (may be negative).
func (g *Gauge) Add(d float64) { g.v.add(d) }

// Value is the current value.
func (g *Gauge) Value() float64 { return g.v.get() }

type gaugeVec struct{ f *family[Gauge] }

// NewGauge registers a gauge without labels.
func (r *Registry) NewGauge(name, help string) *Gauge {
	gv := &gaugeVec{f: &family[Gauge]{name: name, help: help, typ: "gauge",
		children: map[string]*Gauge{}, newChild: func() *Gauge { return &Gauge{} }}}
	r.add(gv)
	return gv.f.with()
}

func (gv *gaugeVec) write(w io.Writer) {
	gv.f.header(w)
	gv.f.each(func(l string, g *Gauge) { fmt.Fprintf(w, "%s%s %s\n", gv.f.name, l, formatFloat(g.Value())) })
}

// Histogram counts observations into cumulative buckets.
type Histogram struct {
	mu     sync.Mutex
	bounds []float64
	counts []uint64
	sum    float64
	count  uint64
}

// Observe records v.
func (h *Histogram) Observe(v float64) {
	i := sort.SearchFloat64s(h.bounds, v) // first bound ≥ v
	h.mu.Lock()
	if i < len(h.counts) {
		h.counts[i]++
	}
	h.sum += v
	h.count++
	h.mu.Unlock()
}

// HistogramVec is a histogram per label values.
type HistogramVec struct {
	f *family[Histogram]
}

// NewHistogramVec registers a histogram family with the given upper bounds.
func (r *Registry) NewHistogramVec(name, help string, buckets []float64, labels ...string) *HistogramVec {
	b := append([]float64(nil), buckets...)
	sort.Float64s(b)
	hv := &HistogramVec{f: &family[Histogram]{name: name, help: help, typ: "histogram", labels: labels,
		children: map[string]*Histogram{}, newChild: func() *Histogram {
			return &Histogram{bounds: b, counts: make([]uint64, len(b))}
		}}}
	r.add(hv)
	return hv
}

// NewHistogram registers a histogram without labels.
func (r *Registry) NewHistogram(name, help string, buckets []float64) *Histogram {
	return r.NewHistogramVec(name, help, buckets).With()
}

// With returns the histogram for the label values.
func (hv *HistogramVec) With(values ...string) *Histogram { return hv.f.with(values...) }

func (hv *HistogramVec) write(w io.Writer) {
	hv.f.header(w)
	keys := func() []string {
		hv.f.mu.Lock()
		defer hv.f.mu.Unlock()
		k := append([]string(nil), hv.f.order...)
		sort.Strings(k)
		return k
	}()
	for _, k := range keys {
		hv.f.mu.Lock()
		h := hv.f.children[k]
		hv.f.mu.Unlock()
		h.mu.Lock()
		var cum uint64
		for i, b := range h.bounds {
			cum += h.counts[i]
			fmt.Fprintf(w, "%s_bucket%s %d\n", hv.f.name, hv.f.labelString(k, "le", formatFloat(b)), cum)
		}
		fmt.Fprintf(w, "%s_bucket%s %d\n", hv.f.name, hv.f.labelString(k, "le", "+Inf"), h.count)
		l := hv.f.labelString(k, "", "")
		fmt.Fprintf(w, "%s_sum%s %s\n%s_count%s %d\n", hv.f.name, l, formatFloat(h.sum), hv.f.name, l, h.count)
		h.mu.Unlock()
	}
}

type gaugeFunc struct {
	name, help string
	fn         func() float64
}

// NewGaugeFunc registers a gauge whose value fn computes at each scrape.
func (r *Registry) NewGaugeFunc(name, help string, fn func() float64) {
	r.add(&gaugeFunc{name: name, help: help, fn: fn})
}

func (g *gaugeFunc) write(w io.Writer) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %s\n", g.name, escapeHelp(g.help), g.name, g.name, formatFloat(g.fn()))
}
