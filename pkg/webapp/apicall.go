package webapp

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/grants"
	"github.com/jit-access/jit/pkg/policy"
)

// This file is how the pages act as the signed-in approver: the session's
// ID token is verified with the API's own verifier, then the grants
// service decides, as it does for every door.

// Grants is what the app asks of the grants service.
type Grants interface {
	Get(ctx context.Context, a grants.Actor, id string) (*api.Request, error)
	List(ctx context.Context, a grants.Actor, in grants.ListInput) ([]api.Request, string, error)
	ReviewQueue(ctx context.Context, a grants.Actor) ([]api.Request, error)
	Approve(ctx context.Context, a grants.Actor, id string, seen int64, comment string) (*api.Request, error)
	Deny(ctx context.Context, a grants.Actor, id string, seen int64, comment string) (*api.Request, error)
	Review(ctx context.Context, a grants.Actor, id string, verdict api.Verdict, note string) (*api.Request, error)
	Create(ctx context.Context, a grants.Actor, in api.CreateRequest) (*api.Request, error)
	Cancel(ctx context.Context, a grants.Actor, id, comment string) (*api.Request, error)
	Revoke(ctx context.Context, a grants.Actor, id, comment string) (*api.Request, error)
	Extend(ctx context.Context, a grants.Actor, id string, by time.Duration, reason string) (*api.Request, bool, error)
	Credentials(ctx context.Context, a grants.Actor, id string) (grants.Vend, error)
	WithActivity(ctx context.Context, reqs ...*api.Request)
	Refused(ctx context.Context, a grants.Actor, err error, where string)
	Policy() *policy.Policy
}

// TokenVerifier is the API's verifier of ID tokens (server.TokenVerifier).
type TokenVerifier interface {
	Verify(ctx context.Context, rawToken string) (api.User, error)
}

// actor verifies the session's ID token with the API's rules: a token the
// API would refuse, a workload's, or one that is no longer the principal
// who signed in is refused here (401: sign in again).
func (h *Handler) actor(r *http.Request, s *session) (grants.Actor, int, *api.Error) {
	u, err := h.opts.Verifier.Verify(r.Context(), s.IDToken)
	if err == nil && u.IsWorkload() {
		err = errors.New("a workload's token cannot use the web app")
	}
	if err == nil && (u.Issuer != s.Issuer || u.Subject != s.Subject) {
		err = errors.New("the session's token is not the principal who signed in")
	}
	if err != nil {
		h.log.Warn("web app: session token refused", "err", err)
		return grants.Actor{}, http.StatusUnauthorized, &api.Error{Code: api.CodeUnauthenticated, Message: "authentication failed: " + err.Error()}
	}
	return grants.Actor{User: u, Via: grants.ViaWeb}, 0, nil
}

// failed turns a service error into the status and message shown; a
// policy refusal is audited as the API audits it.
func (h *Handler) failed(r *http.Request, a grants.Actor, err error) (int, *api.Error) {
	e := grants.APIError(err)
	if e == nil {
		if errors.Is(err, context.Canceled) {
			return http.StatusServiceUnavailable, &api.Error{Code: api.CodeUnavailable, Message: "request cancelled"}
		}
		h.log.Error("web app: internal error", "path", r.URL.Path, "user", a.User.ID(), "err", err)
		return http.StatusInternalServerError, &api.Error{Code: api.CodeInternal, Message: "internal error"}
	}
	h.opts.Grants.Refused(r.Context(), a, err, r.URL.Path)
	return api.HTTPStatus(e.Code), e
}
