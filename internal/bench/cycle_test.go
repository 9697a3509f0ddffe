package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/apiclient"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/lifecycle"
	"github.com/jit-access/jit/pkg/store"
)

// cyclePoint is one (store, vendor, clients) measurement: the median of
// several timed runs.
type cyclePoint struct {
	store, vendor string
	clients       int
	perSec        float64 // cycles/s
	p50, p99      float64 // ms per cycle
	errors        int64
	cycles        int64
}

// cycle is what a requester and an approver do for one grant: create
// (prod-admin needs an approver), approve, fetch credentials.
func (r *rig) cycle(ctx context.Context, base, requester, approver string) error {
	var req api.Request
	if _, err := r.call(ctx, base, requester, "POST", "/v1/requests",
		api.CreateRequest{Role: "prod-admin", Reason: "bench", DurationSeconds: 1800}, &req); err != nil {
		return err
	}
	if _, err := r.call(ctx, base, approver, "POST", "/v1/requests/"+req.ID+"/approve", api.DecisionBody{Comment: "ok"}, nil); err != nil {
		return err
	}
	var c api.Credentials
	_, err := r.call(ctx, base, requester, "POST", "/v1/requests/"+req.ID+"/credentials", nil, &c)
	return err
}

// loadRun runs clients closed-loop clients for d and returns throughput and
// per-cycle latencies.
func (r *rig) loadRun(base string, clients int, d time.Duration) (perSec float64, lat []float64, errs int64) {
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	var mu sync.Mutex
	var nerr atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	start := time.Now()
	var done atomic.Int64
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			requester := fmt.Sprintf("dev%02d", i%8+1)
			approver := fmt.Sprintf("appr%d", i%3+1)
			var mine []float64
			for time.Now().Before(stop) {
				t0 := time.Now()
				if err := r.cycle(ctx, base, requester, approver); err != nil {
					if nerr.Add(1) == 1 {
						fmt.Println("bench: cycle error:", err)
					}
					continue
				}
				mine = append(mine, ms(time.Since(t0)))
				done.Add(1)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return float64(done.Load()) / time.Since(start).Seconds(), lat, nerr.Load()
}

// measureCycle runs reps timed runs at one concurrency and takes medians.
func (r *rig) measureCycle(base, storeName, vendorName string, clients, reps int, d time.Duration) cyclePoint {
	r.loadRun(base, clients, d/4) // warm up connections and caches
	p := cyclePoint{store: storeName, vendor: vendorName, clients: clients}
	var tput, p50s, p99s []float64
	for range reps {
		ps, lat, errs := r.loadRun(base, clients, d)
		tput = append(tput, ps)
		p50s = append(p50s, quantile(lat, 0.5))
		p99s = append(p99s, quantile(lat, 0.99))
		p.errors += errs
		p.cycles += int64(len(lat))
	}
	p.perSec, p.p50, p.p99 = median(tput), median(p50s), median(p99s)
	return p
}

// wakeResult: approval → the waiting client's long-poll returns → it has
// credentials → (MinIO) its first S3 call succeeds.
type wakeResult struct {
	vendor           string
	wake, creds, use []float64 // ms after the approve call was sent
}

func (r *rig) measureWake(t *testing.T, base, vendorName string, reps int, useS3 bool) wakeResult {
	res := wakeResult{vendor: vendorName}
	client, err := apiclient.New(base, r.hc, func(context.Context) (string, error) { return r.tokens["dev01"], nil })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range reps {
		var req api.Request
		if _, err := r.call(ctx, base, "dev01", "POST", "/v1/requests", api.CreateRequest{Role: "prod-admin", Reason: "wake", DurationSeconds: 600}, &req); err != nil {
			t.Fatal(err)
		}
		type times struct{ wake, creds, use time.Time }
		got := make(chan times, 1)
		parked := make(chan struct{})
		go func() {
			var tm times
			seen := req.Version
			close(parked)
			for {
				w, err := client.WaitChange(ctx, req.ID, seen, 30*time.Second)
				if err != nil {
					t.Error(err)
					got <- tm
					return
				}
				if w.State.Granted() {
					break
				}
				seen = w.Version
			}
			tm.wake = time.Now()
			c, err := client.Credentials(ctx, req.ID)
			if err != nil {
				t.Error(err)
				got <- tm
				return
			}
			tm.creds = time.Now()
			if useS3 {
				s3c := r.minio.S3Client(credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken))
				if _, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)}); err != nil {
					t.Error(err)
				}
				tm.use = time.Now()
			}
			got <- tm
		}()
		<-parked
		time.Sleep(100 * time.Millisecond) // the long-poll is parked at the server
		t0 := time.Now()
		if _, err := r.call(ctx, base, "appr1", "POST", "/v1/requests/"+req.ID+"/approve", nil, nil); err != nil {
			t.Fatal(err)
		}
		tm := <-got
		res.wake = append(res.wake, ms(tm.wake.Sub(t0)))
		res.creds = append(res.creds, ms(tm.creds.Sub(t0)))
		if useS3 {
			res.use = append(res.use, ms(tm.use.Sub(t0)))
		}
	}
	return res
}

// seedStore adds grants active grants and tops the audit log up to events
// records, straight through the store (the same transactions the server
// runs), so that the cycle can be re-measured on a big store.
func seedStore(t *testing.T, st store.Store, grants, events int) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	var wg sync.WaitGroup
	var n atomic.Int64
	work := make(chan int)
	var seededEvents atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				r, evs := lifecycle.New(lifecycle.NewInput{
					ID: fmt.Sprintf("seed-%d-%d", now.UnixNano(), i), Requester: fmt.Sprintf("seed%04d@example.com", i%5000),
					Create:   api.CreateRequest{Role: "prod-admin", Reason: "seeded", DurationSeconds: 7200},
					Duration: 2 * time.Hour, ApprovalsNeeded: 1, PendingTimeout: time.Hour,
				}, now)
				if err := st.Create(ctx, r, evs); err != nil {
					t.Error(err)
					return
				}
				k := int64(len(evs))
				if _, err := st.Update(ctx, r.ID, func(r *api.Request) ([]audit.Event, error) {
					ev, err := lifecycle.Approve(r, api.User{Subject: "u-appr1", Email: "appr1@example.com", Username: "appr1@example.com"}, "ok", now)
					k += int64(len(ev))
					return ev, err
				}); err != nil {
					t.Error(err)
					return
				}
				seededEvents.Add(k)
				n.Add(1)
			}
		}()
	}
	for i := range grants {
		work <- i
	}
	close(work)
	wg.Wait()
	// Top up the audit log with events that concern no request (vends,
	// refused calls) in batches.
	left := int64(events) - seededEvents.Load()
	for left > 0 {
		b := int64(500)
		if left < b {
			b = left
		}
		evs := make([]audit.Event, b)
		for i := range evs {
			evs[i] = audit.Event{Time: now, Type: "credentials.vended", Actor: "seed@example.com", Subject: "seed@example.com",
				Role: "prod-admin", RequestID: "seed", Detail: map[string]string{"access_key_id": "ASIASEED"}}
		}
		if err := st.Append(ctx, evs...); err != nil {
			t.Fatal(err)
		}
		left -= b
	}
}

// dueLatency is how long the sweeper's query takes on this store (median of 20).
func dueLatency(t *testing.T, st store.Store) float64 {
	var xs []float64
	for range 20 {
		t0 := time.Now()
		if _, err := st.Due(context.Background(), time.Now(), 500); err != nil {
			t.Fatal(err)
		}
		xs = append(xs, ms(time.Since(t0)))
	}
	return median(xs)
}
