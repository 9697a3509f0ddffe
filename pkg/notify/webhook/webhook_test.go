package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/notify"
	"github.com/jit-access/jit/pkg/notify/webhook"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/storeopen"
)

var secret = []byte("whsec-test-0123456789")

// receiver is a webhook endpoint on 127.0.0.1 that checks what a real one
// should: the signature over the raw body within the replay window, the
// payload's schema and that the idempotency header matches the body. It
// dedupes by idempotency key and counts repeats separately.
type receiver struct {
	t      *testing.T
	now    func() time.Time
	status func(p notify.Payload, attempt int) int // nil: 204

	mu       sync.Mutex
	attempts map[string]int // per idempotency key
	seqs     map[int64]bool
	dups     int
	bad      int
	got      chan struct{}
}

func newReceiver(t *testing.T, now func() time.Time) (*receiver, *httptest.Server) {
	r := &receiver{t: t, now: now, attempts: map[string]int{}, seqs: map[int64]bool{}, got: make(chan struct{}, 1000)}
	srv := httptest.NewServer(r) // binds 127.0.0.1:0
	t.Cleanup(srv.Close)
	return r, srv
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err := webhook.Verify(secret, req.Header.Get(webhook.HeaderSignature), body, rc.now(), webhook.DefaultTolerance); err != nil {
		rc.mu.Lock()
		rc.bad++
		rc.mu.Unlock()
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var p notify.Payload
	if err := json.Unmarshal(body, &p); err != nil || p.Schema != notify.PayloadSchema || p.Seq == 0 || p.Type == "" || p.Hash == "" ||
		p.ID != req.Header.Get(webhook.HeaderIdempotencyKey) || p.Type != req.Header.Get(webhook.HeaderEvent) ||
		req.Header.Get("Content-Type") != "application/json" {
		rc.mu.Lock()
		rc.bad++
		rc.mu.Unlock()
		http.Error(w, "bad payload", http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.attempts[p.ID]++
	n := rc.attempts[p.ID]
	rc.mu.Unlock()
	if rc.status != nil {
		if c := rc.status(p, n); c >= 300 {
			if c == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", "30")
			}
			w.WriteHeader(c)
			return
		}
	}
	rc.mu.Lock()
	if rc.seqs[p.Seq] {
		rc.dups++
	}
	rc.seqs[p.Seq] = true
	rc.mu.Unlock()
	rc.got <- struct{}{}
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) unique() int { rc.mu.Lock(); defer rc.mu.Unlock(); return len(rc.seqs) }

// openStore opens the store at dsn (a SQLite path or sqlite:// or
// postgres:// DSN) until the test ends.
func openStore(t *testing.T, dsn string) store.Store {
	t.Helper()
	s := openUnclosed(t, dsn)
	t.Cleanup(func() { s.Close() })
	return s
}

// openUnclosed opens the store at dsn for a test that closes it itself.
func openUnclosed(t *testing.T, dsn string) store.Store {
	t.Helper()
	s, err := storeopen.Open(context.Background(), dsn, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// onBothStores runs test on a fresh SQLite file and on a fresh PostgreSQL
// database (a missing PostgreSQL is a testenv.MissingPeer), each named by
// its DSN.
func onBothStores(t *testing.T, test func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { test(t, "sqlite://"+filepath.Join(t.TempDir(), "jit.db")) })
	t.Run("postgres", func(t *testing.T) { test(t, testenv.Postgres(t)) })
}

func newSink(t *testing.T, url string, now func() time.Time, events ...string) *webhook.Sink {
	t.Helper()
	s, err := webhook.New(webhook.Options{Name: "webhook:test", URL: url, Secret: secret, Events: events,
		PublicURL: "https://jit.example.com", Client: &http.Client{Timeout: 5 * time.Second}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newDispatcher(t *testing.T, o notify.DispatcherOptions) *notify.Dispatcher {
	t.Helper()
	d, err := notify.NewDispatcher(o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func appendEvent(t *testing.T, st store.Store, i int) {
	t.Helper()
	if err := st.Append(context.Background(), audit.Event{Time: time.Now(), Type: audit.TypeRequestApproved, Actor: "approver@example.com",
		Subject: "dev@example.com", Role: "prod-admin", RequestID: fmt.Sprintf("req_%03d", i), Reason: "burst"}); err != nil {
		t.Error(err)
	}
}

// outboundSeqs lists the seqs a webhook must get: everything but notify.*.
func outboundSeqs(t *testing.T, st store.Store) []int64 {
	t.Helper()
	var out []int64
	var after int64
	for {
		evs, err := st.Audit(context.Background(), store.AuditFilter{AfterSeq: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if notify.Outbound(e.Type) {
				out = append(out, e.Seq)
			}
			after = e.Seq
		}
		if len(evs) < 1000 {
			return out
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, cond, what)
}

func checkAllOnce(t *testing.T, rc *receiver, want []int64) {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, s := range want {
		if !rc.seqs[s] {
			t.Errorf("seq %d never arrived", s)
		}
	}
	if len(rc.seqs) != len(want) {
		t.Errorf("receiver has %d distinct events, want %d", len(rc.seqs), len(want))
	}
	if rc.bad != 0 {
		t.Errorf("%d deliveries failed signature or payload checks", rc.bad)
	}
	t.Logf("%d events, %d redelivered (dropped by idempotency key)", len(rc.seqs), rc.dups)
}

func TestDispatcherStoppedMidBurstResumesWithoutLossOrRepeats(t *testing.T) {
	onBothStores(t, testStoppedMidBurst)
}

func testStoppedMidBurst(t *testing.T, dsn string) {
	st := openStore(t, dsn)
	rc, srv := newReceiver(t, time.Now)
	sink := newSink(t, srv.URL, time.Now)
	if _, err := st.DeliveryCursor(context.Background(), sink.Name()); err != nil { // the sink starts at the (empty) head
		t.Fatal(err)
	}
	opts := notify.DispatcherOptions{Store: st, Sink: sink, Batch: 10, PollInterval: 5 * time.Millisecond, Holder: "first"}
	d1 := newDispatcher(t, opts)
	ctx1, stop1 := context.WithCancel(context.Background())
	done1 := make(chan error)
	go func() { done1 <- d1.Run(ctx1) }()

	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 200 {
			appendEvent(t, st, i)
			d1.Nudge()
		}
	})
	waitFor(t, "the first 60 deliveries", func() bool { return rc.unique() >= 60 })
	stop1() // mid-burst, mid-batch
	if err := <-done1; err != nil {
		t.Fatal(err)
	}
	stoppedAt := rc.unique()
	wg.Wait()
	if stoppedAt >= 200 {
		t.Fatalf("the first dispatcher delivered everything (%d) before it was stopped", stoppedAt)
	}

	opts.Holder = "second"
	d2 := newDispatcher(t, opts)
	ctx2, stop2 := context.WithCancel(context.Background())
	defer stop2()
	go d2.Run(ctx2) //nolint:errcheck
	want := outboundSeqs(t, st)
	if len(want) != 200 {
		t.Fatalf("%d outbound events in the log, want 200", len(want))
	}
	waitFor(t, "all 200 events", func() bool { return rc.unique() >= 200 })
	checkAllOnce(t, rc, want)
	if rc.dups > 1 {
		t.Errorf("%d repeats: the cursor should lose at most the one event in flight when stopped", rc.dups)
	}
	// Every delivery is audited, and the audit itself is not delivered.
	var delivered []api.AuditEvent
	waitFor(t, "200 notify.delivered records", func() bool {
		delivered, _ = st.Audit(context.Background(), store.AuditFilter{Type: audit.TypeNotifyDelivered, Limit: 1000})
		return len(delivered) >= 200
	})
	for k, v := range delivered[0].Detail {
		if k == "secret" || v == string(secret) {
			t.Fatalf("the audit record holds the secret: %v", delivered[0].Detail)
		}
	}
}

func TestDispatcherCrashWithStoreClosedResumesAfterLeaseExpiry(t *testing.T) {
	onBothStores(t, testCrashWithStoreClosed)
}

func testCrashWithStoreClosed(t *testing.T, dsn string) {
	st := openUnclosed(t, dsn)
	rc, srv := newReceiver(t, time.Now)
	sink := newSink(t, srv.URL, time.Now)
	if _, err := st.DeliveryCursor(context.Background(), sink.Name()); err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		appendEvent(t, st, i)
	}
	want := outboundSeqs(t, st)
	opts := notify.DispatcherOptions{Store: st, Sink: sink, Batch: 25, PollInterval: 5 * time.Millisecond, LeaseTTL: 300 * time.Millisecond, Holder: "crashed"}
	d1 := newDispatcher(t, opts)
	ctx1, stop1 := context.WithCancel(context.Background())
	done1 := make(chan error)
	go func() { done1 <- d1.Run(ctx1) }()
	waitFor(t, "some deliveries", func() bool { return rc.unique() >= 50 })
	st.Close() // the process dies: its lease is never released
	stop1()
	<-done1
	if rc.unique() >= 200 {
		t.Fatal("everything was delivered before the crash")
	}

	st2 := openStore(t, dsn)
	opts.Store, opts.Holder = st2, "restarted"
	d2 := newDispatcher(t, opts)
	ctx2, stop2 := context.WithCancel(context.Background())
	defer stop2()
	go d2.Run(ctx2) //nolint:errcheck
	waitFor(t, "all 200 events after the restart", func() bool { return rc.unique() >= 200 })
	checkAllOnce(t, rc, want)
}

func TestDispatcherBacksOffExponentiallyOn500AndDeliversInOrder(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "jit.db"))
	clock := testenv.NewClock(time.Now()) // near wall time: the receiver checks the signature's age
	rc, srv := newReceiver(t, clock.Now)
	rc.status = func(p notify.Payload, attempt int) int {
		if p.RequestID == "req_000" && attempt <= 3 {
			return http.StatusInternalServerError
		}
		return 0
	}
	sink := newSink(t, srv.URL, clock.Now)
	m := notify.NewMetrics()
	d := newDispatcher(t, notify.DispatcherOptions{Store: st, Sink: sink, Now: clock.Now, Metrics: m, BaseDelay: time.Second, MaxDelay: 3 * time.Second})
	ctx := context.Background()
	if _, err := st.DeliveryCursor(ctx, sink.Name()); err != nil {
		t.Fatal(err)
	}
	appendEvent(t, st, 0)
	appendEvent(t, st, 1)

	attempts := func() int { rc.mu.Lock(); defer rc.mu.Unlock(); return rc.attempts["webhook:test:1"] }
	for i, wait := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second /* capped */} {
		r, err := d.Once(ctx)
		if err != nil || r.RetryAt.Sub(clock.Now()) != wait || attempts() != i+1 {
			t.Fatalf("attempt %d: round %+v, err %v, attempts %d; want retry in %s", i+1, r, err, attempts(), wait)
		}
		// Before the backoff ends nothing is sent.
		clock.Add(wait - time.Millisecond)
		if r, _ := d.Once(ctx); r.RetryAt.IsZero() || attempts() != i+1 {
			t.Fatalf("attempt %d: sent again before the backoff ended", i+1)
		}
		clock.Add(time.Millisecond)
	}
	r, err := d.Once(ctx)
	if err != nil || r.Delivered != 2 || attempts() != 4 {
		t.Fatalf("after the backoff: %+v %v (attempts %d)", r, err, attempts())
	}
	if rc.unique() != 2 || !rc.seqs[1] || !rc.seqs[2] {
		t.Fatalf("receiver got %v", rc.seqs)
	}
	if got := m.Deliveries("webhook:test", "retry"); got != 3 {
		t.Errorf("retry count = %v, want 3", got)
	}
	if got := m.Deliveries("webhook:test", "delivered"); got != 2 {
		t.Errorf("delivered count = %v, want 2", got)
	}
	ev, _ := st.Audit(ctx, store.AuditFilter{Type: audit.TypeNotifyDelivered, RequestID: "req_000"})
	if len(ev) != 1 || ev[0].Detail["attempts"] != "4" || ev[0].Detail["seq"] != "1" || ev[0].Detail["idempotency_key"] != "webhook:test:1" {
		t.Fatalf("delivery audit = %+v", ev)
	}
}

func TestDispatcherSkipsRefusedEventsAndHonoursRetryAfter(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "jit.db"))
	clock := testenv.NewClock(time.Now())
	rc, srv := newReceiver(t, clock.Now)
	rc.status = func(p notify.Payload, attempt int) int {
		switch p.RequestID {
		case "req_000":
			return http.StatusBadRequest // refused for good
		case "req_001":
			if attempt == 1 {
				return http.StatusTooManyRequests // Retry-After: 30
			}
		}
		return 0
	}
	sink := newSink(t, srv.URL, clock.Now)
	d := newDispatcher(t, notify.DispatcherOptions{Store: st, Sink: sink, Now: clock.Now})
	ctx := context.Background()
	st.DeliveryCursor(ctx, sink.Name()) //nolint:errcheck
	appendEvent(t, st, 0)
	appendEvent(t, st, 1)
	r, err := d.Once(ctx)
	if err != nil || r.Failed != 1 || r.RetryAt.Sub(clock.Now()) != 30*time.Second {
		t.Fatalf("round %+v %v; want one refusal, then a 30s Retry-After", r, err)
	}
	clock.Add(30 * time.Second)
	if r, err := d.Once(ctx); err != nil || r.Delivered != 1 {
		t.Fatalf("round %+v %v", r, err)
	}
	failed, _ := st.Audit(ctx, store.AuditFilter{Type: audit.TypeNotifyFailed})
	if len(failed) != 1 || failed[0].RequestID != "req_000" || failed[0].Reason == "" {
		t.Fatalf("notify.failed = %+v", failed)
	}
	if c, _ := st.DeliveryCursor(ctx, sink.Name()); c < 2 {
		t.Fatalf("cursor %d did not pass the refused event", c)
	}
}

func TestWebhookEventFilterAndNoNotifyLoop(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "jit.db"))
	rc, srv := newReceiver(t, time.Now)
	sink := newSink(t, srv.URL, time.Now, "request.*", notify.TypeGrantEndingSoon)
	d := newDispatcher(t, notify.DispatcherOptions{Store: st, Sink: sink})
	ctx := context.Background()
	st.DeliveryCursor(ctx, sink.Name()) //nolint:errcheck
	for _, typ := range []string{audit.TypeRequestCreated, audit.TypeExpired, notify.TypeGrantEndingSoon, audit.TypeNotifyDelivered, audit.TypeRequestDenied} {
		if err := st.Append(ctx, audit.Event{Time: time.Now(), Type: typ, Actor: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 { // rounds after the first see only notify.* records
		if _, err := d.Once(ctx); err != nil {
			t.Fatal(err)
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.seqs) != 3 || !rc.seqs[1] || !rc.seqs[3] || !rc.seqs[5] {
		t.Fatalf("delivered seqs %v; want 1, 3 and 5", rc.seqs)
	}
}

func TestOneDispatcherPerSinkHoldsTheLease(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "jit.db"))
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	sink := newSink(t, srv.URL, time.Now)
	ctx := context.Background()
	st.DeliveryCursor(ctx, sink.Name()) //nolint:errcheck
	appendEvent(t, st, 0)
	if ok, _ := st.TryLease(ctx, "notify:"+sink.Name(), "other-replica", time.Now(), time.Minute); !ok {
		t.Fatal("lease")
	}
	d := newDispatcher(t, notify.DispatcherOptions{Store: st, Sink: sink})
	if r, err := d.Once(ctx); err != nil || r.Delivered != 0 || hits.Load() != 0 {
		t.Fatalf("delivered while another replica holds the lease: %+v %v", r, err)
	}
	st.ReleaseLease(ctx, "notify:"+sink.Name(), "other-replica") //nolint:errcheck
	if r, err := d.Once(ctx); err != nil || r.Delivered != 1 {
		t.Fatalf("after release: %+v %v", r, err)
	}
}

func TestVerifyRefusesForgedStaleAndMalformedSignatures(t *testing.T) {
	body := []byte(`{"schema":1}`)
	now := time.Unix(1_800_000_000, 0)
	good := webhook.Sign(secret, now.Unix(), body)
	cases := []struct {
		name   string
		header string
		body   []byte
		want   error
	}{
		{"valid", good, body, nil},
		{"tampered body", good, []byte(`{"schema":2}`), webhook.ErrBadSignature},
		{"other secret", webhook.Sign([]byte("nope"), now.Unix(), body), body, webhook.ErrBadSignature},
		{"stale", webhook.Sign(secret, now.Add(-6*time.Minute).Unix(), body), body, webhook.ErrStale},
		{"future", webhook.Sign(secret, now.Add(6*time.Minute).Unix(), body), body, webhook.ErrStale},
		{"no v1", "t=" + strconv.FormatInt(now.Unix(), 10), body, webhook.ErrMalformed},
		{"garbage", "v1=zz", body, webhook.ErrMalformed},
		{"rotation: second v1 matches", webhook.Sign([]byte("old"), now.Unix(), body) + ",v1=" + good[len("t=1800000000,v1="):], body, nil},
	}
	for _, c := range cases {
		if err := webhook.Verify(secret, c.header, c.body, now, webhook.DefaultTolerance); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
}

func TestSignMatchesTheDocumentedScheme(t *testing.T) {
	// docs/webhooks.md: v1 = hex(HMAC-SHA256(secret, "<t>.<body>")).
	got := webhook.Sign([]byte("s3cr3t"), 1700000000, []byte(`{"a":1}`))
	const want = "t=1700000000,v1=" // the digest is checked by the docs' python snippet too
	if len(got) != len(want)+64 || got[:len(want)] != want {
		t.Fatalf("Sign = %q", got)
	}
}

// TestWebhookWithDefaultFiltersGetsNoAuthFailures: failed authentications
// are caused by anyone on the network; a sink with the default (empty)
// filter, or "*", never receives them; one that names auth.failed (or
// auth.*) does.
func TestWebhookWithDefaultFiltersGetsNoAuthFailures(t *testing.T) {
	for _, tc := range []struct {
		filter []string
		want   int // deliveries of the two events below
	}{
		{nil, 1}, {[]string{"*"}, 1}, {[]string{"auth.failed"}, 1}, {[]string{"auth.*", "request.*"}, 2},
	} {
		st := openStore(t, filepath.Join(t.TempDir(), "jit.db"))
		rc, srv := newReceiver(t, time.Now)
		sink := newSink(t, srv.URL, time.Now, tc.filter...)
		d := newDispatcher(t, notify.DispatcherOptions{Store: st, Sink: sink})
		ctx := context.Background()
		st.DeliveryCursor(ctx, sink.Name()) //nolint:errcheck
		for _, typ := range []string{audit.TypeAuthFailed, audit.TypeRequestCreated} {
			if err := st.Append(ctx, audit.Event{Time: time.Now(), Type: typ, Actor: "x"}); err != nil {
				t.Fatal(err)
			}
		}
		for range 3 {
			if _, err := d.Once(ctx); err != nil {
				t.Fatal(err)
			}
		}
		rc.mu.Lock()
		got, gotAuth := len(rc.seqs), rc.seqs[1]
		rc.mu.Unlock()
		wantAuth := tc.filter != nil && tc.filter[0] != "*"
		if got != tc.want || gotAuth != wantAuth {
			t.Errorf("filter %q: %d deliveries (auth.failed: %v), want %d (auth.failed: %v)", tc.filter, got, gotAuth, tc.want, wantAuth)
		}
	}
}
