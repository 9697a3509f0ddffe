package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/server"
	"github.com/jit-access/jit/pkg/vend"
)

// benchActivitySecret authenticates MinIO's audit webhook (through the
// rig's relay) and the ingestion figures' senders.
const benchActivitySecret = "bench-activity-secret-0123456789"

func activityOptions(on bool) server.ActivityOptions {
	if !on {
		return server.ActivityOptions{}
	}
	return server.ActivityOptions{Secret: benchActivitySecret, Window: 15 * time.Minute}
}

// startAuditRelay serves MinIO's audit webhook for the rig's whole life
// and forwards each delivery, headers and all, to r.auditTo (or drops it).
func (r *rig) startAuditRelay(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fwd := &http.Client{Timeout: 10 * time.Second}
	hs := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		to := r.auditTo.Load()
		if to == nil {
			return // no server listens for activity now
		}
		out, err := http.NewRequestWithContext(req.Context(), http.MethodPost, *to, bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		out.Header.Set("Authorization", req.Header.Get("Authorization"))
		out.Header.Set("Content-Type", "application/json")
		resp, err := fwd.Do(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
	})}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	return "http://" + ln.Addr().String() + "/minio-audit"
}

// activitySection holds the activity figures (docs/benchmarks.md §8).
type activitySection struct {
	at                 time.Time // when the section was measured
	idleTimeout, sweep time.Duration
	// Per grant: MinIO's time of the last call → the server's revoke, and
	// the wall time from the last call's return to MinIO's first refusal.
	toRevoke, toRefused, overshoot []float64
	ingest                         []ingestPoint
}

type ingestPoint struct {
	store     string
	senders   int
	batch     int
	events    int
	perSec    float64
	p50, p99  float64 // ms per delivery
	errors    int
	recorded  int
	duplicate int
}

