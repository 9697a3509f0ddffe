// Package webapp is the web door of jit served by `jit server`: people sign
// in at the IdP (authorization code flow with PKCE), see the roles they may
// request (and, for the others, why not, in `jit server explain`'s words),
// ask for one, watch the request live (server-sent events fed by the same
// hub as the API's long-poll), and use their grants: extend, revoke, open
// the AWS console (the server turns the grant into a federation sign-in URL
// and redirects; the keys never reach the page). Approvers decide at
// /approve/{id} and see their queue and the review queue at /approve/.
//
// The app holds no authority of its own: on every page it verifies the
// signed-in user's ID token with the API's verifier, refuses workloads, and
// calls the grants service (pkg/grants) as that user with Via "web", so
// every rule is decided by the same code as for the CLI. The code flow
// therefore uses the CLI's public client id, so the ID token has the
// audience the API expects.
//
// Security: sessions are AES-GCM-sealed cookies (HttpOnly, SameSite=Lax,
// Secure and __Host- over https) bound to the principal (issuer, subject)
// and living as long as the ID token; deciding (approve, deny, review)
// needs a sign-in within web.max_login_age (auth_time, else iat; max_age
// and prompt=login are sent), requesting does not. Every POST carries a
// per-session CSRF token compared in constant time and must come from this
// origin; state, nonce and the PKCE verifier bind the callback to the
// browser that started it; return paths are same-origin paths of the app
// only; every response has a strict CSP: scripts and styles from the
// server only, none inline.
package webapp

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/console"
)

//go:embed templates/*.html static/style.css static/app.js
var assets embed.FS

// Paths the app serves. The approver's pages keep /approve/ (links in
// Slack messages and mail point there); the callback stays
// /approve/callback, the redirect URI operators registered at their IdP.
const (
	AppPrefix    = "/web/"
	PathPrefix   = "/approve/"
	CallbackPath = "/approve/callback"
	logoutPath   = "/web/logout"
	staticPrefix = "/web/static/"
)

// DefaultMaxLoginAge is how long after typing their credentials at the IdP
// an approver may decide.
const DefaultMaxLoginAge = 15 * time.Minute

// ReminderBefore is how close to its end a grant's page offers to extend
// it ("ends in N min: extend?").
const ReminderBefore = 5 * time.Minute

const (
	maxFormBytes = 16 << 10
	loginTTL     = 10 * time.Minute // from leaving for the IdP to coming back
	maxComment   = 2000
	keepAlive    = 25 * time.Second // an SSE comment line keeps proxies from closing an idle stream
)

// Changes wakes the live pages when a request changes; server.Hub (the
// one the API's long-poll waits on) is one.
type Changes interface {
	Watch(id string) (<-chan struct{}, func())
	Closed() <-chan struct{}
}

// ConsoleSigner turns a grant's credentials into a console sign-in URL;
// console.Signer, the code `jit console` uses, is one.
type ConsoleSigner interface {
	SignInURL(ctx context.Context, c api.Credentials, destination string) (string, error)
}

// Options configure the app.
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
	// MaxLoginAge bounds how old a sign-in may be to decide [15m].
	MaxLoginAge time.Duration
	// ClockSkew tolerated on token times [30s].
	ClockSkew time.Duration
	// SessionKey is the 32-byte AES-256-GCM key sealing the cookies; empty:
	// random at start (sessions then end with the process and do not cross
	// replicas).
	SessionKey []byte
	// Grants is the grants service the app reads and acts through, as the
	// API does.
	Grants Grants
	// Verifier is the API's ID token verifier: the session's token is
	// checked with the same rules on every page.
	Verifier TokenVerifier
	// Changes wakes the live request pages; without it a request page
	// still works with a reload, and its event stream answers 503.
	Changes Changes
	// Console signs grants into the AWS console [console.Signer on
	// FederationURL]. FederationURL is the federation endpoint
	// [console.DefaultFederationURL] and ConsoleDestination the page to open
	// [console.DefaultDestination]; both origins are in the CSP's
	// form-action, since the console button's POST is answered with a
	// redirect there.
	Console            ConsoleSigner
	FederationURL      string
	ConsoleDestination string
	// HTTPClient talks to the IdP and the federation endpoint [10s timeout].
	HTTPClient *http.Client
	// Now is the clock [time.Now].
	Now func() time.Time
	// Logger gets sign-ins and refusals, never a token.
	Logger *slog.Logger
}

// Handler serves the app. Create it with New; mount it with Register.
type Handler struct {
	opts          Options
	public        *url.URL
	secure        bool
	sealer        *sealer
	sessionCookie string
	loginCookie   string
	pages         *template.Template
	static        map[string]staticFile
	csp           string
	log           *slog.Logger

	mu       sync.Mutex
	provider *oidc.Provider // discovered on first use
}

