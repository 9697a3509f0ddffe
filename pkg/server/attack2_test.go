package server_test

// Regression tests for the second attack review (docs/security.md, "Attacks
// and what stops them").

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/devidp"
	"github.com/jit-access/jit/pkg/server"
	"github.com/jit-access/jit/pkg/store"
)

// kelvinPolicy names kate and sam by email: names with letters that
// Unicode case folding reaches from other code points (K KELVIN SIGN,
// ſ LATIN SMALL LETTER LONG S).
const kelvinPolicy = `
admins: {groups: [admins]}
roles:
  - name: kate-only
    arn: arn:aws:iam::123456789012:role/jit-kate
    eligible: {users: [kate@example.com]}
    approvers: {users: [sam]}
    max_duration: 1h
`

func TestPolicyUserMatchedByUnicodeFoldingLookalikeRefused(t *testing.T) {
	// The IdP vouches for "\u212aate@example.com" (KELVIN SIGN, not k):
	// another mailbox than kate's, which strings.EqualFold took for hers.
	fakeKate := devidp.User{Username: "fakekate", Password: "fakekate-password", Email: "\u212aate@example.com",
		Claims: map[string]any{"email_verified": true, "preferred_username": "fakekate"}}
	kate := devidp.User{Username: "kate", Password: "kate-password", Email: "kate@example.com",
		Claims: map[string]any{"preferred_username": "kate"}}
	idp := testenv.OIDC(t, append(devidp.DefaultUsers(), fakeKate, kate)...)

	js := testenv.StartJitServer(t, testenv.JitServerOptions{Issuer: idp.Issuer(), ClientID: idp.ClientID(), Policy: kelvinPolicy})
	e := &idEnv{&env{t: t, url: js.URL, srv: js.Server, store: js.Store, idp: idp, tokens: map[string]string{}, logs: &syncBuffer{}}}
	e.login("fakekate", "fakekate")
	e.login("kate", "kate")
	code, ae := e.errorOf("fakekate", "POST", "/v1/requests", api.CreateRequest{Role: "kate-only", Reason: "r"})
	if code != http.StatusForbidden {
		t.Fatalf("a token for \\u212aate@example.com requested kate's role: HTTP %d %+v", code, ae)
	}
	// kate herself (any ASCII case) still matches.
	e.create("kate", api.CreateRequest{Role: "kate-only", Reason: "r"})

	// Legacy rows: a request stored before principals with requester
	// kate@example.com is not fakekate's.
	legacy := &api.Request{ID: "req-legacy-kate", Role: "kate-only", Requester: "kate@example.com", Reason: "old", State: api.StatePending}
	legacy.CreatedAt = time.Now()
	legacy.UpdatedAt = legacy.CreatedAt
	if err := js.Store.Create(context.Background(), legacy, []audit.Event{{Time: legacy.CreatedAt, Type: audit.TypeRequestCreated, RequestID: legacy.ID, Actor: legacy.Requester}}); err != nil {
		t.Fatal(err)
	}
	var mine api.RequestList
	if code := e.call("fakekate", "GET", "/v1/requests?scope=mine", nil, &mine); code != http.StatusOK {
		t.Fatalf("list mine: HTTP %d", code)
	}
	for _, r := range mine.Requests {
		if r.ID == legacy.ID {
			t.Fatalf("kate's legacy request is listed as fakekate's: %+v", mine.Requests)
		}
	}
	if code, ae := e.errorOf("fakekate", "POST", "/v1/requests/"+legacy.ID+"/cancel", nil); code == http.StatusOK {
		t.Fatalf("fakekate cancelled kate's legacy request: HTTP %d %+v", code, ae)
	}
}

