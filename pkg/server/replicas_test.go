package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/server"
	"github.com/jit-access/jit/pkg/store/postgres"
)

// TestWaiterOnOneReplicaLearnsOfApprovalOnAnother runs two servers on one
// PostgreSQL database: alice waits on replica A, bob approves on replica B,
// and A's waiter wakes through LISTEN/NOTIFY, not at the end of its wait.
func TestWaiterOnOneReplicaLearnsOfApprovalOnAnother(t *testing.T) {
	dsn := testenv.Postgres(t)
	idp, tokens := identities(t)
	pol, err := policy.Parse("test-policy.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	replica := func() *env {
		st, err := postgres.Open(context.Background(), dsn, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		srv, err := server.New(server.Options{
			Store: st, Policy: pol, Vendor: &testenv.FakeVendor{},
			Verifier:      server.NewOIDCVerifier(server.OIDCVerifierConfig{Issuer: idp.Issuer(), ClientID: idp.ClientID()}),
			SweepInterval: time.Hour,
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() { _ = srv.Run(ctx) }()
		hs := httptest.NewServer(srv.Handler())
		t.Cleanup(func() { cancel(); hs.Close() })
		return &env{t: t, url: hs.URL, srv: srv, store: st, tokens: tokens}
	}
	a, b := replica(), replica()
	r := a.create("alice", api.CreateRequest{Role: "prod-admin", Reason: "replicas"})
	got := make(chan api.Request, 1)
	go func() {
		var w api.Request
		a.call("alice", "GET", fmt.Sprintf("/v1/requests/%s?wait=50s&version=%d", r.ID, r.Version), nil, &w)
		got <- w
	}()
	testenv.Eventually(t, 10*time.Second, a.hasWaiter, "the waiting client to subscribe")
	if code := b.call("bob", "POST", "/v1/requests/"+r.ID+"/approve", nil, nil); code != 200 {
		t.Fatalf("approve on replica B: %d", code)
	}
	select {
	case w := <-got:
		if w.State != api.StateApproved {
			t.Fatalf("waiter on A woke with %s", w.State)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the waiter on replica A did not hear of the approval on replica B")
	}
	// B sees the same state: a second approval is refused.
	if code := b.call("bob", "POST", "/v1/requests/"+r.ID+"/approve", nil, nil); code != 409 && code != 403 {
		t.Fatalf("a second approval on B: HTTP %d", code)
	}
}