type staticFile struct {
	contentType string
	body        []byte
}

// New checks the options and builds the app.
func New(opts Options) (*Handler, error) {
	if opts.Issuer == "" || opts.ClientID == "" || opts.Grants == nil || opts.Verifier == nil {
		return nil, errors.New("webapp: issuer, client id, grants service and token verifier are required")
	}
	pub, err := url.Parse(strings.TrimSuffix(opts.PublicURL, "/"))
	if err != nil || pub.Host == "" || (pub.Scheme != "http" && pub.Scheme != "https") || (pub.Path != "" && pub.Path != "/") {
		return nil, fmt.Errorf("webapp: public URL %q must be http(s)://host[:port] with no path", opts.PublicURL)
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
	if opts.FederationURL == "" {
		opts.FederationURL = console.DefaultFederationURL
	}
	if opts.ConsoleDestination == "" {
		opts.ConsoleDestination = console.DefaultDestination
	}
	fedOrigin, err1 := origin(opts.FederationURL)
	destOrigin, err2 := origin(opts.ConsoleDestination)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("webapp: %w", err)
	}
	if opts.Console == nil {
		opts.Console = &console.Signer{FederationURL: opts.FederationURL, HTTPClient: opts.HTTPClient}
	}
	key := opts.SessionKey
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("webapp: session key: %w", err)
		}
	}
	s, err := newSealer(key)
	if err != nil {
		return nil, fmt.Errorf("webapp: %w", err)
	}
	pages, err := template.New("").Funcs(funcs).ParseFS(assets, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("webapp: templates: %w", err)
	}
	static := map[string]staticFile{}
	for name, ct := range map[string]string{"style.css": "text/css; charset=utf-8", "app.js": "text/javascript; charset=utf-8"} {
		b, err := fs.ReadFile(assets, "static/"+name)
		if err != nil {
			return nil, err
		}
		static[name] = staticFile{ct, b}
	}
	h := &Handler{opts: opts, public: pub, secure: pub.Scheme == "https", sealer: s, pages: pages, static: static,
		csp: ContentSecurityPolicy(fedOrigin, destOrigin), log: opts.Logger}
	h.sessionCookie, h.loginCookie = cookieNames(h.secure)
	return h, nil
}

// ContentSecurityPolicy is sent with every response of the app: scripts,
// styles, images and event streams from the server only, nothing inline,
// forms post to the server (and, for the console button, to the given
// federation and console origins), never framed.
func ContentSecurityPolicy(formOrigins ...string) string {
	action := "'self'"
	seen := map[string]bool{}
	for _, o := range formOrigins {
		if o != "" && !seen[o] {
			seen[o] = true
			action += " " + o
		}
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action " + action +
		"; frame-ancestors 'none'; base-uri 'none'"
}

// origin is scheme://host of an http(s) URL.
func origin(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("%q is not an http(s) URL", raw)
	}
	return u.Scheme + "://" + u.Host, nil
}

// RedirectURL is the callback registered at the IdP.
func (h *Handler) RedirectURL() string { return h.public.String() + CallbackPath }

// URL is where people open the app.
func (h *Handler) URL() string { return h.public.String() + AppPrefix }

// Register mounts the app on the server's mux; it fits
// server.Options.Routes.
func (h *Handler) Register(mux *http.ServeMux) {
	handle := func(pattern string, f http.HandlerFunc) { mux.Handle(pattern, h.guard(f)) }
	redirect := func(to string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, to, http.StatusFound) }
	}
	handle("GET /{$}", redirect(AppPrefix))
	handle("GET /web", redirect(AppPrefix))
	handle("GET /approve", redirect(PathPrefix))
	// The requester's side.
	handle("GET /web/{$}", h.home)
	handle("GET /web/roles/{role}", h.rolePage)
	handle("POST /web/roles/{role}", h.create)
	handle("GET /web/requests/{id}", h.requestPage)
	handle("GET /web/requests/{id}/events", h.events)
	handle("POST /web/requests/{id}/{action}", h.act)
	handle("POST "+logoutPath, h.logout)
	handle("GET "+staticPrefix+"{name}", h.serveStatic)
	// The approver's side.
	handle("GET /approve/{$}", h.queue)
	handle("GET /approve/{id}", h.show)
	handle("POST /approve/{id}", h.decide)
	handle("GET "+CallbackPath, h.callback)
	handle("POST /approve/logout", h.logout) // the old sign-out form's address
	handle("GET /approve/static/style.css", h.serveStatic)
}

func (h *Handler) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if name == "" {
		name = "style.css"
	}
	f, ok := h.static[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(f.body)
}

// guard sets the security headers on every response and bounds the body.
func (h *Handler) guard(f http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", h.csp)
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
