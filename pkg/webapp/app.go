package webapp

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/grants"
	"github.com/jit-access/jit/pkg/lifecycle"
	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/policy/identity"
)

// This file is the requester's pages: home (my grants, my open requests,
// the roles I may and may not request), a role's page with the request
// form, and creating a request. Requesting needs a session, not a fresh
// sign-in.

// signedIn is the request's session and actor, or false after it has sent
// the browser to sign in (GET) or said so (POST).
func (h *Handler) signedIn(w http.ResponseWriter, r *http.Request, here string) (*session, grants.Actor, bool) {
	s := h.session(r)
	if s == nil {
		if r.Method == http.MethodGet {
			h.startLogin(w, r, here, false)
		} else {
			h.message(w, http.StatusUnauthorized, "Sign in again", "Your sign-in has ended. Nothing was changed.", here)
		}
		return nil, grants.Actor{}, false
	}
	a, code, e := h.actor(r, s)
	if e != nil {
		h.apiFailed(w, r, code, e, here)
		return nil, grants.Actor{}, false
	}
	return s, a, true
}

func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	s, a, ok := h.signedIn(w, r, AppPrefix)
	if !ok {
		return
	}
	mine, _, err := h.opts.Grants.List(r.Context(), a, grants.ListInput{Scope: grants.ScopeMine, Limit: 50})
	if err != nil {
		code, e := h.failed(r, a, err)
		h.apiFailed(w, r, code, e, AppPrefix)
		return
	}
	d := h.base(r, "Your access", "home", a, s, pageData{Roles: h.roles(a.User)})
	now := h.opts.Now()
	for _, req := range mine {
		switch st := lifecycle.StateAt(&req, now); {
		case st.Granted():
			d.Live = append(d.Live, req)
		case st == api.StatePending:
			d.Open = append(d.Open, req)
		case len(d.Past) < 10:
			d.Past = append(d.Past, req)
		}
	}
	h.render(w, http.StatusOK, "home", d)
}

// roles is every role of the policy as u sees it: what `jit server
// explain` says for u, word for word (the eligible ones first).
func (h *Handler) roles(u api.User) []roleView {
	p := h.opts.Grants.Policy()
	var yes, no []roleView
	for _, r := range p.Roles {
		v := h.roleView(p, r, u)
		if v.Explanation.Eligible {
			yes = append(yes, v)
		} else {
			no = append(no, v)
		}
	}
	return append(yes, no...)
}

func (h *Handler) roleView(p *policy.Policy, r *policy.Role, u api.User) roleView {
	e := p.Explain(u, r.Name)
	return roleView{Name: r.Name, Description: r.Description, Explanation: e, API: p.APIRole(r, u), Explained: e.String()}
}

func (h *Handler) rolePage(w http.ResponseWriter, r *http.Request) {
	h.rolePageWith(w, r, http.StatusOK, requestForm{}, nil, "")
}

// rolePageWith renders a role's page and its request form, with what was
// typed and what was wrong with it.
func (h *Handler) rolePageWith(w http.ResponseWriter, r *http.Request, status int, form requestForm, errs map[string]string, problem string) {
	name := r.PathValue("role")
	here := AppPrefix + "roles/" + url.PathEscape(name)
	s, a, ok := h.signedIn(w, r, here)
	if !ok {
		return
	}
	p := h.opts.Grants.Policy()
	role, found := p.Role(name)
	if !found {
		h.message(w, http.StatusNotFound, "No such role", fmt.Sprintf("There is no role named %q in the policy.", name), AppPrefix)
		return
	}
	v := h.roleView(p, role, a.User)
	if form.Duration == "" && status == http.StatusOK {
		form.Duration = api.FormatDuration(role.DefaultDuration)
	}
	h.render(w, status, "role", h.base(r, "Request "+name, "home", a, s, pageData{Role: &v, Form: form, Errors: errs, Error: problem}))
}

