package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/devidp"
	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/server"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/storeopen"
	"github.com/jit-access/jit/pkg/vend"
)

// benchPolicy: readonly is auto-approved, prod-admin needs one approver and
// may be extended once, oncall allows break-glass. Durations are short so a
// compressed day fits in a minute or two.
var benchPolicy = testenv.Policy(testenv.S3ReadOnly,
	testenv.ProdAdmin.With("max_extensions", "1").With("max_total_duration", "3h"), testenv.OnCall, testenv.Idle)

const bucket = "jit-bench"

// rig is the peers shared by every section: one OIDC provider with logged-in
// users, one MinIO, and the PostgreSQL admin DSN when there is one.
type rig struct {
	idp    *devidp.Provider
	tokens map[string]string // username → ID token
	minio  *testenv.MinIOServer
	parent testenv.MinIOUser // the jit server's own MinIO keys
	hc     *http.Client
	// auditTo is where MinIO's audit webhook entries are relayed (a jit
	// server's /v1/activity/minio); nil drops them. MinIO is started once,
	// so its webhook points at the rig's relay, not at a server.
	auditTo atomic.Pointer[string]
}

func newRig(t *testing.T, users []devidp.User) *rig {
	t.Helper()
	r := &rig{}
	r.idp = testenv.OIDC(t, users...)
	r.minio = testenv.MinIOWithEnv(t, testenv.AuditWebhookEnv(r.startAuditRelay(t), benchActivitySecret))
	r.minio.CreateBucket(t, bucket)
	r.parent = r.minio.AddUser(t, "readwrite")
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 1024, 1024
	r.hc = &http.Client{Transport: tr, Timeout: 90 * time.Second}
	// Log every user in through the real device flow, in parallel.
	names := make([]string, len(users))
	for i, u := range users {
		names[i] = u.Username
	}
	r.tokens = testenv.IDTokens(t, r.idp, names...)
	return r
}

// benchUsers: devNN developers, apprN approvers, one admin.
func benchUsers(devs, apprs int) []devidp.User {
	var us []devidp.User
	for i := 1; i <= devs; i++ {
		n := fmt.Sprintf("dev%02d", i)
		us = append(us, devidp.User{Username: n, Password: n + "-pw", Email: n + "@example.com", Name: n, Groups: []string{"developers"}})
	}
	for i := 1; i <= apprs; i++ {
		n := fmt.Sprintf("appr%d", i)
		us = append(us, devidp.User{Username: n, Password: n + "-pw", Email: n + "@example.com", Name: n, Groups: []string{"approvers"}})
	}
	us = append(us, devidp.User{Username: "admin", Password: "admin-pw", Email: "admin@example.com", Name: "admin", Groups: []string{"admins", "approvers"}})
	return us
}

// openStore opens a fresh SQLite file or PostgreSQL database.
func openStore(t *testing.T, kind string) store.Store {
	t.Helper()
	var dsn string
	switch kind {
	case "sqlite":
		dsn = "sqlite://" + filepath.Join(t.TempDir(), "jit.db")
	case "postgres":
		dsn = testenv.Postgres(t)
	default:
		t.Fatalf("unknown store %q", kind)
	}
	st, err := storeopen.Open(context.Background(), dsn, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("open %s store: %v", kind, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// fakeVendor stands in for STS where the figure is about jit itself: it
// returns made-up credentials at once ("STS excluded").
type fakeVendor struct{}

func (fakeVendor) Vend(_ context.Context, in vend.Input, now time.Time) (vend.Credentials, error) {
	return vend.Credentials{AccessKeyID: "ASIAFAKEBENCH", SecretAccessKey: "fake-" + in.RequestID,
		SessionToken: "fake-token", Expiration: now.Add(time.Hour)}, nil
}

// minioVendor is the real STS vendor pointed at MinIO, with the parent's keys.
func (r *rig) minioVendor(t *testing.T, parent testenv.MinIOUser) vend.Vendor {
	t.Helper()
	v, err := vend.NewSTS(vend.STSConfig{Region: r.minio.Region(), Endpoint: r.minio.Endpoint(),
		Credentials: parent.Provider(), DenyActions: []string{"s3:*"}, HTTPClient: r.hc})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

type serverOpts struct {
	store    store.Store
	vendor   vend.Vendor
	revoker  vend.Revoker
	sweep    time.Duration
	activity bool // accept activity with benchActivitySecret
	// tweak, when set, has the last word on the server's options.
	tweak func(*server.Options)
}

// startServer runs a jit server with real token verification on 127.0.0.1.
func (r *rig) startServer(t *testing.T, o serverOpts) string {
	t.Helper()
	pol, err := policy.Parse("bench-policy.yaml", []byte(benchPolicy))
	if err != nil {
		t.Fatal(err)
	}
	if o.sweep == 0 {
		o.sweep = time.Hour
	}
	opts := server.Options{
		Store: o.store, Policy: pol, Vendor: o.vendor, Revoker: o.revoker,
		Verifier:  server.NewOIDCVerifier(server.OIDCVerifierConfig{Issuer: r.idp.Issuer(), ClientID: r.idp.ClientID(), ClockSkew: 30 * time.Second}),
		Discovery: api.Discovery{Issuer: r.idp.Issuer(), ClientID: r.idp.ClientID()},
		Logger:    slog.New(slog.DiscardHandler), RequestsPerMinute: 1e9, RequestBurst: 1 << 30, SweepInterval: o.sweep,
		Activity: activityOptions(o.activity),
	}
	if o.tweak != nil {
		o.tweak(&opts)
	}
	srv, err := server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { _ = srv.Run(ctx); close(ran) }()
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() {
		srv.BeginShutdown()
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		_ = hs.Shutdown(sctx)
		cancel()
		<-ran
	})
	return "http://" + ln.Addr().String()
}

// grant requests an auto-approved role as user and fetches the grant's
// credentials.
func (r *rig) grant(ctx context.Context, base, user string, create api.CreateRequest) (api.Request, api.Credentials, error) {
	var req api.Request
	var c api.Credentials
	if _, err := r.call(ctx, base, user, "POST", "/v1/requests", create, &req); err != nil {
		return req, c, err
	}
	_, err := r.call(ctx, base, user, "POST", "/v1/requests/"+req.ID+"/credentials", nil, &c)
	return req, c, err
}

// call makes one API call as user and decodes a 2xx answer into out.
func (r *rig) call(ctx context.Context, base, user, method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+r.tokens[user])
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, &httpError{what: fmt.Sprintf("%s %s as %s", method, path, user), status: resp.StatusCode, body: bytes.TrimSpace(data)}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, err
		}
	}
	return resp.StatusCode, nil
}

// httpError is a non-2xx answer: its status and body.
type httpError struct {
	what   string
	status int
	body   []byte
}

func (e *httpError) Error() string { return fmt.Sprintf("%s: HTTP %d: %s", e.what, e.status, e.body) }

// staggered runs fn(0), …, fn(n-1) each on its own goroutine, the i-th
// starting i×gap after the first, and returns when all have returned.
func staggered(n int, gap time.Duration, fn func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			time.Sleep(time.Duration(i) * gap)
			fn(i)
		})
	}
	wg.Wait()
}

// --- statistics ---

func median(xs []float64) float64 { return quantile(xs, 0.5) }

func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	pos := q * float64(len(s)-1)
	lo := int(pos)
	if lo+1 >= len(s) {
		return s[len(s)-1]
	}
	f := pos - float64(lo)
	return s[lo]*(1-f) + s[lo+1]*f
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
