// Package webapprove is the approver's web page served by `jit server` at
// /approve/ (the review queue) and /approve/{id} (one request): the approver
// signs in at the IdP with the authorization code flow and PKCE, sees the
// request and what the policy says about it, and approves or denies with a
// comment.
//
// The page holds no authority of its own: it calls the server's API handler
// in-process with the signed-in user's ID token as the bearer, so
// self-approval, N-of-M and not-an-approver are decided by the same code as
// for `jit approve`. The code flow therefore uses the CLI's public client id,
// so the ID token has the audience the API expects.
//
// Security: sessions are AES-GCM-sealed cookies (HttpOnly, SameSite=Lax,
// Secure and __Host- over https) that last at most web.max_login_age after
// the user last typed their credentials (auth_time, else iat; max_age and
// prompt=login are sent); every POST carries a per-session CSRF token
// compared in constant time; state, nonce and the PKCE verifier bind the
// callback to the browser that started it; redirects go to same-origin
// /approve/ paths only; and every response has a strict CSP with no script.
package webapprove

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/policy"
)

//go:embed templates/*.html static/style.css
var assets embed.FS

// Paths the page serves.
const (
	PathPrefix   = "/approve/"
	CallbackPath = "/approve/callback"
	logoutPath   = "/approve/logout"
	stylePath    = "/approve/static/style.css"
)

// ContentSecurityPolicy is sent with every response of the page: no script
// at all, styles from the server only, forms post to the server only, never
// framed.
const ContentSecurityPolicy = "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// DefaultMaxLoginAge is how long after typing their credentials at the IdP
// an approver may act.
const DefaultMaxLoginAge = 15 * time.Minute

const (
	maxFormBytes = 16 << 10
	loginTTL     = 10 * time.Minute // from leaving for the IdP to coming back
	maxComment   = 2000
)

// Options configure the page.
type Options struct {
	// PublicURL is the server's address as browsers reach it (config
	// public_url); the IdP redirects to PublicURL + /approve/callback, and
	// an https URL makes the cookies Secure.
	PublicURL string
	// Issuer and ClientID are the server's oidc.issuer and oidc.client_id:
	// the same public client as the CLI, so the ID token is one the API
	// accepts.
	Issuer   string
	ClientID string
	// Scopes asked for [openid, profile, email].
	Scopes []string
	// MaxLoginAge bounds how old a sign-in may be [15m].
	MaxLoginAge time.Duration
	// ClockSkew tolerated on token times [30s].
	ClockSkew time.Duration
	// SessionKey is the 32-byte AES-256-GCM key sealing the cookies; empty:
	// random at start (sessions then end with the process and do not cross
	// replicas).
	SessionKey []byte
	// Policy returns the policy in force, for the explanation shown.
	Policy func() *policy.Policy
	// HTTPClient talks to the IdP [10s timeout].
	HTTPClient *http.Client
	// Now is the clock [time.Now].
	Now func() time.Time
	// Logger gets sign-ins and refusals, never a token.
	Logger *slog.Logger
}

// Handler serves the page. Create it with New; mount it with Register.
type Handler struct {
	opts          Options
	public        *url.URL
	secure        bool
	sealer        *sealer
	sessionCookie string
	loginCookie   string
	pages         *template.Template
	style         []byte
	log           *slog.Logger

	mu       sync.Mutex
	provider *oidc.Provider // discovered on first use
}

// New checks the options and builds the page.
func New(opts Options) (*Handler, error) {
	if opts.Issuer == "" || opts.ClientID == "" || opts.Policy == nil {
		return nil, errors.New("webapprove: issuer, client id and policy are required")
	}
	pub, err := url.Parse(strings.TrimSuffix(opts.PublicURL, "/"))
	if err != nil || pub.Host == "" || (pub.Scheme != "http" && pub.Scheme != "https") || (pub.Path != "" && pub.Path != "/") {
		return nil, fmt.Errorf("webapprove: public URL %q must be http(s)://host[:port] with no path", opts.PublicURL)
	}
	pub.Path = ""
	if len(opts.Scopes) == 0 {
		opts.Scopes = []string{oidc.ScopeOpenID, "profile", "email"}
	}
	if opts.MaxLoginAge <= 0 {
		opts.MaxLoginAge = DefaultMaxLoginAge
	}
	if opts.ClockSkew <= 0 {
		opts.ClockSkew = 30 * time.Second
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	key := opts.SessionKey
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("webapprove: session key: %w", err)
		}
	}
	s, err := newSealer(key)
	if err != nil {
		return nil, fmt.Errorf("webapprove: %w", err)
	}
	pages, err := template.New("").Funcs(template.FuncMap{"human": api.FormatDuration, "when": when}).ParseFS(assets, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("webapprove: templates: %w", err)
	}
	style, err := fs.ReadFile(assets, "static/style.css")
	if err != nil {
		return nil, err
	}
	h := &Handler{opts: opts, public: pub, secure: pub.Scheme == "https", sealer: s, pages: pages, style: style, log: opts.Logger}
	h.sessionCookie, h.loginCookie = cookieNames(h.secure)
	return h, nil
}

