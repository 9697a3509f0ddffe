package server_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/server"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/vend"
)

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// signed makes a well-formed RS256 token with a key the issuer never published.
func signed(t *testing.T, claims jwt.Claims, extra map[string]any) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "attacker"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(sig).Claims(claims).Claims(extra).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestBrokenAndForgedTokensAreRefused(t *testing.T) {
	e := newEnv(t)
	real := e.tokens["alice"]
	parts := strings.Split(real, ".")
	now := time.Now()
	good := jwt.Claims{Issuer: e.idp.Issuer(), Subject: "x", Audience: jwt.Audience{e.idp.ClientID()},
		Expiry: jwt.NewNumericDate(now.Add(time.Hour)), IssuedAt: jwt.NewNumericDate(now)}
	algNone := b64(`{"alg":"none","typ":"JWT"}`) + "." + parts[1] + "."
	tampered := parts[0] + "." + b64(`{"iss":"`+e.idp.Issuer()+`","sub":"admin","aud":"`+e.idp.ClientID()+`","exp":9999999999,"groups":["admins"]}`) + "." + parts[2]
	for _, tc := range []struct {
		name, header string
	}{
		{"no header", ""},
		{"not bearer", "Basic YWxpY2U6cGFzcw=="},
		{"empty bearer", "Bearer "},
		{"not a JWT", "Bearer hello"},
		{"alg none", "Bearer " + algNone},
		{"payload swapped under a real signature", "Bearer " + tampered},
		{"unknown signing key", "Bearer " + signed(t, good, map[string]any{"email": "alice@example.com"})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(context.Background(), "GET", e.url+"/v1/roles", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("HTTP %d, want 401", resp.StatusCode)
			}
		})
	}
	// The real token works: the refusals above are about the token.
	if code := e.call("alice", "GET", "/v1/roles", nil, nil); code != http.StatusOK {
		t.Fatalf("real token refused: %d", code)
	}
	if err := e.srv.FlushAuthFailures(context.Background()); err != nil {
		t.Fatal(err)
	}
	events, err := e.store.Audit(context.Background(), store.AuditFilter{Type: audit.TypeAuthFailed, Limit: 100})
	if err != nil || len(events) != 1 || events[0].Detail["failures"] != "7" {
		t.Fatalf("auth failures audited: %d records (%v), want one summary of 7", len(events), err)
	}
}

func TestTokenExpiryAndNotBeforeAreEnforcedWithSkew(t *testing.T) {
	e := newEnv(t)
	code, body := e.errorOf("alice", "GET", "/v1/roles", nil)
	if code != http.StatusOK {
		t.Fatalf("fresh token: %d %+v", code, body)
	}
	e.clock.Add(2 * time.Hour) // the provider's ID tokens live 1h
	code, body = e.errorOf("alice", "GET", "/v1/roles", nil)
	if code != http.StatusUnauthorized || body.Hint != "run: jit login" || !contains(body.Message, "expired") {
		t.Fatalf("expired token: %d %+v", code, body)
	}
	e.clock.Add(-2*time.Hour - 10*time.Minute) // before the token's iat/nbf
	if code, body = e.errorOf("alice", "GET", "/v1/roles", nil); code != http.StatusOK && code != http.StatusUnauthorized {
		t.Fatalf("early clock: %d %+v", code, body)
	}
}

func TestWrongIssuerOrAudienceIsRefused(t *testing.T) {
	e := newEnv(t)
	// A second, independent provider with the same client id and users: its
	// tokens are well signed, by the wrong issuer.
	otherIDP := testenv.OIDC(t, dave)
	other := testenv.DeviceToken(t, otherIDP, "dave").Extra("id_token").(string)
	if code, _ := e.errorOf(other, "GET", "/v1/roles", nil); code != http.StatusUnauthorized {
		t.Fatalf("token of another issuer: HTTP %d", code)
	}
}

func TestRolesListsOnlyEligibleWithAutoApproval(t *testing.T) {
	e := newEnv(t)
	var out api.RolesResponse
	if code := e.call("alice", "GET", "/v1/roles", nil, &out); code != 200 {
		t.Fatal(code)
	}
	got := map[string]api.Role{}
	for _, r := range out.Roles {
		got[r.Name] = r
	}
	if len(got) != 4 || !got["readonly"].AutoApproved || got["prod-admin"].AutoApproved || got["prod-admin"].MaxDuration != 7200 {
		t.Fatalf("alice's roles: %+v", out.Roles)
	}
	out = api.RolesResponse{}
	e.call("carol", "GET", "/v1/roles", nil, &out)
	if len(out.Roles) != 0 {
		t.Fatalf("carol is not a developer but may request %+v", out.Roles)
	}
}

