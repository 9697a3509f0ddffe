package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/store"
)

// auditFilter reads the audit query parameters: since, until (RFC 3339),
// user, role, request, type, after (a sequence number), limit.
func auditFilter(r *http.Request) (store.AuditFilter, error) {
	q := r.URL.Query()
	f := store.AuditFilter{User: q.Get("user"), Role: q.Get("role"), RequestID: q.Get("request"), Type: q.Get("type")}
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return f, &api.Error{Code: api.CodeInvalid, Message: name + " must be an RFC 3339 time such as 2026-01-02T15:04:05Z"}
			}
			*dst = t
		}
	}
	for name, dst := range map[string]*int64{"after": &f.AfterSeq} {
		if v := q.Get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return f, &api.Error{Code: api.CodeInvalid, Message: name + " must be a non-negative integer"}
			}
			*dst = n
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return f, &api.Error{Code: api.CodeInvalid, Message: "limit must be a positive integer"}
		}
		f.Limit = n
	}
	return f, nil
}

func (s *Server) requireAdmin(u api.User) error {
	if !s.Policy().IsAdmin(u) {
		return &policy.DeniedError{Reason: "only admins may read the audit log", Hint: "ask an admin listed under admins: in the server config"}
	}
	return nil
}

func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request, u api.User) {
	if err := s.requireAdmin(u); err != nil {
		s.fail(w, r, u, err)
		return
	}
	f, err := auditFilter(r)
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	events, err := s.opts.Store.Audit(r.Context(), f)
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	out := api.AuditList{Events: events}
	if out.Events == nil {
		out.Events = []api.AuditEvent{}
	}
	if len(events) == f.AuditLimit() {
		out.NextCursor = strconv.FormatInt(events[len(events)-1].Seq, 10)
	}
	writeJSON(w, http.StatusOK, out)
}

// handleAuditExport streams the whole (filtered) log as JSON lines, in
// sequence order, for SIEMs and `jit audit verify`.
func (s *Server) handleAuditExport(w http.ResponseWriter, r *http.Request, u api.User) {
	if err := s.requireAdmin(u); err != nil {
		s.fail(w, r, u, err)
		return
	}
	f, err := auditFilter(r)
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	err = store.EachAudit(r.Context(), s.opts.Store, f, func(e api.AuditEvent) (bool, error) {
		return true, enc.Encode(&e)
	})
	if err != nil {
		s.log.Error("audit export", "err", err) // the client sees a truncated stream; verify will say so
	}
}
