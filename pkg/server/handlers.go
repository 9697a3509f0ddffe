package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/grants"
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
	req, err := s.grants.Create(r.Context(), actor(u), in)
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	writeJSON(w, http.StatusCreated, req)
}

// visible loads a request the caller may see; others get 404, not 403, so
// ids cannot be probed.
func (s *Server) visible(ctx context.Context, id string, u api.User) (*api.Request, error) {
	return s.grants.Get(ctx, actor(u), id)
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
		ch, stop := s.hub.Watch(id)
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
		case <-s.hub.Closed():
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
	in := grants.ListInput{Scope: q.Get("scope"), Cursor: q.Get("cursor")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			s.fail(w, r, u, &api.Error{Code: api.CodeInvalid, Message: "limit must be a positive integer"})
			return
		}
		in.Limit = n
	}
	for _, st := range strings.Split(q.Get("state"), ",") {
		if st != "" {
			in.States = append(in.States, api.State(st))
		}
	}
	reqs, next, err := s.grants.List(r.Context(), actor(u), in)
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	s.withActivity(r.Context(), pointers(reqs)...)
	writeJSON(w, http.StatusOK, api.RequestList{Requests: reqs, NextCursor: next})
}

// pointers points at each of reqs.
func pointers(reqs []api.Request) []*api.Request {
	ptrs := make([]*api.Request, len(reqs))
	for i := range reqs {
		ptrs[i] = &reqs[i]
	}
	return ptrs
}

// decision decodes a decision's body and runs it through the service.
func (s *Server) decision(w http.ResponseWriter, r *http.Request, u api.User,
	do func(ctx context.Context, a grants.Actor, id string, body api.DecisionBody) (*api.Request, error)) {
	var body api.DecisionBody
	if err := decode(r, &body); err != nil {
		s.fail(w, r, u, err)
		return
	}
	req, err := do(r.Context(), actor(u), r.PathValue("id"), body)
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	writeJSON(w, http.StatusOK, req)
}

// decisionSeen is decision for approve and deny, which name the version of
// the request the approver was shown.
func (s *Server) decisionSeen(w http.ResponseWriter, r *http.Request, u api.User,
	do func(ctx context.Context, a grants.Actor, id string, seen int64, comment string) (*api.Request, error)) {
	s.decision(w, r, u, func(ctx context.Context, a grants.Actor, id string, body api.DecisionBody) (*api.Request, error) {
		return do(ctx, a, id, body.Version, body.Comment)
	})
}

// handleApprove approves a pending request, or the pending extension of a
// live grant (same approvers, same not-self and N-of-M rules).
func (s *Server) handleApprove(w http.ResponseWriter, r *http.Request, u api.User) {
	s.decisionSeen(w, r, u, s.grants.Approve)
}

// handleDeny denies a pending request, or the pending extension of a live
// grant (the grant keeps its end).
func (s *Server) handleDeny(w http.ResponseWriter, r *http.Request, u api.User) {
	s.decisionSeen(w, r, u, s.grants.Deny)
}

func (s *Server) handleCancel(w http.ResponseWriter, r *http.Request, u api.User) {
	s.decision(w, r, u, commentOnly(s.grants.Cancel))
}

func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request, u api.User) {
	s.decision(w, r, u, commentOnly(s.grants.Revoke))
}

// commentOnly adapts an action that takes only the body's comment.
func commentOnly(do func(ctx context.Context, a grants.Actor, id, comment string) (*api.Request, error)) func(context.Context, grants.Actor, string, api.DecisionBody) (*api.Request, error) {
	return func(ctx context.Context, a grants.Actor, id string, body api.DecisionBody) (*api.Request, error) {
		return do(ctx, a, id, body.Comment)
	}
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
	by, err := grants.ExtensionDuration(body.DurationSeconds)
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	req, waiting, err := s.grants.Extend(r.Context(), actor(u), id, by, body.Reason)
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
