package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/devidp"
	"github.com/jit-access/jit/pkg/server"
)

// jwksDown is a FAULT-INJECTING HTTP transport for the server's calls to
// the IdP: while down, the JWKS (and only it) answers 503, as an IdP whose
// key endpoint is failing does.
type jwksDown struct {
	base http.RoundTripper
	down atomic.Bool
	hits atomic.Int64 // JWKS fetches answered 503
}

func (j *jwksDown) RoundTrip(r *http.Request) (*http.Response, error) {
	if j.down.Load() && !strings.Contains(r.URL.Path, ".well-known") {
		j.hits.Add(1)
		return &http.Response{StatusCode: http.StatusServiceUnavailable, Status: "503 Service Unavailable",
			Body: http.NoBody, Header: http.Header{}, Request: r}, nil
	}
	return j.base.RoundTrip(r)
}

// The IdP's JWKS endpoint goes down, then the IdP rotates its signing key.
// Tokens signed with the key the server has cached go on working; a token
// signed with the new key cannot be checked, and its holder is told to
// retry (503 unavailable), not to log in again, and is not counted as a
// failed authentication (which would block a shared address). Once the JWKS
// answers, the new key's token works. Before, that token got 401 "log in
// again" and fed the failed-authentication limiter.
func TestJWKSDownDuringKeyRotationKeepsCachedKeysAndAsksNewOnesToRetry(t *testing.T) {
	idp := testenv.OIDC(t, devidp.DefaultUsers()...)
	old := testenv.IDTokens(t, idp, "alice")["alice"]
	tr := &jwksDown{base: http.DefaultTransport}
	js := testenv.StartJitServer(t, testenv.JitServerOptions{Issuer: idp.Issuer(), ClientID: idp.ClientID(), Policy: testPolicy,
		Tweak: func(o *server.Options, _ string) {
			o.Verifier = server.NewOIDCVerifier(server.OIDCVerifierConfig{Issuer: idp.Issuer(), ClientID: idp.ClientID(),
				ClockSkew: 30 * time.Second, HTTPClient: &http.Client{Transport: tr, Timeout: 10 * time.Second}})
			o.AuthFailuresPerMinute, o.AuthFailureBurst = 1, 1
		}})
	get := func(tok string) (int, api.Error) {
		t.Helper()
		req, _ := http.NewRequestWithContext(context.Background(), "GET", js.URL+"/v1/requests", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e api.Error
		if resp.StatusCode != 200 {
			_ = json.NewDecoder(resp.Body).Decode(&e)
		}
		return resp.StatusCode, e
	}
	if code, e := get(old); code != 200 {
		t.Fatalf("the old key's token before the outage: %d %+v", code, e)
	}
	tr.down.Store(true)
	for i := range 5 {
		if code, e := get(old); code != 200 {
			t.Fatalf("the old key's token with the JWKS down (call %d): %d %+v, want 200 from the cached keys", i, code, e)
		}
	}
	if _, err := idp.RotateKey(); err != nil {
		t.Fatal(err)
	}
	fresh := testenv.IDTokens(t, idp, "alice")["alice"]
	for i := range 3 {
		code, e := get(fresh)
		if code != http.StatusServiceUnavailable || e.Code != api.CodeUnavailable {
			t.Fatalf("the new key's token with the JWKS down (call %d): %d %+v, want 503 unavailable (retry), not a login prompt", i, code, e)
		}
	}
	if tr.hits.Load() == 0 {
		t.Fatal("the JWKS was never asked for while down: the test did not exercise the outage")
	}
	// Not counted as failed authentications: the old token still passes
	// the limiter (1 failure a minute here).
	if code, e := get(old); code != 200 {
		t.Fatalf("the old key's token after the new one was refused: %d %+v", code, e)
	}
	tr.down.Store(false)
	if code, e := get(fresh); code != 200 {
		t.Fatalf("the new key's token once the JWKS answers: %d %+v", code, e)
	}
	if code, e := get(old); code != 200 {
		t.Fatalf("the old key's token once the JWKS answers (the old key is still published): %d %+v", code, e)
	}
}
