// Package cacheitem is the format of the items jit's CLI keeps in the OS
// keyring: their versioned keys (jit/v1/creds/<server-hash>/<role>,
// jit/v1/tokens/<server-hash>) and the encoded credentials and OIDC tokens,
// decoded as untrusted input. It links no keyring library, so the slim
// credential path (pkg/credpath, pkg/keyread) and the full cache
// (pkg/credcache) read one format.
package cacheitem

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
	"unicode"

	"github.com/jit-access/jit/pkg/api"
)

// Keys are versioned so that a later jit can change the item format without
// misreading an old one: jit/v1/creds/<server-hash>/<role>, jit/v1/tokens/<server-hash>.
const (
	// KeyPrefix starts every jit item's key; CredsPrefix and TokensPrefix
	// start the credentials' and the tokens'.
	KeyPrefix    = "jit/"
	itemVersion  = 1
	CredsPrefix  = "jit/v1/creds/"
	TokensPrefix = "jit/v1/tokens/"
	// maxItemSize bounds what a decoder accepts; real items are a few KiB.
	maxItemSize = 64 << 10
	maxRoleLen  = 128
)

// ErrBadRole reports a role name that cannot be part of a cache key.
var ErrBadRole = errors.New("role name not usable as a cache key")

// ErrBadItem reports a cache item that cannot be decoded or does not belong
// under its key. Such items are deleted on touch.
var ErrBadItem = errors.New("bad cache item")

// ServerHash names a server in keys: the first 12 hex digits of the SHA-256
// of its URL without trailing slashes, so keys stay short and the URL is not
// spelled out in every key.
func ServerHash(server string) string {
	sum := sha256.Sum256([]byte(normalizeServer(server)))
	return hex.EncodeToString(sum[:])[:12]
}

func normalizeServer(server string) string { return strings.TrimRight(server, "/") }

// CredentialsKey is the keyring key of the credentials for (server, role).
func CredentialsKey(server, role string) (string, error) {
	if err := checkRole(role); err != nil {
		return "", err
	}
	return CredsPrefix + ServerHash(server) + "/" + role, nil
}

// TokensKey is the keyring key of the OIDC tokens for server.
func TokensKey(server string) string { return TokensPrefix + ServerHash(server) }

func checkRole(role string) error {
	if role == "" || len(role) > maxRoleLen || strings.ContainsAny(role, `/\`) || role == "." || role == ".." {
		return fmt.Errorf("%w: %q", ErrBadRole, role)
	}
	for _, r := range role {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == unicode.ReplacementChar {
			return fmt.Errorf("%w: %q", ErrBadRole, role)
		}
	}
	return nil
}

// credItem is the stored form of cached credentials.
type credItem struct {
	V           int             `json:"v"`
	Server      string          `json:"server"`
	Role        string          `json:"role"`
	Credentials api.Credentials `json:"credentials"`
}

// EncodeCredentials is the item stored for (server, role).
func EncodeCredentials(server, role string, c api.Credentials) ([]byte, error) {
	b, err := json.Marshal(credItem{V: itemVersion, Server: normalizeServer(server), Role: role, Credentials: c})
	if err != nil {
		return nil, fmt.Errorf("encode credentials for %s: %w", role, err)
	}
	return b, nil
}

// DecodeCredentials decodes untrusted bytes into credentials, checking that
// they are complete and, when server or role is given, that they belong
// there. Errors never quote the data.
func DecodeCredentials(data []byte, server, role string) (api.Credentials, error) {
	var it credItem
	if err := decodeItem(data, &it); err != nil {
		return api.Credentials{}, err
	}
	if it.V != itemVersion {
		return api.Credentials{}, fmt.Errorf("%w: version %d, want %d", ErrBadItem, it.V, itemVersion)
	}
	if server != "" && it.Server != normalizeServer(server) {
		return api.Credentials{}, fmt.Errorf("%w: stored for another server", ErrBadItem)
	}
	if role != "" && it.Role != role {
		return api.Credentials{}, fmt.Errorf("%w: stored for another role", ErrBadItem)
	}
	c := it.Credentials
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return api.Credentials{}, fmt.Errorf("%w: credentials incomplete", ErrBadItem)
	}
	if c.Expiration.IsZero() {
		return api.Credentials{}, fmt.Errorf("%w: credentials have no expiration", ErrBadItem)
	}
	return c, nil
}

func decodeItem(data []byte, v any) error {
	if len(data) == 0 {
		return fmt.Errorf("%w: empty", ErrBadItem)
	}
	if len(data) > maxItemSize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrBadItem, len(data), maxItemSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %s", ErrBadItem, describeJSONError(err))
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data", ErrBadItem)
	}
	return nil
}

// Tokens are the OIDC tokens from `jit login`. The cache stores them opaquely.
type Tokens struct {
	IDToken      string    `json:"id_token"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	AccessToken  string    `json:"access_token,omitempty"`
	Expiry       time.Time `json:"expiry"` // of the ID token
	Issuer       string    `json:"issuer"`
	ClientID     string    `json:"client_id,omitempty"`
	Subject      string    `json:"subject"`
	Email        string    `json:"email,omitempty"`
}

// String never shows a token.
func (t Tokens) String() string {
	return fmt.Sprintf("tokens{issuer=%s subject=%s email=%s expiry=%s refresh=%t}",
		t.Issuer, t.Subject, t.Email, t.Expiry.UTC().Format(time.RFC3339), t.RefreshToken != "")
}

// GoString redacts like String.
func (t Tokens) GoString() string { return t.String() }

// LogValue never logs a token.
func (t Tokens) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("issuer", t.Issuer),
		slog.String("subject", t.Subject),
		slog.String("email", t.Email),
		slog.Time("expiry", t.Expiry),
		slog.Bool("refresh", t.RefreshToken != ""),
	)
}

var _ slog.LogValuer = Tokens{}

type tokensItem struct {
	V      int    `json:"v"`
	Server string `json:"server"`
	Tokens Tokens `json:"tokens"`
}

// EncodeTokens is the login item stored for server.
func EncodeTokens(server string, t Tokens) ([]byte, error) {
	b, err := json.Marshal(tokensItem{V: itemVersion, Server: normalizeServer(server), Tokens: t})
	if err != nil {
		return nil, fmt.Errorf("encode login: %w", err)
	}
	return b, nil
}

// DecodeTokens decodes untrusted bytes into a login for server (any
// server when ""); errors never quote the data.
func DecodeTokens(data []byte, server string) (Tokens, error) {
	var it tokensItem
	if err := decodeItem(data, &it); err != nil {
		return Tokens{}, err
	}
	if it.V != itemVersion {
		return Tokens{}, fmt.Errorf("%w: version %d, want %d", ErrBadItem, it.V, itemVersion)
	}
	if server != "" && it.Server != normalizeServer(server) {
		return Tokens{}, fmt.Errorf("%w: stored for another server", ErrBadItem)
	}
	if it.Tokens.IDToken == "" && it.Tokens.RefreshToken == "" {
		return Tokens{}, fmt.Errorf("%w: no token", ErrBadItem)
	}
	return it.Tokens, nil
}

// describeJSONError says what is wrong without quoting any of the data
// (json's syntax errors quote the offending character).
func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q is a JSON %s, want %s", typ.Field, typ.Value, typ.Type)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "truncated JSON"
	}
	return "not a cache item"
}
