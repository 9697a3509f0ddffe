package grants

import (
	"context"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/lifecycle"
	"github.com/jit-access/jit/pkg/policy"
)

// Audit details of a request whose role lets the requester's manager
// approve: who the manager source named, and which source it was.
const (
	DetailManager       = lifecycle.DetailManager
	DetailManagerSource = lifecycle.DetailManagerSource
)

// ManagerSource names a person's manager (pkg/approvers: a token claim,
// the directory, a static map).
type ManagerSource interface {
	Manager(ctx context.Context, u api.User) (string, error)
	Kind() string
}

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
	id := s.o.NewID()
	var manager policy.ManagerOutcome
	if outcome.ApprovalsNeeded > 0 && p.NeedsManager(in.Role) {
		manager = s.managerOf(ctx, a, id, in.Role)
		if outcome, err = p.WithManager(outcome, in.Role, manager); err != nil {
			return nil, err
		}
	}
	req, events := lifecycle.New(lifecycle.NewInput{
		ID: id, Requester: u.ID(), RequesterUser: u, Create: in, Duration: d,
		ApprovalsNeeded: outcome.ApprovalsNeeded, AutoApproved: outcome.AutoApproved,
		BreakGlass: outcome.BreakGlass, PendingTimeout: p.PendingTimeout(in.Role), Why: outcome.Why,
	}, now)
	if manager.Manager != "" && manager.Problem == "" {
		req.Manager = manager.Manager
		for i := range events {
			if events[i].Type == audit.TypeRequestCreated {
				if events[i].Detail == nil {
					events[i].Detail = map[string]string{}
				}
				events[i].Detail[DetailManager] = manager.Manager
				events[i].Detail[DetailManagerSource] = manager.Source
			}
		}
	}
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

// managerOf asks the manager source for the requester's manager for the
// request id of role. A failure, no manager, or the requester named as
// their own manager is an answer without a usable manager: it is audited
// (approver.unresolved) and the policy then decides whether the request
// can still be approved by others (policy.WithManager).
func (s *Service) managerOf(ctx context.Context, a Actor, id, role string) policy.ManagerOutcome {
	u := a.User
	var out policy.ManagerOutcome
	switch src := s.o.Managers; {
	case u.IsWorkload():
		out = policy.ManagerAnswer(u, "", "", nil)
	case src == nil:
		out.Problem = "this server has no manager source (managers: in the server config)"
	default:
		m, err := src.Manager(ctx, u)
		if err != nil {
			s.log.Warn("manager source failed", "id", id, "role", role, "source", src.Kind(), "err", err)
		}
		out = policy.ManagerAnswer(u, src.Kind(), m, err)
	}
	if out.Problem == "" {
		return out
	}
	ev := audit.Event{Time: s.now(), Type: audit.TypeApproverUnresolved, Actor: "server", Subject: u.ID(), Role: role,
		Reason: out.Problem, Detail: map[string]string{"rule": "manager_of_requester", DetailManagerSource: out.Source, "request_id": id}}
	_ = s.Append(ctx, stamp([]audit.Event{ev}, a)...)
	return out
}
