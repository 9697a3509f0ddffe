package webapprove

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jit-access/jit/pkg/api"
)

// This file is the pages: the review queue, one request, and deciding it.

func (h *Handler) queue(w http.ResponseWriter, r *http.Request, apiH http.Handler) {
	s := h.session(r)
	if s == nil {
		h.startLogin(w, r, PathPrefix)
		return
	}
	var list api.RequestList
	if code, e := h.call(r, apiH, s, http.MethodGet, "/v1/requests?scope=review", nil, &list); e != nil {
		h.apiFailed(w, r, code, e, PathPrefix)
		return
	}
	var me api.User
	if code, e := h.call(r, apiH, s, http.MethodGet, "/v1/whoami", nil, &me); e != nil {
		h.apiFailed(w, r, code, e, PathPrefix)
		return
	}
	var reviews api.RequestList
	if code, e := h.call(r, apiH, s, http.MethodGet, "/v1/reviews", nil, &reviews); e != nil {
		h.apiFailed(w, r, code, e, PathPrefix)
		return
	}
	h.render(w, http.StatusOK, "queue", pageData{Title: "Requests waiting for you", Me: me, CSRF: s.CSRF,
		Requests: list.Requests, Reviews: reviews.Requests, Now: h.opts.Now(), SignedInUntil: time.Unix(s.Expires, 0)})
}

func (h *Handler) show(w http.ResponseWriter, r *http.Request, apiH http.Handler) {
	h.showWith(w, r, apiH, http.StatusOK, "")
}

// showWith renders one request, with an error from a refused decision.
func (h *Handler) showWith(w http.ResponseWriter, r *http.Request, apiH http.Handler, status int, problem string) {
	id := r.PathValue("id")
	s := h.session(r)
	if s == nil {
		h.startLogin(w, r, PathPrefix+url.PathEscape(id))
		return
	}
	var req api.Request
	if code, e := h.call(r, apiH, s, http.MethodGet, "/v1/requests/"+url.PathEscape(id), nil, &req); e != nil {
		h.apiFailed(w, r, code, e, PathPrefix+url.PathEscape(id))
		return
	}
	var me api.User
	if code, e := h.call(r, apiH, s, http.MethodGet, "/v1/whoami", nil, &me); e != nil {
		h.apiFailed(w, r, code, e, PathPrefix+url.PathEscape(id))
		return
	}
	p := h.opts.Policy()
	d := pageData{Title: "Request " + req.ID, Me: me, CSRF: s.CSRF, Request: &req, Now: h.opts.Now(),
		Explanation: p.Explain(me, req.Role), Error: problem, SignedInUntil: time.Unix(s.Expires, 0),
		Own: req.MayBeRequestedBy(me), Pending: req.State == api.StatePending}
	d.Reviewable = p.CanReview(me, &req) == nil
	if req.State.Granted() && req.PendingExtension != nil {
		// The decision is on the waiting extension (same form, same API).
		d.Pending = true
		if err := p.CanDecideExtension(me, &req); err != nil {
			d.Standing = err.Error()
		}
	} else if d.Pending {
		// Shown to help; the API decides again when the button is pressed.
		if err := p.CanApprove(me, &req); err != nil {
			d.Standing = err.Error()
		}
	}
	h.render(w, status, "request", d)
}

func (h *Handler) decide(w http.ResponseWriter, r *http.Request, apiH http.Handler) {
	id := r.PathValue("id")
	here := PathPrefix + url.PathEscape(id)
	s := h.session(r)
	if err := r.ParseForm(); err != nil {
		h.message(w, http.StatusBadRequest, "Bad form", "The form could not be read.", here)
		return
	}
	if s == nil {
		// A form's redirect to the IdP would break form-action 'self'; the
		// user follows a link instead, and decides again once signed in.
		h.message(w, http.StatusUnauthorized, "Sign in again",
			fmt.Sprintf("Approving needs a sign-in within the last %s. Nothing was decided.", api.FormatDuration(h.opts.MaxLoginAge)), here)
		return
	}
	if !h.csrfOK(r, s) {
		h.refuse(w, http.StatusForbidden, "decision with a bad CSRF token", "This form is not from this server's page. Nothing was decided.")
		return
	}
	comment := strings.TrimSpace(r.PostForm.Get("comment"))
	if len(comment) > maxComment {
		h.showWith(w, r, apiH, http.StatusBadRequest, fmt.Sprintf("The comment is longer than %d characters.", maxComment))
		return
	}
	var verb string
	switch r.PostForm.Get("action") {
	case "approve":
		verb = "approve"
	case "deny":
		verb = "deny"
	case "review-ok", "review-concern":
		verb = "review"
	default:
		h.showWith(w, r, apiH, http.StatusBadRequest, "Choose approve or deny.")
		return
	}
	var body any = api.DecisionBody{Comment: comment}
	if verb == "review" {
		verdict := api.VerdictOK
		if r.PostForm.Get("action") == "review-concern" {
			verdict = api.VerdictConcern
		}
		body = api.ReviewBody{Verdict: verdict, Note: comment}
	}
	var req api.Request
	code, e := h.call(r, apiH, s, http.MethodPost, "/v1/requests/"+url.PathEscape(id)+"/"+verb, body, &req)
	if e != nil {
		if code == http.StatusUnauthorized {
			h.apiFailed(w, r, code, e, here)
			return
		}
		msg := e.Message
		if e.Hint != "" {
			msg += " (" + e.Hint + ")"
		}
		h.showWith(w, r, apiH, code, msg)
		return
	}
	h.log.Info("decision through the approval page", "id", req.ID, "action", verb, "state", req.State)
	http.Redirect(w, r, here, http.StatusSeeOther)
}

// apiFailed shows an API refusal; a token the API no longer accepts means
// signing in again.
func (h *Handler) apiFailed(w http.ResponseWriter, r *http.Request, code int, e *api.Error, returnTo string) {
	switch code {
	case http.StatusUnauthorized:
		h.setCookie(w, h.sessionCookie, "", time.Time{})
		if r.Method == http.MethodGet {
			h.startLogin(w, r, returnTo)
			return
		}
		h.message(w, code, "Sign in again", "Your sign-in is no longer accepted. Nothing was decided.", returnTo)
	case http.StatusNotFound:
		h.message(w, code, "No such request", "There is no such request, or you may not see it.", PathPrefix)
	default:
		h.message(w, code, "The server refused", e.Message, PathPrefix)
	}
}

// refuse answers a request that looks forged and logs it (without secrets).
func (h *Handler) refuse(w http.ResponseWriter, status int, why, text string) {
	h.log.Warn("approval page refused a request", "why", why)
	h.message(w, status, "Refused", text, PathPrefix)
}
