package session

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/99designs/keyring"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/credcache"
)

var t0 = time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)

func newSession(t *testing.T, now *time.Time) (*Session, *credcache.Cache) {
	t.Helper()
	cache := credcache.New(keyring.NewArrayKeyring(nil), "array", credcache.Config{Now: func() time.Time { return *now }})
	return &Session{Server: "https://jit.example", Cache: cache, Now: func() time.Time { return *now }}, cache
}

func TestCachedServesFreshCredentialsWithoutTheServer(t *testing.T) {
	now := t0
	s, cache := newSession(t, &now)
	c := api.Credentials{AccessKeyID: "ASIA1", SecretAccessKey: "s", SessionToken: "t", RequestID: "req_1", Role: "prod",
		Expiration: t0.Add(30 * time.Minute), STSExpiration: t0.Add(30 * time.Minute), GrantEndsAt: t0.Add(30 * time.Minute)}
	if err := cache.PutCredentials(context.Background(), s.Server, "prod", c); err != nil {
		t.Fatal(err)
	}
	// No HTTP client or login exists: any network use would fail.
	got, err := s.Credentials(context.Background(), "prod")
	if err != nil || got.AccessKeyID != "ASIA1" {
		t.Fatalf("%v %v", got, err)
	}
	// Near the end of the grant the same credentials are served, not re-vended.
	now = t0.Add(29 * time.Minute)
	if got, err := s.Credentials(context.Background(), "prod"); err != nil || got.AccessKeyID != "ASIA1" {
		t.Fatalf("near the end: %v %v", got, err)
	}
}

func TestUsableWindow(t *testing.T) {
	s := &Session{RefreshWindow: 5 * time.Minute}
	c := api.Credentials{Expiration: t0.Add(10 * time.Minute), STSExpiration: t0.Add(10 * time.Minute), GrantEndsAt: t0.Add(2 * time.Hour)}
	if !s.usable(c, t0) {
		t.Fatal("10 minutes of STS left on a 2h grant: should still serve")
	}
	if s.usable(c, t0.Add(6*time.Minute)) {
		t.Fatal("4 minutes of STS left on a long grant: should re-vend")
	}
	c.GrantEndsAt = c.STSExpiration
	if !s.usable(c, t0.Add(9*time.Minute)) {
		t.Fatal("the grant ends with the STS session: nothing longer to vend, serve until the end")
	}
	if s.usable(c, t0.Add(10*time.Minute).Add(-MinRemaining)) {
		t.Fatal("served in its last seconds, which an SDK would see as already expired")
	}
}

func TestExpiredCredentialsAreWipedAndNeverServed(t *testing.T) {
	now := t0
	s, cache := newSession(t, &now)
	c := api.Credentials{AccessKeyID: "ASIA1", SecretAccessKey: "s", SessionToken: "t", RequestID: "req_1", Role: "prod",
		Expiration: t0.Add(time.Minute), STSExpiration: t0.Add(time.Minute), GrantEndsAt: t0.Add(time.Minute)}
	if err := cache.PutCredentials(context.Background(), s.Server, "prod", c); err != nil {
		t.Fatal(err)
	}
	now = t0.Add(time.Minute)
	if _, ok, err := s.Cached(context.Background(), "prod"); ok || err != nil {
		t.Fatalf("served expired credentials: %v %v", ok, err)
	}
	now = t0 // even if the clock went back, the item is gone
	if _, ok, _ := cache.GetCredentials(context.Background(), s.Server, "prod"); ok {
		t.Fatal("the expired item is still in the keyring")
	}
}

func TestIDTokenNeedsLoginWhenNothingIsCached(t *testing.T) {
	now := t0
	s, _ := newSession(t, &now)
	if _, err := s.IDToken(context.Background()); !errors.Is(err, ErrLoginRequired) {
		t.Fatalf("err = %v", err)
	}
}

func TestIDTokenRefreshesSilentlyOnceExpired(t *testing.T) {
	now := t0
	s, cache := newSession(t, &now)
	ctx := context.Background()
	if err := cache.PutTokens(ctx, s.Server, Tokens{IDToken: "old", RefreshToken: "r1", Expiry: t0.Add(time.Hour), Issuer: "https://idp", ClientID: "jit-cli"}); err != nil {
		t.Fatal(err)
	}
	calls := 0
	s.Refresh = func(_ context.Context, issuer, clientID, rt string) (Tokens, error) {
		calls++
		if issuer != "https://idp" || clientID != "jit-cli" || rt != "r1" {
			t.Errorf("refresh with %s %s %s", issuer, clientID, rt)
		}
		return Tokens{IDToken: "new", Expiry: now.Add(time.Hour)}, nil
	}
	if tok, _ := s.IDToken(ctx); tok != "old" || calls != 0 {
		t.Fatalf("fresh token: %s, %d refreshes", tok, calls)
	}
	now = t0.Add(time.Hour)
	if tok, err := s.IDToken(ctx); tok != "new" || err != nil || calls != 1 {
		t.Fatalf("expired token: %s %v, %d refreshes", tok, err, calls)
	}
	stored, _, _ := cache.GetTokens(ctx, s.Server)
	if stored.RefreshToken != "r1" || stored.ClientID != "jit-cli" {
		t.Fatalf("kept %+v", stored)
	}
	s.Refresh = func(context.Context, string, string, string) (Tokens, error) {
		return Tokens{}, errors.New("invalid_grant")
	}
	now = t0.Add(3 * time.Hour)
	if _, err := s.IDToken(ctx); !errors.Is(err, ErrLoginRequired) {
		t.Fatalf("failed refresh: %v", err)
	}
}
