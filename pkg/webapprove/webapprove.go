// Package webapprove is the approver's web page served by `jit server` at
// /approve/ (the review queue) and /approve/{id} (one request): the approver
// signs in at the IdP with the authorization code flow and PKCE, sees the
// request and what the policy says about it, and approves or denies with a
// comment.
//
// The page holds no authority of its own: on every page it verifies the
// signed-in user's ID token with the API's verifier and calls the grants
// service (pkg/grants) as that user, so self-approval, N-of-M and
// not-an-approver are decided by the same code as for `jit approve`. The
// code flow therefore uses the CLI's public client id, so the ID token has
// the audience the API expects.
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
	// Grants is the grants service the page reads and decides through,
	// as the API does.
	Grants Grants
	// Verifier is the API's ID token verifier: the session's token is
	// checked with the same rules on every page.
	Verifier TokenVerifier
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
	if opts.Issuer == "" || opts.ClientID == "" || opts.Grants == nil || opts.Verifier == nil {
		return nil, errors.New("webapprove: issuer, client id, grants service and token verifier are required")
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

// Register mounts the page on the server's mux; it fits
// server.Options.Routes.
func (h *Handler) Register(mux *http.ServeMux) {
	handle := func(pattern string, f http.HandlerFunc) { mux.Handle(pattern, h.guard(f)) }
	mux.Handle("GET /approve", h.guard(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, PathPrefix, http.StatusFound)
	}))
	handle("GET /approve/{$}", h.queue)
	handle("GET /approve/{id}", h.show)
	handle("POST /approve/{id}", h.decide)
	handle("GET "+CallbackPath, h.callback)
	handle("POST "+logoutPath, h.logout)
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