// RedirectURL is the callback registered at the IdP.
func (h *Handler) RedirectURL() string { return h.public.String() + CallbackPath }

// Register mounts the page on the server's mux; its fits
// server.Options.Routes. The page calls the API through the same mux.
func (h *Handler) Register(mux *http.ServeMux) {
	apiHandler := http.Handler(mux)
	handle := func(pattern string, f func(http.ResponseWriter, *http.Request, http.Handler)) {
		mux.Handle(pattern, h.guard(func(w http.ResponseWriter, r *http.Request) { f(w, r, apiHandler) }))
	}
	mux.Handle("GET /approve", h.guard(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, PathPrefix, http.StatusFound)
	}))
	handle("GET /approve/{$}", h.queue)
	handle("GET /approve/{id}", h.show)
	handle("POST /approve/{id}", h.decide)
	handle("GET "+CallbackPath, func(w http.ResponseWriter, r *http.Request, _ http.Handler) { h.callback(w, r) })
	handle("POST "+logoutPath, func(w http.ResponseWriter, r *http.Request, _ http.Handler) { h.logout(w, r) })
	mux.Handle("GET "+stylePath, h.guard(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(h.style)
	}))
}

// guard sets the security headers on every response and bounds the body.
func (h *Handler) guard(f http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", ContentSecurityPolicy)
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		// same-origin, not no-referrer: under no-referrer Chromium sends
		// "Origin: null" with the page's own form posts.
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cache-Control", "no-store")
		if h.secure {
			hd.Set("Strict-Transport-Security", "max-age=31536000")
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		f(w, r)
	})
}

// ---- sign-in ----

func (h *Handler) oidcProvider(ctx context.Context) (*oidc.Provider, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.provider != nil {
		return h.provider, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, h.opts.HTTPClient), h.opts.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discover issuer %s: %w", h.opts.Issuer, err)
	}
	h.provider = p
	return p, nil
}

func (h *Handler) oauth2Config(p *oidc.Provider) *oauth2.Config {
	ep := p.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInParams // a public client: client_id in the form, no secret
	return &oauth2.Config{ClientID: h.opts.ClientID, Endpoint: ep, RedirectURL: h.RedirectURL(), Scopes: h.opts.Scopes}
}

// startLogin sends the browser to the IdP, remembering (sealed, in a
// short-lived cookie) the state, nonce and PKCE verifier it must come back
// with, and where to go afterwards.
func (h *Handler) startLogin(w http.ResponseWriter, r *http.Request, returnTo string) {
	if !sameOriginPath(returnTo) {
		returnTo = PathPrefix
	}
	p, err := h.oidcProvider(r.Context())
	if err != nil {
		h.log.Error("approver sign-in: identity provider unavailable", "err", err)
		h.message(w, http.StatusServiceUnavailable, "Sign-in unavailable", "The server cannot reach the identity provider. Try again shortly.", "")
		return
	}
	state, err1 := randomToken()
	nonce, err2 := randomToken()
	if err := errors.Join(err1, err2); err != nil {
		h.message(w, http.StatusInternalServerError, "Sign-in failed", "No randomness available.", "")
		return
	}
	ls := loginState{State: state, Nonce: nonce, Verifier: oauth2.GenerateVerifier(), ReturnTo: returnTo,
		Expires: h.opts.Now().Add(loginTTL).Unix()}
	sealed, err := h.sealer.seal(h.loginCookie, ls)
	if err != nil {
		h.message(w, http.StatusInternalServerError, "Sign-in failed", "Could not start the sign-in.", "")
		return
	}
	h.setCookie(w, h.loginCookie, sealed, h.opts.Now().Add(loginTTL))
	h.setCookie(w, h.sessionCookie, "", time.Time{}) // a stale session is gone for good
	target := h.oauth2Config(p).AuthCodeURL(state,
		oauth2.S256ChallengeOption(ls.Verifier), oidc.Nonce(nonce),
		// Ask the IdP to make the user type their credentials again.
		oauth2.SetAuthURLParam("prompt", "login"),
		oauth2.SetAuthURLParam("max_age", strconv.Itoa(int(h.opts.MaxLoginAge/time.Second))))
	http.Redirect(w, r, target, http.StatusFound)
}

