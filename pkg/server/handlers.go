package server

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/lifecycle"
	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/vend"
)

func (s *Server) handleRoles(w http.ResponseWriter, _ *http.Request, u api.User) {
	p := s.Policy()
	out := api.RolesResponse{Roles: []api.Role{}}
	for _, role := range p.Eligible(u) {
		out.Roles = append(out.Roles, p.APIRole(role, u))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request, u api.User) {
	var in api.CreateRequest
	if err := decode(r, &in); err != nil {
		s.fail(w, r, u, err)
		return
	}
	now := s.now()
	if !s.limiter.allow(u.Principal().String(), now) {
		writeError(w, &api.Error{Code: api.CodeRateLimited, Message: "too many requests from " + u.ID(),
			Hint: "wait a minute; list what you asked for with: jit requests --mine"}, http.StatusTooManyRequests)
		return
	}
	p := s.Policy()
	outcome, d, err := p.CheckRequest(u, in)
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	req, events := lifecycle.New(lifecycle.NewInput{
		ID: s.newRequestID(), Requester: u.ID(), RequesterUser: u, Create: in, Duration: d,
		ApprovalsNeeded: outcome.ApprovalsNeeded, AutoApproved: outcome.AutoApproved,
		BreakGlass: outcome.BreakGlass, PendingTimeout: p.PendingTimeout(in.Role), Why: outcome.Why,
	}, now)
	events = lifecycle.Stamp(events, u)
	req.ReviewRequired = p.NeedsReview(req.Role, req.BreakGlass)
	if err := s.opts.Store.Create(r.Context(), req, events); err != nil {
		s.fail(w, r, u, err)
		return
	}
	s.published(events)
	s.log.Info("request created", "id", req.ID, "user", u.ID(), "role", req.Role, "state", req.State)
	writeJSON(w, http.StatusCreated, req)
}

// visible loads a request the caller may see; others get 404, not 403, so
// ids cannot be probed.
func (s *Server) visible(ctx context.Context, id string, u api.User) (*api.Request, error) {
	req, err := s.opts.Store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !s.Policy().CanView(u, req) {
		return nil, store.ErrNotFound
	}
	return req, nil
}

// handleGet returns a request. With ?wait=DURATION&version=N it holds the
// call until the request's version passes N (a decision, an expiry…) or the
// wait ends, so a waiting client learns of a decision at once.
func (s *Server) handleGet(w http.ResponseWriter, r *http.Request, u api.User) {
	id := r.PathValue("id")
	wait, err := parseWait(r.URL.Query().Get("wait"), s.opts.MaxWait)
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	var seen int64
	if v := r.URL.Query().Get("version"); v != "" {
		if seen, err = strconv.ParseInt(v, 10, 64); err != nil {
			s.fail(w, r, u, &api.Error{Code: api.CodeInvalid, Message: "version must be an integer"})
			return
		}
	}
	var changed <-chan struct{}
	if wait > 0 {
		ch, stop := s.hub.subscribe(id)
		defer stop()
		changed = ch
	}
	req, err := s.visible(r.Context(), id, u)
	if err != nil || wait == 0 || req.Version > seen || req.State.Final() {
		if err != nil {
			s.fail(w, r, u, err)
			return
		}
		s.withActivity(r.Context(), req)
		writeJSON(w, http.StatusOK, req)
		return
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	// A grant that ends while we wait is reported when the sweeper marks it.
	for {
		select {
		case <-changed:
			req, err = s.visible(r.Context(), id, u)
			if err != nil {
				s.fail(w, r, u, err)
				return
			}
			if req.Version <= seen {
				continue
			}
		case <-timer.C:
		case <-s.hub.closed:
			w.Header().Set("Retry-After", "1")
			writeError(w, &api.Error{Code: api.CodeUnavailable, Message: "server is restarting", Hint: "retry; your request is safe"}, http.StatusServiceUnavailable)
			return
		case <-r.Context().Done():
			return
		}
		s.withActivity(r.Context(), req)
		writeJSON(w, http.StatusOK, req)
		return
	}
}

func parseWait(v string, max time.Duration) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, &api.Error{Code: api.CodeInvalid, Message: "wait must be a duration such as 30s"}
	}
	return min(d, max), nil
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request, u api.User) {
	q := r.URL.Query()
	p := s.Policy()
	f := store.Filter{Cursor: q.Get("cursor")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			s.fail(w, r, u, &api.Error{Code: api.CodeInvalid, Message: "limit must be a positive integer"})
			return
		}
		f.Limit = n
	}
	for _, st := range strings.Split(q.Get("state"), ",") {
		if st != "" {
			f.States = append(f.States, api.State(st))
		}
	}
	scope := q.Get("scope")
	extensionsOnly := false // review: granted requests only with an extension waiting
	switch scope {
	case "", "mine":
		f.RequesterIssuer, f.RequesterSubject = u.Issuer, u.Subject
		f.LegacyRequesters = legacyIDs(u)
	case "review":
		f.Roles = approverRoles(p, u)
		if len(f.States) == 0 {
			// Pending requests, and live grants whose extension waits.
			f.States = []api.State{api.StatePending, api.StateApproved, api.StateActive}
			extensionsOnly = true
		}
		if len(f.Roles) == 0 {
			writeJSON(w, http.StatusOK, api.RequestList{Requests: []api.Request{}})
			return
		}
	case "all":
		if !p.IsAdmin(u) {
			s.fail(w, r, u, &policy.DeniedError{Reason: "only admins may list all requests", Hint: "use --mine or --pending"})
			return
		}
	default:
		s.fail(w, r, u, &api.Error{Code: api.CodeInvalid, Message: "scope must be mine, review or all"})
		return
	}
	reqs, next, err := s.opts.Store.List(r.Context(), f)
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	out := api.RequestList{Requests: make([]api.Request, 0, len(reqs)), NextCursor: next}
	for i := range reqs {
		if scope == "review" && reqs[i].MayBeRequestedBy(u) {
			continue // never review your own
		}
		if extensionsOnly && reqs[i].State != api.StatePending && reqs[i].PendingExtension == nil {
			continue
		}
		out.Requests = append(out.Requests, reqs[i])
	}
	ptrs := make([]*api.Request, len(out.Requests))
	for i := range out.Requests {
		ptrs[i] = &out.Requests[i]
	}
	s.withActivity(r.Context(), ptrs...)
	writeJSON(w, http.StatusOK, out)
}

