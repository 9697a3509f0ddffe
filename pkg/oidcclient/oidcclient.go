// Package oidcclient logs the CLI in at the OpenID Connect provider with the
// device authorization grant (RFC 8628) and renews the ID token with the
// refresh token. The protocol work is golang.org/x/oauth2's (including
// polling with interval and slow_down) and coreos/go-oidc's discovery; this
// package maps the outcomes to errors a person can act on.
package oidcclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/jit-access/jit/pkg/secureurl"
)

// DefaultScopes are requested when Client.Scopes is empty: an ID token with
// email, name and groups, and a refresh token.
func DefaultScopes() []string {
	return []string{oidc.ScopeOpenID, "email", "profile", "groups", oidc.ScopeOfflineAccess}
}

// Errors a caller turns into messages, hints and exit codes.
var (
	// ErrAccessDenied: the user (or the IdP) refused the device sign-in.
	ErrAccessDenied = errors.New("the sign-in was denied at the identity provider")
	// ErrExpired: the user code ran out before the user approved it.
	ErrExpired = errors.New("the code expired; run jit login again")
	// ErrLoginRequired: the refresh token is no longer accepted (expired,
	// revoked or rotated away); only a new login helps.
	ErrLoginRequired = errors.New("the login has expired; run jit login")
	// ErrNoDeviceGrant: the provider does not advertise a device
	// authorization endpoint.
	ErrNoDeviceGrant = errors.New("the identity provider does not offer the device authorization grant")
)

// Client talks to one OIDC provider as one public (secretless) client.
type Client struct {
	// Issuer is the provider's issuer URL; its discovery document is at
	// Issuer + "/.well-known/openid-configuration".
	Issuer   string
	ClientID string
	// Scopes default to DefaultScopes().
	Scopes []string
	// HTTPClient makes every request; a client with a 30 s timeout when nil.
	HTTPClient *http.Client
	// Now is the clock for Valid; time.Now when nil.
	Now func() time.Time
}

// DeviceCode is what the user needs to approve the login in a browser. The
// device code itself stays inside Login.
type DeviceCode struct {
	UserCode        string
	VerificationURI string
	// VerificationURIComplete carries the user code; open it in the browser
	// when there is one. Empty if the provider does not give it.
	VerificationURIComplete string
	// Expiry is when the user code stops working.
	Expiry time.Time
	// Interval is the provider's polling interval.
	Interval time.Duration
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) httpContext(ctx context.Context) context.Context {
	// Redirects to plain http off loopback are refused like the issuer.
	return oidc.ClientContext(ctx, secureurl.Guard(c.HTTPClient, 30*time.Second))
}

func (c *Client) scopes() []string {
	if len(c.Scopes) > 0 {
		return c.Scopes
	}
	return DefaultScopes()
}

// Endpoint discovers the provider's device authorization and token
// endpoints. It fails with ErrNoDeviceGrant when there is no device
// authorization endpoint.
func (c *Client) Endpoint(ctx context.Context) (oauth2.Endpoint, error) {
	if c.Issuer == "" || c.ClientID == "" {
		return oauth2.Endpoint{}, errors.New("oidc client: issuer and client id are required")
	}
	// Device codes, refresh and ID tokens go to the issuer's endpoints:
	// https, or plain http only on loopback. Checked before any request.
	if _, err := secureurl.Check("OIDC issuer", c.Issuer); err != nil {
		return oauth2.Endpoint{}, err
	}
	p, err := oidc.NewProvider(c.httpContext(ctx), c.Issuer)
	if err != nil {
		return oauth2.Endpoint{}, fmt.Errorf("discover %s: %w", c.Issuer, err)
	}
	ep := p.Endpoint()
	if ep.TokenURL == "" {
		return oauth2.Endpoint{}, fmt.Errorf("discover %s: no token endpoint", c.Issuer)
	}
	for _, e := range [][2]string{{"OIDC token endpoint", ep.TokenURL}, {"OIDC device authorization endpoint", ep.DeviceAuthURL}} {
		if e[1] == "" {
			continue
		}
		if _, err := secureurl.Check(e[0], e[1]); err != nil {
			return oauth2.Endpoint{}, fmt.Errorf("discover %s: %w", c.Issuer, err)
		}
	}
	// A public client has no secret; send client_id in the form.
	ep.AuthStyle = oauth2.AuthStyleInParams
	return ep, nil
}

func (c *Client) config(ctx context.Context) (*oauth2.Config, error) {
	ep, err := c.Endpoint(ctx)
	if err != nil {
		return nil, err
	}
	return &oauth2.Config{ClientID: c.ClientID, Endpoint: ep, Scopes: c.scopes()}, nil
}