// callback finishes the code flow: state and the login cookie bind it to
// this browser, PKCE binds the code to it, the nonce binds the ID token to
// it, and auth_time must be within MaxLoginAge.
func (h *Handler) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	h.setCookie(w, h.loginCookie, "", time.Time{}) // one use, whatever happens
	var ls loginState
	c, err := r.Cookie(h.loginCookie)
	if err != nil || h.sealer.open(h.loginCookie, c.Value, &ls) != nil || h.opts.Now().Unix() > ls.Expires {
		h.refuse(w, http.StatusBadRequest, "sign-in callback without a live sign-in in this browser", "This sign-in expired or was started in another browser.")
		return
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		h.log.Info("approver sign-in refused by the identity provider", "error", e)
		h.message(w, http.StatusUnauthorized, "Sign-in refused", "The identity provider said: "+e+" "+q.Get("error_description"), ls.ReturnTo)
		return
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(ls.State)) != 1 {
		h.refuse(w, http.StatusBadRequest, "sign-in callback state mismatch", "This sign-in does not match the one this browser started.")
		return
	}
	p, err := h.oidcProvider(ctx)
	if err != nil {
		h.message(w, http.StatusServiceUnavailable, "Sign-in unavailable", "The server cannot reach the identity provider. Try again shortly.", "")
		return
	}
	octx := oidc.ClientContext(ctx, h.opts.HTTPClient)
	tok, err := h.oauth2Config(p).Exchange(octx, q.Get("code"), oauth2.VerifierOption(ls.Verifier))
	if err != nil {
		h.log.Info("approver sign-in: code exchange failed", "err", err)
		h.message(w, http.StatusUnauthorized, "Sign-in failed", "The identity provider did not accept the sign-in code.", ls.ReturnTo)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	now, skew := h.opts.Now, h.opts.ClockSkew
	idt, err := p.VerifierContext(octx, &oidc.Config{ClientID: h.opts.ClientID,
		Now: func() time.Time { return now().Add(-skew) }}).Verify(octx, raw)
	if err != nil {
		h.log.Info("approver sign-in: ID token refused", "err", err)
		h.message(w, http.StatusUnauthorized, "Sign-in failed", "The identity provider's ID token did not verify.", ls.ReturnTo)
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(ls.Nonce)) != 1 {
		h.refuse(w, http.StatusBadRequest, "sign-in ID token nonce mismatch", "The ID token was not issued for this sign-in.")
		return
	}
	var claims struct {
		AuthTime int64 `json:"auth_time"`
	}
	_ = idt.Claims(&claims)
	authTime := idt.IssuedAt
	if claims.AuthTime > 0 {
		authTime = time.Unix(claims.AuthTime, 0)
	}
	if h.opts.Now().Sub(authTime) > h.opts.MaxLoginAge+skew {
		h.log.Warn("approver sign-in: identity provider did not re-authenticate", "subject", idt.Subject, "auth_time", authTime)
		h.message(w, http.StatusUnauthorized, "Sign-in too old",
			fmt.Sprintf("Approving needs a sign-in within %s, but the identity provider reused one from %s.", api.FormatDuration(h.opts.MaxLoginAge), when(authTime)), ls.ReturnTo)
		return
	}
	csrf, err := randomToken()
	if err != nil {
		h.message(w, http.StatusInternalServerError, "Sign-in failed", "No randomness available.", "")
		return
	}
	expires := authTime.Add(h.opts.MaxLoginAge)
	if idt.Expiry.Before(expires) {
		expires = idt.Expiry
	}
	sealed, err := h.sealer.seal(h.sessionCookie, session{IDToken: raw, AuthTime: authTime.Unix(), Expires: expires.Unix(), CSRF: csrf})
	if err != nil {
		h.message(w, http.StatusInternalServerError, "Sign-in failed", "Could not store the session.", "")
		return
	}
	h.setCookie(w, h.sessionCookie, sealed, expires)
	h.log.Info("approver signed in", "subject", idt.Subject, "until", expires)
	http.Redirect(w, r, ls.ReturnTo, http.StatusSeeOther)
}

