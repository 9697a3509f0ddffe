package server_test

// Workloads and several issuers, with real tokens: people from zitadel
// (pkg/devidp), GitHub Actions-shaped workload tokens from the second,
// independent provider (npm oidc-provider, internal/testidp/oidcprovider).
// Regression tests for docs/security.md's rows on claim spoofing, audience
// confusion between issuers and a workload approving.

import (
	"context"
	"net/http"
	"testing"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/devidp"
	"github.com/jit-access/jit/pkg/policy"
)

// ciAudience is the audience jit's workload issuer expects.
const ciAudience = "https://jit.test/ci"

// workloadPolicy: deploy is for octo/app's main branch and waits for an
// approver; ci-read is auto-approved for it up to 30m; readonly is people's.
func workloadPolicy() string {
	main := testenv.GitHubActionsClaims("octo/app", "refs/heads/main", "", "1")
	pin := "{issuer: github, claims: {repository: octo/app, repository_id: \"" + main["repository_id"].(string) + "\", ref: refs/heads/main}}"
	return testenv.Policy(
		testenv.ReadOnly, testenv.ProdAdmin,
		testenv.NewRole("deploy", "max_duration", "1h", "max_extensions", "2", "max_total_duration", "3h",
			"eligible", "{workloads: ["+pin+"]}"),
		testenv.NewRole("ci-read", "max_duration", "1h", "max_extensions", "2", "max_total_duration", "3h",
			"eligible", "{workloads: ["+pin+"]}", "auto_approve", "{workloads: ["+pin+"], max_duration: 30m}"))
}

type workloadEnv struct {
	*env
	ci *testenv.OIDCProviderIdP
}

// startWorkloadEnv runs a jit server trusting the shared zitadel IdP (people)
// and an oidc-provider as the GitHub-flavoured workload issuer "github".
func startWorkloadEnv(t *testing.T) *workloadEnv {
	t.Helper()
	idp, tokens := identities(t)
	ci := testenv.OIDCProvider(t, testenv.OIDCProviderOptions{Workloads: map[string]map[string]any{
		"main":    testenv.GitHubActionsClaims("octo/app", "refs/heads/main", "", "4242"),
		"feature": testenv.GitHubActionsClaims("octo/app", "refs/heads/feature", "", "4243"),
		"fork":    testenv.GitHubActionsClaims("evil/app", "refs/heads/main", "", "4244"),
		// A workload whose token carries a person's claims: groups of
		// approvers and admins, bob's verified email.
		"spoof": withClaims(testenv.GitHubActionsClaims("octo/app", "refs/heads/main", "", "4245"),
			map[string]any{"groups": []string{"approvers", "admins", "developers"}, "email": "bob@example.com", "email_verified": true,
				"preferred_username": "bob@example.com"}),
	}})
	fv := &testenv.FakeVendor{}
	js := testenv.StartJitServer(t, testenv.JitServerOptions{
		Issuer: idp.Issuer(), ClientID: idp.ClientID(), Policy: workloadPolicy(), Vendor: fv,
		Issuers: []testenv.TrustedIssuer{{Name: "github", URL: ci.Issuer(), Audience: ciAudience, Workload: true, Flavor: policy.FlavorGitHub}},
	})
	toks := map[string]string{}
	for k, v := range tokens {
		toks[k] = v
	}
	for _, p := range []string{"main", "feature", "fork", "spoof"} {
		toks["ci-"+p] = ci.WorkloadToken(t, p, ciAudience)
	}
	return &workloadEnv{env: &env{t: t, url: js.URL, srv: js.Server, store: js.Store, vendor: fv, idp: idp, tokens: toks, logs: &syncBuffer{}}, ci: ci}
}

func withClaims(c, more map[string]any) map[string]any {
	for k, v := range more {
		c[k] = v
	}
	return c
}

