package server_test

// Regression tests for identity attacks (docs/security.md, "Attacks and what
// stops them"). Every token here is a real one, issued and signed by the
// test IdP (pkg/devidp, zitadel); only its users' claims, its lifetimes and
// its clients are configured.

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/devidp"
	"github.com/jit-access/jit/pkg/lifecycle"
	"github.com/jit-access/jit/pkg/server"
	"github.com/jit-access/jit/pkg/store"
)

// identityPolicy names users by email (by-email), by username (by-username,
// for oidc.username_claim) and by groups, including one with a space.
var identityPolicy = testenv.Policy(
	testenv.ProdAdmin.Without("default_duration").Without("reason_required").Without("pending_timeout"),
	testenv.TwoMan,
	testenv.NewRole("by-email", "eligible", "{users: [mallory@example.com, erin@example.com, carol@example.com, alice@example.com]}"),
	testenv.NewRole("by-username", "eligible", "{users: [erin]}"),
	testenv.NewRole("admins-only", "eligible", "{groups: [admins]}"),
	testenv.NewRole("former-admins", "arn", "arn:aws:iam::123456789012:role/jit-former", "eligible", "{groups: [Former admins]}"))

// Users whose tokens are shaped like other IdPs' (or an attacker's).
var (
	// mallory's email_verified is the string "false".
	mallory = devidp.User{Username: "mallory", Password: "mallory-password", Email: "mallory@example.com",
		Claims: map[string]any{"email_verified": "false"}}
	// erin's token has an email and no email_verified at all (like Entra ID).
	erin = devidp.User{Username: "erin", Password: "erin-password", Email: "erin@example.com",
		Claims: map[string]any{"email_verified": nil}}
	// fakeCarol has no email; her subject merely looks like carol's email.
	fakeCarol = devidp.User{ID: "carol@example.com", Username: "fakecarol", Password: "fakecarol-password", Groups: []string{"developers"}}
	// frank's groups claim is one string, a group whose name has a space.
	frank = devidp.User{Username: "frank", Password: "frank-password", Email: "frank@example.com",
		Claims: map[string]any{"groups": "Former admins"}}
	// grace's groups claim is a number.
	grace = devidp.User{Username: "grace", Password: "grace-password", Email: "grace@example.com",
		Claims: map[string]any{"groups": 42}}
)

func identityUsers() []devidp.User {
	return append(devidp.DefaultUsers(), mallory, erin, fakeCarol, frank, grace)
}

// idEnv is a jit server trusting idp, with a token per name.
type idEnv struct {
	*env
}

func startIdentityEnv(t *testing.T, idp *devidp.Provider, tweak func(*server.Options)) *idEnv {
	t.Helper()
	js := testenv.StartJitServer(t, testenv.JitServerOptions{
		Issuer: idp.Issuer(), ClientID: idp.ClientID(), Policy: identityPolicy,
		Tweak: func(o *server.Options, _ string) {
			if tweak != nil {
				tweak(o)
			}
		},
	})
	return &idEnv{&env{t: t, url: js.URL, srv: js.Server, store: js.Store, idp: idp, tokens: map[string]string{}, logs: &syncBuffer{}}}
}

// login gets a real token for username with scopes (nil: the defaults) and
// files it under name.
func (e *idEnv) login(name, username string, scopes ...string) {
	e.t.Helper()
	e.tokens[name] = testenv.IDToken(e.t, e.idp, username, testenv.DeviceTokenOptions{Scopes: scopes})
}