func TestAutoApprovedRequestVendsAtOnce(t *testing.T) {
	e := newEnv(t)
	r := e.create("alice", api.CreateRequest{Role: "readonly", Reason: "logs"})
	if r.State != api.StateApproved || !r.AutoApproved || r.Duration() != 15*time.Minute {
		t.Fatalf("%+v", r)
	}
	var c api.Credentials
	if code := e.call("alice", "POST", "/v1/requests/"+r.ID+"/credentials", nil, &c); code != 200 {
		t.Fatalf("credentials: %d", code)
	}
	if !c.Expiration.Equal(r.EndsAt) || c.RequestID != r.ID || c.SecretAccessKey == "" {
		t.Fatalf("credentials %v expire %s, grant ends %s", c, c.Expiration, r.EndsAt)
	}
	in := e.vendor.Calls()[0]
	if in.User != "alice@example.com" || in.RoleARN != "arn:aws:iam::123456789012:role/jit-readonly" || !in.GrantEndsAt.Equal(r.EndsAt) {
		t.Fatalf("vend input %+v", in)
	}
	var now api.Request
	e.call("alice", "GET", "/v1/requests/"+r.ID, nil, &now)
	if now.State != api.StateActive || now.VendCount != 1 {
		t.Fatalf("after vend: %s %d", now.State, now.VendCount)
	}
}

func TestRequesterCannotApproveOwnRequest(t *testing.T) {
	e := newEnv(t)
	// bob is both a developer and an approver of prod-admin.
	r := e.create("bob", api.CreateRequest{Role: "prod-admin", Reason: "deploy"})
	code, body := e.errorOf("bob", "POST", "/v1/requests/"+r.ID+"/approve", api.DecisionBody{})
	if code != http.StatusForbidden || !contains(body.Message, "own") {
		t.Fatalf("self-approval: %d %+v", code, body)
	}
	var after api.Request
	e.call("bob", "GET", "/v1/requests/"+r.ID, nil, &after)
	if after.State != api.StatePending || len(after.Approvals) != 0 {
		t.Fatalf("self-approval changed the request: %+v", after)
	}
	// Not in the review queue either.
	var list api.RequestList
	e.call("bob", "GET", "/v1/requests?scope=review", nil, &list)
	for _, x := range list.Requests {
		if x.ID == r.ID {
			t.Fatal("own request listed for review")
		}
	}
}

func TestTwoDistinctApproversAreNeeded(t *testing.T) {
	e := newEnv(t)
	r := e.create("alice", api.CreateRequest{Role: "two-man", Reason: "x"})
	var after api.Request
	if code := e.call("bob", "POST", "/v1/requests/"+r.ID+"/approve", api.DecisionBody{Comment: "ok"}, &after); code != 200 || after.State != api.StatePending {
		t.Fatalf("first approval: %d %s", code, after.State)
	}
	if code, _ := e.errorOf("bob", "POST", "/v1/requests/"+r.ID+"/approve", nil); code != http.StatusConflict && code != http.StatusForbidden {
		t.Fatalf("second approval by the same approver: HTTP %d", code)
	}
	if code := e.call("carol", "POST", "/v1/requests/"+r.ID+"/approve", nil, &after); code != 200 || after.State != api.StateApproved {
		t.Fatalf("second distinct approval: %d %s", code, after.State)
	}
	if !after.StartsAt.Equal(after.Approvals[1].At) {
		t.Fatalf("grant clock started at %s, not at the last approval %s", after.StartsAt, after.Approvals[1].At)
	}
}

func TestPendingRequestTimesOutAndGrantExpiresOnSweep(t *testing.T) {
	// The test sweeps itself: a background sweep would take the lease, or
	// the request, first.
	e := newEnvWith(t, func(o *server.Options) { o.SweepInterval = time.Hour })
	ctx := context.Background()
	pending := e.create("alice", api.CreateRequest{Role: "prod-admin", Reason: "x"})
	grant := e.create("alice", api.CreateRequest{Role: "readonly", Reason: "x"})
	e.clock.Add(9 * time.Minute)
	if n, err := e.srv.SweepOnce(ctx); err != nil || n != 0 {
		t.Fatalf("early sweep changed %d (%v)", n, err)
	}
	e.clock.Add(time.Minute)
	if n, err := e.srv.SweepOnce(ctx); err != nil || n != 1 {
		t.Fatalf("timeout sweep changed %d (%v)", n, err)
	}
	e.clock.Add(5 * time.Minute)
	if n, err := e.srv.SweepOnce(ctx); err != nil || n != 1 {
		t.Fatalf("expiry sweep changed %d (%v)", n, err)
	}
	if n, _ := e.srv.SweepOnce(ctx); n != 0 {
		t.Fatalf("a second sweep changed %d", n)
	}
	p, _ := e.store.Get(ctx, pending.ID)
	g, _ := e.store.Get(ctx, grant.ID)
	if p.State != api.StateTimedOut || g.State != api.StateExpired {
		t.Fatalf("states %s %s", p.State, g.State)
	}
	code, _ := e.errorOf("alice", "POST", "/v1/requests/"+grant.ID+"/credentials", nil)
	if code != http.StatusConflict {
		t.Fatalf("credentials of an expired grant: HTTP %d", code)
	}
}

