package session

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
)

// grantServer answers GET /v1/requests/{id}: at once without ?wait, and
// holding a long-poll until revoke is closed with ?wait.
func grantServer(t *testing.T, active api.Request, revoke <-chan struct{}) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/requests/"+active.ID {
			http.NotFound(w, r)
			return
		}
		out := active
		if r.URL.Query().Get("wait") != "" {
			select {
			case <-revoke:
				out.State, out.EndedBy, out.EndReason, out.Version = api.StateRevoked, "bob@example.com", "incident over", active.Version+1
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestWatchGrantWipesTheCacheTheMomentTheGrantIsRevoked(t *testing.T) {
	now := t0
	s, cache := newSession(t, &now)
	active := api.Request{ID: "req_1", Role: "prod", State: api.StateActive, EndsAt: t0.Add(time.Hour), Version: 3}
	revoke := make(chan struct{})
	srv := grantServer(t, active, revoke)
	s.Server, s.HTTPClient = srv.URL, srv.Client()
	if err := cache.PutTokens(context.Background(), s.Server, Tokens{IDToken: "id", Expiry: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	c := api.Credentials{AccessKeyID: "ASIA1", SecretAccessKey: "s", SessionToken: "t", RequestID: "req_1", Role: "prod",
		Expiration: t0.Add(time.Hour), STSExpiration: t0.Add(time.Hour), GrantEndsAt: t0.Add(time.Hour)}
	if err := cache.PutCredentials(context.Background(), s.Server, "prod", c); err != nil {
		t.Fatal(err)
	}
	var seen []api.State
	done := make(chan error, 1)
	go func() {
		done <- s.WatchGrant(context.Background(), "req_1", time.Minute, time.Millisecond, func(r *api.Request) { seen = append(seen, r.State) })
	}()
	select {
	case err := <-done:
		t.Fatalf("the watch ended while the grant lives: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	if _, ok, _ := cache.GetCredentials(context.Background(), s.Server, "prod"); !ok {
		t.Fatal("the live grant's credentials were wiped")
	}
	close(revoke)
	err := <-done
	var ended *EndedError
	if !errors.As(err, &ended) || !errors.Is(err, ErrNoGrant) || !strings.Contains(err.Error(), "revoked by bob@example.com: incident over") {
		t.Fatalf("err = %v; want the revoke named, as a missing grant", err)
	}
	if _, ok, _ := cache.GetCredentials(context.Background(), s.Server, "prod"); ok {
		t.Fatal("the revoked grant's credentials are still cached")
	}
	if len(seen) != 2 || seen[0] != api.StateActive || seen[1] != api.StateRevoked {
		t.Errorf("changes seen = %v, want [active revoked]", seen)
	}
}

func TestWipeIfEndedKeepsANewerGrantsItem(t *testing.T) {
	now := t0
	s, cache := newSession(t, &now)
	newer := api.Credentials{AccessKeyID: "ASIA2", SecretAccessKey: "s", SessionToken: "t", RequestID: "req_2", Role: "prod",
		Expiration: t0.Add(time.Hour), STSExpiration: t0.Add(time.Hour), GrantEndsAt: t0.Add(time.Hour)}
	if err := cache.PutCredentials(context.Background(), s.Server, "prod", newer); err != nil {
		t.Fatal(err)
	}
	old := &api.Request{ID: "req_1", Role: "prod", State: api.StateRevoked}
	if ended, err := s.WipeIfEnded(context.Background(), old); !ended || err != nil {
		t.Fatalf("ended=%v err=%v", ended, err)
	}
	if _, ok, _ := cache.GetCredentials(context.Background(), s.Server, "prod"); !ok {
		t.Fatal("wiping the old grant removed the newer grant's credentials")
	}
	// A grant whose end has passed is over even before the sweeper says so.
	now = t0.Add(2 * time.Hour)
	live := &api.Request{ID: "req_2", Role: "prod", State: api.StateActive, EndsAt: t0.Add(time.Hour)}
	if ended, _ := s.WipeIfEnded(context.Background(), live); !ended {
		t.Fatal("a grant past its end was not seen as ended")
	}
}
