package server

import (
	"errors"
	"net/http"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/lifecycle"
	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/vend"
)

// handleCredentials vends STS credentials for the caller's live grant. STS is
// called outside the store transaction; the vend is recorded only if the
// grant is still live afterwards, so a concurrent revoke wins.
func (s *Server) handleCredentials(w http.ResponseWriter, r *http.Request, u api.User) {
	id := r.PathValue("id")
	req, err := s.visible(r.Context(), id, u)
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	now := s.now()
	if !req.RequestedBy(u) {
		s.fail(w, r, u, &policy.DeniedError{Reason: "only the requester may fetch a grant's credentials",
			Hint: "ask for your own: jit request " + req.Role + " --reason ..."})
		return
	}
	if st := lifecycle.StateAt(req, now); !st.Granted() {
		s.fail(w, r, u, &api.Error{Code: api.CodeConflict, Message: "request " + id + " is " + string(st) + ", not an active grant",
			Hint: "ask again: jit request " + req.Role + " --reason ..."})
		return
	}
	role, ok := s.Policy().Role(req.Role)
	if !ok {
		s.fail(w, r, u, &api.Error{Code: api.CodeConflict, Message: "role " + req.Role + " is no longer in the policy"})
		return
	}
	if s.opts.Vendor == nil {
		s.fail(w, r, u, &api.Error{Code: api.CodeUnavailable, Message: "this server has no STS configured"})
		return
	}
	maxSession := role.MaxSessionDuration
	if s.opts.SessionCap > 0 && maxSession > s.opts.SessionCap {
		maxSession = s.opts.SessionCap
	}
	creds, err := s.opts.Vendor.Vend(r.Context(), vend.Input{
		RoleARN: role.ARN, RequestID: req.ID, User: u.ID(), GrantEndsAt: req.EndsAt,
		MaxSessionDuration: maxSession, SessionPolicy: role.SessionPolicy, Tags: workloadTags(u),
	}, now)
	if err != nil {
		s.metrics.vends.With("sts_error").Inc()
		_ = s.append(r.Context(), audit.Event{Time: now, Type: audit.TypeVendFailed, Actor: u.ID(), Subject: req.Requester,
			Role: req.Role, RequestID: req.ID, Reason: err.Error()})
		var vendErr *vend.Error
		if !errors.As(err, &vendErr) {
			err = &vend.Error{Err: err, Hint: "check the server's aws settings and logs"}
		}
		s.fail(w, r, u, err)
		return
	}
	// Remember the key before handing it out, so that the first call made
	// with it already maps to this grant (docs/concepts.md "Activity").
	if act := s.activityStore(); act != nil {
		if err := act.RememberKey(r.Context(), store.KeyGrant{AccessKeyID: creds.AccessKeyID, RequestID: req.ID,
			Requester: req.Requester, Role: req.Role}, now); err != nil {
			s.fail(w, r, u, err)
			return
		}
	}
	if _, err := s.update(r.Context(), id, func(cur *api.Request) ([]audit.Event, error) {
		events, err := lifecycle.Vended(cur, u.ID(), creds.AccessKeyID, creds.Expiration, s.now())
		return lifecycle.Stamp(events, u), err
	}); err != nil {
		s.metrics.vends.With("grant_ended").Inc()
		s.fail(w, r, u, err)
		return
	}
	s.metrics.vends.With("ok").Inc()
	exp := creds.Expiration
	if req.EndsAt.Before(exp) {
		exp = req.EndsAt
	}
	writeJSON(w, http.StatusOK, api.Credentials{
		AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken,
		Expiration: exp.UTC(), STSExpiration: creds.Expiration.UTC(), GrantEndsAt: req.EndsAt.UTC(),
		RequestID: req.ID, Role: req.Role, Region: role.Region,
	})
}
