package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/lifecycle"
	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/report"
	"github.com/jit-access/jit/pkg/store"
)

// grantedStates are the states of requests that were granted at some time.
var grantedStates = []api.State{api.StateApproved, api.StateActive, api.StateExpired, api.StateRevoked}

// maxScanPages bounds how many store pages a queue or report reads.
const maxScanPages = 100

// handleReviews lists the grants that wait for u's review: those of roles u
// approves, not u's own, that need a review and have none.
func (s *Server) handleReviews(w http.ResponseWriter, r *http.Request, u api.User) {
	p := s.Policy()
	out := api.RequestList{Requests: []api.Request{}}
	roles := approverRoles(p, u)
	if len(roles) == 0 {
		writeJSON(w, http.StatusOK, out)
		return
	}
	f := store.Filter{Roles: roles, States: grantedStates, Limit: 500}
	for range maxScanPages {
		reqs, next, err := s.opts.Store.List(r.Context(), f)
		if err != nil {
			s.fail(w, r, u, err)
			return
		}
		for i := range reqs {
			if lifecycle.AwaitsReview(&reqs[i]) && p.CanReview(u, &reqs[i]) == nil {
				out.Requests = append(out.Requests, reqs[i])
			}
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	ptrs := make([]*api.Request, len(out.Requests))
	for i := range out.Requests {
		ptrs[i] = &out.Requests[i]
	}
	s.withActivity(r.Context(), ptrs...)
	writeJSON(w, http.StatusOK, out)
}

// handleTimeline returns a request with its activity and every audit event
// that concerns it, for a reviewer (or anyone who may see the request).
func (s *Server) handleTimeline(w http.ResponseWriter, r *http.Request, u api.User) {
	req, err := s.visible(r.Context(), r.PathValue("id"), u)
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	s.withActivity(r.Context(), req)
	out := api.Timeline{Request: *req, Events: []api.AuditEvent{}}
	err = store.EachAudit(r.Context(), s.opts.Store, store.AuditFilter{RequestID: req.ID}, func(e api.AuditEvent) (bool, error) {
		out.Events = append(out.Events, e)
		return len(out.Events) < 10000, nil
	})
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// handleReview records u's verdict on a grant.
func (s *Server) handleReview(w http.ResponseWriter, r *http.Request, u api.User) {
	var body api.ReviewBody
	if err := decode(r, &body); err != nil {
		s.fail(w, r, u, err)
		return
	}
	if body.Verdict != api.VerdictOK && body.Verdict != api.VerdictConcern {
		s.fail(w, r, u, &policy.InvalidError{Field: "verdict", Reason: "verdict must be ok or concern", Hint: "jit review ID --ok | --concern --note TEXT"})
		return
	}
	if body.Verdict == api.VerdictConcern && strings.TrimSpace(body.Note) == "" {
		s.fail(w, r, u, &policy.InvalidError{Field: "note", Reason: "a concern needs a note saying what is wrong", Hint: "jit review ID --concern --note TEXT"})
		return
	}
	if len(body.Note) > lifecycle.MaxReviewNote {
		s.fail(w, r, u, &policy.InvalidError{Field: "note", Reason: "the note is too long", Hint: "keep it under 2000 characters"})
		return
	}
	id := r.PathValue("id")
	if _, err := s.visible(r.Context(), id, u); err != nil {
		s.fail(w, r, u, err)
		return
	}
	p := s.Policy()
	req, err := s.update(r.Context(), id, func(req *api.Request) ([]audit.Event, error) {
		if err := p.CanReview(u, req); err != nil {
			return nil, err
		}
		events, err := lifecycle.Review(req, u.ID(), body.Verdict, body.Note, s.now())
		return lifecycle.Stamp(events, u), err
	})
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	s.log.Info("grant reviewed", "id", id, "by", u.ID(), "verdict", body.Verdict)
	s.withActivity(r.Context(), req)
	writeJSON(w, http.StatusOK, req)
}

// handleReport builds the access report for [since, until) (admins only).
func (s *Server) handleReport(w http.ResponseWriter, r *http.Request, u api.User) {
	if !s.Policy().IsAdmin(u) {
		s.fail(w, r, u, &policy.DeniedError{Reason: "only admins may read the access report", Hint: "ask an admin listed under admins: in the server config"})
		return
	}
	until := s.now()
	since := until.Add(-30 * 24 * time.Hour)
	q := r.URL.Query()
	for name, dst := range map[string]*time.Time{"since": &since, "until": &until} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				s.fail(w, r, u, &api.Error{Code: api.CodeInvalid, Message: name + " must be an RFC 3339 time such as 2026-01-02T15:04:05Z"})
				return
			}
			*dst = t
		}
	}
	var grants []api.Request
	// By their end, not their creation: a grant approved days after its
	// request still starts in the window, and it cannot end before it.
	f := store.Filter{States: grantedStates, EndsAtOrAfter: since, Limit: 500}
	for range maxScanPages {
		reqs, next, err := s.opts.Store.List(r.Context(), f)
		if err != nil {
			s.fail(w, r, u, err)
			return
		}
		grants = append(grants, reqs...)
		if next == "" {
			break
		}
		f.Cursor = next
	}
	ptrs := make([]*api.Request, len(grants))
	for i := range grants {
		ptrs[i] = &grants[i]
	}
	s.withActivity(r.Context(), ptrs...)
	writeJSON(w, http.StatusOK, report.Build(grants, since, until))
}