func TestCredentialsRefusedAfterGrantEndEvenBeforeSweep(t *testing.T) {
	e := newEnv(t)
	g := e.create("alice", api.CreateRequest{Role: "readonly", Reason: "x", DurationSeconds: 900})
	e.clock.Add(15 * time.Minute)
	if code, _ := e.errorOf("alice", "POST", "/v1/requests/"+g.ID+"/credentials", nil); code != http.StatusConflict {
		t.Fatalf("HTTP %d", code)
	}
	if len(e.vendor.Calls()) != 0 {
		t.Fatal("STS was called for an ended grant")
	}
}

func TestExtendCancelRevokeAndBreakGlass(t *testing.T) {
	e := newEnv(t)
	r := e.create("alice", api.CreateRequest{Role: "prod-admin", Reason: "x", DurationSeconds: 3600})
	var out api.Request
	e.call("bob", "POST", "/v1/requests/"+r.ID+"/approve", nil, &out)
	end := out.EndsAt
	if code := e.call("alice", "POST", "/v1/requests/"+r.ID+"/extend", api.ExtendBody{DurationSeconds: 1800, Reason: "more"}, &out); code != 200 || !out.EndsAt.Equal(end.Add(30*time.Minute)) {
		t.Fatalf("extend: %d %s", code, out.EndsAt)
	}
	if code, _ := e.errorOf("alice", "POST", "/v1/requests/"+r.ID+"/extend", api.ExtendBody{DurationSeconds: 60}); code != http.StatusBadRequest && code != http.StatusForbidden {
		t.Fatalf("second extension beyond max_extensions: %d", code)
	}
	if code, _ := e.errorOf("bob", "POST", "/v1/requests/"+r.ID+"/extend", api.ExtendBody{DurationSeconds: 60}); code != http.StatusForbidden {
		t.Fatalf("extension by someone else: %d", code)
	}
	if code := e.call("bob", "POST", "/v1/requests/"+r.ID+"/revoke", api.DecisionBody{Comment: "done"}, &out); code != 200 || out.State != api.StateRevoked {
		t.Fatalf("revoke: %d %s", code, out.State)
	}
	if code, _ := e.errorOf("alice", "POST", "/v1/requests/"+r.ID+"/credentials", nil); code != http.StatusConflict {
		t.Fatalf("credentials after revoke: %d", code)
	}
	c := e.create("alice", api.CreateRequest{Role: "prod-admin", Reason: "x"})
	if code := e.call("alice", "POST", "/v1/requests/"+c.ID+"/cancel", nil, &out); code != 200 || out.State != api.StateCancelled {
		t.Fatalf("cancel: %d %s", code, out.State)
	}
	if code, _ := e.errorOf("bob", "POST", "/v1/requests/"+c.ID+"/approve", nil); code != http.StatusConflict {
		t.Fatalf("approve a cancelled request: %d", code)
	}
	if code, body := e.errorOf("alice", "POST", "/v1/requests", api.CreateRequest{Role: "oncall", BreakGlass: true}); code != http.StatusBadRequest {
		t.Fatalf("break-glass without a reason: %d %+v", code, body)
	}
	bg := e.create("alice", api.CreateRequest{Role: "oncall", BreakGlass: true, Reason: "site down"})
	if bg.State != api.StateApproved || !bg.BreakGlass {
		t.Fatalf("break-glass: %+v", bg)
	}
	events, _ := e.store.Audit(context.Background(), store.AuditFilter{RequestID: bg.ID})
	if len(events) != 2 || events[1].Type != audit.TypeBreakGlass {
		t.Fatalf("break-glass audit: %+v", events)
	}
}

func TestInvalidRequestsSayWhatToDo(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		in   api.CreateRequest
		code int
	}{
		{api.CreateRequest{Role: "prod-admin"}, 400},                                     // reason required
		{api.CreateRequest{Role: "prod-admin", Reason: "x", DurationSeconds: 9000}, 400}, // over max
		{api.CreateRequest{Role: "nope", Reason: "x"}, 0},
	} {
		code, body := e.errorOf("alice", "POST", "/v1/requests", tc.in)
		if (tc.code != 0 && code != tc.code) || code < 400 || body.Message == "" {
			t.Errorf("%+v: %d %+v", tc.in, code, body)
		}
	}
	code, body := e.errorOf("alice", "POST", "/v1/requests", map[string]any{"role": "readonly", "durationn": 5})
	if code != 400 || !contains(body.Message, "durationn") {
		t.Errorf("unknown field: %d %+v", code, body)
	}
}

