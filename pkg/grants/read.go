package grants

import (
	"context"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/lifecycle"
	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/policy/identity"
	"github.com/jit-access/jit/pkg/store"
)

// Get returns a request the actor may see; others get store.ErrNotFound,
// not a refusal, so ids cannot be probed.
func (s *Service) Get(ctx context.Context, a Actor, id string) (*api.Request, error) {
	req, err := s.st.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !s.Policy().CanView(a.User, req) {
		return nil, store.ErrNotFound
	}
	return req, nil
}

// The scopes of List.
const (
	ScopeMine   = "mine"   // the actor's own requests
	ScopeReview = "review" // what the actor may decide: pending requests and waiting extensions of roles they approve, never their own
	ScopeAll    = "all"    // every request (admins)
)

// ListInput selects a page of requests.
type ListInput struct {
	Scope  string // [mine]
	States []api.State
	Limit  int
	Cursor string
}

// List returns a page of the requests in the scope, newest first, and the
// cursor of the next page.
func (s *Service) List(ctx context.Context, a Actor, in ListInput) ([]api.Request, string, error) {
	u := a.User
	p := s.Policy()
	f := store.Filter{Cursor: in.Cursor, Limit: in.Limit, States: in.States}
	extensionsOnly := false // review: granted requests only with an extension waiting
	switch in.Scope {
	case "", ScopeMine:
		f.RequesterIssuer, f.RequesterSubject = u.Issuer, u.Subject
		f.LegacyRequesters = identity.LegacyNames(u)
	case ScopeReview:
		f.Roles = approverRoles(p, u)
		if len(f.States) == 0 {
			// Pending requests, and live grants whose extension waits.
			f.States = []api.State{api.StatePending, api.StateApproved, api.StateActive}
			extensionsOnly = true
		}
		if len(f.Roles) == 0 {
			return []api.Request{}, "", nil
		}
	case ScopeAll:
		if !p.IsAdmin(u) {
			return nil, "", &policy.DeniedError{Reason: "only admins may list all requests", Hint: "use --mine or --pending"}
		}
	default:
		return nil, "", &api.Error{Code: api.CodeInvalid, Message: "scope must be mine, review or all"}
	}
	reqs, next, err := s.st.List(ctx, f)
	if err != nil {
		return nil, "", err
	}
	out := make([]api.Request, 0, len(reqs))
	for i := range reqs {
		if in.Scope == ScopeReview && (identity.MayHaveRequested(u, &reqs[i]) || !p.Approves(u, &reqs[i])) {
			continue // never review your own; a manager sees only their people's
		}
		if extensionsOnly && reqs[i].State != api.StatePending && reqs[i].PendingExtension == nil {
			continue
		}
		out = append(out, reqs[i])
	}
	return out, next, nil
}

// GrantedStates are the states of requests that were granted at some time.
func GrantedStates() []api.State {
	return []api.State{api.StateApproved, api.StateActive, api.StateExpired, api.StateRevoked}
}

// maxScanPages bounds how many store pages a queue reads.
const maxScanPages = 100

// ReviewQueue lists the grants that wait for the actor's review: those of
// roles they approve, not their own, that need a review and have none.
func (s *Service) ReviewQueue(ctx context.Context, a Actor) ([]api.Request, error) {
	p := s.Policy()
	out := []api.Request{}
	roles := approverRoles(p, a.User)
	if len(roles) == 0 {
		return out, nil
	}
	f := store.Filter{Roles: roles, States: GrantedStates(), AwaitingReview: true, Limit: 500}
	for range maxScanPages {
		reqs, next, err := s.st.List(ctx, f)
		if err != nil {
			return nil, err
		}
		for i := range reqs {
			if lifecycle.AwaitsReview(&reqs[i]) && p.CanReview(a.User, &reqs[i]) == nil {
				out = append(out, reqs[i])
			}
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	return out, nil
}

// approverRoles names the roles u may approve requests of (as a listed
// approver, or possibly as a requester's manager).
func approverRoles(p *policy.Policy, u api.User) []string {
	var out []string
	for _, r := range p.Roles {
		if p.MayApproveRole(u, r.Name) {
			out = append(out, r.Name)
		}
	}
	return out
}

// WithActivity fills the Activity of requests that started, from the
// store's activity side (a failure is logged and leaves them without).
func (s *Service) WithActivity(ctx context.Context, reqs ...*api.Request) {
	if s.o.Activity == nil || len(reqs) == 0 {
		return
	}
	ids := make([]string, 0, len(reqs))
	for _, r := range reqs {
		if !r.StartsAt.IsZero() {
			ids = append(ids, r.ID)
		}
	}
	if len(ids) == 0 {
		return
	}
	got, err := s.o.Activity.Activity(ctx, ids...)
	if err != nil {
		s.log.Warn("read activity", "err", err)
		return
	}
	for _, r := range reqs {
		if a, ok := got[r.ID]; ok {
			r.Activity = &a
		}
	}
}