func TestSelfApprovalWithSecondTokenWithoutEmailRefused(t *testing.T) {
	idp := testenv.OIDC(t, identityUsers()...)
	e := startIdentityEnv(t, idp, nil)
	e.login("bob", "bob")
	e.login("bob-openid", "bob", "openid") // no email claim; groups still there
	req := e.create("bob", api.CreateRequest{Role: "prod-admin", Reason: "deploy"})
	code, ae := e.errorOf("bob-openid", "POST", "/v1/requests/"+req.ID+"/approve", nil)
	if code != http.StatusForbidden || !contains(ae.Message, "never approves their own") {
		t.Fatalf("bob approving his own request with a token without email: HTTP %d %+v", code, ae)
	}
	// The refusal is audited with who tried: bob's principal.
	bob, _ := idp.User("bob")
	denied, err := e.store.Audit(context.Background(), store.AuditFilter{Type: audit.TypeForbidden})
	if err != nil || len(denied) != 1 || denied[0].Detail[lifecycle.DetailActorSubject] != bob.ID || denied[0].Detail[lifecycle.DetailActorIssuer] != idp.Issuer() {
		t.Fatalf("authz.denied records: %+v %v", denied, err)
	}
	got, err := e.store.Get(context.Background(), req.ID)
	if err != nil || got.State != api.StatePending || len(got.Approvals) != 0 {
		t.Fatalf("request after the refused self-approval: %+v %v", got, err)
	}
	// The second token is bob: it sees and may cancel his request.
	var mine api.RequestList
	if code := e.call("bob-openid", "GET", "/v1/requests?scope=mine", nil, &mine); code != 200 || len(mine.Requests) != 1 {
		t.Fatalf("bob's no-email token lists %d of his requests (HTTP %d)", len(mine.Requests), code)
	}
}

func TestOnePersonFillingBothApprovalSlotsWithTwoTokensRefused(t *testing.T) {
	idp := testenv.OIDC(t, identityUsers()...)
	e := startIdentityEnv(t, idp, nil)
	e.login("alice", "alice")
	e.login("bob", "bob")
	e.login("bob-openid", "bob", "openid")
	e.login("carol", "carol")
	req := e.create("alice", api.CreateRequest{Role: "two-man", Reason: "migration"})
	if code := e.call("bob", "POST", "/v1/requests/"+req.ID+"/approve", nil, nil); code != http.StatusOK {
		t.Fatalf("bob's first approval: HTTP %d", code)
	}
	code, ae := e.errorOf("bob-openid", "POST", "/v1/requests/"+req.ID+"/approve", nil)
	if code != http.StatusConflict || !contains(ae.Message, "already approved") {
		t.Fatalf("bob's second approval with another token: HTTP %d %+v", code, ae)
	}
	got, _ := e.store.Get(context.Background(), req.ID)
	if got.State != api.StatePending || len(got.Approvals) != 1 {
		t.Fatalf("one person filled both slots: state %s, %d approvals", got.State, len(got.Approvals))
	}
	var after api.Request
	if code := e.call("carol", "POST", "/v1/requests/"+req.ID+"/approve", nil, &after); code != http.StatusOK || after.State != api.StateApproved {
		t.Fatalf("a second person's approval: HTTP %d state %s", code, after.State)
	}
	if a := after.Approvals; a[0].Subject == "" || a[0].Subject == a[1].Subject || a[0].Issuer != idp.Issuer() {
		t.Fatalf("decisions do not carry distinct principals: %+v", a)
	}
}

func TestEmailVerifiedAsStringFalseDoesNotMatchEmailPolicy(t *testing.T) {
	idp := testenv.OIDC(t, identityUsers()...)
	e := startIdentityEnv(t, idp, nil)
	e.login("mallory", "mallory")
	var roles api.RolesResponse
	if code := e.call("mallory", "GET", "/v1/roles", nil, &roles); code != 200 || len(roles.Roles) != 0 {
		t.Fatalf("email_verified \"false\" made mallory eligible for %+v (HTTP %d)", roles.Roles, code)
	}
	code, ae := e.errorOf("mallory", "POST", "/v1/requests", api.CreateRequest{Role: "by-email", Reason: "x"})
	if code != http.StatusForbidden || !contains(ae.Hint, `"email_verified" claim is "false"`) {
		t.Fatalf("request by-email with email_verified \"false\": HTTP %d %+v", code, ae)
	}
}