// decide runs a policy check and a lifecycle transition on one request.
func (s *Server) decide(w http.ResponseWriter, r *http.Request, u api.User,
	check func(p *policy.Policy, req *api.Request) error,
	transition func(req *api.Request, comment string, now time.Time) ([]audit.Event, error),
	after ...func(*api.Request)) {
	var body api.DecisionBody
	if err := decode(r, &body); err != nil {
		s.fail(w, r, u, err)
		return
	}
	id := r.PathValue("id")
	if _, err := s.visible(r.Context(), id, u); err != nil {
		s.fail(w, r, u, err)
		return
	}
	p := s.Policy()
	req, err := s.update(r.Context(), id, func(req *api.Request) ([]audit.Event, error) {
		if err := check(p, req); err != nil {
			return nil, err
		}
		events, err := transition(req, body.Comment, s.now())
		return lifecycle.Stamp(events, u), err
	})
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	s.log.Info("request changed", "id", id, "by", u.ID(), "state", req.State)
	for _, f := range after {
		f(req)
	}
	writeJSON(w, http.StatusOK, req)
}

// handleApprove approves a pending request, or the pending extension of a
// live grant (same approvers, same not-self and N-of-M rules).
func (s *Server) handleApprove(w http.ResponseWriter, r *http.Request, u api.User) {
	s.decide(w, r, u, func(p *policy.Policy, req *api.Request) error {
		if extensionWaiting(req) {
			if err := p.CanDecideExtension(u, req); err != nil {
				return err
			}
			return p.CheckExtensionStillFits(req)
		}
		return p.CanApprove(u, req)
	},
		func(req *api.Request, c string, now time.Time) ([]audit.Event, error) {
			if extensionWaiting(req) {
				return lifecycle.ApproveExtension(req, u, c, now)
			}
			return lifecycle.Approve(req, u, c, now)
		})
}

// handleDeny denies a pending request, or the pending extension of a live
// grant (the grant keeps its end).
func (s *Server) handleDeny(w http.ResponseWriter, r *http.Request, u api.User) {
	s.decide(w, r, u, func(p *policy.Policy, req *api.Request) error {
		if extensionWaiting(req) {
			return p.CanDecideExtension(u, req)
		}
		return p.CanDeny(u, req)
	},
		func(req *api.Request, c string, now time.Time) ([]audit.Event, error) {
			if strings.TrimSpace(c) == "" {
				return nil, &policy.InvalidError{Field: "comment", Reason: "a denial needs a reason", Hint: "jit deny ID --reason TEXT"}
			}
			if extensionWaiting(req) {
				return lifecycle.DenyExtension(req, u, c, now)
			}
			return lifecycle.Deny(req, u, c, now)
		})
}

func (s *Server) handleCancel(w http.ResponseWriter, r *http.Request, u api.User) {
	s.decide(w, r, u, func(p *policy.Policy, req *api.Request) error { return p.CanCancel(u, req) },
		func(req *api.Request, c string, now time.Time) ([]audit.Event, error) {
			return lifecycle.Cancel(req, u.ID(), c, now)
		})
}

func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request, u api.User) {
	s.decide(w, r, u, func(p *policy.Policy, req *api.Request) error { return p.CanRevoke(u, req) },
		func(req *api.Request, c string, now time.Time) ([]audit.Event, error) {
			return lifecycle.Revoke(req, u.ID(), c, now)
		}, func(req *api.Request) {
			if req.VendCount > 0 {
				s.enforceRevocation(context.WithoutCancel(r.Context()), *req, req.UpdatedAt)
			}
			s.flushActivity(context.WithoutCancel(r.Context()), req.ID)
		})
}

