package oidcclient

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/devidp"
)

func clientFor(p *devidp.Provider) *Client {
	return &Client{Issuer: p.Issuer(), ClientID: p.ClientID(), HTTPClient: &http.Client{Timeout: 30 * time.Second}}
}

// approveAs returns a prompt that records the device code and signs in at
// the provider as username in the background, allowing or denying; wait
// returns the sign-in's error.
func approveAs(t *testing.T, p *devidp.Provider, username string, allow bool) (prompt func(DeviceCode) error, wait func() error, seen *DeviceCode) {
	t.Helper()
	u, ok := p.User(username)
	if !ok {
		t.Fatalf("no user %s", username)
	}
	done := make(chan error, 1)
	seen = new(DeviceCode)
	prompt = func(dc DeviceCode) error {
		*seen = dc
		go func() {
			done <- p.CompleteDevice(context.Background(), dc.VerificationURIComplete, u.Username, u.Password, allow)
		}()
		return nil
	}
	return prompt, func() error { return <-done }, seen
}

func login(t *testing.T, p *devidp.Provider, username string) *Tokens {
	t.Helper()
	prompt, wait, _ := approveAs(t, p, username, true)
	tokens, err := clientFor(p).Login(t.Context(), prompt)
	if werr := wait(); werr != nil {
		t.Fatalf("sign in at the provider: %v", werr)
	}
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	return tokens
}

func TestLoginWithDeviceGrant(t *testing.T) {
	t.Parallel()
	p := testenv.OIDC(t)
	prompt, wait, seen := approveAs(t, p, "bob", true)
	c := clientFor(p)
	tokens, err := c.Login(t.Context(), prompt)
	if werr := wait(); werr != nil {
		t.Fatalf("sign in: %v", werr)
	}
	if err != nil {
		t.Fatalf("Login: %v", err)
	}

	if seen.UserCode == "" || seen.VerificationURI == "" || seen.VerificationURIComplete == "" || seen.Interval <= 0 || seen.Expiry.IsZero() {
		t.Errorf("prompt got an incomplete device code: %+v", *seen)
	}
	bob, _ := p.User("bob")
	if tokens.Claims.Subject != bob.ID || tokens.Claims.Email != "bob@example.com" || tokens.Claims.Issuer != p.Issuer() {
		t.Errorf("claims = %+v, want bob's", tokens.Claims)
	}
	if !slices.Equal(tokens.Claims.Groups, []string{"developers", "approvers"}) {
		t.Errorf("groups = %v", tokens.Claims.Groups)
	}
	if tokens.RefreshToken == "" || tokens.AccessToken == "" {
		t.Error("login gave no refresh or access token (offline_access requested)")
	}
	if !tokens.Expiry.Equal(tokens.Claims.Expiry) || !c.Valid(tokens, time.Minute) {
		t.Errorf("expiry %s: the fresh ID token should be valid", tokens.Expiry)
	}

	// The ID token is a real one: it verifies against the provider's keys,
	// as the server will verify it.
	ctx := oidc.ClientContext(t.Context(), c.HTTPClient)
	provider, err := oidc.NewProvider(ctx, p.Issuer())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := provider.Verifier(&oidc.Config{ClientID: p.ClientID()}).Verify(ctx, tokens.IDToken); err != nil {
		t.Errorf("the ID token does not verify: %v", err)
	}
}

func TestRefresh(t *testing.T) {
	t.Parallel()
	p := testenv.OIDC(t)
	first := login(t, p, "alice")
	c := clientFor(p)

	second, err := c.Refresh(t.Context(), first.RefreshToken)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if second.IDToken == "" || second.IDToken == first.IDToken {
		t.Error("refresh did not give a new ID token")
	}
	if second.Claims.Subject != first.Claims.Subject || second.Claims.Email != "alice@example.com" {
		t.Errorf("refreshed claims = %+v, want alice's", second.Claims)
	}
	if second.RefreshToken == "" {
		t.Error("refresh lost the refresh token")
	}
	if !c.Valid(second, time.Minute) {
		t.Error("refreshed ID token is not valid")
	}
}

func TestRefreshRefusedIsLoginRequired(t *testing.T) {
	t.Parallel()
	p := testenv.OIDC(t)
	c := clientFor(p)
	for _, rt := range []string{"not-a-refresh-token", ""} {
		if _, err := c.Refresh(t.Context(), rt); !errors.Is(err, ErrLoginRequired) {
			t.Errorf("Refresh(%q) = %v, want ErrLoginRequired", rt, err)
		}
	}
}

func TestLoginDenied(t *testing.T) {
	t.Parallel()
	p := testenv.OIDC(t)
	prompt, wait, _ := approveAs(t, p, "carol", false)
	_, err := clientFor(p).Login(t.Context(), prompt)
	if werr := wait(); werr != nil {
		t.Fatalf("deny at the provider: %v", werr)
	}
	if !errors.Is(err, ErrAccessDenied) {
		t.Fatalf("Login = %v, want ErrAccessDenied", err)
	}
	t.Logf("denied: %v", err)
}

func TestLoginCodeExpires(t *testing.T) {
	t.Parallel()
	p, err := devidp.Start(t.Context(), devidp.Options{DeviceCodeLifetime: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	// Nobody approves.
	_, err = clientFor(p).Login(t.Context(), func(DeviceCode) error { return nil })
	if !errors.Is(err, ErrExpired) {
		t.Fatalf("Login = %v, want ErrExpired", err)
	}
	if err.Error() != "the code expired; run jit login again" {
		t.Errorf("message = %q", err)
	}
}

func TestLoginStopsWhenContextEnds(t *testing.T) {
	t.Parallel()
	p := testenv.OIDC(t)
	ctx, cancel := context.WithCancel(t.Context())
	// The prompt cancels at once (a user pressing Ctrl-C); polling must
	// end with the context's error rather than run until the code expires
	// (5 minutes, far past this test's patience).
	_, err := clientFor(p).Login(ctx, func(DeviceCode) error { cancel(); return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Login = %v, want context.Canceled", err)
	}
	if errors.Is(err, ErrExpired) {
		t.Error("a cancelled login must not look like an expired code")
	}
}

func TestLoginPromptErrorStops(t *testing.T) {
	t.Parallel()
	p := testenv.OIDC(t)
	boom := errors.New("stderr closed")
	if _, err := clientFor(p).Login(t.Context(), func(DeviceCode) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Login = %v, want the prompt's error", err)
	}
}

func TestLoginUnknownClient(t *testing.T) {
	t.Parallel()
	p := testenv.OIDC(t)
	c := clientFor(p)
	c.ClientID = "not-registered"
	_, err := c.Login(t.Context(), func(DeviceCode) error { t.Error("prompt called"); return nil })
	var pe *ProviderError
	if !errors.As(err, &pe) {
		t.Fatalf("Login = %v, want a *ProviderError", err)
	}
	t.Logf("unknown client: %v", err)
}