func TestWaitingClientLearnsOfApprovalAtOnce(t *testing.T) {
	e := newEnv(t)
	r := e.create("alice", api.CreateRequest{Role: "prod-admin", Reason: "x"})
	got := make(chan api.Request, 1)
	go func() {
		var w api.Request
		e.call("alice", "GET", fmt.Sprintf("/v1/requests/%s?wait=50s&version=%d", r.ID, r.Version), nil, &w)
		got <- w
	}()
	// Approve once the waiter is subscribed (the server counts waiters).
	testenv.Eventually(t, 10*time.Second, e.hasWaiter, "the waiting client to subscribe")
	e.call("bob", "POST", "/v1/requests/"+r.ID+"/approve", nil, nil)
	select {
	case w := <-got:
		if w.State != api.StateApproved || w.Version <= r.Version {
			t.Fatalf("waiter woke with %s v%d", w.State, w.Version)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the waiting client was not woken by the approval (it would have slept until its 50s wait ended)")
	}
}

func (e *env) hasWaiter() bool {
	req, _ := http.NewRequestWithContext(context.Background(), "GET", e.url+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	buf := new(strings.Builder)
	_, _ = io.Copy(buf, resp.Body)
	return contains(buf.String(), "jit_waiting_clients 1")
}

func TestSTSErrorReachesUserAndNothingIsMarkedVended(t *testing.T) {
	e := newEnv(t)
	e.vendor.SetErr(&vend.Error{Err: errors.New("AccessDenied: not authorized to perform sts:SetSourceIdentity"),
		Hint: "the role's trust policy must allow sts:SetSourceIdentity and sts:TagSession (docs/aws-setup.md)"})
	r := e.create("alice", api.CreateRequest{Role: "readonly", Reason: "x"})
	code, body := e.errorOf("alice", "POST", "/v1/requests/"+r.ID+"/credentials", nil)
	if code != http.StatusBadGateway || !contains(body.Hint, "sts:SetSourceIdentity") {
		t.Fatalf("%d %+v", code, body)
	}
	got, _ := e.store.Get(context.Background(), r.ID)
	if got.State != api.StateApproved || got.VendCount != 0 {
		t.Fatalf("marked vended after an STS error: %s %d", got.State, got.VendCount)
	}
	failed, _ := e.store.Audit(context.Background(), store.AuditFilter{Type: audit.TypeVendFailed})
	if len(failed) != 1 {
		t.Fatalf("vend failure audited %d times", len(failed))
	}
}

func TestAuditChainVerifiesAndNoSecretIsLoggedOrAudited(t *testing.T) {
	e := newEnv(t)
	var secrets []string
	for i := 0; i < 3; i++ {
		r := e.create("alice", api.CreateRequest{Role: "readonly", Reason: "x"})
		var c api.Credentials
		e.call("alice", "POST", "/v1/requests/"+r.ID+"/credentials", nil, &c)
		secrets = append(secrets, c.SecretAccessKey, c.SessionToken)
	}
	secrets = append(secrets, e.tokens["alice"], e.tokens["bob"])
	req, _ := http.NewRequestWithContext(context.Background(), "GET", e.url+"/v1/audit/export", nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens["carol"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events, err := audit.ReadAllJSONL(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	rep := audit.Verify(events)
	if !rep.OK || rep.Count < 9 {
		t.Fatalf("chain: %+v", rep)
	}
	dump := e.logs.String()
	for _, ev := range events {
		dump += fmt.Sprintf("%+v", ev)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(dump, s) {
			t.Fatalf("a secret (%.12s…) reached the logs or the audit", s)
		}
	}
}

func TestTokenForAnotherAudienceIsRefused(t *testing.T) {
	idp, tokens := identities(t)
	v := server.NewOIDCVerifier(server.OIDCVerifierConfig{Issuer: idp.Issuer(), ClientID: "some-other-app"})
	if _, err := v.Verify(context.Background(), tokens["alice"]); err == nil || !contains(err.Error(), "audience") {
		t.Fatalf("token for jit-cli accepted by a verifier for some-other-app: %v", err)
	}
	right := server.NewOIDCVerifier(server.OIDCVerifierConfig{Issuer: idp.Issuer(), ClientID: idp.ClientID()})
	u, err := right.Verify(context.Background(), tokens["alice"])
	if err != nil || u.Email != "alice@example.com" || len(u.Groups) != 1 || u.Groups[0] != "developers" {
		t.Fatalf("%+v %v", u, err)
	}
}
