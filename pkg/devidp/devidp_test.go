package devidp_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/jit-access/jit/pkg/devidp"
)

func start(t *testing.T, opts devidp.Options) *devidp.Provider {
	t.Helper()
	p, err := devidp.Start(t.Context(), opts)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return p
}

type idClaims struct {
	Subject       string   `json:"sub"`
	Email         string   `json:"email"`
	EmailVerified bool     `json:"email_verified"`
	Name          string   `json:"name"`
	Username      string   `json:"preferred_username"`
	Groups        []string `json:"groups"`
	IssuedAt      int64    `json:"iat"`
	Expiry        int64    `json:"exp"`
}

// deviceFlow runs the device grant with x/oauth2, the browser step in a
// goroutine, and returns the token or the polling error.
func deviceFlow(ctx context.Context, t *testing.T, p *devidp.Provider, cfg *oauth2.Config, username, password string, allow bool) (*oauth2.Token, error) {
	t.Helper()
	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		t.Fatalf("device auth: %v", err)
	}
	if da.Interval != 1 {
		t.Errorf("interval = %d, want 1", da.Interval)
	}
	completed := make(chan error, 1)
	go func() {
		completed <- p.CompleteDevice(ctx, da.VerificationURIComplete, username, password, allow)
	}()
	tok, err := cfg.DeviceAccessToken(ctx, da)
	if cerr := <-completed; cerr != nil {
		t.Fatalf("complete device: %v", cerr)
	}
	return tok, err
}

func verify(ctx context.Context, t *testing.T, verifier *oidc.IDTokenVerifier, tok *oauth2.Token) idClaims {
	t.Helper()
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		t.Fatalf("token has no id_token")
	}
	idt, err := verifier.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("verify id token: %v", err)
	}
	var c idClaims
	if err := idt.Claims(&c); err != nil {
		t.Fatalf("claims: %v", err)
	}
	return c
}

func TestDeviceFlowIssuesVerifiedIDTokenWithGroupsAndRefreshes(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	p := start(t, devidp.Options{IDTokenLifetime: 10 * time.Minute})

	discovered, err := oidc.NewProvider(ctx, p.Issuer())
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	if got, want := discovered.Endpoint(), p.Endpoint(); got.DeviceAuthURL != want.DeviceAuthURL || got.TokenURL != want.TokenURL {
		t.Fatalf("discovered endpoint %+v, Endpoint() %+v", got, want)
	}
	if !strings.HasPrefix(p.Issuer(), "http://127.0.0.1:") {
		t.Errorf("issuer %q is not loopback", p.Issuer())
	}
	verifier := discovered.Verifier(&oidc.Config{ClientID: p.ClientID()})
	cfg := p.OAuth2Config()

	tok, err := deviceFlow(ctx, t, p, cfg, "bob", "bob-password", true)
	if err != nil {
		t.Fatalf("device access token: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("offline_access gave no refresh token")
	}
	c := verify(ctx, t, verifier, tok)
	bob, _ := p.User("bob")
	if c.Subject != bob.ID || c.Subject != devidp.SubjectFor("bob") || c.Subject == "bob" {
		t.Errorf("sub = %q, want the stable id %q", c.Subject, bob.ID)
	}
	if c.Email != "bob@example.com" || !c.EmailVerified || c.Name != "Bob Brown" || c.Username != "bob" {
		t.Errorf("claims = %+v", c)
	}
	if !slices.Equal(c.Groups, []string{"developers", "approvers"}) {
		t.Errorf("groups = %v", c.Groups)
	}
	if got := c.Expiry - c.IssuedAt; got != 600 {
		t.Errorf("id token lifetime = %ds, want 600", got)
	}
	if life := time.Until(tok.Expiry); life < 50*time.Minute {
		t.Errorf("access token expires in %s, want about 1h", life)
	}

	refreshed, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	rc := verify(ctx, t, verifier, refreshed)
	if rc.Subject != c.Subject || !slices.Equal(rc.Groups, c.Groups) || rc.Email != c.Email {
		t.Errorf("refreshed claims = %+v, want those of %+v", rc, c)
	}
	if refreshed.RefreshToken == "" || refreshed.RefreshToken == tok.RefreshToken {
		t.Errorf("refresh token was not rotated")
	}
	_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Errorf("reusing a rotated refresh token: err = %v, want a token endpoint error", err)
	}
}

