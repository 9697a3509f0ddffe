package oidcclient

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseClaims(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tok := unsignedJWT(t, map[string]any{
		"iss": "https://idp.example.com", "sub": "u-1", "aud": "jit-cli", "email": "a@example.com",
		"name": "A", "groups": []string{"dev", "ops"}, "exp": exp.Unix(), "iat": 1.5e9,
	})
	c, err := ParseClaims(tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuer != "https://idp.example.com" || c.Subject != "u-1" || c.Email != "a@example.com" || c.Name != "A" ||
		!slices.Equal(c.Audience, []string{"jit-cli"}) || !slices.Equal(c.Groups, []string{"dev", "ops"}) ||
		!c.Expiry.Equal(exp) || c.IssuedAt.Unix() != 1.5e9 {
		t.Errorf("claims = %+v", c)
	}

	bad := map[string]string{
		"two parts":     "a.b",
		"bad base64":    "a.!!!.c",
		"not json":      "a." + b64("nope") + ".c",
		"no sub":        unsignedJWT(t, map[string]any{"exp": 1}),
		"no exp":        unsignedJWT(t, map[string]any{"sub": "x"}),
		"exp string":    unsignedJWT(t, map[string]any{"sub": "x", "exp": "tomorrow"}),
		"groups object": unsignedJWT(t, map[string]any{"sub": "x", "exp": 1, "groups": map[string]any{"a": 1}}),
		"huge":          strings.Repeat("a", maxIDTokenLen+1),
	}
	for name, tok := range bad {
		if _, err := ParseClaims(tok); !errors.Is(err, ErrMalformedIDToken) {
			t.Errorf("%s: ParseClaims = %v, want ErrMalformedIDToken", name, err)
		}
	}
}

func TestValidIDToken(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tok := &Tokens{IDToken: "x", Expiry: now.Add(10 * time.Minute)}
	tests := []struct {
		tokens *Tokens
		skew   time.Duration
		want   bool
	}{
		{tok, 0, true},
		{tok, 5 * time.Minute, true},
		{tok, 10 * time.Minute, false},
		{&Tokens{IDToken: "x", Expiry: now}, 0, false},
		{&Tokens{Expiry: now.Add(time.Hour)}, 0, false},
		{&Tokens{IDToken: "x"}, 0, false},
		{nil, 0, false},
	}
	for i, tt := range tests {
		if got := ValidIDToken(tt.tokens, now, tt.skew); got != tt.want {
			t.Errorf("%d: ValidIDToken = %v, want %v", i, got, tt.want)
		}
	}
	c := &Client{Now: func() time.Time { return now.Add(11 * time.Minute) }}
	if c.Valid(tok, 0) {
		t.Error("Valid ignores the injected clock")
	}
}

func TestTokensNeverPrintSecrets(t *testing.T) {
	tok := Tokens{IDToken: "secret-id", AccessToken: "secret-access", RefreshToken: "secret-refresh",
		Claims: Claims{Subject: "u-1", Email: "a@example.com"}}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("login", "tokens", tok)
	for _, s := range []string{tok.String(), fmt.Sprintf("%v %+v %#v %s", tok, tok, tok, &tok), logged.String()} {
		if strings.Contains(s, "secret") {
			t.Errorf("a token leaked: %s", s)
		}
		if !strings.Contains(s, "a@example.com") {
			t.Errorf("output does not name the user: %s", s)
		}
	}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func FuzzParseClaims(f *testing.F) {
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4IiwiZXhwIjoxfQ.sig")
	f.Add("a.b.c")
	f.Add("..")
	f.Add("a.eyJzdWIiOiJ4IiwiZXhwIjoxZTMwMH0.c")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := ParseClaims(tok)
		if err == nil && (c.Subject == "" || c.Expiry.IsZero()) {
			t.Fatalf("accepted claims without sub or exp: %+v", c)
		}
		if err != nil && !errors.Is(err, ErrMalformedIDToken) {
			t.Fatalf("error not ErrMalformedIDToken: %v", err)
		}
	})
}