// create asks for a role with what the form says; bad input comes back
// next to its field, with everything typed kept.
func (h *Handler) create(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("role")
	here := AppPrefix + "roles/" + url.PathEscape(name)
	if err := r.ParseForm(); err != nil {
		h.message(w, http.StatusBadRequest, "Bad form", "The form could not be read; nothing was requested.", here)
		return
	}
	s, a, ok := h.signedIn(w, r, here)
	if !ok {
		return
	}
	if !h.csrfOK(r, s) {
		h.refuse(w, http.StatusForbidden, "request with a bad CSRF token", "This form is not from this server's page. Nothing was requested.")
		return
	}
	form := requestForm{Reason: r.PostForm.Get("reason"), Ticket: strings.TrimSpace(r.PostForm.Get("ticket")),
		Duration: strings.TrimSpace(r.PostForm.Get("duration")), BreakGlass: r.PostForm.Get("break_glass") == "on"}
	in := api.CreateRequest{Role: name, Reason: form.Reason, Ticket: form.Ticket, BreakGlass: form.BreakGlass}
	if form.Duration != "" {
		d, err := time.ParseDuration(form.Duration)
		if err != nil || d <= 0 {
			h.rolePageWith(w, r, http.StatusBadRequest, form, map[string]string{"duration": fmt.Sprintf(
				"%q is not a duration. Write it like 30m, 1h or 1h30m.", form.Duration)}, "")
			return
		}
		in.DurationSeconds = int64(d / time.Second)
	}
	req, err := h.opts.Grants.Create(r.Context(), a, in)
	if err != nil {
		var inv *policy.InvalidError
		if errors.As(err, &inv) && inv.Field != "" && inv.Field != "role" {
			h.failed(r, a, err) // audited as the API audits it
			h.rolePageWith(w, r, http.StatusBadRequest, form, map[string]string{inv.Field: fieldProblem(inv)}, "")
			return
		}
		code, e := h.failed(r, a, err)
		h.rolePageWith(w, r, code, form, nil, problemOf(e))
		return
	}
	h.log.Info("request through the web app", "id", req.ID, "role", req.Role, "state", req.State)
	http.Redirect(w, r, AppPrefix+"requests/"+url.PathEscape(req.ID), http.StatusSeeOther)
}

// fieldProblem is what is wrong with a field and what to do, in the
// policy's words (its hints name the CLI's flags; the form's fields carry
// the same names).
func fieldProblem(e *policy.InvalidError) string {
	if e.Hint == "" {
		return e.Reason + "."
	}
	return e.Reason + ". " + strings.ToUpper(e.Hint[:1]) + e.Hint[1:] + "."
}

func problemOf(e *api.Error) string {
	if e.Hint != "" {
		return e.Message + " (" + e.Hint + ")"
	}
	return e.Message
}

// ownRequest loads id for the request page: the requester's own request
// only (approvers have /approve/{id}); anything else is "no such request",
// so ids cannot be probed.
func (h *Handler) ownRequest(w http.ResponseWriter, r *http.Request, a grants.Actor, id string) (*api.Request, bool) {
	req, err := h.opts.Grants.Get(r.Context(), a, id)
	if err == nil && !identity.Requested(a.User, req) {
		h.opts.Grants.Refused(r.Context(), a, &policy.DeniedError{Reason: "the web app's request page is the requester's"}, r.URL.Path)
		err = errNotYours
	}
	if err != nil {
		if errors.Is(err, errNotYours) {
			h.message(w, http.StatusNotFound, "No such request", "There is no such request of yours.", AppPrefix)
			return nil, false
		}
		code, e := h.failed(r, a, err)
		h.apiFailed(w, r, code, e, AppPrefix)
		return nil, false
	}
	return req, true
}

var errNotYours = errors.New("not the requester")

// ownRequestQuiet is ownRequest for the event stream: no page is written,
// but a look at another person's request is audited all the same.
func (h *Handler) ownRequestQuiet(r *http.Request, a grants.Actor, id string) (*api.Request, bool) {
	req, err := h.opts.Grants.Get(r.Context(), a, id)
	if err != nil {
		h.failed(r, a, err)
		return nil, false
	}
	if !identity.Requested(a.User, req) {
		h.opts.Grants.Refused(r.Context(), a, &policy.DeniedError{Reason: "the web app's request page is the requester's"}, r.URL.Path)
		return nil, false
	}
	return req, true
}

func (h *Handler) requestPage(w http.ResponseWriter, r *http.Request) {
	h.requestPageWith(w, r, http.StatusOK, "", "")
}

func (h *Handler) requestPageWith(w http.ResponseWriter, r *http.Request, status int, problem, notice string) {
	id := r.PathValue("id")
	here := AppPrefix + "requests/" + url.PathEscape(id)
	s, a, ok := h.signedIn(w, r, here)
	if !ok {
		return
	}
	req, ok := h.ownRequest(w, r, a, id)
	if !ok {
		return
	}
	h.opts.Grants.WithActivity(r.Context(), req)
	d := h.base(r, req.Role+" · "+req.ID, "home", a, s, pageData{Request: req, Error: problem, Text: notice})
	d.Grant = h.grantView(a.User, s, req)
	h.render(w, status, "mine", d)
}

