package requests

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/99designs/keyring"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/credcache"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/session"
)

func TestStatusWatchWipesARevokedGrantsCredentialsAtOnce(t *testing.T) {
	now := time.Now()
	active := api.Request{ID: "req_1", Role: "prod", Requester: "alice@example.com", State: api.StateActive,
		StartsAt: now, EndsAt: now.Add(time.Hour), DurationSeconds: 3600, CreatedAt: now, Version: 2}
	revoke := make(chan struct{})
	waiting := make(chan struct{}, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/v1/requests":
			_ = json.NewEncoder(w).Encode(api.RequestList{Requests: []api.Request{active}})
		case r.URL.Path == "/v1/requests/req_1" && r.URL.Query().Get("wait") == "":
			_ = json.NewEncoder(w).Encode(active)
		case r.URL.Path == "/v1/requests/req_1":
			waiting <- struct{}{}
			select {
			case <-revoke:
				out := active
				out.State, out.EndedBy, out.Version = api.StateRevoked, "bob@example.com", 3
				_ = json.NewEncoder(w).Encode(out)
			case <-r.Context().Done():
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	cache := credcache.New(keyring.NewArrayKeyring(nil), "array", credcache.Config{})
	ctx := context.Background()
	_ = cache.PutTokens(ctx, srv.URL, session.Tokens{IDToken: "id", Expiry: now.Add(time.Hour)})
	if err := cache.PutCredentials(ctx, srv.URL, "prod", api.Credentials{AccessKeyID: "ASIA1", SecretAccessKey: "s", SessionToken: "t",
		RequestID: "req_1", Role: "prod", Expiration: now.Add(time.Hour), STSExpiration: now.Add(time.Hour), GrantEndsAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	s := &session.Session{Server: srv.URL, Cache: cache, HTTPClient: srv.Client(), Now: time.Now}
	ios, _, stdout, _ := iostreams.Test()
	opts := &Options{IO: ios, Session: func() (*session.Session, error) { return s, nil }, Now: time.Now, Output: "table", Watch: true}
	done := make(chan error, 1)
	go func() { done <- StatusRun(ctx, opts) }()
	<-waiting // the watch holds a long-poll; the credentials are still there
	if _, ok, _ := cache.GetCredentials(ctx, srv.URL, "prod"); !ok {
		t.Fatal("the live grant's credentials were wiped")
	}
	close(revoke)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("status --watch did not return after the only grant was revoked")
	}
	if _, ok, _ := cache.GetCredentials(ctx, srv.URL, "prod"); ok {
		t.Error("the revoked grant's credentials are still cached")
	}
	if !strings.Contains(stdout.String(), "req_1: the grant req_1 for role prod was revoked by bob@example.com; its cached credentials are wiped.") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
}
