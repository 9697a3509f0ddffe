package testenv

import (
	"context"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/jit-access/jit/pkg/devidp"
)

// OIDC starts a devidp OIDC provider with the device grant on 127.0.0.1
// (with devidp.DefaultUsers when no users are given) and stops it when the
// test ends. It needs nothing installed: the provider is built in.
func OIDC(t testing.TB, users ...devidp.User) *devidp.Provider {
	t.Helper()
	p, err := devidp.Start(context.Background(), devidp.Options{Users: users})
	if err != nil {
		t.Fatalf("testenv: start the OIDC provider (pkg/devidp): %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("testenv: stop the OIDC provider: %v", err)
		}
	})
	return p
}

// DeviceToken runs a whole device grant for username (its password taken
// from the provider's users) with golang.org/x/oauth2 and returns the token,
// which carries the refresh token and the "id_token" extra. It takes about
// one polling interval (1 s).
func DeviceToken(t testing.TB, p *devidp.Provider, username string) *oauth2.Token {
	t.Helper()
	return DeviceTokenWith(t, p, username, DeviceTokenOptions{})
}

// DeviceTokenOptions choose the client and the scopes of a device grant.
type DeviceTokenOptions struct {
	// ClientID defaults to the provider's CLI client.
	ClientID string
	// Scopes default to devidp.DefaultScopes(); []string{"openid"} gets a
	// token without email or profile claims.
	Scopes []string
}

// DeviceTokenWith is DeviceToken with another client or other scopes.
func DeviceTokenWith(t testing.TB, p *devidp.Provider, username string, o DeviceTokenOptions) *oauth2.Token {
	t.Helper()
	user, ok := p.User(username)
	if !ok {
		t.Fatalf("testenv: the OIDC provider has no user %q", username)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cfg := p.OAuth2Config()
	if o.ClientID != "" {
		cfg.ClientID = o.ClientID
	}
	if o.Scopes != nil {
		cfg.Scopes = o.Scopes
	}
	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		t.Fatalf("testenv: device authorization at %s: %v", p.Issuer(), err)
	}
	completed := make(chan error, 1)
	go func() {
		completed <- p.CompleteDevice(ctx, da.VerificationURIComplete, user.Username, user.Password, true)
	}()
	tok, err := cfg.DeviceAccessToken(ctx, da)
	if cerr := <-completed; cerr != nil {
		t.Fatalf("testenv: sign in as %s at the OIDC provider: %v", username, cerr)
	}
	if err != nil {
		t.Fatalf("testenv: device token for %s: %v", username, err)
	}
	if raw, _ := tok.Extra("id_token").(string); raw == "" {
		t.Fatalf("testenv: device token for %s has no id_token", username)
	}
	return tok
}

// IDToken is the raw ID token of a device grant made with o.
func IDToken(t testing.TB, p *devidp.Provider, username string, o DeviceTokenOptions) string {
	t.Helper()
	return DeviceTokenWith(t, p, username, o).Extra("id_token").(string)
}
