package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/grants"
	"github.com/jit-access/jit/pkg/store"
)

// maxBody caps every request body; the API's bodies are small.
const maxBody = 64 << 10

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *Server) instrument(route string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now() // latency metric only, not logic
		limit := int64(maxBody)
		if strings.HasPrefix(route, "POST /v1/activity/") {
			limit = maxActivityBody // batched deliveries; bounded again by event count
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h(rec, r)
		s.metrics.httpSeconds.With(route, strconv.Itoa(rec.code)).Observe(time.Since(start).Seconds())
	})
}

// authenticate verifies the bearer token; failures are 401 and audited.
func (s *Server) authenticate(h func(http.ResponseWriter, *http.Request, api.User)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		raw, err := bearer(r)
		var u api.User
		if err == nil {
			u, err = s.opts.Verifier.Verify(r.Context(), raw)
		}
		if err != nil {
			if errors.Is(err, errUnavailable) {
				s.log.Error("token verification unavailable", "err", err)
				writeError(w, &api.Error{Code: api.CodeUnavailable, Message: "the server cannot reach the identity provider to check your token",
					Hint: "retry shortly; if it persists, the server's oidc.issuer is unreachable from the server"}, http.StatusServiceUnavailable)
				return
			}
			s.metrics.authFailed.Inc()
			// Only failures are limited, after the token was checked: a
			// valid token is served even from an address others flood
			// (a load balancer or NAT that many users share).
			addr := clientAddress(r)
			if wait, blocked := s.authFails.blocked(addr, s.now()); blocked {
				w.Header().Set("Retry-After", strconv.Itoa(max(1, int((wait+time.Second-1)/time.Second))))
				writeError(w, &api.Error{Code: api.CodeRateLimited, Message: "too many failed authentications from " + addr,
					Hint: "wait and sign in again: jit login"}, http.StatusTooManyRequests)
				return
			}
			s.log.Debug("authentication failed", "path", r.URL.Path, "remote", r.RemoteAddr, "err", err)
			// Counted, not audited one by one: the audit log gets one
			// summary per window (authfail.go).
			s.authFails.failed(addr, err.Error(), s.now())
			writeError(w, &api.Error{Code: api.CodeUnauthenticated, Message: "authentication failed: " + err.Error(),
				Hint: "run: jit login"}, http.StatusUnauthorized)
			return
		}
		h(w, r, u)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *api.Error, code int) { writeJSON(w, code, e) }

// fail maps an error to its HTTP status and a message a user can act on
// (grants.APIError, the same for every door); a policy refusal is audited.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, u api.User, err error) {
	var maxBytes *http.MaxBytesError
	if e := grants.APIError(err); e != nil {
		if errors.Is(err, store.ErrUnavailable) {
			// The client is told the store is away; the operator gets why.
			s.log.Warn("store unavailable", "path", r.URL.Path, "user", u.ID(), "err", err)
		}
		s.grants.Refused(r.Context(), actor(u), err, r.URL.Path)
		writeError(w, e, statusFor(e.Code))
		return
	}
	switch {
	case errors.As(err, &maxBytes):
		writeError(w, &api.Error{Code: api.CodeInvalid, Message: "request body too large"}, http.StatusRequestEntityTooLarge)
	case errors.Is(err, context.Canceled):
		writeError(w, &api.Error{Code: api.CodeUnavailable, Message: "request cancelled"}, http.StatusServiceUnavailable)
	default:
		s.log.Error("internal error", "path", r.URL.Path, "user", u.ID(), "err", err)
		writeError(w, &api.Error{Code: api.CodeInternal, Message: "internal error: " + err.Error()}, http.StatusInternalServerError)
	}
}

func statusFor(code string) int { return api.HTTPStatus(code) }

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.opts.Store.Ping(ctx); err != nil {
		writeError(w, &api.Error{Code: api.CodeUnavailable, Message: fmt.Sprintf("store not ready: %v", err)}, http.StatusServiceUnavailable)
		return
	}
	select {
	case <-s.hub.Closed():
		writeError(w, &api.Error{Code: api.CodeUnavailable, Message: "shutting down"}, http.StatusServiceUnavailable)
		return
	default:
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) handleDiscovery(w http.ResponseWriter, _ *http.Request) {
	d := s.opts.Discovery
	d.ServerTime = s.now().UTC()
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) handleWhoami(w http.ResponseWriter, _ *http.Request, u api.User) {
	writeJSON(w, http.StatusOK, u)
}