func TestMissingEmailVerifiedRefusedForEmailPolicyUnlessUsernameClaimConfigured(t *testing.T) {
	idp := testenv.OIDC(t, identityUsers()...)
	e := startIdentityEnv(t, idp, nil)
	e.login("erin", "erin")
	code, ae := e.errorOf("erin", "POST", "/v1/requests", api.CreateRequest{Role: "by-email", Reason: "x"})
	if code != http.StatusForbidden || !contains(ae.Hint, `no "email_verified" claim`) || !contains(ae.Hint, "oidc.username_claim") {
		t.Fatalf("email without email_verified matched an email policy: HTTP %d %+v", code, ae)
	}
	// The operator names a claim the IdP guarantees: erin is matched by it.
	withClaim := startIdentityEnv(t, idp, func(o *server.Options) {
		o.Verifier = server.NewOIDCVerifier(server.OIDCVerifierConfig{Issuer: idp.Issuer(), ClientID: idp.ClientID(),
			ClockSkew: 30 * time.Second, UsernameClaim: "preferred_username"})
	})
	withClaim.tokens["erin"] = e.tokens["erin"]
	if r := withClaim.create("erin", api.CreateRequest{Role: "by-username", Reason: "x"}); r.Requester != "erin" {
		t.Fatalf("requester shown as %q, want the username erin", r.Requester)
	}
	// A token without the named claim is refused with the claim and the scope.
	withClaim.login("erin-openid", "erin", "openid")
	code, ae = withClaim.errorOf("erin-openid", "POST", "/v1/requests", api.CreateRequest{Role: "by-username", Reason: "x"})
	if code != http.StatusForbidden || !contains(ae.Hint, `no "preferred_username" claim`) || !contains(ae.Hint, `"profile" scope`) {
		t.Fatalf("token without the username claim: HTTP %d %+v", code, ae)
	}
}

func TestTokenWithoutEmailClaimIsToldWhichScopeToRequest(t *testing.T) {
	idp := testenv.OIDC(t, identityUsers()...)
	e := startIdentityEnv(t, idp, nil)
	e.login("alice-openid", "alice", "openid")
	code, ae := e.errorOf("alice-openid", "POST", "/v1/requests", api.CreateRequest{Role: "by-email", Reason: "x"})
	if code != http.StatusForbidden || !contains(ae.Hint, `no "email" claim`) || !contains(ae.Hint, `"email" scope`) {
		t.Fatalf("HTTP %d %+v", code, ae)
	}
}

func TestSubjectThatLooksLikeEmailDoesNotMatchEmailPolicy(t *testing.T) {
	idp := testenv.OIDC(t, identityUsers()...)
	e := startIdentityEnv(t, idp, nil)
	e.login("fakecarol", "fakecarol")
	e.login("carol", "carol")
	var roles api.RolesResponse
	e.call("fakecarol", "GET", "/v1/roles", nil, &roles)
	for _, r := range roles.Roles {
		if r.Name == "by-email" {
			t.Fatal("a subject shaped like carol@example.com matched the policy entry carol@example.com")
		}
	}
	if code, _ := e.errorOf("fakecarol", "POST", "/v1/requests", api.CreateRequest{Role: "by-email", Reason: "x"}); code != http.StatusForbidden {
		t.Fatalf("fakecarol requested by-email: HTTP %d", code)
	}
	// The real carol's request is not fakecarol's.
	req := e.create("carol", api.CreateRequest{Role: "by-email", Reason: "x"})
	if code := e.call("fakecarol", "GET", "/v1/requests/"+req.ID, nil, nil); code != http.StatusNotFound {
		t.Fatalf("fakecarol sees carol's request: HTTP %d", code)
	}
}

func TestGroupsStringFormerAdminsDoesNotBecomeAdmins(t *testing.T) {
	idp := testenv.OIDC(t, identityUsers()...)
	e := startIdentityEnv(t, idp, nil)
	e.login("frank", "frank")
	var roles api.RolesResponse
	if code := e.call("frank", "GET", "/v1/roles", nil, &roles); code != 200 {
		t.Fatalf("roles: HTTP %d", code)
	}
	var names []string
	for _, r := range roles.Roles {
		names = append(names, r.Name)
	}
	if strings.Join(names, ",") != "former-admins" {
		t.Fatalf(`groups "Former admins" gave roles %v, want only former-admins`, names)
	}
	if code := e.call("frank", "GET", "/v1/audit", nil, nil); code != http.StatusForbidden {
		t.Fatalf(`groups "Former admins" reads the audit log as an admin: HTTP %d`, code)
	}
}

