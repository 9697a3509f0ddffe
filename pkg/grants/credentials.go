package grants

import (
	"context"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/lifecycle"
	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/policy/identity"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/target"
)

// Vend is credentials handed out for a grant.
type Vend struct {
	target.Credentials
	// Request is the grant as it was when the credentials were issued
	// (its end is the one their session policy carries).
	Request *api.Request
	Role    *policy.Role
}

// Credentials hands out credentials for the actor's own live grant through
// its target. The target is called outside the store transaction; the vend
// is recorded only if the grant is still live afterwards, so a concurrent
// revoke wins and the credentials are never handed out.
func (s *Service) Credentials(ctx context.Context, a Actor, id string) (Vend, error) {
	u := a.User
	req, err := s.Get(ctx, a, id)
	if err != nil {
		return Vend{}, err
	}
	now := s.now()
	if !identity.Requested(u, req) {
		return Vend{}, &policy.DeniedError{Reason: "only the requester may fetch a grant's credentials",
			Hint: "ask for your own: jit request " + req.Role + " --reason ..."}
	}
	if st := lifecycle.StateAt(req, now); !st.Granted() {
		return Vend{}, &api.Error{Code: api.CodeConflict, Message: "request " + id + " is " + string(st) + ", not an active grant",
			Hint: "ask again: jit request " + req.Role + " --reason ..."}
	}
	// A grant's credentials come from where it started (its recorded
	// target), but only while the policy still has its role.
	if _, ok := s.Policy().Role(req.Role); !ok {
		return Vend{}, &policy.ConflictError{Reason: "role " + req.Role + " is no longer in the policy",
			Hint: "ask an admin whether it was renamed: jit roles"}
	}
	g, t, err := s.grantOf(req, u)
	if err != nil {
		return Vend{}, err
	}
	issuer, ok := t.(target.Issuer)
	if !ok {
		return Vend{}, &api.Error{Code: api.CodeNoCredentials, Message: "role " + req.Role + " (" + t.Kind() + ") has no credentials to hand out",
			Hint: "its access was given when the grant started (a directory group membership, say); there is nothing to fetch"}
	}
	creds, err := issuer.Credentials(ctx, g, now)
	if err != nil {
		s.metrics.vends.With("sts_error").Inc()
		_ = s.Append(ctx, stamp([]audit.Event{{Time: now, Type: audit.TypeVendFailed, Actor: u.ID(), Subject: req.Requester,
			Role: req.Role, RequestID: req.ID, Reason: err.Error()}}, Actor{Via: a.Via})...)
		return Vend{}, err
	}
	// Remember the key before handing it out, so that the first call made
	// with it already maps to this grant (docs/concepts.md "Activity").
	if s.o.Activity != nil {
		if err := s.o.Activity.RememberKey(ctx, store.KeyGrant{AccessKeyID: creds.ID, RequestID: req.ID,
			Requester: req.Requester, Role: req.Role}, now); err != nil {
			return Vend{}, err
		}
	}
	_, err = s.update(ctx, a, id, func(cur *api.Request) ([]audit.Event, error) {
		return lifecycle.Vended(cur, u.ID(), creds.ID, creds.Expires, s.now())
	})
	if err != nil {
		s.metrics.vends.With("grant_ended").Inc()
		return Vend{}, err
	}
	s.metrics.vends.With("ok").Inc()
	return Vend{Credentials: creds, Request: req, Role: g.Role}, nil
}
