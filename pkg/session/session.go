// Package session is the CLI's use of one jit server: a valid ID token from
// the keyring (refreshed silently, never by prompting), the API client built
// on it, and credentials for a role served from the keyring cache or vended
// again while the grant lives. It is shared by every command that needs AWS
// credentials, credential-process above all, so its cached path does one
// keyring read and no network call.
package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/apiclient"
	"github.com/jit-access/jit/pkg/credcache"
	"github.com/jit-access/jit/pkg/freshness"
	"github.com/jit-access/jit/pkg/oidcclient"
)

// Tokens are the OIDC tokens kept for a server.
type Tokens = credcache.Tokens

// Cache is what the session needs of the keyring cache.
type Cache interface {
	GetCredentials(ctx context.Context, server, role string) (api.Credentials, bool, error)
	PutCredentials(ctx context.Context, server, role string, c api.Credentials) error
	DeleteCredentials(ctx context.Context, server, role string) error
	GetTokens(ctx context.Context, server string) (Tokens, bool, error)
	PutTokens(ctx context.Context, server string, t Tokens) error
}

// Refresher trades a refresh token for new tokens at the issuer.
type Refresher func(ctx context.Context, issuer, clientID, refreshToken string) (Tokens, error)

// Locker takes a cross-process lock so that a burst of processes vends once.
type Locker func(ctx context.Context, name string, timeout time.Duration) (release func(), err error)

// Errors a caller turns into exit codes and hints.
var (
	// ErrLoginRequired: no tokens, or they expired and could not be refreshed.
	ErrLoginRequired = errors.New("not logged in")
	// ErrNoGrant: no active grant for the role.
	ErrNoGrant = errors.New("no active grant")
)

// NoGrantError says which role has no grant, so the message can name the
// exact command to run.
type NoGrantError struct{ Role string }

func (e *NoGrantError) Error() string {
	return fmt.Sprintf("no active grant for role %s", e.Role)
}
func (e *NoGrantError) Is(target error) bool { return target == ErrNoGrant }

// Session is one server's tokens, API and credentials.
type Session struct {
	Server     string
	Cache      Cache
	HTTPClient *http.Client
	Refresh    Refresher
	Lock       Locker
	Now        func() time.Time
	// TokenSkew is how close to its expiry an ID token is refreshed [60s].
	TokenSkew time.Duration
	// RefreshWindow: credentials whose STS expiry is this close are re-vended
	// when the grant outlives them [5m].
	RefreshWindow time.Duration
	// LockTimeout bounds the wait for another process's refresh [30s].
	LockTimeout time.Duration
}

func (s *Session) now() time.Time { return s.Now() }

// IDToken returns a valid ID token, refreshing it silently when needed.
func (s *Session) IDToken(ctx context.Context) (string, error) {
	t, ok, err := s.Cache.GetTokens(ctx, s.Server)
	if err != nil {
		return "", err
	}
	if !ok || t.IDToken == "" {
		return "", ErrLoginRequired
	}
	skew := s.TokenSkew
	if skew == 0 {
		skew = time.Minute
	}
	if s.now().Add(skew).Before(t.Expiry) {
		return t.IDToken, nil
	}
	if t.RefreshToken == "" || s.Refresh == nil {
		return "", fmt.Errorf("%w: the login expired at %s", ErrLoginRequired, t.Expiry.Local().Format(time.Kitchen))
	}
	release, err := s.lock(ctx, "tokens")
	if err != nil {
		return "", err
	}
	defer release()
	// Another process may have refreshed while we waited.
	if cur, ok, err := s.Cache.GetTokens(ctx, s.Server); err == nil && ok && s.now().Add(skew).Before(cur.Expiry) {
		return cur.IDToken, nil
	}
	nt, err := s.Refresh(ctx, t.Issuer, t.ClientID, t.RefreshToken)
	if err != nil {
		return "", fmt.Errorf("%w: refresh failed: %v", ErrLoginRequired, err)
	}
	if nt.RefreshToken == "" {
		nt.RefreshToken = t.RefreshToken
	}
	nt.Issuer, nt.ClientID = t.Issuer, t.ClientID
	if err := s.Cache.PutTokens(ctx, s.Server, nt); err != nil {
		return "", err
	}
	return nt.IDToken, nil
}

// API returns the server's API client, authenticated with IDToken.
func (s *Session) API() (*apiclient.Client, error) {
	return apiclient.New(s.Server, s.HTTPClient, s.IDToken)
}

func (s *Session) lock(ctx context.Context, name string) (func(), error) {
	if s.Lock == nil {
		return func() {}, nil
	}
	timeout := s.LockTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	return s.Lock(ctx, name, timeout)
}

// MinRemaining is the least lifetime credentials must have to be served
// (see freshness.MinRemaining).
const MinRemaining = freshness.MinRemaining

// usable reports whether cached credentials may be served at now: the rule
// is freshness.Servable, shared with the slim credential_process.
func (s *Session) usable(c api.Credentials, now time.Time) bool {
	return freshness.Servable(c, now, s.RefreshWindow)
}

// Cached returns credentials for role from the keyring only: no network.
// Unusable items are wiped.
func (s *Session) Cached(ctx context.Context, role string) (api.Credentials, bool, error) {
	c, ok, err := s.Cache.GetCredentials(ctx, s.Server, role)
	if err != nil || !ok {
		return api.Credentials{}, false, err
	}
	if s.usable(c, s.now()) {
		return c, true, nil
	}
	if freshness.Ended(c, s.now()) {
		if err := s.Cache.DeleteCredentials(ctx, s.Server, role); err != nil {
			return api.Credentials{}, false, err
		}
	}
	return api.Credentials{}, false, nil
}