// session returns the live session, or nil: none, forged, or older than
// MaxLoginAge.
func (h *Handler) session(r *http.Request) *session {
	c, err := r.Cookie(h.sessionCookie)
	if err != nil {
		return nil
	}
	var s session
	if h.sealer.open(h.sessionCookie, c.Value, &s) != nil {
		return nil
	}
	if h.opts.Now().Unix() >= s.Expires {
		return nil
	}
	return &s
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if s := h.session(r); s != nil && !h.csrfOK(r, s) {
		h.refuse(w, http.StatusForbidden, "logout with a bad CSRF token", "This form is not from this server's page.")
		return
	}
	h.setCookie(w, h.sessionCookie, "", time.Time{})
	h.message(w, http.StatusOK, "Signed out", "You are signed out of the approval page.", PathPrefix)
}

// csrfOK checks the form's token against the session's and, when the
// browser says where the form came from, that it came from here.
func (h *Handler) csrfOK(r *http.Request, s *session) bool {
	if o := r.Header.Get("Origin"); o != "" && o != h.public.String() {
		return false
	}
	got := r.PostFormValue("csrf")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.CSRF)) == 1
}

// sameOriginPath accepts only a path of this page: no scheme, no host, no
// "//", dot-segment or backslash tricks.
func sameOriginPath(p string) bool {
	if !strings.HasPrefix(p, PathPrefix) || strings.Contains(p, "//") || strings.Contains(p, "/.") || strings.ContainsAny(p, "\\\r\n?#") {
		return false
	}
	u, err := url.Parse(p)
	return err == nil && u.Scheme == "" && u.Host == "" && u.Path == p
}

// ---- pages ----

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

// ---- the in-process API ----

// call runs one API request through the server's own handler with the
// session's ID token, and decodes the answer or the API's error.
func (h *Handler) call(r *http.Request, apiH http.Handler, s *session, method, path string, in, out any) (int, *api.Error) {
	var body io.Reader = http.NoBody
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return http.StatusInternalServerError, &api.Error{Code: api.CodeInternal, Message: err.Error()}
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(r.Context(), method, path, body)
	if err != nil {
		return http.StatusInternalServerError, &api.Error{Code: api.CodeInternal, Message: err.Error()}
	}
	req.RemoteAddr = r.RemoteAddr
	req.Host = r.Host
	req.Header.Set("Authorization", "Bearer "+s.IDToken)
	req.Header.Set("User-Agent", "jit-approval-page")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := &recorder{header: http.Header{}, code: http.StatusOK}
	apiH.ServeHTTP(rec, req)
	if rec.code >= 300 {
		e := &api.Error{}
		if json.Unmarshal(rec.body.Bytes(), e) != nil || e.Message == "" {
			e = &api.Error{Code: api.CodeInternal, Message: http.StatusText(rec.code)}
		}
		return rec.code, e
	}
	if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
		return http.StatusInternalServerError, &api.Error{Code: api.CodeInternal, Message: "bad API answer: " + err.Error()}
	}
	return rec.code, nil
}

// recorder collects an in-process API response.
type recorder struct {
	header http.Header
	code   int
	wrote  bool
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.code, r.wrote = code, true
	}
}
func (r *recorder) Write(p []byte) (int, error) {
	r.wrote = true
	return r.body.Write(p)
}

// ---- rendering ----

type pageData struct {
	Title         string
	Me            api.User
	CSRF          string
	Error         string
	Text          string
	Link          string
	Now           time.Time
	SignedInUntil time.Time
	Requests      []api.Request
	Request       *api.Request
	Explanation   policy.Explanation
	Own           bool
	Pending       bool
	Standing      string // why the policy would refuse this user's approval
	Reviews       []api.Request
	Reviewable    bool // the user may record a post-hoc review verdict
}

func (h *Handler) render(w http.ResponseWriter, status int, name string, d pageData) {
	var buf bytes.Buffer
	if err := h.pages.ExecuteTemplate(&buf, name, d); err != nil {
		h.log.Error("render approval page", "page", name, "err", err)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, "internal error rendering the page\n")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// message renders a short page with an optional same-origin link onward.
func (h *Handler) message(w http.ResponseWriter, status int, title, text, link string) {
	if link != "" && !sameOriginPath(link) {
		link = PathPrefix
	}
	h.render(w, status, "message", pageData{Title: title, Text: text, Link: link})
}

func when(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }
