package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
)

// oidcProviderWorld runs the world on npm's oidc-provider (a second,
// independent implementation) with users shaped like real IdPs' tokens:
// alice like Okta (groups array, email_verified true), bob like Entra (no
// email_verified, upn; groups array), carol with one group as a single
// string and email_verified false.
func oidcProviderWorld(t *testing.T) *world {
	t.Helper()
	w, _ := oidcProviderWorldTTL(t, 0)
	return w
}

// oidcProviderWorldTTL is oidcProviderWorld with ID tokens living ttl
// (0: an hour).
func oidcProviderWorldTTL(t *testing.T, ttl time.Duration) (*world, *testenv.OIDCProviderIdP) {
	t.Helper()
	p := testenv.OIDCProvider(t, testenv.OIDCProviderOptions{IDTokenTTL: ttl, Users: []testenv.OIDCProviderUser{
		{Username: "alice", Claims: map[string]any{"sub": "00u-alice-okta", "email": "alice@example.com", "email_verified": true,
			"preferred_username": "alice@example.com", "groups": []string{"developers"}}},
		{Username: "bob", Claims: map[string]any{"sub": "entra-oid-bob", "email": "bob@example.com", "upn": "bob@example.com",
			"preferred_username": "bob@example.com", "groups": []string{"developers", "approvers"}}},
		{Username: "carol", Claims: map[string]any{"sub": "kc-carol", "email": "carol@example.com", "email_verified": false,
			"groups": "approvers"}},
	}})
	return newWorldOn(t, idpPeer{issuer: p.Issuer(), clientID: p.ClientID(),
		// Like Okta: groups come with their own scope.
		extraOIDC: ", scopes: [openid, email, profile, groups, offline_access]",
		signIn:    p.CompleteDevice}), p
}

// TestCLIFollowsRefreshTokenRotation: with ID tokens shorter-lived than the
// CLI's refresh margin (60s), every command refreshes; oidc-provider rotates
// the refresh token each time and refuses (and revokes the grant on) a
// reused one — so commands keep working only if the CLI stores each new
// refresh token and uses it next time.
func TestCLIFollowsRefreshTokenRotation(t *testing.T) {
	w, p := oidcProviderWorldTTL(t, 30*time.Second)
	alice := w.user("alice")
	alice.login()
	before := p.RefreshGrants(0)
	for i := range 3 {
		if out, errOut, code := alice.run("roles"); code != 0 || !strings.Contains(out, "admin") {
			t.Fatalf("jit roles #%d after rotation: exit %d\n%s\n%s", i+1, code, out, errOut)
		}
	}
	if n := p.RefreshGrants(before+3) - before; n < 3 {
		t.Fatalf("%d refresh grants for 3 commands; the test did not exercise rotation", n)
	}
}

// TestLoginRequestApproveCredentialsOnBothIdPs runs the whole loop — jit
// login, request, approval by another person, credentials through
// credential_process and the AWS CLI — once against pkg/devidp (zitadel)
// and once against oidc-provider, so that jit is not tested against one
// implementation's habits only.
func TestLoginRequestApproveCredentialsOnBothIdPs(t *testing.T) {
	needAWSCLI(t)
	for _, tc := range []struct {
		name     string
		world    func(*testing.T) *world
		approver string
	}{
		{"devidp-zitadel", newWorld, "bob"},
		{"oidc-provider", oidcProviderWorld, "bob"},
		// carol's only group is the single string "approvers".
		{"oidc-provider-single-string-group", oidcProviderWorld, "carol"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.world(t)
			alice, approver := w.user("alice"), w.user(tc.approver)
			alice.login()
			approver.login()
			alice.must("configure", "aws")

			out, errOut, code := alice.run("request", "admin", "--reason", "e2e on "+tc.name, "--for", "15m", "--no-wait", "-o", "json")
			var req struct{ ID, State string }
			if code != 8 || json.Unmarshal([]byte(out), &req) != nil || req.State != "pending" {
				t.Fatalf("request: exit %d (want 8, pending)\n%s\n%s", code, out, errOut)
			}
			if _, errOut, code := alice.run("approve", req.ID); code == 0 || !strings.Contains(errOut, "own") {
				t.Fatalf("self-approval: exit %d %q", code, errOut)
			}
			approver.must("approve", req.ID, "--comment", "ok")
			if _, errOut, code := alice.run("wait", req.ID); code != 0 || !strings.Contains(errOut, "granted until") {
				t.Fatalf("jit wait after approval: exit %d %q", code, errOut)
			}
			credJSON := alice.must("credential-process", "--role", "admin")
			var creds struct {
				Version         int
				AccessKeyID     string `json:"AccessKeyId"`
				SecretAccessKey string
				SessionToken    string
				Expiration      time.Time
			}
			if err := json.Unmarshal([]byte(credJSON), &creds); err != nil || creds.Version != 1 || creds.AccessKeyID == "" || creds.SessionToken == "" {
				t.Fatalf("credential-process: %v %q", err, credJSON)
			}
			if out, errOut, code := alice.run(awsCLI, "--profile", "admin", "--endpoint-url", w.minio.Endpoint(), "--region", w.minio.Region(),
				"s3", "ls", "s3://"+w.bucket); code != 0 {
				t.Fatalf("aws s3 ls with the grant: exit %d %s %s", code, out, errOut)
			}
		})
	}
}
