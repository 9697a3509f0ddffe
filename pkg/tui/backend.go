// Package tui is jit's interactive picker: the screens of `jit pick` (and of
// `jit` with no arguments on a terminal). It holds no access logic: every
// question goes to a Backend, and what the user chose to do with a live grant
// is handed back to the caller to run after the screen is gone.
package tui

import (
	"context"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/apiclient"
	"github.com/jit-access/jit/pkg/session"
)

// Backend is everything the picker asks of the jit server and the local
// cache. SessionBackend implements it over pkg/session and pkg/apiclient.
type Backend interface {
	// Roles lists the roles the user may request.
	Roles(ctx context.Context) ([]api.Role, error)
	// Mine lists the user's live grants and pending requests.
	Mine(ctx context.Context) ([]api.Request, error)
	// Request creates a request.
	Request(ctx context.Context, in api.CreateRequest) (*api.Request, error)
	// WaitChange long-polls once: it returns when the request's version
	// passes seen or the server's wait ends.
	WaitChange(ctx context.Context, id string, seen int64) (*api.Request, error)
	// Review lists the requests waiting for the user's decision.
	Review(ctx context.Context) ([]api.Request, error)
	// Approve and Deny decide what the screen showed at version seen.
	Approve(ctx context.Context, id string, seen int64, comment string) (*api.Request, error)
	Deny(ctx context.Context, id string, seen int64, reason string) (*api.Request, error)
	// Credentials fetches (and caches) credentials for a live grant of role.
	Credentials(ctx context.Context, role string) (api.Credentials, error)
}

// SessionBackend is the Backend of a logged-in session.
type SessionBackend struct {
	Session *session.Session
	// Poll is how long one long-poll may last on the server [30s].
	Poll time.Duration
}

var _ Backend = (*SessionBackend)(nil)

func (b *SessionBackend) client() (*apiclient.Client, error) { return b.Session.API() }

// Roles implements Backend.
func (b *SessionBackend) Roles(ctx context.Context) ([]api.Role, error) {
	c, err := b.client()
	if err != nil {
		return nil, err
	}
	return c.Roles(ctx)
}

func (b *SessionBackend) list(ctx context.Context, scope apiclient.ListScope, states []api.State) ([]api.Request, error) {
	c, err := b.client()
	if err != nil {
		return nil, err
	}
	var out []api.Request
	cursor := ""
	for {
		page, err := c.List(ctx, scope, states, cursor, 200)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Requests...)
		if page.NextCursor == "" || len(out) >= 1000 {
			return out, nil
		}
		cursor = page.NextCursor
	}
}

// Mine implements Backend.
func (b *SessionBackend) Mine(ctx context.Context) ([]api.Request, error) {
	return b.list(ctx, apiclient.ScopeMine, []api.State{api.StatePending, api.StateApproved, api.StateActive})
}

// Review implements Backend.
func (b *SessionBackend) Review(ctx context.Context) ([]api.Request, error) {
	return b.list(ctx, apiclient.ScopeReview, []api.State{api.StatePending})
}

// Request implements Backend.
func (b *SessionBackend) Request(ctx context.Context, in api.CreateRequest) (*api.Request, error) {
	c, err := b.client()
	if err != nil {
		return nil, err
	}
	return c.Create(ctx, in)
}

// WaitChange implements Backend.
func (b *SessionBackend) WaitChange(ctx context.Context, id string, seen int64) (*api.Request, error) {
	c, err := b.client()
	if err != nil {
		return nil, err
	}
	poll := b.Poll
	if poll <= 0 {
		poll = 30 * time.Second
	}
	r, err := c.WaitChange(ctx, id, seen, poll)
	if err == nil {
		// A revoked or ended grant's credentials go at once, not at the
		// next credential_process call.
		_, _ = b.Session.WipeIfEnded(ctx, r)
	}
	return r, err
}

// Approve implements Backend.
func (b *SessionBackend) Approve(ctx context.Context, id string, seen int64, comment string) (*api.Request, error) {
	c, err := b.client()
	if err != nil {
		return nil, err
	}
	return c.Approve(ctx, id, seen, comment)
}

// Deny implements Backend.
func (b *SessionBackend) Deny(ctx context.Context, id string, seen int64, reason string) (*api.Request, error) {
	c, err := b.client()
	if err != nil {
		return nil, err
	}
	return c.Deny(ctx, id, seen, reason)
}

// Credentials implements Backend.
func (b *SessionBackend) Credentials(ctx context.Context, role string) (api.Credentials, error) {
	return b.Session.Credentials(ctx, role)
}
