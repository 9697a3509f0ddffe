package devidp_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/jit-access/jit/pkg/devidp"
)

var errStop = errors.New("stopped at the redirect URI")

// authorize runs the browser half of the code flow over plain HTTP: it
// follows authURL to the sign-in form, signs in, and returns the redirect
// back to the client (which nobody serves here).
func authorize(ctx context.Context, t *testing.T, authURL, username, password string) (*url.URL, int) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	var landed *url.URL
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if r.URL.Path == "/approve/callback" {
			landed = r.URL
			return errStop
		}
		return nil
	}}
	get := func(u string) *http.Response {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		return resp
	}
	resp := get(authURL)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/login" || !strings.Contains(string(body), `name="password"`) {
		t.Fatalf("authorize landed on %s (HTTP %d), not the sign-in form: %s", resp.Request.URL, resp.StatusCode, body)
	}
	id := resp.Request.URL.Query().Get("authRequestID")
	form := url.Values{"authRequestID": {id}, "username": {username}, "password": {password}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, resp.Request.URL.Scheme+"://"+resp.Request.URL.Host+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil && !errors.Is(err, errStop) {
		t.Fatalf("sign in: %v", err)
	}
	code := 0
	if resp != nil {
		code = resp.StatusCode
		resp.Body.Close()
	}
	return landed, code
}

func TestCodeFlowWithPKCEIssuesIDTokenForTheSameAudience(t *testing.T) {
	ctx := t.Context()
	p := start(t, devidp.Options{})
	cfg := p.OAuth2Config()
	cfg.Scopes = []string{oidc.ScopeOpenID, "profile", "email"}
	cfg.RedirectURL = "http://127.0.0.1:45678/approve/callback" // any loopback port
	verifier := oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier),
		oidc.Nonce("nonce-1"), oauth2.SetAuthURLParam("prompt", "login"), oauth2.SetAuthURLParam("max_age", "900"))
	landed, _ := authorize(ctx, t, authURL, "bob", "bob-password")
	if landed == nil || landed.Query().Get("state") != "state-1" || landed.Query().Get("code") == "" {
		t.Fatalf("no code back at the redirect URI: %v", landed)
	}
	code := landed.Query().Get("code")

	// Without the verifier, the public client's code is refused.
	if _, err := cfg.Exchange(ctx, code); err == nil {
		t.Fatal("code exchanged without a PKCE verifier")
	}
	// A wrong verifier too.
	if _, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
		t.Fatal("code exchanged with another PKCE verifier")
	}
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange with verifier: %v", err)
	}
	provider, err := oidc.NewProvider(ctx, p.Issuer())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: p.ClientID()}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	var c struct {
		idClaims
		Nonce    string `json:"nonce"`
		AuthTime int64  `json:"auth_time"`
	}
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	bob, _ := p.User("bob")
	if c.Subject != bob.ID || c.Email != "bob@example.com" || !slices.Contains(c.Groups, "approvers") {
		t.Errorf("claims = %+v", c)
	}
	if c.Nonce != "nonce-1" {
		t.Errorf("nonce = %q, want nonce-1", c.Nonce)
	}
	if age := time.Since(time.Unix(c.AuthTime, 0)); age < -time.Minute || age > time.Minute {
		t.Errorf("auth_time %d is not the sign-in just now", c.AuthTime)
	}
}

func TestCodeFlowRefusesWrongPasswordAndForeignRedirect(t *testing.T) {
	ctx := t.Context()
	p := start(t, devidp.Options{})
	cfg := p.OAuth2Config()
	cfg.RedirectURL = "http://127.0.0.1:45678/approve/callback"
	verifier := oauth2.GenerateVerifier()
	landed, status := authorize(ctx, t, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), "bob", "wrong")
	if landed != nil || status != http.StatusUnauthorized {
		t.Errorf("wrong password: landed %v, HTTP %d", landed, status)
	}

	cfg.RedirectURL = "https://evil.example/approve/callback"
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), nil)
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); strings.Contains(loc, "evil.example") {
		t.Errorf("authorize redirected to an unregistered redirect URI: %s", loc)
	}
}
