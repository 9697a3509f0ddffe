package server

import (
	"net/http"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/policy"
)

// handleCredentials hands out credentials for the caller's live grant
// (grants.Service.Credentials: the target vends, the store records).
func (s *Server) handleCredentials(w http.ResponseWriter, r *http.Request, u api.User) {
	v, err := s.grants.Credentials(r.Context(), actor(u), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	if v.AWS == nil {
		s.fail(w, r, u, &policy.ConflictError{Reason: "role " + v.Request.Role + " hands out no AWS credentials",
			Hint: "see the role's kind: jit roles"})
		return
	}
	req := v.Request
	exp := v.Expires
	if req.EndsAt.Before(exp) {
		exp = req.EndsAt
	}
	writeJSON(w, http.StatusOK, api.Credentials{
		AccessKeyID: v.AWS.AccessKeyID, SecretAccessKey: v.AWS.SecretAccessKey, SessionToken: v.AWS.SessionToken,
		Expiration: exp.UTC(), STSExpiration: v.Expires.UTC(), GrantEndsAt: req.EndsAt.UTC(),
		RequestID: req.ID, Role: req.Role, Region: v.Role.Region,
	})
}