// enforceRevocation asks the Revoker to deny the grant's already-vended
// credentials. The revoke itself is already stored: a failure here is
// audited and logged, and the credentials still stop at the grant's end.
func (s *Server) enforceRevocation(ctx context.Context, req api.Request, now time.Time) {
	if s.opts.Revoker == nil {
		return
	}
	role, ok := s.Policy().Role(req.Role)
	if !ok {
		return
	}
	until := s.lastSessionEnd(ctx, req, role.MaxSessionDuration, now)
	err := s.opts.Revoker.Revoke(ctx, vend.RevokeInput{
		RoleARN: role.ARN, RequestID: req.ID, User: req.Requester,
		IssuedBefore: now, Until: until,
	})
	// The Revoker returns nil only once IAM returned the Deny from the
	// role's own ARN: only then is the revocation enforced.
	ev := audit.Event{Time: now, Type: audit.TypeRevokeEnforced, Actor: "server", Subject: req.Requester, Role: req.Role, RequestID: req.ID,
		Detail: map[string]string{"role_arn": role.ARN, "until": until.UTC().Format(time.RFC3339)}}
	if err != nil {
		s.log.Error("revocation not enforced at AWS", "id", req.ID, "err", err)
		ev.Type, ev.Reason = audit.TypeRevokeFailed, err.Error()
	}
	_ = s.append(ctx, ev)
}

// lastSessionEnd is when the grant's last STS session can end: the latest
// STS expiry among its audited vends (the last vend plus at most the
// longest session STS gives), so the revocation Deny lives no longer than
// needed. Without a readable vend record it falls back to now plus the
// longest session, which covers every vend made so far.
func (s *Server) lastSessionEnd(ctx context.Context, req api.Request, roleMax time.Duration, now time.Time) time.Time {
	if roleMax <= 0 {
		roleMax = vend.DefaultMaxSession
	}
	if s.opts.SessionCap > 0 && roleMax > s.opts.SessionCap {
		roleMax = s.opts.SessionCap
	}
	fallback := now.Add(roleMax)
	evs, err := s.opts.Store.Audit(ctx, store.AuditFilter{RequestID: req.ID, Type: audit.TypeVended, Limit: 1000})
	if err != nil || len(evs) == 0 || len(evs) >= 1000 {
		return fallback
	}
	var end time.Time
	for _, ev := range evs {
		exp, err := time.Parse(time.RFC3339, ev.Detail["expires"])
		if err != nil {
			return fallback
		}
		end = maxTime(end, exp) // STS's own expiry (its clock is the one IAM uses)
	}
	return end
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (s *Server) handleExtend(w http.ResponseWriter, r *http.Request, u api.User) {
	var body api.ExtendBody
	if err := decode(r, &body); err != nil {
		s.fail(w, r, u, err)
		return
	}
	id := r.PathValue("id")
	if _, err := s.visible(r.Context(), id, u); err != nil {
		s.fail(w, r, u, err)
		return
	}
	if body.DurationSeconds > int64(math.MaxInt64/time.Second) {
		// time.Duration would wrap around to some other, small value.
		s.fail(w, r, u, &policy.InvalidError{Field: "duration", Reason: "the extension is longer than any grant can be",
			Hint: "ask for --by 30m, for example"})
		return
	}
	by := time.Duration(body.DurationSeconds) * time.Second
	p := s.Policy()
	waiting := false
	req, err := s.update(r.Context(), id, func(req *api.Request) ([]audit.Event, error) {
		waiting = false
		if err := p.CheckExtend(u, req, by); err != nil {
			return nil, err
		}
		// Past the limit that let the grant skip approvers, the requester
		// alone never extends it: the extension waits for approvers.
		if needed, why := p.ExtensionApproval(u, req, by); needed > 0 {
			waiting = true
			events, err := lifecycle.RequestExtension(req, u.ID(), by, body.Reason, needed, why, s.now())
			return lifecycle.Stamp(events, u), err
		}
		events, err := lifecycle.Extend(req, u.ID(), by, body.Reason, s.now())
		return lifecycle.Stamp(events, u), err
	})
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	if waiting {
		writeJSON(w, http.StatusAccepted, req) // waits for approvers
		return
	}
	writeJSON(w, http.StatusOK, req)
}

// extensionWaiting reports whether a decision on req is about its pending
// extension rather than the request itself.
func extensionWaiting(req *api.Request) bool {
	return req.State.Granted() && req.PendingExtension != nil
}

// legacyIDs are the names requests stored before principals existed may
// carry for u (see api.Request.RequestedBy).
func legacyIDs(u api.User) []string {
	var out []string
	if u.Email != "" {
		out = append(out, u.Email)
	}
	if u.Subject != "" && !strings.Contains(u.Subject, "@") {
		out = append(out, u.Subject)
	}
	return out
}

// approverRoles names the roles u may approve.
func approverRoles(p *policy.Policy, u api.User) []string {
	var out []string
	for _, r := range p.Roles {
		if r.Approvers.Match(u) {
			out = append(out, r.Name)
		}
	}
	return out
}