func TestPolicyUsernameClaimUnicodeFoldingLookalikeRefused(t *testing.T) {
	fakeSam := devidp.User{Username: "fakesam", Password: "fakesam-password", Email: "fakesam@example.com",
		Claims: map[string]any{"preferred_username": "\u017fam"}}
	kate := devidp.User{Username: "kate", Password: "kate-password", Email: "kate@example.com",
		Claims: map[string]any{"preferred_username": "Kate"}}
	idp := testenv.OIDC(t, append(devidp.DefaultUsers(), fakeSam, kate)...)
	js := testenv.StartJitServer(t, testenv.JitServerOptions{Issuer: idp.Issuer(), ClientID: idp.ClientID(),
		Policy: `
admins: {groups: [admins]}
roles:
  - name: kate-only
    arn: arn:aws:iam::123456789012:role/jit-kate
    eligible: {users: [kate]}
    approvers: {users: [sam]}
    max_duration: 1h
`, Tweak: func(o *server.Options, _ string) {
			o.Verifier = server.NewOIDCVerifier(server.OIDCVerifierConfig{Issuer: idp.Issuer(), ClientID: idp.ClientID(),
				ClockSkew: 30 * time.Second, UsernameClaim: "preferred_username"})
		}})
	e := &idEnv{&env{t: t, url: js.URL, srv: js.Server, store: js.Store, idp: idp, tokens: map[string]string{}, logs: &syncBuffer{}}}
	e.login("kate", "kate")
	e.login("fakesam", "fakesam")
	req := e.create("kate", api.CreateRequest{Role: "kate-only", Reason: "r"}) // "Kate" is kate: ASCII case still folds
	code, ae := e.errorOf("fakesam", "POST", "/v1/requests/"+req.ID+"/approve", nil)
	if code != http.StatusForbidden && code != http.StatusNotFound {
		t.Fatalf("preferred_username \\u017fam approved as sam: HTTP %d %+v", code, ae)
	}
	if got := e.stored(req.ID); got.State != api.StatePending || len(got.Approvals) != 0 {
		t.Fatalf("request after the lookalike's try: %s %+v", got.State, got.Approvals)
	}
}

// TestActivityJunkSecretFloodWritesOneSummaryNotOneRecordPerTry: the
// activity endpoints appended one hash-chained auth.failed record (and a
// webhook delivery) per delivery with a wrong secret, unlimited: anyone who
// could reach the server flooded the audit log, the hole the API's failed-
// auth summary closed (issue 10 item 5), open again on a new endpoint.
func TestActivityJunkSecretFloodWritesOneSummaryNotOneRecordPerTry(t *testing.T) {
	e := newActivityEnv(t)
	body := []byte(`{"deploymentid":"d","requestID":"x","accessKey":"AKIAJUNK","api":{"name":"GetObject","statusCode":200}}`)
	codes := map[int]int{}
	for range 50 {
		code, _, _ := e.deliver("minio", body, map[string]string{"Authorization": "Bearer wrong-secret"})
		codes[code]++
	}
	if codes[http.StatusUnauthorized] != 20 || codes[http.StatusTooManyRequests] != 30 {
		t.Fatalf("answers %v; want 20×401 then 30×429 (the API's failed-auth limit)", codes)
	}
	if evs, _ := e.store.Audit(context.Background(), store.AuditFilter{Type: audit.TypeAuthFailed}); len(evs) != 0 {
		t.Fatalf("%d auth.failed records written per try before the summary", len(evs))
	}
	if err := e.srv.FlushAuthFailures(context.Background()); err != nil {
		t.Fatal(err)
	}
	evs, _ := e.store.Audit(context.Background(), store.AuditFilter{Type: audit.TypeAuthFailed})
	if len(evs) != 1 || evs[0].Detail["failures"] != "20" || evs[0].Detail["rate_limited"] != "30" {
		t.Fatalf("auth.failed records %+v; want one summary of 20 failures and 30 limited", evs)
	}
	// The sender with the right secret, from the same address, is served.
	if code, _, body := e.deliver("minio", body, bearer()); code != http.StatusOK {
		t.Fatalf("the real sender after the flood: HTTP %d %s", code, body)
	}
}