// grantView is the live part of the request page for req.
func (h *Handler) grantView(u api.User, s *session, req *api.Request) *grantView {
	now := h.opts.Now()
	p := h.opts.Grants.Policy()
	g := &grantView{Request: req, CSRF: s.CSRF, Now: now, Explanation: p.Explain(u, req.Role),
		Pending: lifecycle.StateAt(req, now) == api.StatePending,
		CLI:     "jit exec " + req.Role + " -- aws sts get-caller-identity"}
	if lifecycle.StateAt(req, now).Granted() {
		g.Live, g.Left = true, req.EndsAt.Sub(now)
		g.EndsSoon = g.Left <= ReminderBefore
		g.CanExtend = req.PendingExtension == nil
		if role, ok := p.Role(req.Role); ok && role.TargetKind() == policy.KindAWSRole {
			g.CanConsole = true
		}
	}
	return g
}

// act is a requester's action on their request: cancel, revoke, extend,
// or open the console.
func (h *Handler) act(w http.ResponseWriter, r *http.Request) {
	id, action := r.PathValue("id"), r.PathValue("action")
	here := AppPrefix + "requests/" + url.PathEscape(id)
	if err := r.ParseForm(); err != nil {
		h.message(w, http.StatusBadRequest, "Bad form", "The form could not be read; nothing was changed.", here)
		return
	}
	s, a, ok := h.signedIn(w, r, here)
	if !ok {
		return
	}
	if !h.csrfOK(r, s) {
		h.refuse(w, http.StatusForbidden, action+" with a bad CSRF token", "This form is not from this server's page. Nothing was changed.")
		return
	}
	if _, ok := h.ownRequest(w, r, a, id); !ok {
		return
	}
	comment := strings.TrimSpace(r.PostForm.Get("comment"))
	var err error
	notice := ""
	switch action {
	case "cancel":
		_, err = h.opts.Grants.Cancel(r.Context(), a, id, comment)
	case "revoke":
		_, err = h.opts.Grants.Revoke(r.Context(), a, id, comment)
	case "extend":
		by, perr := time.ParseDuration(strings.TrimSpace(r.PostForm.Get("by")))
		if perr != nil || by <= 0 {
			h.requestPageWith(w, r, http.StatusBadRequest, "The extension must be a duration such as 15m or 1h.", "")
			return
		}
		var waiting bool
		if _, waiting, err = h.opts.Grants.Extend(r.Context(), a, id, by, comment); err == nil && waiting {
			notice = "The extension waits for an approver; the grant keeps its end until then."
		}
	case "console":
		h.console(w, r, a, id)
		return
	default:
		h.message(w, http.StatusNotFound, "No such action", "Choose cancel, revoke, extend or console.", here)
		return
	}
	if err != nil {
		code, e := h.failed(r, a, err)
		h.requestPageWith(w, r, code, problemOf(e), "")
		return
	}
	h.log.Info("requester's action through the web app", "id", id, "action", action)
	if notice != "" {
		h.requestPageWith(w, r, http.StatusOK, "", notice)
		return
	}
	http.Redirect(w, r, here, http.StatusSeeOther)
}

// console vends credentials for the actor's own live grant, turns them
// into a federation sign-in URL server-side and redirects the browser
// there: the keys never reach the page.
func (h *Handler) console(w http.ResponseWriter, r *http.Request, a grants.Actor, id string) {
	v, err := h.opts.Grants.Credentials(r.Context(), a, id)
	if err != nil {
		code, e := h.failed(r, a, err)
		h.requestPageWith(w, r, code, problemOf(e), "")
		return
	}
	if v.AWS == nil {
		h.requestPageWith(w, r, http.StatusConflict, "This grant has no AWS credentials, so there is no console to open.", "")
		return
	}
	c := api.Credentials{AccessKeyID: v.AWS.AccessKeyID, SecretAccessKey: v.AWS.SecretAccessKey, SessionToken: v.AWS.SessionToken,
		RequestID: v.Request.ID, Role: v.Request.Role}
	signIn, err := h.opts.Console.SignInURL(r.Context(), c, h.opts.ConsoleDestination)
	if err != nil {
		h.log.Warn("web app: console sign-in failed", "id", id, "err", err)
		h.requestPageWith(w, r, http.StatusBadGateway, "The AWS federation endpoint did not give a sign-in: "+err.Error()+". Try again, or use the CLI line below.", "")
		return
	}
	h.log.Info("console sign-in through the web app", "id", id, "user", a.User.ID())
	http.Redirect(w, r, signIn, http.StatusSeeOther)
}
