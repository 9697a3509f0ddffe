package session

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func fakeJWT(exp time.Time) string {
	b := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	return b(`{"alg":"RS256"}`) + "." + b(fmt.Sprintf(`{"iss":"https://ci","sub":"repo:octo/app:ref:refs/heads/main","exp":%d}`, exp.Unix())) + ".sig"
}

func TestPresentedTokenStandsInForTheLoginAndIsReadAfreshFromItsFile(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	path := filepath.Join(t.TempDir(), "token")
	first, second := fakeJWT(now.Add(5*time.Minute)), fakeJWT(now.Add(10*time.Minute))
	if err := os.WriteFile(path, []byte(first+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &Session{Server: "https://jit", Cache: Presented(nil, FileTokenSource(path)), Now: func() time.Time { return now }}
	if tok, err := s.IDToken(context.Background()); err != nil || tok != first {
		t.Fatalf("IDToken = %q, %v", tok, err)
	}
	// The kubelet (or a sidecar) rotates the file: the next call reads it.
	if err := os.WriteFile(path, []byte(second), 0o600); err != nil {
		t.Fatal(err)
	}
	if tok, _ := s.IDToken(context.Background()); tok != second {
		t.Fatal("the rotated token was not read")
	}
	// Once it has expired it is a login-required error, never a refresh.
	s.Now = func() time.Time { return now.Add(time.Hour) }
	if _, err := s.IDToken(context.Background()); !errors.Is(err, ErrLoginRequired) {
		t.Fatalf("expired presented token: %v", err)
	}
}

func TestPresentedFromEnvPrefersTheVariableOverTheFile(t *testing.T) {
	env := map[string]string{EnvIDToken: " tok ", EnvIDTokenFile: "/nonexistent"}
	src, err := PresentedFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if tok, _ := src(); tok != "tok" {
		t.Fatalf("token %q", tok)
	}
	if _, err := PresentedFromEnv(func(string) string { return "" }); !errors.Is(err, ErrNoPresentedToken) {
		t.Fatalf("no variables: %v", err)
	}
	if _, err := PresentedTokens("not-a-jwt"); err == nil {
		t.Fatal("a non-JWT was accepted")
	}
}
