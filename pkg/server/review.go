package server

import (
	"net/http"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/grants"
	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/report"
	"github.com/jit-access/jit/pkg/store"
)

// maxScanPages bounds how many store pages a report reads.
const maxScanPages = 100

// handleReviews lists the grants that wait for u's review: those of roles u
// approves, not u's own, that need a review and have none.
func (s *Server) handleReviews(w http.ResponseWriter, r *http.Request, u api.User) {
	reqs, err := s.grants.ReviewQueue(r.Context(), actor(u))
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	s.withActivity(r.Context(), pointers(reqs)...)
	writeJSON(w, http.StatusOK, api.RequestList{Requests: reqs})
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
	req, err := s.grants.Review(r.Context(), actor(u), r.PathValue("id"), body.Verdict, body.Note)
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
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
	var granted []api.Request
	// By their end, not their creation: a grant approved days after its
	// request still starts in the window, and it cannot end before it.
	f := store.Filter{States: grants.GrantedStates(), EndsAtOrAfter: since, Limit: 500}
	for range maxScanPages {
		reqs, next, err := s.opts.Store.List(r.Context(), f)
		if err != nil {
			s.fail(w, r, u, err)
			return
		}
		granted = append(granted, reqs...)
		if next == "" {
			break
		}
		f.Cursor = next
	}
	ptrs := make([]*api.Request, len(granted))
	for i := range granted {
		ptrs[i] = &granted[i]
	}
	s.withActivity(r.Context(), ptrs...)
	writeJSON(w, http.StatusOK, report.Build(granted, since, until))
}
