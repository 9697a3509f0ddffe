package grants

import (
	"context"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/lifecycle"
)

// Create checks a new request against the policy and stores it; an
// auto-approved or break-glass request is a grant at once, and its
// target is told.
func (s *Service) Create(ctx context.Context, a Actor, in api.CreateRequest) (*api.Request, error) {
	u := a.User
	now := s.now()
	if !s.limiter.allow(u.Principal().String(), now) {
		return nil, &api.Error{Code: api.CodeRateLimited, Message: "too many requests from " + u.ID(),
			Hint: "wait a minute; list what you asked for with: jit requests --mine"}
	}
	p := s.Policy()
	outcome, d, err := p.CheckRequest(u, in)
	if err != nil {
		return nil, err
	}
	if role, ok := p.Role(in.Role); ok {
		if _, err := s.o.Targets.For(role); err != nil {
			return nil, err
		}
	}
	req, events := lifecycle.New(lifecycle.NewInput{
		ID: s.o.NewID(), Requester: u.ID(), RequesterUser: u, Create: in, Duration: d,
		ApprovalsNeeded: outcome.ApprovalsNeeded, AutoApproved: outcome.AutoApproved,
		BreakGlass: outcome.BreakGlass, PendingTimeout: p.PendingTimeout(in.Role), Why: outcome.Why,
	}, now)
	events = stamp(events, a)
	req.ReviewRequired = p.NeedsReview(req.Role, req.BreakGlass)
	if err := recordTarget(p, req); err != nil {
		return nil, err
	}
	if err := s.st.Create(ctx, req, events); err != nil {
		return nil, err
	}
	s.published(events)
	s.log.Info("request created", "id", req.ID, "user", u.ID(), "role", req.Role, "state", req.State, "via", a.Via)
	s.started(ctx, req, u)
	return req, nil
}
