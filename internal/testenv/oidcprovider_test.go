package testenv_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/jit-access/jit/internal/testenv"
)

func idClaims(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestOIDCProviderIssuesTheClaimShapesGiven checks the harness itself: the
// ID token carries the claims exactly as configured (a groups string stays
// a string, no email_verified is added), and a client with extra audiences
// gets aud as a list with azp.
func TestOIDCProviderIssuesTheClaimShapesGiven(t *testing.T) {
	p := testenv.OIDCProvider(t, testenv.OIDCProviderOptions{
		Users:   []testenv.OIDCProviderUser{{Username: "alice", Claims: map[string]any{"sub": "00u-alice", "email": "alice@example.com", "groups": "developers"}}},
		Clients: []testenv.OIDCProviderClient{{ID: "jit-cli"}, {ID: "other-app", ExtraAudiences: []string{"jit-cli"}}},
	})
	tok := p.DeviceToken(t, "", "alice")
	c := idClaims(t, tok.Extra("id_token").(string))
	if c["sub"] != "00u-alice" || c["iss"] != p.Issuer() || c["aud"] != "jit-cli" || c["groups"] != "developers" || c["email"] != "alice@example.com" {
		t.Errorf("claims %v", c)
	}
	if _, has := c["email_verified"]; has {
		t.Errorf("email_verified added: %v", c)
	}
	if tok.RefreshToken == "" {
		t.Error("no refresh token for offline_access")
	}
	c = idClaims(t, p.DeviceToken(t, "other-app", "alice").Extra("id_token").(string))
	if !reflect.DeepEqual(c["aud"], []any{"other-app", "jit-cli"}) || c["azp"] != "other-app" {
		t.Errorf("aud %v azp %v", c["aud"], c["azp"])
	}
}

// TestOIDCProviderRotatesRefreshTokens: a refresh returns a new refresh
// token and the old one is refused afterwards (as Okta, Entra and
// Keycloak do with rotation on).
func TestOIDCProviderRotatesRefreshTokens(t *testing.T) {
	p := testenv.OIDCProvider(t, testenv.OIDCProviderOptions{Users: []testenv.OIDCProviderUser{{Username: "bob"}}})
	first := p.DeviceToken(t, "", "bob")
	cfg := p.OAuth2Config("")
	refresh := func(rt string) (*oauth2.Token, error) {
		return cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: rt}).Token()
	}
	second, err := refresh(first.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if n := p.RefreshGrants(1); n != 1 {
		t.Errorf("RefreshGrants = %d, want 1", n)
	}
	if second.RefreshToken == "" || second.RefreshToken == first.RefreshToken {
		t.Fatalf("refresh token not rotated: %q → %q", first.RefreshToken, second.RefreshToken)
	}
	if raw, _ := second.Extra("id_token").(string); raw == "" || idClaims(t, raw)["sub"] != "sub-bob" {
		t.Errorf("refreshed id_token: %q", raw)
	}
	if _, err := refresh(first.RefreshToken); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("the rotated-out refresh token still works: %v", err)
	}
}

func TestOIDCProviderRefusesAWrongPassword(t *testing.T) {
	p := testenv.OIDCProvider(t, testenv.OIDCProviderOptions{Users: []testenv.OIDCProviderUser{{Username: "carol", Password: "right"}}})
	da, err := p.OAuth2Config("").DeviceAuth(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CompleteDeviceWithPassword(t.Context(), da.VerificationURIComplete, "carol", "wrong"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong password: %v", err)
	}
}
