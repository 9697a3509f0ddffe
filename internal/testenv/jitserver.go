package testenv

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/server"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/sqlite"
	"github.com/jit-access/jit/pkg/vend"
)

// JitServerOptions configure StartJitServer; zero values pick test defaults.
type JitServerOptions struct {
	// Issuer and ClientID are the OIDC provider whose tokens it verifies.
	Issuer, ClientID string
	// Policy is the policy file's text (admins:, roles:).
	Policy string
	// Vendor defaults to a FakeVendor.
	Vendor vend.Vendor
	// Now is the server's clock [time.Now]; VerifyNow the token verifier's [Now].
	Now, VerifyNow func() time.Time
	// Logger [discard].
	Logger *slog.Logger
	// SequentialIDs makes request ids req_0001, req_0002, … (stable goldens).
	SequentialIDs bool
	// Tweak has the last word on the server's options; url is where it
	// will listen (the approver page needs it before the server starts).
	Tweak func(o *server.Options, url string)
}

// JitServer is a jit server on SQLite serving its API on 127.0.0.1.
type JitServer struct {
	URL    string
	Server *server.Server
	Store  store.Store
}

// StartJitServer runs a real jit server (real token verification, SQLite
// store, sweeper and change notifications) until the test ends. Per-user
// rate limits are lifted and the sweeper runs only when a test asks.
func StartJitServer(t testing.TB, o JitServerOptions) *JitServer {
	t.Helper()
	pol, err := policy.Parse("test-policy.yaml", []byte(o.Policy))
	if err != nil {
		t.Fatalf("testenv: policy: %v", err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "jit.db"))
	if err != nil {
		t.Fatalf("testenv: open the store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.VerifyNow == nil {
		o.VerifyNow = o.Now
	}
	if o.Vendor == nil {
		o.Vendor = &FakeVendor{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	hs := httptest.NewUnstartedServer(nil)
	url := "http://" + hs.Listener.Addr().String()
	opts := server.Options{
		Store: st, Policy: pol, Vendor: o.Vendor,
		Verifier: server.NewOIDCVerifier(server.OIDCVerifierConfig{Issuer: o.Issuer, ClientID: o.ClientID,
			ClockSkew: 30 * time.Second, Now: o.VerifyNow}),
		Discovery: api.Discovery{Issuer: o.Issuer, ClientID: o.ClientID},
		Now:       o.Now, Logger: o.Logger,
		RequestsPerMinute: 6000, RequestBurst: 1000, SweepInterval: time.Hour,
	}
	if o.SequentialIDs {
		var seq atomic.Int64
		opts.NewID = func() string { return fmt.Sprintf("req_%04d", seq.Add(1)) }
	}
	if o.Tweak != nil {
		o.Tweak(&opts, url)
	}
	srv, err := server.New(opts)
	if err != nil {
		t.Fatalf("testenv: jit server: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Run(ctx) }()
	hs.Config.Handler = srv.Handler()
	hs.Start()
	t.Cleanup(func() { hs.Close(); cancel(); <-done })
	return &JitServer{URL: url, Server: srv, Store: st}
}