// TestActivityWrongBearerAnsweredBeforeTheBodyIsRead: the activity endpoints
// buffered up to 1 MiB of body before looking at the bearer secret, so a
// stranger held 1 MiB of server memory per connection for as long as they
// trickled the body. A wrong bearer is now refused before the body is read.
func TestActivityWrongBearerAnsweredBeforeTheBodyIsRead(t *testing.T) {
	e := newActivityEnv(t)
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { _, _ = pw.Write([]byte(`[{"accessKey":"`)) }() // and never the rest
	req, _ := http.NewRequestWithContext(context.Background(), "POST", e.url+"/v1/activity/minio", pr)
	req.Header.Set("Authorization", "Bearer wrong-secret")
	req.ContentLength = unfinishedBodyLength
	type answer struct {
		code int
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- answer{0, err}
			return
		}
		resp.Body.Close()
		got <- answer{resp.StatusCode, nil}
	}()
	select {
	case a := <-got:
		if a.err != nil || a.code != http.StatusUnauthorized {
			t.Fatalf("wrong bearer with an unfinished body: HTTP %d %v, want 401", a.code, a.err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the server waited for the body of a delivery with a wrong bearer secret")
	}
}

const unfinishedBodyLength = 1 << 20 // announced, never sent

// TestSelfApprovalBySecondAccountWithCaseVariantOfVerifiedEmailRefused:
// bob's second IdP account vouches for "BOB@Example.com"; it neither
// approves bob's request nor fills a second slot beside bob (refusals
// compare emails case-insensitively). An account whose email is bob's but
// unverified is another person and may approve.
func TestSelfApprovalBySecondAccountWithCaseVariantOfVerifiedEmailRefused(t *testing.T) {
	bob2 := devidp.User{Username: "bob2", Password: "bob2-password", Email: "BOB@Example.com", Groups: []string{"developers", "approvers"},
		Claims: map[string]any{"email_verified": true}}
	notBob := devidp.User{Username: "notbob", Password: "notbob-password", Email: "bob@example.com", Groups: []string{"approvers"},
		Claims: map[string]any{"email_verified": false}}
	idp := testenv.OIDC(t, append(identityUsers(), bob2, notBob)...)
	e := startIdentityEnv(t, idp, nil)
	e.login("bob", "bob")
	e.login("bob2", "bob2")
	e.login("alice", "alice")
	e.login("notbob", "notbob")
	own := e.create("bob", api.CreateRequest{Role: "prod-admin", Reason: "deploy"})
	if code, ae := e.errorOf("bob2", "POST", "/v1/requests/"+own.ID+"/approve", nil); code != http.StatusForbidden {
		t.Fatalf("bob's second account (BOB@Example.com) approved bob's request: HTTP %d %+v", code, ae)
	}
	// An unverified copy of bob's email is not bob: notbob may approve.
	if code := e.call("notbob", "POST", "/v1/requests/"+own.ID+"/approve", nil, nil); code != http.StatusOK {
		t.Fatalf("an approver with bob's email unverified: HTTP %d", code)
	}
	two := e.create("alice", api.CreateRequest{Role: "two-man", Reason: "x"})
	if code := e.call("bob", "POST", "/v1/requests/"+two.ID+"/approve", nil, nil); code != http.StatusOK {
		t.Fatalf("bob's first approval: HTTP %d", code)
	}
	if code, ae := e.errorOf("bob2", "POST", "/v1/requests/"+two.ID+"/approve", nil); code != http.StatusConflict && code != http.StatusForbidden {
		t.Fatalf("bob filled the second slot with BOB@Example.com: HTTP %d %+v", code, ae)
	}
}

// TestActivityDatedInTheFutureDoesNotKeepAGrantAliveForever: one MinIO
// entry dated ten days ahead (a sender's clock running ahead, or a made-up
// time) became the grant's last use, and idle_timeout never fired.
func TestActivityDatedInTheFutureDoesNotKeepAGrantAliveForever(t *testing.T) {
	e := newActivityEnv(t)
	r, c := e.grant("alice", api.CreateRequest{Role: "idle", Reason: "debug"})
	code, _, body := e.deliver("minio", mustJSON(t, minioEntry(c.AccessKeyID, "GetObject", 200, e.clock.Now().Add(240*time.Hour), "FUTURE")), bearer())
	if code != http.StatusOK {
		t.Fatalf("delivery: HTTP %d %s", code, body)
	}
	if a := e.get("alice", r.ID).Activity; a == nil || a.LastUse.After(e.clock.Now().Add(5*time.Minute)) {
		t.Fatalf("activity %+v: last use more than the 5m skew after the server's now", a)
	}
	e.clock.Add(26 * time.Minute) // 20m idle after the clamped time (now + 5m)
	if n, err := e.srv.SweepOnce(context.Background()); err != nil || n != 1 {
		t.Fatalf("sweep = %d, %v", n, err)
	}
	if got := e.stored(r.ID); got.State != api.StateRevoked {
		t.Fatalf("idle grant with a future-dated call: %s", got.State)
	}
}