func TestGroupsClaimOfAnotherShapeIsRefused(t *testing.T) {
	idp := testenv.OIDC(t, identityUsers()...)
	e := startIdentityEnv(t, idp, nil)
	e.login("grace", "grace")
	code, ae := e.errorOf("grace", "GET", "/v1/roles", nil)
	if code != http.StatusUnauthorized || !contains(ae.Message, `"groups" is 42, not an array of strings`) {
		t.Fatalf("numeric groups claim: HTTP %d %+v", code, ae)
	}
}

func TestTokenOfAnotherClientNamingJitAmongAudiencesRefused(t *testing.T) {
	idp, err := devidp.Start(context.Background(), devidp.Options{Users: devidp.DefaultUsers(), OtherClientID: "other-app",
		ExtraAudiences: map[string][]string{"other-app": {"jit-cli"}, "jit-cli": {"other-app"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idp.Close() })
	e := startIdentityEnv(t, idp, nil)
	// aud [jit-cli other-app], azp other-app: obtained by another client.
	e.tokens["other"] = testenv.IDToken(t, idp, "alice", testenv.DeviceTokenOptions{ClientID: "other-app"})
	code, ae := e.errorOf("other", "GET", "/v1/roles", nil)
	if code != http.StatusUnauthorized || !contains(ae.Message, "azp other-app") {
		t.Fatalf("token of another client with jit among its audiences: HTTP %d %+v", code, ae)
	}
	// aud [other-app jit-cli], azp jit-cli: several audiences, issued to jit.
	e.login("alice", "alice")
	if code, ae := e.errorOf("alice", "GET", "/v1/roles", nil); code != http.StatusOK {
		t.Fatalf("multi-audience token issued to jit: HTTP %d %+v", code, ae)
	}
}

func TestTokenIssuedInTheFutureRefused(t *testing.T) {
	// zitadel moves iat back and exp forward by the client's clock skew; a
	// negative skew of 72h issues iat = now+72h with a 1h lifetime.
	idp, err := devidp.Start(context.Background(), devidp.Options{Users: devidp.DefaultUsers(),
		IDTokenClockSkew: -72 * time.Hour, IDTokenLifetime: 145 * time.Hour,
		AccessTokenLifetime: 80 * time.Hour}) // zitadel subtracts the skew from expires_in too
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idp.Close() })
	e := startIdentityEnv(t, idp, nil)
	e.login("alice", "alice")
	code, ae := e.errorOf("alice", "GET", "/v1/roles", nil)
	if code != http.StatusUnauthorized || !contains(ae.Message, "issued in the future") {
		t.Fatalf("token with iat 3 days ahead: HTTP %d %+v", code, ae)
	}
}

func TestTenYearTokenRefused(t *testing.T) {
	idp, err := devidp.Start(context.Background(), devidp.Options{Users: devidp.DefaultUsers(), IDTokenLifetime: 10 * 365 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idp.Close() })
	e := startIdentityEnv(t, idp, nil)
	e.login("alice", "alice")
	code, ae := e.errorOf("alice", "GET", "/v1/roles", nil)
	if code != http.StatusUnauthorized || !contains(ae.Message, "oidc.max_token_lifetime") {
		t.Fatalf("10-year token: HTTP %d %+v", code, ae)
	}
	// The limit is the operator's: raised past ten years, the same token passes.
	long := startIdentityEnv(t, idp, func(o *server.Options) {
		o.Verifier = server.NewOIDCVerifier(server.OIDCVerifierConfig{Issuer: idp.Issuer(), ClientID: idp.ClientID(),
			MaxTokenLifetime: 11 * 365 * 24 * time.Hour})
	})
	long.tokens["alice"] = e.tokens["alice"]
	if code := long.call("alice", "GET", "/v1/roles", nil, nil); code != http.StatusOK {
		t.Fatalf("with max_token_lifetime raised: HTTP %d", code)
	}
}