// Login runs the device grant: it asks for a device code, hands the user
// code and URLs to prompt (which prints them to stderr and may open a
// browser), then polls the token endpoint at the provider's interval,
// slowing down by 5 s whenever told to, until the user approves
// (tokens), denies (ErrAccessDenied), lets the code expire (ErrExpired),
// or ctx ends (ctx's error).
func (c *Client) Login(ctx context.Context, prompt func(DeviceCode) error) (*Tokens, error) {
	cfg, err := c.config(ctx)
	if err != nil {
		return nil, err
	}
	if cfg.Endpoint.DeviceAuthURL == "" {
		return nil, fmt.Errorf("%w (%s advertises no device_authorization_endpoint)", ErrNoDeviceGrant, c.Issuer)
	}
	hctx := c.httpContext(ctx)

	da, err := cfg.DeviceAuth(hctx)
	if err != nil {
		return nil, fmt.Errorf("device authorization at %s: %w", c.Issuer, describe(err))
	}
	if da.DeviceCode == "" || da.UserCode == "" || da.VerificationURI == "" {
		return nil, fmt.Errorf("device authorization at %s: the response lacks device_code, user_code or verification_uri", c.Issuer)
	}
	interval := time.Duration(da.Interval) * time.Second
	if da.Interval <= 0 {
		interval = 5 * time.Second // RFC 8628 §3.2 default, as x/oauth2 uses
	}
	if err := prompt(DeviceCode{
		UserCode:                da.UserCode,
		VerificationURI:         da.VerificationURI,
		VerificationURIComplete: da.VerificationURIComplete,
		Expiry:                  da.Expiry,
		Interval:                interval,
	}); err != nil {
		return nil, err
	}

	// DeviceAccessToken waits interval before each poll, adds 5 s on
	// slow_down, keeps going on authorization_pending, and stops at the
	// code's expiry by giving ctx that deadline.
	tok, err := cfg.DeviceAccessToken(hctx, da)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("login: %w", ctx.Err())
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, ErrExpired
		}
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			switch re.ErrorCode {
			case "access_denied":
				if re.ErrorDescription != "" {
					return nil, fmt.Errorf("%w: %s", ErrAccessDenied, re.ErrorDescription)
				}
				return nil, ErrAccessDenied
			case "expired_token":
				return nil, ErrExpired
			}
		}
		return nil, fmt.Errorf("device token from %s: %w", c.Issuer, describe(err))
	}
	return tokensFrom(tok, "")
}

// Refresh trades refreshToken for new tokens. A refused refresh token
// (invalid_grant) is ErrLoginRequired. When the provider does not rotate
// the refresh token, the old one is kept in the result.
func (c *Client) Refresh(ctx context.Context, refreshToken string) (*Tokens, error) {
	if refreshToken == "" {
		return nil, fmt.Errorf("%w (no refresh token)", ErrLoginRequired)
	}
	cfg, err := c.config(ctx)
	if err != nil {
		return nil, err
	}
	tok, err := cfg.TokenSource(c.httpContext(ctx), &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
			return nil, fmt.Errorf("%w (the identity provider refused the refresh token: %s)", ErrLoginRequired, firstNonEmpty(re.ErrorDescription, re.ErrorCode))
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("refresh: %w", ctx.Err())
		}
		return nil, fmt.Errorf("refresh at %s: %w", c.Issuer, describe(err))
	}
	return tokensFrom(tok, refreshToken)
}

// Valid reports whether tokens hold an ID token good for skew more, by
// c.Now.
func (c *Client) Valid(tokens *Tokens, skew time.Duration) bool {
	return ValidIDToken(tokens, c.now(), skew)
}

func tokensFrom(tok *oauth2.Token, oldRefresh string) (*Tokens, error) {
	idToken, _ := tok.Extra("id_token").(string)
	if idToken == "" {
		return nil, errors.New("the identity provider returned no id_token (is the openid scope allowed?)")
	}
	claims, err := ParseClaims(idToken)
	if err != nil {
		return nil, fmt.Errorf("id token from the identity provider: %w", err)
	}
	t := &Tokens{
		IDToken:      idToken,
		AccessToken:  tok.AccessToken,
		RefreshToken: firstNonEmpty(tok.RefreshToken, oldRefresh),
		Expiry:       claims.Expiry,
		Claims:       claims,
	}
	return t, nil
}

// describe shortens an oauth2.RetrieveError to its RFC 6749 error code and
// description when it has them (its Error() quotes the whole body).
func describe(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode != "" {
		msg := re.ErrorCode
		if re.ErrorDescription != "" {
			msg += ": " + re.ErrorDescription
		}
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		return &ProviderError{Code: re.ErrorCode, Status: status, msg: msg}
	}
	return err
}

// ProviderError is an OAuth error response (RFC 6749 §5.2) jit has no
// special meaning for.
type ProviderError struct {
	Code   string // e.g. "invalid_client"
	Status int    // HTTP status
	msg    string
}

func (e *ProviderError) Error() string { return e.msg }

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
