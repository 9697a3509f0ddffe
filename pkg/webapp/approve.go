package webapp

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/grants"
	"github.com/jit-access/jit/pkg/policy/identity"
)

// This file is the approver's pages: the queues, one request, and
// deciding it. They need a fresh sign-in (MaxLoginAge), as deciding does.

// deciderSession is the session when it is fresh enough to decide, else nil.
func (h *Handler) deciderSession(r *http.Request) *session {
	if s := h.session(r); s != nil && h.fresh(s) {
		return s
	}
	return nil
}

func (h *Handler) queue(w http.ResponseWriter, r *http.Request) {
	s := h.deciderSession(r)
	if s == nil {
		h.startLogin(w, r, PathPrefix, true)
		return
	}
	a, code, e := h.actor(r, s)
	if e != nil {
		h.apiFailed(w, r, code, e, PathPrefix)
		return
	}
	list, _, err := h.opts.Grants.List(r.Context(), a, grants.ListInput{Scope: grants.ScopeReview})
	if err != nil {
		code, e := h.failed(r, a, err)
		h.apiFailed(w, r, code, e, PathPrefix)
		return
	}
	reviews, err := h.opts.Grants.ReviewQueue(r.Context(), a)
	if err != nil {
		code, e := h.failed(r, a, err)
		h.apiFailed(w, r, code, e, PathPrefix)
		return
	}
	h.opts.Grants.WithActivity(r.Context(), pointers(list)...)
	h.opts.Grants.WithActivity(r.Context(), pointers(reviews)...)
	h.render(w, http.StatusOK, "queue", h.base(r, "Requests waiting for you", "approve", a, s, pageData{
		Requests: list, Reviews: reviews}))
}

// pointers points at each of reqs.
func pointers(reqs []api.Request) []*api.Request {
	out := make([]*api.Request, len(reqs))
	for i := range reqs {
		out[i] = &reqs[i]
	}
	return out
}

func (h *Handler) show(w http.ResponseWriter, r *http.Request) {
	h.showWith(w, r, http.StatusOK, "")
}

// showWith renders one request, with an error from a refused decision.
func (h *Handler) showWith(w http.ResponseWriter, r *http.Request, status int, problem string) {
	id := r.PathValue("id")
	here := PathPrefix + url.PathEscape(id)
	s := h.deciderSession(r)
	if s == nil {
		h.startLogin(w, r, here, true)
		return
	}
	a, code, e := h.actor(r, s)
	if e != nil {
		h.apiFailed(w, r, code, e, here)
		return
	}
	req, err := h.opts.Grants.Get(r.Context(), a, id)
	if err != nil {
		code, e := h.failed(r, a, err)
		h.apiFailed(w, r, code, e, here)
		return
	}
	h.opts.Grants.WithActivity(r.Context(), req)
	me := a.User
	p := h.opts.Grants.Policy()
	d := h.base(r, "Request "+req.ID, "approve", a, s, pageData{Request: req,
		Explanation: p.Explain(me, req.Role), Error: problem,
		Own: identity.MayHaveRequested(me, req), Pending: req.State == api.StatePending})
	d.Reviewable = p.CanReview(me, req) == nil
	if grants.ExtensionWaiting(req) {
		// The decision is on the waiting extension (same form, same service).
		d.Pending = true
		if err := p.CanDecideExtension(me, req); err != nil {
			d.Standing = err.Error()
		}
	} else if d.Pending {
		// Shown to help; the service decides again when the button is pressed.
		if err := p.CanApprove(me, req); err != nil {
			d.Standing = err.Error()
		}
	}
	h.render(w, status, "request", d)
}

func (h *Handler) decide(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	here := PathPrefix + url.PathEscape(id)
	s := h.deciderSession(r)
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
		h.showWith(w, r, http.StatusBadRequest, fmt.Sprintf("The comment is longer than %d characters.", maxComment))
		return
	}
	action := r.PostForm.Get("action")
	switch action {
	case "approve", "deny", "review-ok", "review-concern":
	default:
		h.showWith(w, r, http.StatusBadRequest, "Choose approve or deny.")
		return
	}
	a, code, e := h.actor(r, s)
	if e != nil {
		h.apiFailed(w, r, code, e, here)
		return
	}
	// The version the page showed: a decision applies only to what it
	// showed (a malformed one is 0, which the service refuses).
	seen, _ := strconv.ParseInt(r.PostForm.Get("version"), 10, 64)
	var req *api.Request
	var err error
	switch action {
	case "approve":
		req, err = h.opts.Grants.Approve(r.Context(), a, id, seen, comment)
	case "deny":
		req, err = h.opts.Grants.Deny(r.Context(), a, id, seen, comment)
	case "review-ok":
		req, err = h.opts.Grants.Review(r.Context(), a, id, api.VerdictOK, comment)
	case "review-concern":
		req, err = h.opts.Grants.Review(r.Context(), a, id, api.VerdictConcern, comment)
	}
	if err != nil {
		code, e := h.failed(r, a, err)
		msg := e.Message
		if e.Hint != "" {
			msg += " (" + e.Hint + ")"
		}
		h.showWith(w, r, code, msg)
		return
	}
	h.log.Info("decision through the web app", "id", req.ID, "action", action, "state", req.State)
	http.Redirect(w, r, here, http.StatusSeeOther)
}

// apiFailed shows a refusal; a token the API's verifier no longer accepts
// means signing in again.
func (h *Handler) apiFailed(w http.ResponseWriter, r *http.Request, code int, e *api.Error, returnTo string) {
	switch code {
	case http.StatusUnauthorized:
		h.setCookie(w, h.sessionCookie, "", time.Time{})
		if r.Method == http.MethodGet {
			h.startLogin(w, r, returnTo, strings.HasPrefix(returnTo, PathPrefix))
			return
		}
		h.message(w, code, "Sign in again", "Your sign-in is no longer accepted. Nothing was decided.", returnTo)
	case http.StatusNotFound:
		h.message(w, code, "No such request", "There is no such request, or you may not see it.", AppPrefix)
	default:
		h.message(w, code, "The server refused", e.Message, AppPrefix)
	}
}

// refuse answers a request that looks forged and logs it (without secrets).
func (h *Handler) refuse(w http.ResponseWriter, status int, why, text string) {
	h.log.Warn("web app refused a request", "why", why)
	h.message(w, status, "Refused", text, AppPrefix)
}