func TestWorkloadRequestWaitsForAPersonAndTheWorkloadCannotApproveIt(t *testing.T) {
	e := startWorkloadEnv(t)
	req := e.create("ci-main", api.CreateRequest{Role: "deploy", Reason: "deploy run 4242"})
	if req.State != api.StatePending || req.RequesterIssuer != e.ci.Issuer() {
		t.Fatalf("workload request: %+v", req)
	}
	for _, who := range []string{"ci-main", "ci-spoof"} {
		code, ae := e.errorOf(who, "POST", "/v1/requests/"+req.ID+"/approve", nil)
		if code != http.StatusForbidden || !contains(ae.Message, "workloads never approve") {
			t.Fatalf("%s approving a workload request: HTTP %d %+v", who, code, ae)
		}
	}
	var approved api.Request
	if code := e.call("bob", "POST", "/v1/requests/"+req.ID+"/approve", nil, &approved); code != http.StatusOK || approved.State != api.StateApproved {
		t.Fatalf("bob's approval: HTTP %d %s", code, approved.State)
	}
	var creds api.Credentials
	if code := e.call("ci-main", "POST", "/v1/requests/"+req.ID+"/credentials", nil, &creds); code != http.StatusOK || creds.AccessKeyID == "" {
		t.Fatalf("the workload's credentials: HTTP %d %+v", code, creds)
	}
	// The session carries the run: CloudTrail ties its calls to it.
	calls := e.vendor.Calls()
	if tags := calls[len(calls)-1].Tags; tags["jit-repository"] != "octo/app" || tags["jit-run-id"] != "4242" || tags["jit-ref"] != "refs/heads/main" || tags["jit-issuer"] != "github" {
		t.Fatalf("session tags of the workload's vend: %v", tags)
	}
	// Every run of octo/app's main is one principal (GitHub's sub is
	// repo:octo/app:ref:refs/heads/main); another branch is another.
	if code := e.call("ci-feature", "POST", "/v1/requests/"+req.ID+"/credentials", nil, nil); code == http.StatusOK {
		t.Fatal("a token of another branch (another subject) fetched the grant's credentials")
	}
}

func TestWorkloadFromTheWrongBranchOrRepositoryRefusedWithTheClaimNamed(t *testing.T) {
	e := startWorkloadEnv(t)
	for who, want := range map[string]string{
		"ci-feature": `claim ref is "refs/heads/feature", policy wants "refs/heads/main"`,
		"ci-fork":    `claim repository is "evil/app", policy wants "octo/app"`,
	} {
		code, ae := e.errorOf(who, "POST", "/v1/requests", api.CreateRequest{Role: "deploy", Reason: "x"})
		if code != http.StatusForbidden || !contains(ae.Message+ae.Hint, want) {
			t.Errorf("%s: HTTP %d %+v; want the claim named: %s", who, code, ae, want)
		}
	}
}

func TestWorkloadTokenWithAPersonsClaimsIsNeitherThatPersonNorInTheirGroups(t *testing.T) {
	e := startWorkloadEnv(t)
	alice := e.create("alice", api.CreateRequest{Role: "prod-admin", Reason: "fix"})
	// Not an approver, so alice's request is not even visible to it.
	code, ae := e.errorOf("ci-spoof", "POST", "/v1/requests/"+alice.ID+"/approve", nil)
	if got, _ := e.store.Get(context.Background(), alice.ID); code != http.StatusNotFound || got.State != api.StatePending || len(got.Approvals) != 0 {
		t.Fatalf("a workload with groups [approvers] approving alice: HTTP %d %+v; request %s with %d approvals", code, ae, got.State, len(got.Approvals))
	}
	if code, _ := e.errorOf("ci-spoof", "POST", "/v1/requests", api.CreateRequest{Role: "readonly"}); code != http.StatusForbidden {
		t.Fatalf("a workload with groups [developers] requested a people's role: HTTP %d", code)
	}
	if code, _ := e.errorOf("ci-spoof", "GET", "/v1/requests/"+alice.ID, nil); code != http.StatusForbidden && code != http.StatusNotFound {
		t.Fatalf("a workload with groups [admins] read alice's request: HTTP %d", code)
	}
	if code, _ := e.errorOf("ci-spoof", "GET", "/v1/audit", nil); code != http.StatusForbidden {
		t.Fatalf("a workload with groups [admins] read the audit log: HTTP %d", code)
	}
	var me api.User
	if e.call("ci-spoof", "GET", "/v1/whoami", nil, &me); me.Email != "" || len(me.Groups) != 0 || me.Username != "" || !me.IsWorkload() {
		t.Fatalf("a workload kept a person's attributes: %+v", me)
	}
}

func TestWorkloadTokenForAnotherIssuersAudienceRefused(t *testing.T) {
	e := startWorkloadEnv(t)
	// The workload issuer mints a token whose audience is the people's
	// client id: it is checked against the workload issuer's audience.
	confused := e.ci.WorkloadToken(t, "main", e.idp.ClientID())
	code, ae := e.errorOf(confused, "POST", "/v1/requests", api.CreateRequest{Role: "deploy", Reason: "x"})
	if code != http.StatusUnauthorized || !contains(ae.Message, "audience") {
		t.Fatalf("a workload token for the people's audience: HTTP %d %+v", code, ae)
	}
}

func TestAutoApprovedWorkloadGrantIsNotExtendedPastItsRuleAlone(t *testing.T) {
	e := startWorkloadEnv(t)
	req := e.create("ci-main", api.CreateRequest{Role: "ci-read", Reason: "build", DurationSeconds: 1800})
	if req.State != api.StateApproved || !req.AutoApproved {
		t.Fatalf("ci-read for 30m: %+v", req)
	}
	var ext api.Request
	code := e.call("ci-main", "POST", "/v1/requests/"+req.ID+"/extend", api.ExtendBody{DurationSeconds: 1800}, &ext)
	if code == http.StatusOK && ext.EndsAt.Sub(ext.StartsAt) > req.EndsAt.Sub(req.StartsAt) {
		t.Fatalf("the workload stretched its auto-approved grant alone past auto_approve's 30m: %s", ext.EndsAt.Sub(ext.StartsAt))
	}
	if code := e.call("ci-main", "POST", "/v1/requests", api.CreateRequest{Role: "ci-read", Reason: "build", DurationSeconds: 3600}, &ext); code != http.StatusCreated || ext.State != api.StatePending {
		t.Fatalf("ci-read for 1h (over auto-approve's max): HTTP %d %s", code, ext.State)
	}
}

func TestSameSubjectFromTwoIssuersIsTwoPrincipals(t *testing.T) {
	a := testenv.OIDC(t, devidp.User{ID: "shared-sub", Username: "pat", Password: "pat-password", Email: "pat@a.example", Groups: []string{"developers"}})
	b := testenv.OIDC(t, devidp.User{ID: "shared-sub", Username: "pat", Password: "pat-password", Email: "pat@b.example", Groups: []string{"approvers"}})
	js := testenv.StartJitServer(t, testenv.JitServerOptions{Issuer: a.Issuer(), ClientID: a.ClientID(), Policy: testPolicy,
		Issuers: []testenv.TrustedIssuer{{Name: "second", URL: b.Issuer(), Audience: b.ClientID()}}})
	e := &env{t: t, url: js.URL, srv: js.Server, store: js.Store, tokens: map[string]string{
		"pat-a": testenv.IDToken(t, a, "pat", testenv.DeviceTokenOptions{}),
		"pat-b": testenv.IDToken(t, b, "pat", testenv.DeviceTokenOptions{}),
	}, logs: &syncBuffer{}}
	req := e.create("pat-a", api.CreateRequest{Role: "prod-admin", Reason: "fix"})
	var mine api.RequestList
	if code := e.call("pat-b", "GET", "/v1/requests?scope=mine", nil, &mine); code != http.StatusOK || len(mine.Requests) != 0 {
		t.Fatalf("the other issuer's pat lists %d requests as theirs (HTTP %d)", len(mine.Requests), code)
	}
	if code, _ := e.errorOf("pat-b", "POST", "/v1/requests/"+req.ID+"/cancel", nil); code != http.StatusForbidden {
		t.Fatalf("the other issuer's pat cancelled as the requester: HTTP %d", code)
	}
	var approved api.Request
	if code := e.call("pat-b", "POST", "/v1/requests/"+req.ID+"/approve", nil, &approved); code != http.StatusOK || approved.State != api.StateApproved {
		t.Fatalf("an approver of another issuer with the same sub is another person and may approve: HTTP %d %s", code, approved.State)
	}
	if d := approved.Approvals[0]; d.Issuer != b.Issuer() || d.Subject != "shared-sub" {
		t.Fatalf("the decision's principal: %+v", d)
	}
	got, _ := e.store.Get(context.Background(), req.ID)
	if got.RequesterIssuer != a.Issuer() {
		t.Fatalf("the requester's issuer: %q", got.RequesterIssuer)
	}
}
