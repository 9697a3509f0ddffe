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
	// Issuers are further trusted issuers (workload issuers, a second IdP
	// of people), verified beside Issuer; the policy may name them.
	Issuers []TrustedIssuer
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
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.VerifyNow == nil {
		o.VerifyNow = o.Now
	}
	verifier, polIssuers := trustedIssuers(t, o)
	pol, err := policy.ParseWithIssuers("test-policy.yaml", []byte(o.Policy), polIssuers)
	if err != nil {
		t.Fatalf("testenv: policy: %v", err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "jit.db"))
	if err != nil {
		t.Fatalf("testenv: open the store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
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
		Verifier:  verifier,
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

// TrustedIssuer is one more issuer a test server trusts.
type TrustedIssuer struct {
	// Name is the policy's name for it (workloads: issuer:).
	Name string
	// URL and Audience: the token's iss and the aud it must carry.
	URL, Audience string
	// Workload: its tokens are workloads'; Flavor says what their claims
	// mean (policy.FlavorGitHub, …).
	Workload bool
	Flavor   string
}

// trustedIssuers is the verifier of o's issuers (o.Issuer as "oidc", then
// o.Issuers, each checked for a discoverable JWKS as the server's start
// does) and what the policy knows of them.
func trustedIssuers(t testing.TB, o JitServerOptions) (server.TokenVerifier, []policy.Issuer) {
	t.Helper()
	human := server.NewOIDCVerifier(server.OIDCVerifierConfig{Issuer: o.Issuer, ClientID: o.ClientID,
		ClockSkew: 30 * time.Second, Now: o.VerifyNow, Name: "oidc"})
	if len(o.Issuers) == 0 {
		return human, nil
	}
	vs := []*server.OIDCVerifier{human}
	pis := []policy.Issuer{{Name: "oidc"}}
	for _, iss := range o.Issuers {
		kind, maxLife := "", time.Duration(0)
		if iss.Workload {
			kind, maxLife = api.KindWorkload, time.Hour
		}
		v := server.NewOIDCVerifier(server.OIDCVerifierConfig{Issuer: iss.URL, ClientID: iss.Audience,
			ClockSkew: 30 * time.Second, Now: o.VerifyNow, Name: iss.Name, Kind: kind, MaxTokenLifetime: maxLife})
		if err := v.Check(t.Context()); err != nil {
			t.Fatalf("testenv: issuer %s: %v", iss.Name, err)
		}
		vs = append(vs, v)
		identifying := policy.FlavorIdentifying(iss.Flavor)
		if iss.Workload && len(identifying) == 0 {
			identifying = []string{"sub"}
		}
		pis = append(pis, policy.Issuer{Name: iss.Name, Workload: iss.Workload, Flavor: iss.Flavor, Identifying: identifying})
	}
	is, err := server.NewIssuers(vs...)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return is, pis
}
