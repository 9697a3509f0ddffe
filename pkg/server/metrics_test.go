package server_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/jit-access/jit/pkg/api"
)

// TestMetricsKeepTheirNamesOnClientGolang scrapes /metrics after a request,
// a vend and a refused token, parses it with Prometheus's parser and checks
// that every series dashboards use is there under its old name.
func TestMetricsKeepTheirNamesOnClientGolang(t *testing.T) {
	e := newEnv(t)
	r := e.create("alice", api.CreateRequest{Role: "readonly", Reason: "x"})
	var c api.Credentials
	if code := e.call("alice", "POST", "/v1/requests/"+r.ID+"/credentials", nil, &c); code != http.StatusOK {
		t.Fatalf("vend answered %d", code)
	}
	bad, _ := http.NewRequestWithContext(context.Background(), "GET", e.url+"/v1/requests", nil)
	bad.Header.Set("Authorization", "Bearer not-a-token")
	if resp, err := http.DefaultClient.Do(bad); err == nil {
		resp.Body.Close()
	}
	req, _ := http.NewRequestWithContext(context.Background(), "GET", e.url+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("content type %q", resp.Header.Get("Content-Type"))
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	for _, name := range []string{"jit_request_events_total", "jit_http_request_duration_seconds", "jit_credentials_vended_total",
		"jit_auth_failures_total", "jit_waiting_clients", "jit_sweep_lag_seconds", "go_goroutines", "jit_uptime_seconds"} {
		if fams[name] == nil {
			t.Errorf("metric %s missing from /metrics", name)
		}
	}
	if f := fams["jit_auth_failures_total"]; f != nil && f.Metric[0].Counter.GetValue() < 1 {
		t.Errorf("jit_auth_failures_total = %v after a bad token", f.Metric[0].Counter.GetValue())
	}
	if f := fams["jit_request_events_total"]; f != nil && len(f.Metric) == 0 {
		t.Error("no request events counted after a request")
	}
	if f := fams["jit_credentials_vended_total"]; f == nil || len(f.Metric) != 1 || f.Metric[0].Counter.GetValue() != 1 {
		t.Errorf("jit_credentials_vended_total after one vend: %v", f)
	}
}