func TestDeniedDeviceFlowEndsWithAccessDenied(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	p := start(t, devidp.Options{})

	_, err := deviceFlow(ctx, t, p, p.OAuth2Config(), "alice", "alice-password", false)
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "access_denied" {
		t.Fatalf("err = %v, want access_denied", err)
	}
}

func TestWrongPasswordIsRefusedAndTheCodeStaysUsable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	p := start(t, devidp.Options{})
	cfg := p.OAuth2Config()

	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		t.Fatalf("device auth: %v", err)
	}
	err = p.CompleteDevice(ctx, da.VerificationURIComplete, "carol", "not-carols-password", true)
	if !errors.Is(err, devidp.ErrBadCredentials) {
		t.Fatalf("wrong password: err = %v, want ErrBadCredentials", err)
	}
	err = p.CompleteDevice(ctx, da.VerificationURIComplete, "mallory", "carol-password", true)
	if !errors.Is(err, devidp.ErrBadCredentials) {
		t.Fatalf("unknown user: err = %v, want ErrBadCredentials", err)
	}
	if err := p.CompleteDevice(ctx, da.VerificationURIComplete, "carol", "carol-password", true); err != nil {
		t.Fatalf("right password after a wrong one: %v", err)
	}
	if err := p.CompleteDevice(ctx, da.VerificationURIComplete, "alice", "alice-password", true); err == nil {
		t.Fatal("a code already allowed was allowed again")
	}
	tok, err := cfg.DeviceAccessToken(ctx, da)
	if err != nil {
		t.Fatalf("device access token: %v", err)
	}
	if tok.Extra("id_token") == nil {
		t.Fatal("no id_token")
	}
	// The device code is single use.
	if _, err := cfg.DeviceAccessToken(ctx, da); err == nil {
		t.Fatal("device code was redeemed twice")
	}
}

func TestCompleteDeviceRefusesForeignVerificationURI(t *testing.T) {
	t.Parallel()
	p := start(t, devidp.Options{})
	err := p.CompleteDevice(t.Context(), "http://127.0.0.1:1/device?user_code=ABCD", "alice", "alice-password", true)
	if err == nil || !strings.Contains(err.Error(), "does not belong") {
		t.Fatalf("err = %v, want a refusal", err)
	}
}

func TestSignInPageListsDemoUsers(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	p := start(t, devidp.Options{})
	da, err := p.OAuth2Config().DeviceAuth(ctx)
	if err != nil {
		t.Fatalf("device auth: %v", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, da.VerificationURIComplete, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("get sign-in page: %v", err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %s", resp.Status)
	}
	for _, u := range devidp.DefaultUsers() {
		for _, want := range []string{"Sign in as " + u.Username, u.Password} {
			if !strings.Contains(string(page), want) {
				t.Errorf("sign-in page lacks %q", want)
			}
		}
	}
	if !strings.Contains(string(page), da.UserCode) {
		t.Errorf("sign-in page lacks the user code %s", da.UserCode)
	}
}

func TestStartRefusesNonLoopbackAddress(t *testing.T) {
	t.Parallel()
	p, err := devidp.Start(t.Context(), devidp.Options{Addr: "0.0.0.0:0"})
	if err == nil {
		_ = p.Close()
		t.Fatal("started on all interfaces")
	}
}

func TestStartRefusesDuplicateUsers(t *testing.T) {
	t.Parallel()
	u := devidp.User{Username: "dave", Password: "pw"}
	if _, err := devidp.Start(t.Context(), devidp.Options{Users: []devidp.User{u, u}}); err == nil {
		t.Fatal("accepted duplicate users")
	}
}

func TestCustomUsersAndClientID(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	p := start(t, devidp.Options{
		ClientID: "other-cli",
		Users:    []devidp.User{{ID: "00u-dave", Username: "dave", Password: "pw", Email: "dave@example.com", Name: "Dave", Groups: nil}},
	})
	discovered, err := oidc.NewProvider(ctx, p.Issuer())
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	tok, err := deviceFlow(ctx, t, p, p.OAuth2Config(), "dave", "pw", true)
	if err != nil {
		t.Fatalf("device access token: %v", err)
	}
	c := verify(ctx, t, discovered.Verifier(&oidc.Config{ClientID: "other-cli"}), tok)
	if c.Subject != "00u-dave" || c.Name != "Dave" || c.Groups == nil || len(c.Groups) != 0 {
		t.Errorf("claims = %+v, want sub 00u-dave, name Dave, groups []", c)
	}
}