// Credentials returns usable credentials for role: from the keyring when
// fresh, else vended again from the server while a grant for role lives.
// Parallel callers (processes) vend once: the first holds a lock, the others
// wait and then read what it stored.
func (s *Session) Credentials(ctx context.Context, role string) (api.Credentials, error) {
	// A read error here may be another process's half-written item (the
	// file backend writes in place): the locked path reads it again.
	if c, ok, err := s.Cached(ctx, role); err == nil && ok {
		return c, nil
	}
	release, err := s.lock(ctx, "creds-"+role)
	if err != nil {
		return api.Credentials{}, err
	}
	defer release()
	c, ok, err := s.Cached(ctx, role)
	var timeout *credcache.TimeoutError
	switch {
	case err == nil && ok:
		return c, nil
	case errors.As(err, &timeout):
		return api.Credentials{}, err
	case err != nil:
		// Unreadable under the lock, so nobody is writing it: drop it and
		// vend afresh rather than fail on every call.
		if derr := s.Cache.DeleteCredentials(ctx, s.Server, role); derr != nil {
			return api.Credentials{}, fmt.Errorf("%w (and removing it failed: %v)", err, derr)
		}
	}
	// Cached wiped an expired item; what is left is due for a refresh but
	// still valid, and is served if the server cannot be reached.
	prev, hadPrev, _ := s.Cache.GetCredentials(ctx, s.Server, role)
	client, err := s.API()
	if err != nil {
		return api.Credentials{}, err
	}
	grantID := ""
	if hadPrev {
		grantID = prev.RequestID
	}
	c, err = s.vend(ctx, client, role, grantID)
	if err != nil {
		var unreachable *apiclient.UnreachableError
		if hadPrev && errors.As(err, &unreachable) && !freshness.Ended(prev, s.now()) {
			return prev, nil
		}
		if hadPrev && errors.Is(err, ErrNoGrant) {
			_ = s.Cache.DeleteCredentials(ctx, s.Server, role) // revoked or ended: wipe
		}
		return api.Credentials{}, err
	}
	if !freshness.Fresh(c, s.now(), MinRemaining) {
		_ = s.Cache.DeleteCredentials(ctx, s.Server, role)
		return api.Credentials{}, &NoGrantError{Role: role} // it ends within seconds
	}
	if err := s.Cache.PutCredentials(ctx, s.Server, role, c); err != nil {
		return api.Credentials{}, err
	}
	return c, nil
}

// vend fetches credentials for the grant id, or else for the caller's live
// grant of role with the latest end.
func (s *Session) vend(ctx context.Context, client *apiclient.Client, role, id string) (api.Credentials, error) {
	if id != "" {
		c, err := client.Credentials(ctx, id)
		if err == nil {
			return *c, nil
		}
		if !apiclient.IsCode(err, api.CodeConflict) && !apiclient.IsCode(err, api.CodeNotFound) {
			return api.Credentials{}, err
		}
	}
	g, err := s.ActiveGrant(ctx, client, role)
	if err != nil {
		return api.Credentials{}, err
	}
	c, err := client.Credentials(ctx, g.ID)
	if err != nil {
		if apiclient.IsCode(err, api.CodeConflict) {
			return api.Credentials{}, &NoGrantError{Role: role}
		}
		return api.Credentials{}, err
	}
	return *c, nil
}

// ActiveGrant finds the caller's live grant for role with the latest end.
func (s *Session) ActiveGrant(ctx context.Context, client *apiclient.Client, role string) (*api.Request, error) {
	now := s.now()
	var best *api.Request
	cursor := ""
	for {
		page, err := client.List(ctx, apiclient.ScopeMine, []api.State{api.StateApproved, api.StateActive}, cursor, 200)
		if err != nil {
			return nil, err
		}
		for i := range page.Requests {
			r := &page.Requests[i]
			if r.Role == role && r.Remaining(now) > 0 && (best == nil || r.EndsAt.After(best.EndsAt)) {
				best = r
			}
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if best == nil {
		return nil, &NoGrantError{Role: role}
	}
	return best, nil
}

// FromOIDC turns a login's or a refresh's tokens into the cached item,
// remembering where they came from so a later refresh needs no discovery.
func FromOIDC(t *oidcclient.Tokens, issuer, clientID string) Tokens {
	return Tokens{
		IDToken: t.IDToken, RefreshToken: t.RefreshToken, AccessToken: t.AccessToken, Expiry: t.Expiry,
		Issuer: issuer, ClientID: clientID, Subject: t.Claims.Subject, Email: t.Claims.Email,
	}
}

// OIDCRefresher refreshes at the issuer with golang.org/x/oauth2.
func OIDCRefresher(hc *http.Client, now func() time.Time) Refresher {
	return func(ctx context.Context, issuer, clientID, refreshToken string) (Tokens, error) {
		c := &oidcclient.Client{Issuer: issuer, ClientID: clientID, HTTPClient: hc, Now: now}
		t, err := c.Refresh(ctx, refreshToken)
		if err != nil {
			return Tokens{}, err
		}
		return FromOIDC(t, issuer, clientID), nil
	}
}
