package testenv

import (
	"context"
	"fmt"
	"sync"
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
	tok, err := deviceToken(t.Context(), p, username, o)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return tok
}

// IDTokens logs every user in through the real device flow, all at once
// (each takes one polling interval), and returns their ID tokens by
// username.
func IDTokens(t testing.TB, p *devidp.Provider, usernames ...string) map[string]string {
	t.Helper()
	tokens := make(map[string]string, len(usernames))
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, len(usernames))
	for _, u := range usernames {
		wg.Go(func() {
			tok, err := deviceToken(t.Context(), p, u, DeviceTokenOptions{})
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			tokens[u] = tok.Extra("id_token").(string)
			mu.Unlock()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("testenv: %v", err)
	}
	return tokens
}

// deviceToken runs one device grant; it returns errors, so that it can run
// on many goroutines.
func deviceToken(ctx context.Context, p *devidp.Provider, username string, o DeviceTokenOptions) (*oauth2.Token, error) {
	user, ok := p.User(username)
	if !ok {
		return nil, fmt.Errorf("the OIDC provider has no user %q", username)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
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
		return nil, fmt.Errorf("device authorization at %s: %w", p.Issuer(), err)
	}
	completed := make(chan error, 1)
	go func() {
		completed <- p.CompleteDevice(ctx, da.VerificationURIComplete, user.Username, user.Password, true)
	}()
	tok, err := cfg.DeviceAccessToken(ctx, da)
	if cerr := <-completed; cerr != nil {
		return nil, fmt.Errorf("sign in as %s at the OIDC provider: %w", username, cerr)
	}
	if err != nil {
		return nil, fmt.Errorf("device token for %s: %w", username, err)
	}
	if raw, _ := tok.Extra("id_token").(string); raw == "" {
		return nil, fmt.Errorf("device token for %s has no id_token", username)
	}
	return tok, nil
}

// IDToken is the raw ID token of a device grant made with o.
func IDToken(t testing.TB, p *devidp.Provider, username string, o DeviceTokenOptions) string {
	t.Helper()
	return DeviceTokenWith(t, p, username, o).Extra("id_token").(string)
}
