package oidcclient

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Tokens are what a login or a refresh yields. The ID token is the bearer
// jit's server verifies; the refresh token renews it without a prompt.
type Tokens struct {
	IDToken      string `json:"id_token"`
	AccessToken  string `json:"access_token,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	// Expiry is the ID token's expiry (its exp claim); it is when the server
	// stops accepting IDToken.
	Expiry time.Time `json:"expiry"`
	// Claims are read from the ID token for display only: they are not
	// verified here (the server verifies the token's signature).
	Claims Claims `json:"claims"`
}

// Claims are the ID token's claims jit shows to the user ("logged in as …").
// Unverified: never base a security decision on them.
type Claims struct {
	Issuer   string    `json:"iss"`
	Subject  string    `json:"sub"`
	Audience []string  `json:"aud,omitempty"`
	Email    string    `json:"email,omitempty"`
	Name     string    `json:"name,omitempty"`
	Groups   []string  `json:"groups,omitempty"`
	Expiry   time.Time `json:"exp"`
	IssuedAt time.Time `json:"iat,omitzero"`
}

// String names the user and the expiry, never a token.
func (t Tokens) String() string {
	return fmt.Sprintf("tokens{subject=%s email=%s expiry=%s refresh=%t}",
		t.Claims.Subject, t.Claims.Email, t.Expiry.UTC().Format(time.RFC3339), t.RefreshToken != "")
}

// GoString redacts like String, so %#v cannot print a token either.
func (t Tokens) GoString() string { return t.String() }

// LogValue never logs a token.
func (t Tokens) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("issuer", t.Claims.Issuer),
		slog.String("subject", t.Claims.Subject),
		slog.String("email", t.Claims.Email),
		slog.Time("expiry", t.Expiry),
		slog.Bool("refresh", t.RefreshToken != ""),
	)
}

var _ slog.LogValuer = Tokens{}

// ValidIDToken reports whether tokens hold an ID token that is still good
// skew from now (fresh means now+skew is before the expiry).
func ValidIDToken(tokens *Tokens, now time.Time, skew time.Duration) bool {
	return tokens != nil && tokens.IDToken != "" && !tokens.Expiry.IsZero() && now.Add(skew).Before(tokens.Expiry)
}

// ErrMalformedIDToken is returned for an ID token whose payload cannot be
// read as a JWT's JSON claims.
var ErrMalformedIDToken = errors.New("malformed id token")

// maxIDTokenLen bounds what ParseClaims decodes.
const maxIDTokenLen = 64 << 10

// ParseClaims reads a JWT's payload WITHOUT checking its signature, for
// display. It requires sub and exp.
func ParseClaims(idToken string) (Claims, error) {
	if len(idToken) > maxIDTokenLen {
		return Claims{}, fmt.Errorf("%w: %d bytes", ErrMalformedIDToken, len(idToken))
	}
	parts := strings.Split(idToken, ".")
	if len(parts) != 3 {
		return Claims{}, fmt.Errorf("%w: %d parts, want 3", ErrMalformedIDToken, len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return Claims{}, fmt.Errorf("%w: payload: %v", ErrMalformedIDToken, err)
	}
	var raw struct {
		Issuer   string          `json:"iss"`
		Subject  string          `json:"sub"`
		Audience json.RawMessage `json:"aud"`
		Email    string          `json:"email"`
		Name     string          `json:"name"`
		Groups   json.RawMessage `json:"groups"`
		Exp      json.Number     `json:"exp"`
		Iat      json.Number     `json:"iat"`
	}
	if err := json.Unmarshal(payload, &raw); err != nil {
		return Claims{}, fmt.Errorf("%w: claims: %v", ErrMalformedIDToken, err)
	}
	c := Claims{Issuer: raw.Issuer, Subject: raw.Subject, Email: raw.Email, Name: raw.Name}
	if c.Audience, err = stringOrList(raw.Audience); err != nil {
		return Claims{}, fmt.Errorf("%w: aud: %v", ErrMalformedIDToken, err)
	}
	if c.Groups, err = stringOrList(raw.Groups); err != nil {
		return Claims{}, fmt.Errorf("%w: groups: %v", ErrMalformedIDToken, err)
	}
	if c.Subject == "" {
		return Claims{}, fmt.Errorf("%w: no sub claim", ErrMalformedIDToken)
	}
	if c.Expiry, err = unixTime(raw.Exp); err != nil || c.Expiry.IsZero() {
		return Claims{}, fmt.Errorf("%w: exp claim missing or not a time", ErrMalformedIDToken)
	}
	if raw.Iat != "" {
		if c.IssuedAt, err = unixTime(raw.Iat); err != nil {
			return Claims{}, fmt.Errorf("%w: iat claim is not a time", ErrMalformedIDToken)
		}
	}
	return c, nil
}

// stringOrList accepts a JSON string or array of strings (aud, and some
// IdPs' groups, come either way).
func stringOrList(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, errors.New("neither a string nor a list of strings")
	}
	return list, nil
}

// unixTime reads a NumericDate (seconds, possibly fractional).
func unixTime(n json.Number) (time.Time, error) {
	if n == "" {
		return time.Time{}, nil
	}
	f, err := n.Float64()
	if err != nil || f < 0 || f > 1<<40 {
		return time.Time{}, errors.New("not a NumericDate")
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), nil
}
