package metrics

import (
	"bytes"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestOutputParsesAsPrometheusText checks the exposition with Prometheus's
// own parser and the values it reads back.
func TestOutputParsesAsPrometheusText(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounterVec("jit_events_total", "Events.\nTwo lines.", "type")
	c.With("request.created").Inc()
	c.With("request.created").Inc()
	c.With(`we"ird\`).Add(3)
	g := r.NewGauge("jit_waiting", "Waiting.")
	g.Add(2)
	g.Add(-1)
	h := r.NewHistogramVec("jit_latency_seconds", "Latency.", []float64{0.1, 1}, "route")
	for _, v := range []float64{0.05, 0.5, 5} {
		h.With("/v1/x").Observe(v)
	}
	r.NewGaugeFunc("jit_up", "Up.", func() float64 { return 1 })
	var buf bytes.Buffer
	r.Write(&buf)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(buf.String()))
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	ev := fams["jit_events_total"]
	if ev == nil || len(ev.Metric) != 2 || ev.Metric[0].Counter.GetValue() != 2 && ev.Metric[1].Counter.GetValue() != 2 {
		t.Fatalf("counter: %v", ev)
	}
	if fams["jit_waiting"].Metric[0].Gauge.GetValue() != 1 || fams["jit_up"].Metric[0].Gauge.GetValue() != 1 {
		t.Fatal("gauges")
	}
	hist := fams["jit_latency_seconds"].Metric[0].Histogram
	if hist.GetSampleCount() != 3 || hist.GetSampleSum() != 5.55 || hist.Bucket[0].GetCumulativeCount() != 1 || hist.Bucket[1].GetCumulativeCount() != 2 {
		t.Fatalf("histogram: %v", hist)
	}
}

func TestIncludedRegistryIsWrittenWithTheOuter(t *testing.T) {
	outer, inner := NewRegistry(), NewRegistry()
	outer.NewCounter("jit_a_total", "A.").Inc()
	inner.NewCounter("jit_b_total", "B.").Add(2)
	outer.Include(inner)
	var buf bytes.Buffer
	outer.Write(&buf)
	if !strings.Contains(buf.String(), "jit_a_total 1\n") || !strings.Contains(buf.String(), "jit_b_total 2\n") {
		t.Fatalf("exposition:\n%s", buf.String())
	}
}