// measureIdle: n grants of the idle role (idle_timeout 1m) are each used
// once with real MinIO calls; MinIO's audit webhook reports the calls; the
// sweeper revokes each grant once idle, and the revoke disables its MinIO
// parent user (perGrantVendor), after which MinIO refuses the credentials.
func (r *rig) measureIdle(t *testing.T, n int) *activitySection {
	sec := &activitySection{at: time.Now(), idleTimeout: time.Minute, sweep: time.Second}
	v := newPerGrantVendor(t, r, n)
	base := r.startServer(t, serverOpts{store: openStore(t, "sqlite"), vendor: v, revoker: v, sweep: sec.sweep, activity: true})
	to := base + "/v1/activity/minio"
	r.auditTo.Store(&to)
	defer r.auditTo.Store(nil)
	ctx := context.Background()
	var mu sync.Mutex
	staggered(n, 700*time.Millisecond, func(i int) { // spread over sweeps
		user := fmt.Sprintf("dev%02d", i%8+1)
		req, c, err := r.grant(ctx, base, user, api.CreateRequest{Role: "idle"})
		if err != nil {
			t.Error(err)
			return
		}
		if !r.s3Works(ctx, c) {
			t.Error("fresh idle-role credentials refused")
			return
		}
		lastCall := time.Now()
		deadline := lastCall.Add(3 * time.Minute)
		var cur api.Request
		for time.Now().Before(deadline) {
			time.Sleep(250 * time.Millisecond)
			if time.Since(lastCall) < 55*time.Second {
				continue // calling MinIO now would keep the grant busy
			}
			if _, err := r.call(ctx, base, user, "GET", "/v1/requests/"+req.ID, nil, &cur); err != nil {
				t.Error(err)
				return
			}
			if cur.State == api.StateRevoked {
				break
			}
		}
		if cur.State != api.StateRevoked || cur.Activity == nil {
			t.Errorf("grant %s: %s with activity %+v 3m after its last call", req.ID, cur.State, cur.Activity)
			return
		}
		var refused time.Time
		for time.Now().Before(deadline) {
			if !r.s3Works(ctx, c) {
				refused = time.Now()
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		lag := cur.UpdatedAt.Sub(cur.Activity.LastUse)
		mu.Lock()
		sec.toRevoke = append(sec.toRevoke, ms(lag))
		sec.overshoot = append(sec.overshoot, ms(lag-sec.idleTimeout))
		if !refused.IsZero() {
			sec.toRefused = append(sec.toRefused, ms(refused.Sub(lastCall)))
		}
		mu.Unlock()
		if refused.IsZero() {
			t.Errorf("grant %s: MinIO still accepts its credentials 3m after the last call", req.ID)
		}
	})
	return sec
}

// keyVendor makes credentials with a distinct access key per grant, at once.
type keyVendor struct{}

func (keyVendor) Vend(_ context.Context, in vend.Input, now time.Time) (vend.Credentials, error) {
	return vend.Credentials{AccessKeyID: "ASIABENCH" + strings.ToUpper(in.RequestID), SecretAccessKey: "fake", SessionToken: "fake",
		Expiration: now.Add(time.Hour)}, nil
}

// measureIngest posts synthetic MinIO audit entries for `grants` vended keys
// at the server for d: senders concurrent senders, batch entries per POST
// (MinIO's default batch is 1). Each entry has a new request id; one in
// ten deliveries is sent twice, as a retrying webhook would.
func (r *rig) measureIngest(t *testing.T, kind string, grants int, combos [][2]int, d time.Duration) []ingestPoint {
	base := r.startServer(t, serverOpts{store: openStore(t, kind), vendor: keyVendor{}, activity: true})
	ctx := context.Background()
	var keys []string
	for i := range grants {
		user := fmt.Sprintf("dev%02d", i%8+1)
		_, c, err := r.grant(ctx, base, user, api.CreateRequest{Role: "readonly", DurationSeconds: 3600})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, c.AccessKeyID)
	}
	var seq atomic.Int64
	var out []ingestPoint
	for _, cb := range combos {
		senders, batch := cb[0], cb[1]
		p := ingestPoint{store: kind, senders: senders, batch: batch}
		var mu sync.Mutex
		var lat []float64
		stop := time.Now().Add(d)
		var wg sync.WaitGroup
		start := time.Now()
		for range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := 1; time.Now().Before(stop); k++ {
					entries := make([]map[string]any, batch)
					for j := range entries {
						n := seq.Add(1)
						entries[j] = map[string]any{"deploymentid": "bench", "requestID": fmt.Sprintf("R%d", n), "accessKey": keys[int(n)%len(keys)],
							"time": time.Now().UTC().Format(time.RFC3339Nano), "api": map[string]any{"name": "GetObject", "statusCode": 200}}
					}
					var body []byte
					if batch == 1 {
						body, _ = json.Marshal(entries[0])
					} else {
						body, _ = json.Marshal(entries)
					}
					sends := 1
					if k%10 == 0 {
						sends = 2 // a redelivery
					}
					for range sends {
						t0 := time.Now()
						res, err := r.ingestOnce(ctx, base, body)
						el := ms(time.Since(t0))
						mu.Lock()
						if err != nil {
							p.errors++
						} else {
							lat = append(lat, el)
							p.events += res.Received
							p.recorded += res.Recorded
							p.duplicate += res.Duplicate
						}
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		wall := time.Since(start)
		p.perSec = float64(p.events) / wall.Seconds()
		p.p50, p.p99 = quantile(lat, .5), quantile(lat, .99)
		t.Logf("ingest %s %d senders × batch %d: %.0f events/s, p50 %.2f ms p99 %.2f ms, %d recorded, %d duplicates, %d errors",
			kind, senders, batch, p.perSec, p.p50, p.p99, p.recorded, p.duplicate, p.errors)
		out = append(out, p)
	}
	return out
}

func (r *rig) ingestOnce(ctx context.Context, base string, body []byte) (api.IngestResult, error) {
	var res api.IngestResult
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/activity/minio", bytes.NewReader(body))
	if err != nil {
		return res, err
	}
	req.Header.Set("Authorization", "Bearer "+benchActivitySecret)
	resp, err := r.hc.Do(req)
	if err != nil {
		return res, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return res, fmt.Errorf("HTTP %d: %s", resp.StatusCode, data)
	}
	return res, json.Unmarshal(data, &res)
}

// runActivity measures both activity figures.
func (r *rig) runActivity(t *testing.T, stores []string, quick bool) *activitySection {
	n, d := 4, 3*time.Second
	if quick {
		n, d = 2, time.Second
	}
	var sec *activitySection
	t.Run("idle", func(t *testing.T) { sec = r.measureIdle(t, n) })
	if sec == nil {
		sec = &activitySection{}
	}
	for _, s := range stores {
		t.Run("ingest/"+s, func(t *testing.T) {
			sec.ingest = append(sec.ingest, r.measureIngest(t, s, 50, [][2]int{{1, 1}, {8, 1}, {8, 100}}, d)...)
		})
	}
	return sec
}

// markdown renders §8 of docs/benchmarks.md.
func (a *activitySection) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("## 8. Activity: last call → idle revoke, and ingestion throughput\n\n")
	if !a.at.IsZero() {
		p("Measured %s.\n\n", a.at.UTC().Format("2006-01-02 15:04 MST"))
	}
	if len(a.toRevoke) > 0 {
		p("%d grants of a role with `idle_timeout: %s` (SQLite, `sweep_interval: %s`), each used once through MinIO (STS + S3). MinIO's audit webhook reported the calls to the server; each grant had its own MinIO parent user, disabled by the revoke (the stand-in for AWS's inline Deny, as in §4). *Last call → revoke* is on the server's clocks: MinIO's recorded time of the last call to the grant's revoke; *last call → MinIO refuses* is wall time from the last call's return to the first refused S3 call (polled every 250 ms).\n\n",
			len(a.toRevoke), api.FormatDuration(a.idleTimeout), api.FormatDuration(a.sweep))
		p("| figure | median | max |\n|---|---:|---:|\n")
		p("| last call → revoke | %.2f s | %.2f s |\n", median(a.toRevoke)/1000, maxOf(a.toRevoke)/1000)
		p("| … past the idle timeout | %.0f ms | %.0f ms |\n", median(a.overshoot), maxOf(a.overshoot))
		if len(a.toRefused) > 0 {
			p("| last call → MinIO refuses | %.2f s | %.2f s |\n", median(a.toRefused)/1000, maxOf(a.toRefused)/1000)
		}
		p("\nThe overshoot is bounded by the sweep interval plus MinIO's webhook delivery (asynchronous, usually milliseconds).\n\n")
	}
	if len(a.ingest) > 0 {
		p("Ingestion: synthetic MinIO audit entries for 50 vended keys posted to `/v1/activity/minio` for a few seconds per row (bearer secret checked, key → grant looked up, entries deduplicated by id and folded into the grant's aggregate in one transaction per delivery); one delivery in ten is sent twice, as a retrying webhook would. MinIO's own default is one entry per POST.\n\n")
		p("| store | senders | entries per POST | events/s | p50 ms per POST | p99 ms | duplicates refused | errors |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, x := range a.ingest {
			p("| %s | %d | %d | %.0f | %.2f | %.2f | %d | %d |\n", x.store, x.senders, x.batch, x.perSec, x.p50, x.p99, x.duplicate, x.errors)
		}
		p("\n")
	}
	p("Reproduce: `make bench` (section \"activity\"), or this section alone: `JIT_BENCH=1 go test -run '^TestBenchActivity$' -v ./internal/bench`.\n\n")
	return b.String()
}

func maxOf(xs []float64) float64 {
	m := 0.0
	for i, x := range xs {
		if i == 0 || x > m {
			m = x
		}
	}
	return m
}

// TestBenchActivity runs only §8 and writes it into docs/benchmarks.md in
// place (the other sections are left as the last full run wrote them).
func TestBenchActivity(t *testing.T) {
	if os.Getenv("JIT_BENCH") != "1" {
		t.Skip("benchmarks run with JIT_BENCH=1 (make bench)")
	}
	stores := []string{"sqlite"}
	if os.Getenv(testenv.PostgresDSNEnv) != "" {
		stores = append(stores, "postgres")
	}
	r := newRig(t, benchUsers(8, 1))
	sec := r.runActivity(t, stores, os.Getenv("JIT_BENCH_QUICK") == "1")
	spliceIntoBenchmarks(t, "## 8. ", sec.markdown())
}

// spliceIntoBenchmarks writes section into docs/benchmarks.md (or
// $JIT_BENCH_OUT/benchmarks.md) in place of the one starting with heading,
// leaving the other sections as the last full run wrote them.
func spliceIntoBenchmarks(t *testing.T, heading, section string) {
	t.Helper()
	out := os.Getenv("JIT_BENCH_OUT")
	if out == "" {
		out = "../../docs"
	}
	path := filepath.Join(out, "benchmarks.md")
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(spliceSection(string(old), heading, section)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// spliceSection replaces the section starting with heading (up to the next
// "## " heading) or appends it.
func spliceSection(doc, heading, section string) string {
	i := strings.Index(doc, "\n"+heading)
	if i < 0 {
		if doc != "" && !strings.HasSuffix(doc, "\n\n") {
			doc = strings.TrimRight(doc, "\n") + "\n\n"
		}
		return doc + section
	}
	rest := doc[i+1:]
	end := strings.Index(rest[len(heading):], "\n## ")
	if end < 0 {
		return doc[:i+1] + section
	}
	return doc[:i+1] + section + rest[len(heading)+end+1:]
}

func TestSpliceSectionReplacesOnlyItsSection(t *testing.T) {
	doc := "# B\n\n## 6. Day\n\nday\n\n## 7. Activity\n\nold\n\n## 8. Next\n\nnext\n"
	got := spliceSection(doc, "## 7. ", "## 7. Activity\n\nnew\n\n")
	if got != "# B\n\n## 6. Day\n\nday\n\n## 7. Activity\n\nnew\n\n## 8. Next\n\nnext\n" {
		t.Fatalf("replace:\n%s", got)
	}
	if got := spliceSection("# B\n\n## 6. Day\n\nday\n", "## 7. ", "## 7. A\n"); got != "# B\n\n## 6. Day\n\nday\n\n## 7. A\n" {
		t.Fatalf("append:\n%q", got)
	}
	if got := spliceSection("# B\n\n## 7. A\n\nold\n", "## 7. ", "## 7. A\n\nnew\n"); got != "# B\n\n## 7. A\n\nnew\n" {
		t.Fatalf("last section:\n%q", got)
	}
}
