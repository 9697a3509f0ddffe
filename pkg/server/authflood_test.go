package server_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/server"
	"github.com/jit-access/jit/pkg/store"
)

func authFailures(t *testing.T, st store.Store) []string {
	t.Helper()
	events, err := st.Audit(context.Background(), store.AuditFilter{Type: audit.TypeAuthFailed, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range events {
		out = append(out, e.Detail["failures"]+"/"+e.Detail["rate_limited"]+" "+e.Detail["addresses"])
	}
	return out
}

// TestJunkBearerFloodWritesOneSummaryNotOneRecordPerTry: 50 requests with a
// junk bearer token used to append 50 hash-chained auth.failed records (and
// as many webhooks). Now the address is limited (401 for its first 20
// failures, then 429 with Retry-After) and the audit
// log gets one summary per window from the server's loop, none per try.
func TestJunkBearerFloodWritesOneSummaryNotOneRecordPerTry(t *testing.T) {
	e := newEnvWith(t, func(o *server.Options) {
		o.AuthFailureWindow = 200 * time.Millisecond // the loop checks every 50ms; the window is judged on the test clock
	})
	junk := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJldmUifQ.c2ln"
	codes := map[int]int{}
	retryAfter := ""
	for range 50 {
		req, _ := http.NewRequestWithContext(context.Background(), "GET", e.url+"/v1/roles", nil)
		req.Header.Set("Authorization", "Bearer "+junk)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes[resp.StatusCode]++
		if resp.StatusCode == http.StatusTooManyRequests {
			retryAfter = resp.Header.Get("Retry-After")
		}
	}
	if codes[http.StatusUnauthorized] != 20 || codes[http.StatusTooManyRequests] != 30 {
		t.Fatalf("answers %v; want 20×401 then 30×429", codes)
	}
	if n, err := strconv.Atoi(retryAfter); err != nil || n < 1 || n > 60 {
		t.Fatalf("Retry-After %q; want whole seconds until the next try (6 at 10/min)", retryAfter)
	}
	// The loop runs (real time) but the window is not over on the server's
	// clock: nothing is written yet, and nothing per try.
	time.Sleep(300 * time.Millisecond)
	if got := authFailures(t, e.store); len(got) != 0 {
		t.Fatalf("auth.failed records before the window ended: %q", got)
	}
	e.clock.Add(time.Second)
	deadline := time.Now().Add(5 * time.Second)
	var got []string
	for time.Now().Before(deadline) {
		if got = authFailures(t, e.store); len(got) > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // further loop rounds must add nothing
	got = authFailures(t, e.store)
	if len(got) != 1 || got[0] != "20/30 127.0.0.1=50" {
		t.Fatalf("auth.failed records %q; want one summary \"20/30 127.0.0.1=50\"", got)
	}
	// A real token from the same address still works once the limiter
	// refills: the limit is on failures, not on the address.
	e.clock.Add(10 * time.Second)
	if code := e.call("alice", "GET", "/v1/roles", nil, nil); code != http.StatusOK {
		t.Fatalf("real token after the flood: HTTP %d", code)
	}
}

// TestFailedAuthSummaryIsFlushedOnShutdown: failures of an unfinished
// window are not lost when the server stops.
func TestFailedAuthSummaryIsFlushedOnShutdown(t *testing.T) {
	e := newEnv(t)
	for range 3 {
		if code, _ := e.errorOf("not-a-jwt", "GET", "/v1/roles", nil); code != http.StatusUnauthorized {
			t.Fatalf("junk token: HTTP %d", code)
		}
	}
	if got := authFailures(t, e.store); len(got) != 0 {
		t.Fatalf("records before the flush: %q", got)
	}
	if err := e.srv.FlushAuthFailures(context.Background()); err != nil {
		t.Fatal(err)
	}
	events, err := e.store.Audit(context.Background(), store.AuditFilter{Type: audit.TypeAuthFailed})
	if err != nil || len(events) != 1 {
		t.Fatalf("records after the flush: %d (%v)", len(events), err)
	}
	d := events[0].Detail
	if d["failures"] != "3" || d["first"] == "" || d["last"] == "" || d["addresses"] != "127.0.0.1=3" || d["last_reason"] == "" {
		t.Fatalf("summary detail %v", d)
	}
}

// TestValidTokenFromAddressFloodedWithJunkIsServed: the limit was checked
// before the token, so junk from one address locked out everyone who shares
// it — every user when jit runs behind a load balancer (the documented HA
// setup: the TCP peer is the balancer), or an office behind one NAT. Twenty
// junk tokens a few times a minute kept them all out, break-glass included.
// A valid token is now always served; only failures are limited.
func TestValidTokenFromAddressFloodedWithJunkIsServed(t *testing.T) {
	e := newEnv(t)
	junk := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJldmUifQ.c2ln"
	limited := 0
	for range 30 {
		if e.call(junk, "GET", "/v1/roles", nil, nil) == http.StatusTooManyRequests { // a raw token
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("the junk flood was never limited")
	}
	if code := e.call("alice", "GET", "/v1/whoami", nil, nil); code != http.StatusOK {
		t.Fatalf("alice, signed in, from the flooded address: HTTP %d, want 200", code)
	}
}
