package webapp_test

import (
	"context"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
)

// TestBenchLiveWatchers is the 1,000 browsers benchmark (JIT_BENCH=1, make
// bench): 1,000 signed-in event streams, each on its own request, held
// open on one server; it reports the memory each costs the server (heap and
// goroutine stacks, measured in this process: client and server share it,
// so the figure is an upper bound) and, with every request approved at
// once (1,000 concurrent approvals), how long after its approval was
// answered each stream carried the decision (p50, p99; each must
// be under 200 ms).
func TestBenchLiveWatchers(t *testing.T) {
	if os.Getenv("JIT_BENCH") == "" {
		t.Skip("a benchmark: run with JIT_BENCH=1 (make bench)")
	}
	const n = 1000
	e := newEnv(t)
	e.clock.Set(time.Now())
	b := newBrowser(t)
	e.home(b, "alice")
	alice, bob := e.client("alice"), e.client("bob")
	reqs := make([]*api.Request, n)
	for i := range reqs {
		r, err := alice.Create(t.Context(), api.CreateRequest{Role: "prod-admin", Reason: "bench"})
		if err != nil {
			t.Fatal(err)
		}
		reqs[i] = r
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	b.hc.Transport = &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: n}
	streams := make([]<-chan string, n)
	for i, r := range reqs {
		status, ev := b.events(ctx, e.url+"/web/requests/"+r.ID+"/events")
		if status != http.StatusOK {
			t.Fatalf("stream %d: HTTP %d", i, status)
		}
		next(t, ev, "first event")
		streams[i] = ev
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	perWatcher := (int64(after.HeapInuse+after.StackInuse) - int64(before.HeapInuse+before.StackInuse)) / n

	// Approve every request; each stream records when the decision arrived.
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	for i := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := bob.Approve(t.Context(), reqs[i].ID, reqs[i].Version, ""); err != nil {
				t.Error(err)
				return
			}
			// From the approval's answer (the decision is stored) to the
			// stream's event: an upper bound of the wake, since the
			// event may already wait in the stream.
			decided := time.Now()
			ev := next(t, streams[i], "the decision")
			lat[i] = time.Since(decided)
			if !strings.Contains(ev, "state-approved") {
				t.Errorf("stream %d got %q", i, ev)
			}
		}()
	}
	wg.Wait()
	slices.Sort(lat)
	p50, p99 := lat[n/2], lat[n*99/100]
	t.Logf("%d live watchers: %d bytes each (heap + stacks, client and server); wake after the decision p50 %s, p99 %s, max %s",
		n, perWatcher, p50, p99, lat[n-1])
	if p99 > 200*time.Millisecond {
		t.Errorf("p99 wake %s, want under 200 ms", p99)
	}
}