func TestAuditRecordsCarryIssuerSubjectAndEmail(t *testing.T) {
	idp := testenv.OIDC(t, identityUsers()...)
	e := startIdentityEnv(t, idp, nil)
	e.login("alice", "alice")
	e.login("bob", "bob")
	req := e.create("alice", api.CreateRequest{Role: "prod-admin", Reason: "audit"})
	if code := e.call("bob", "POST", "/v1/requests/"+req.ID+"/approve", nil, nil); code != 200 {
		t.Fatalf("approve: %d", code)
	}
	alice, _ := idp.User("alice")
	bob, _ := idp.User("bob")
	events, err := e.store.Audit(context.Background(), store.AuditFilter{RequestID: req.ID})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, ev := range events {
		d := ev.Detail
		if d[lifecycle.DetailRequesterIssuer] != idp.Issuer() || d[lifecycle.DetailRequesterSubject] != alice.ID {
			t.Errorf("%s: requester principal %q %q", ev.Type, d[lifecycle.DetailRequesterIssuer], d[lifecycle.DetailRequesterSubject])
		}
		switch ev.Type {
		case audit.TypeRequestCreated:
			seen[ev.Type] = d[lifecycle.DetailActorSubject] == alice.ID && d[lifecycle.DetailActorEmail] == "alice@example.com" && d[lifecycle.DetailActorIssuer] == idp.Issuer()
		case audit.TypeRequestApproval:
			seen[ev.Type] = d[lifecycle.DetailActorSubject] == bob.ID && d[lifecycle.DetailActorEmail] == "bob@example.com"
		}
	}
	if !seen[audit.TypeRequestCreated] || !seen[audit.TypeRequestApproval] {
		t.Fatalf("actor principal missing from the audit: %+v", events)
	}
	all, err := e.store.Audit(context.Background(), store.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if rep := audit.Verify(all); rep.Err != nil || rep.Count != len(all) {
		t.Fatalf("chain with identity fields: %+v", rep)
	}
}

func TestRequestsStoredBeforePrincipalsStillBelongToTheirRequester(t *testing.T) {
	idp := testenv.OIDC(t, identityUsers()...)
	e := startIdentityEnv(t, idp, nil)
	e.login("alice", "alice")
	e.login("bob", "bob")
	e.login("fakecarol", "fakecarol")
	now := time.Now()
	// Rows as the previous version stored them: a name, no principal.
	for _, old := range []struct{ id, requester string }{{"old-alice", "alice@example.com"}, {"old-carol", "carol@example.com"}} {
		r := &api.Request{ID: old.id, Requester: old.requester, Role: "prod-admin", DurationSeconds: 3600, State: api.StatePending,
			ApprovalsNeeded: 1, CreatedAt: now, UpdatedAt: now, PendingUntil: now.Add(time.Hour)}
		if err := e.store.Create(context.Background(), r, []audit.Event{{Time: now, Type: audit.TypeRequestCreated, Actor: old.requester, Subject: old.requester, Role: r.Role, RequestID: r.ID}}); err != nil {
			t.Fatal(err)
		}
	}
	var mine api.RequestList
	if code := e.call("alice", "GET", "/v1/requests?scope=mine", nil, &mine); code != 200 || len(mine.Requests) != 1 || mine.Requests[0].ID != "old-alice" {
		t.Fatalf("alice's stored request: HTTP %d %+v", code, mine.Requests)
	}
	if code, ae := e.errorOf("alice", "POST", "/v1/requests/old-alice/approve", nil); code != http.StatusForbidden {
		t.Fatalf("alice approved her own stored request: HTTP %d %+v", code, ae)
	}
	if code := e.call("bob", "POST", "/v1/requests/old-alice/approve", nil, nil); code != http.StatusOK {
		t.Fatalf("bob approving alice's stored request: HTTP %d", code)
	}
	// A subject shaped like carol's email owns nothing of carol's.
	mine = api.RequestList{}
	if code := e.call("fakecarol", "GET", "/v1/requests?scope=mine", nil, &mine); code != 200 || len(mine.Requests) != 0 {
		t.Fatalf("fakecarol lists carol's stored requests: HTTP %d %+v", code, mine.Requests)
	}
	if code := e.call("fakecarol", "POST", "/v1/requests/old-carol/cancel", nil, nil); code != http.StatusNotFound {
		t.Fatalf("fakecarol cancels carol's stored request: HTTP %d", code)
	}
}
