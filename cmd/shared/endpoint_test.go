package shared

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/keyring"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/credcache"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/session"
)

// fakeJit is a stand-in for the jit server's two calls the endpoint makes:
// vending (each vend a new 1-hour STS session, bounded by a 4-hour grant,
// refused after it) and the grant's long-poll (held open).
type fakeJit struct {
	mu     sync.Mutex
	now    *time.Time
	ends   time.Time
	vends  int
	server *httptest.Server
}

func (f *fakeJit) handler(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/requests/req_1/credentials":
		now := *f.now
		if !now.Before(f.ends) {
			w.WriteHeader(http.StatusConflict)
			_ = json.NewEncoder(w).Encode(api.Error{Code: api.CodeConflict, Message: "request req_1 is expired, not an active grant"})
			return
		}
		f.vends++
		sts := now.Add(time.Hour)
		exp := sts
		if f.ends.Before(exp) {
			exp = f.ends
		}
		_ = json.NewEncoder(w).Encode(api.Credentials{AccessKeyID: fmt.Sprintf("ASIA%d", f.vends), SecretAccessKey: "s", SessionToken: "t",
			Expiration: exp, STSExpiration: sts, GrantEndsAt: f.ends, RequestID: "req_1", Role: "prod"})
	case r.Method == http.MethodGet && r.URL.Path == "/v1/requests":
		_ = json.NewEncoder(w).Encode(api.RequestList{Requests: []api.Request{{ID: "req_1", Role: "prod", State: api.StateActive, StartsAt: f.ends.Add(-4 * time.Hour), EndsAt: f.ends, Version: 1}}})
	case r.Method == http.MethodGet && r.URL.Path == "/v1/requests/req_1":
		req := api.Request{ID: "req_1", Role: "prod", State: api.StateActive, EndsAt: f.ends, Version: 1}
		if r.URL.Query().Get("wait") != "" {
			f.mu.Unlock()
			<-r.Context().Done()
			f.mu.Lock()
			return
		}
		_ = json.NewEncoder(w).Encode(req)
	default:
		http.NotFound(w, r)
	}
}

// TestEndpointReVendsAcrossSTSSessionsForAFourHourGrant: a 4-hour job on
// 1-hour STS sessions keeps getting credentials from the endpoint (a new
// session before each one ends), and after the grant's end it gets jit's
// refusal, not stale keys.
func TestEndpointReVendsAcrossSTSSessionsForAFourHourGrant(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	now := t0
	var clock sync.Mutex
	f := &fakeJit{now: &now, ends: t0.Add(4 * time.Hour)}
	f.server = httptest.NewServer(http.HandlerFunc(f.handler))
	defer f.server.Close()
	nowFn := func() time.Time { clock.Lock(); defer clock.Unlock(); return now }
	cache := credcache.New(keyring.NewArrayKeyring(nil), "array", credcache.Config{Now: nowFn})
	ctx := context.Background()
	_ = cache.PutTokens(ctx, f.server.URL, session.Tokens{IDToken: "id", Expiry: t0.Add(24 * time.Hour)})
	s := &session.Session{Server: f.server.URL, Cache: cache, HTTPClient: f.server.Client(), Now: nowFn}
	first, err := s.Credentials(ctx, "prod") // what jit exec fetches before starting the child
	if err != nil {
		t.Fatal(err)
	}
	ios, _, _, _ := iostreams.Test()
	ep, err := startEndpoint(ctx, &UseOptions{IO: ios, Role: "prod", Session: func() (*session.Session, error) { return s, nil }}, first)
	if err != nil {
		t.Fatal(err)
	}
	defer ep.close()
	get := func() (int, map[string]string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ep.srv.URL(), nil)
		req.Header.Set("Authorization", ep.srv.Env()[1][1])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var body map[string]string
		_ = json.Unmarshal(b, &body)
		return resp.StatusCode, body
	}
	keys := map[string]bool{}
	// Every 10 minutes for 4 hours, as an SDK refreshing would.
	for at := time.Duration(0); at < 4*time.Hour-10*time.Second; at += 10 * time.Minute {
		clock.Lock()
		now = t0.Add(at)
		clock.Unlock()
		code, body := get()
		if code != http.StatusOK {
			t.Fatalf("at +%s: HTTP %d %v", at, code, body)
		}
		exp, _ := time.Parse(time.RFC3339, body["Expiration"])
		if !nowFn().Add(session.MinRemaining).Before(exp) {
			t.Fatalf("at +%s: served credentials expiring at %s", at, exp)
		}
		keys[body["AccessKeyId"]] = true
	}
	if len(keys) < 4 {
		t.Errorf("%d STS sessions over a 4-hour grant on 1-hour sessions; want at least 4", len(keys))
	}
	clock.Lock()
	now = t0.Add(4*time.Hour + time.Second)
	clock.Unlock()
	code, body := get()
	if code != http.StatusForbidden || !strings.HasPrefix(body["message"], "jit: ") || !strings.Contains(body["message"], "jit request prod") {
		t.Errorf("after the grant: HTTP %d %v; want 403 with jit's message", code, body)
	}
}
