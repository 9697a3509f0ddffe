package shared

import (
	"context"
	"encoding/json"
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

// flakyJit is a fake of the jit server's grant calls behind a proxy that
// hiccups: the long-poll answers 502 (or 429) while failWaits > 0, or
// always with failAlways; revoke() ends the grant.
type flakyJit struct {
	mu         sync.Mutex
	failWaits  int
	failAlways bool
	status     int
	revoked    bool
	waits      chan struct{} // a long-poll arrived
	revokedCh  chan struct{}
}

func newFlakyJit() *flakyJit {
	return &flakyJit{status: http.StatusBadGateway, waits: make(chan struct{}, 100), revokedCh: make(chan struct{})}
}

// awaitPoll waits for the watch's next long-poll.
func (f *flakyJit) awaitPoll(t *testing.T) {
	t.Helper()
	select {
	case <-f.waits:
	case <-time.After(10 * time.Second):
		t.Fatal("the watch made no long-poll within 10s (it gave up?)")
	}
}

func (f *flakyJit) revoke() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked = true
	close(f.revokedCh)
}

func (f *flakyJit) request() api.Request {
	r := api.Request{ID: "req_1", Role: "prod", State: api.StateActive, EndsAt: time.Now().Add(time.Hour), Version: 1}
	if f.revoked {
		r.State, r.EndedBy, r.EndReason, r.Version = api.StateRevoked, "bob@example.com", "incident", 2
	}
	return r
}

func (f *flakyJit) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodGet || r.URL.Path != "/v1/requests/req_1" {
		http.NotFound(w, r)
		return
	}
	if r.URL.Query().Get("wait") == "" {
		f.mu.Lock()
		defer f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(f.request())
		return
	}
	select {
	case f.waits <- struct{}{}:
	default:
	}
	f.mu.Lock()
	fail := f.failAlways || f.failWaits > 0
	if f.failWaits > 0 {
		f.failWaits--
	}
	status := f.status
	f.mu.Unlock()
	if fail {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "<html>Bad Gateway</html>")
		return
	}
	select {
	case <-f.revokedCh:
	case <-r.Context().Done():
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	_ = json.NewEncoder(w).Encode(f.request())
}

// flakyEndpoint starts exec's endpoint on a cached live grant of f.
func flakyEndpoint(t *testing.T, f *flakyJit) (*endpoint, func() (int, string)) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cache := credcache.New(keyring.NewArrayKeyring(nil), "array", credcache.Config{Now: time.Now})
	ctx := context.Background()
	_ = cache.PutTokens(ctx, srv.URL, session.Tokens{IDToken: "id", Expiry: time.Now().Add(24 * time.Hour)})
	c := api.Credentials{AccessKeyID: "ASIACACHED", SecretAccessKey: "s", SessionToken: "t", RequestID: "req_1", Role: "prod",
		Expiration: time.Now().Add(time.Hour), STSExpiration: time.Now().Add(time.Hour), GrantEndsAt: time.Now().Add(time.Hour)}
	if err := cache.PutCredentials(ctx, srv.URL, "prod", c); err != nil {
		t.Fatal(err)
	}
	s := &session.Session{Server: srv.URL, Cache: cache, HTTPClient: srv.Client(), Now: time.Now}
	ios, _, _, _ := iostreams.Test()
	ep, err := startEndpoint(ctx, &UseOptions{IO: ios, Role: "prod", Session: func() (*session.Session, error) { return s, nil }}, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ep.close)
	return ep, func() (int, string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ep.srv.URL(), nil)
		req.Header.Set("Authorization", ep.srv.Env()[1][1])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
}

// One 502 (or 429) from a proxy on the grant's long-poll ended the watch
// for good, and after a revoke the endpoint kept serving the cached keys
// until the grant's end. The watch retries with backoff; the revoke stops
// the endpoint.
func TestEndpointStopsOnARevokeAfterTheWatchMetA502Or429(t *testing.T) {
	for _, status := range []int{http.StatusBadGateway, http.StatusTooManyRequests} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			f := newFlakyJit()
			f.failWaits, f.status = 1, status
			_, get := flakyEndpoint(t, f)
			f.awaitPoll(t) // the failed long-poll
			f.awaitPoll(t) // the watch came back
			if code, body := get(); code != http.StatusOK || !strings.Contains(body, "ASIACACHED") {
				t.Fatalf("live grant: HTTP %d %s", code, body)
			}
			f.revoke()
			deadline := time.Now().Add(10 * time.Second)
			for {
				code, body := get()
				if code == http.StatusForbidden && strings.Contains(body, "revoked by bob@example.com") {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("after the revoke the endpoint still answers HTTP %d %s", code, body)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// While the watch cannot reach the grant's long-poll (every try a 502),
// the endpoint asks for the grant before it serves: a revoke is seen at
// the next request, not at the grant's end.
func TestEndpointReChecksTheGrantWhileTheWatchIsDown(t *testing.T) {
	f := newFlakyJit()
	f.failAlways = true
	_, get := flakyEndpoint(t, f)
	f.awaitPoll(t)
	f.awaitPoll(t) // failing, and retrying
	if code, body := get(); code != http.StatusOK {
		t.Fatalf("live grant while the watch is down: HTTP %d %s", code, body)
	}
	f.revoke()
	if code, body := get(); code != http.StatusForbidden || !strings.Contains(body, "revoked by bob@example.com") {
		t.Fatalf("revoked grant while the watch is down: HTTP %d %s, want 403 naming the revoke", code, body)
	}
}
