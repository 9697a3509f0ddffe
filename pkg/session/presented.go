package session

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// A presented token is an ID token the caller already holds — a CI job's
// workload token (GitHub Actions, GitLab CI, a Kubernetes service account)
// — given to jit instead of a device-flow login: in JIT_ID_TOKEN, in the
// file JIT_ID_TOKEN_FILE names, or to `jit login --id-token-file` /
// `--id-token-env`. The server verifies it; the CLI only reads its expiry
// and subject to say when it runs out.

// Environment variables that present a token to every command.
const (
	EnvIDToken     = "JIT_ID_TOKEN"
	EnvIDTokenFile = "JIT_ID_TOKEN_FILE"
)

// ErrNoPresentedToken: neither variable is set.
var ErrNoPresentedToken = errors.New("no presented token")

// TokenSource returns the presented token each time it is asked, so a file
// that a sidecar or the kubelet rotates is read afresh.
type TokenSource func() (string, error)

// PresentedFromEnv is the token source JIT_ID_TOKEN or JIT_ID_TOKEN_FILE
// names, or ErrNoPresentedToken when neither is set.
func PresentedFromEnv(getenv func(string) string) (TokenSource, error) {
	if tok := strings.TrimSpace(getenv(EnvIDToken)); tok != "" {
		return func() (string, error) { return tok, nil }, nil
	}
	if path := getenv(EnvIDTokenFile); path != "" {
		return FileTokenSource(path), nil
	}
	return nil, ErrNoPresentedToken
}

// FileTokenSource reads the token from path on every call.
func FileTokenSource(path string) TokenSource {
	return func() (string, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("read the ID token: %w", err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return "", fmt.Errorf("read the ID token: %s is empty", path)
		}
		return tok, nil
	}
}

// PresentedTokens reads what the CLI needs of a token it was handed (not
// verified here: the server does that): its expiry, issuer and subject.
func PresentedTokens(raw string) (Tokens, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return Tokens{}, errors.New("the presented token is not a JWT (header.payload.signature)")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return Tokens{}, fmt.Errorf("the presented token's payload is not base64url: %w", err)
	}
	var c struct {
		Iss string  `json:"iss"`
		Sub string  `json:"sub"`
		Exp float64 `json:"exp"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return Tokens{}, fmt.Errorf("the presented token's payload is not JSON: %w", err)
	}
	if c.Exp == 0 {
		return Tokens{}, errors.New("the presented token has no exp (expiry) claim")
	}
	return Tokens{IDToken: raw, Issuer: c.Iss, Subject: c.Sub, Expiry: time.Unix(int64(c.Exp), 0)}, nil
}

// Presented is cache with its tokens replaced by the presented ones: every
// command of this process authenticates with src's token, which is never
// written to the keyring and never refreshed (a token that has expired is
// a login-required error: present a fresh one).
func Presented(cache Cache, src TokenSource) Cache {
	return &presentedCache{Cache: cache, src: src}
}

type presentedCache struct {
	Cache
	src TokenSource
}

func (p *presentedCache) GetTokens(context.Context, string) (Tokens, bool, error) {
	raw, err := p.src()
	if err != nil {
		return Tokens{}, false, err
	}
	t, err := PresentedTokens(raw)
	if err != nil {
		return Tokens{}, false, err
	}
	return t, true, nil
}

// PutTokens keeps nothing: the presented token is the caller's.
func (p *presentedCache) PutTokens(context.Context, string, Tokens) error { return nil }
