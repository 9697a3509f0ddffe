package server_test

import (
	"slices"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/server"
)

// TestVerifierOnOIDCProviderTokenShapes verifies real ID tokens from a
// second, independent provider (npm oidc-provider) issued in the shapes
// real IdPs use, and checks the identity jit derives from each. The table
// is docs/idp-setup.md's matrix; rows marked trustIdentity assert the
// behaviour of the trust-identity change (issue "Trust") and are skipped
// until it is merged.
func TestVerifierOnOIDCProviderTokenShapes(t *testing.T) {
	p := testenv.OIDCProvider(t, testenv.OIDCProviderOptions{
		Users: []testenv.OIDCProviderUser{
			{Username: "okta", Claims: map[string]any{"email": "okta@example.com", "email_verified": true, "groups": []string{"developers", "approvers"}}},
			{Username: "single", Claims: map[string]any{"email": "single@example.com", "email_verified": true, "groups": "approvers"}},
			{Username: "spaced", Claims: map[string]any{"email": "spaced@example.com", "email_verified": true, "groups": "Domain Admins"}},
			{Username: "entra", Claims: map[string]any{"email": "entra@example.com", "upn": "entra@corp.example.com", "groups": []string{"developers"}}},
			{Username: "unverified", Claims: map[string]any{"email": "unverified@example.com", "email_verified": false, "groups": []string{"developers"}}},
		},
		Clients: []testenv.OIDCProviderClient{
			{ID: "jit-cli"},
			{ID: "multi-app", ExtraAudiences: []string{"api://other"}},
			{ID: "other-app", ExtraAudiences: []string{"jit-cli"}},
		},
	})
	verifier := func(clientID string) *server.OIDCVerifier {
		return server.NewOIDCVerifier(server.OIDCVerifierConfig{Issuer: p.Issuer(), ClientID: clientID, ClockSkew: 30 * time.Second, Now: time.Now})
	}
	tests := []struct {
		name, user, client, verifyAs string
		wantErr                      bool
		wantEmail                    string
		wantGroups                   []string
	}{
		{name: "groups array, email verified (Okta, Keycloak)", user: "okta", wantEmail: "okta@example.com", wantGroups: []string{"developers", "approvers"}},
		{name: "groups as one string", user: "single", wantEmail: "single@example.com", wantGroups: []string{"approvers"}},
		{name: "groups as one string with a space is one group", user: "spaced", wantEmail: "spaced@example.com", wantGroups: []string{"Domain Admins"}},
		{name: "email_verified false: email not trusted", user: "unverified", wantEmail: "", wantGroups: []string{"developers"}},
		{name: "no email_verified (Entra): email not trusted", user: "entra", wantEmail: "", wantGroups: []string{"developers"}},
		{name: "several audiences, azp is this client", user: "okta", client: "multi-app", verifyAs: "multi-app",
			wantEmail: "okta@example.com", wantGroups: []string{"developers", "approvers"}},
		{name: "several audiences, azp is another client: refused", user: "okta", client: "other-app", verifyAs: "jit-cli", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tok := p.DeviceToken(t, tt.client, tt.user)
			as := tt.verifyAs
			if as == "" {
				as = "jit-cli"
			}
			u, err := verifier(as).Verify(t.Context(), tok.Extra("id_token").(string))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("accepted: %+v", u)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.Subject != "sub-"+tt.user || u.Email != tt.wantEmail || !slices.Equal(u.Groups, tt.wantGroups) {
				t.Errorf("got subject %s, email %q, groups %q; want subject sub-%s, email %q, groups %q", u.Subject, u.Email, u.Groups, tt.user, tt.wantEmail, tt.wantGroups)
			}
		})
	}
}
