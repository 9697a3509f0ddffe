package webapp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/apiclient"
	"github.com/jit-access/jit/pkg/devidp"
	"github.com/jit-access/jit/pkg/server"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/vend"
	"github.com/jit-access/jit/pkg/webapp"
)

// testPolicy: developers request prod-admin, one approver from "approvers";
// two-man needs two; oncall allows break-glass (and extensions past it only
// with an approver).
// readonly is auto-approved; ticketed asks for a ticket. Carol (admins,
// approvers) may request none of them.
var testPolicy = testenv.Policy(testenv.ProdAdmin.Without("pending_timeout"), testenv.TwoMan,
	testenv.OnCall.With("max_extensions", "2").With("max_total_duration", "2h"), testenv.ReadOnly,
	testenv.NewRole("ticketed", "max_duration", "1h", "ticket_pattern", "'^INC-[0-9]+$'"))

// activitySecret authenticates test activity deliveries.
const activitySecret = "webapp-activity-secret-01234567"

// identities is one OIDC provider for the package, with device-flow ID
// tokens made on first use (the requesters' side, as the CLI gets them).
type identities struct {
	idp    *devidp.Provider
	mu     sync.Mutex
	tokens map[string]string
}

var ids identities // set by TestMain; tests only

func TestMain(m *testing.M) {
	p, err := devidp.Start(context.Background(), devidp.Options{})
	if err != nil {
		panic("start OIDC provider: " + err.Error())
	}
	ids = identities{idp: p, tokens: map[string]string{}}
	code := m.Run()
	stopChromium()
	_ = p.Close()
	os.Exit(code)
}

// user is username as the API's verifier sees them.
func (ids *identities) user(t *testing.T, username string) api.User {
	t.Helper()
	v := server.NewOIDCVerifier(server.OIDCVerifierConfig{Issuer: ids.idp.Issuer(), ClientID: ids.idp.ClientID(), Name: "oidc"})
	u, err := v.Verify(t.Context(), token(t, username))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func webappMaxLoginAge() time.Duration { return webapp.DefaultMaxLoginAge }

// token is username's ID token from the device flow.
func token(t *testing.T, username string) string {
	t.Helper()
	ids.mu.Lock()
	defer ids.mu.Unlock()
	if tok, ok := ids.tokens[username]; ok {
		return tok
	}
	tok := testenv.DeviceToken(t, ids.idp, username).Extra("id_token").(string)
	ids.tokens[username] = tok
	return tok
}

type env struct {
	t     *testing.T
	url   string
	clock *testenv.Clock
	srv   *server.Server
	st    store.Store
	fed   *fakeFederation
}

// envOptions change newEnvWith's server: the vendor (a FakeVendor when
// nil), the web app's options, and what the fake federation endpoint
// checks of the credentials it is given.
type envOptions struct {
	vendor     vend.Vendor
	web        []func(*webapp.Options)
	checkCreds func(context.Context, api.Credentials) error
	// realTime runs the server on the real clock (slow browser tests,
	// whose sign-ins take longer than the token verifier's skew).
	realTime bool
}

// newEnv runs a jit server with the web app on 127.0.0.1 against the
// package's provider, and a fake federation endpoint for its console
// button. opts may change the app's options.
func newEnv(t *testing.T, opts ...func(*webapp.Options)) *env {
	t.Helper()
	return newEnvWith(t, envOptions{web: opts})
}

func newEnvWith(t *testing.T, eo envOptions) *env {
	t.Helper()
	opts := eo.web
	c := testenv.NewClock(time.Now())
	e := &env{t: t, clock: c, fed: newFakeFederation(t, eo.checkCreds)}
	log := slog.New(slog.DiscardHandler)
	now := c.Now
	if eo.realTime {
		now = time.Now
	}
	js := testenv.StartJitServer(t, testenv.JitServerOptions{
		Issuer: ids.idp.Issuer(), ClientID: ids.idp.ClientID(), Policy: testPolicy, Now: now, Logger: log,
		Vendor: eo.vendor,
		Tweak: func(o *server.Options, url string) {
			o.Activity = server.ActivityOptions{Secret: activitySecret}
			// The page and the API share one grants service and verifier,
			// as serverapp wires them.
			svc, err := server.NewGrants(*o)
			if err != nil {
				t.Fatal(err)
			}
			o.Grants = svc
			o.Hub = server.NewHub()
			wo := webapp.Options{
				PublicURL: url, Issuer: ids.idp.Issuer(), ClientID: ids.idp.ClientID(),
				Grants: svc, Verifier: o.Verifier, Changes: o.Hub, Now: now, Logger: log,
				FederationURL: e.fed.URL + "/federation", ConsoleDestination: e.fed.URL + "/console/",
			}
			for _, opt := range opts {
				opt(&wo)
			}
			web, err := webapp.New(wo)
			if err != nil {
				t.Fatal(err)
			}
			o.Routes = web.Register
		},
	})
	e.url, e.srv, e.st = js.URL, js.Server, js.Store
	// Live pages' streams end when the server shuts down, before it waits
	// for its connections (cleanups run last first).
	t.Cleanup(e.srv.BeginShutdown)
	return e
}

// client is an API client acting as username (device-flow token).
func (e *env) client(username string) *apiclient.Client {
	e.t.Helper()
	tok := token(e.t, username)
	c, err := apiclient.New(e.url, &http.Client{Timeout: time.Minute}, func(context.Context) (string, error) { return tok, nil })
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) create(username, role string) *api.Request {
	e.t.Helper()
	r, err := e.client(username).Create(e.t.Context(), api.CreateRequest{Role: role, Reason: "deploy hotfix INC-1"})
	if err != nil {
		e.t.Fatalf("create %s as %s: %v", role, username, err)
	}
	return r
}

func (e *env) state(id string) api.State {
	e.t.Helper()
	r, err := e.client("carol").Get(e.t.Context(), id) // an admin sees all
	if err != nil {
		e.t.Fatalf("get %s: %v", id, err)
	}
	return r.State
}

// browser is a plain-HTTP browser with a cookie jar. stopAt, when set,
// makes it stop before following a redirect to a URL with that path.
type browser struct {
	t      *testing.T
	hc     *http.Client
	stopAt string
	last   *url.URL // the redirect it stopped at
}

var errStopped = errors.New("stopped")

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t}
	b.hc = &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(r *http.Request, via []*http.Request) error {
		if b.stopAt != "" && r.URL.Path == b.stopAt {
			b.last = r.URL
			return errStopped
		}
		if len(via) > 10 {
			return errors.New("too many redirects")
		}
		return nil
	}}
	return b
}

type page struct {
	status int
	url    *url.URL
	header http.Header
	body   string
}

func (b *browser) do(method, target string, form url.Values) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(b.t.Context(), method, target, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.hc.Do(req)
	if err != nil && !errors.Is(err, errStopped) {
		b.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, url: resp.Request.URL, header: resp.Header, body: string(data)}
}

func (b *browser) get(target string) page { b.t.Helper(); return b.do(http.MethodGet, target, nil) }
func (b *browser) post(target string, form url.Values) page {
	b.t.Helper()
	return b.do(http.MethodPost, target, form)
}

// atLogin follows target to the IdP's sign-in form and returns its
// auth request id.
func (b *browser) atLogin(target string) string {
	b.t.Helper()
	p := b.get(target)
	if p.status != http.StatusOK || p.url.Path != "/login" || !strings.Contains(p.body, `name="password"`) {
		b.t.Fatalf("GET %s landed on %s (HTTP %d), not the IdP's sign-in form:\n%s", target, p.url, p.status, p.body)
	}
	return p.url.Query().Get("authRequestID")
}

// signIn types username's password into the IdP's form (reached from
// target) and follows the redirects back to the page.
func (b *browser) signIn(target, username string) page {
	b.t.Helper()
	id := b.atLogin(target)
	u, _ := ids.idp.User(username)
	return b.post(ids.idp.Issuer()+"/login", url.Values{"authRequestID": {id}, "username": {username}, "password": {u.Password}})
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, p page) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no CSRF field on %s (HTTP %d):\n%s", p.url, p.status, p.body)
	}
	return m[1]
}

var (
	scriptTag   = regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`)
	tags        = regexp.MustCompile(`<[a-zA-Z][^>]*>`)
	inlineAttrs = regexp.MustCompile(`(?i)\s(style|on[a-z]+)\s*=`)
)

// assertNoInlineScriptOrStyle: every script is the app's external file
// with nothing inside the tag, and no element carries a style or an event
// handler attribute (the CSP would block them; the page must not need them).
func assertNoInlineScriptOrStyle(t *testing.T, what, body string) {
	t.Helper()
	for _, m := range scriptTag.FindAllStringSubmatch(body, -1) {
		if !strings.Contains(m[1], `src="/web/static/app.js"`) || strings.TrimSpace(m[2]) != "" {
			t.Errorf("%s has an inline script: %s", what, m[0])
		}
	}
	if strings.Count(strings.ToLower(body), "<script") != len(scriptTag.FindAllString(body, -1)) {
		t.Errorf("%s has an unclosed script tag", what)
	}
	if strings.Contains(strings.ToLower(body), "<style") {
		t.Errorf("%s has a style element", what)
	}
	for _, tag := range tags.FindAllString(body, -1) {
		if inlineAttrs.MatchString(tag) {
			t.Errorf("%s has inline style or an event handler: %s", what, tag)
		}
	}
}

// fakeFederation is a FAKE of AWS's federation endpoint
// (signin.aws.amazon.com/federation), which cannot run here. Like AWS's it
// answers Action=getSigninToken (a POST whose Session is the role's keys as
// JSON) with a SigninToken, and Action=login with the console: here a
// page that names the role session it was signed in as, or a refusal for
// an unknown token. checkCreds, when set, must accept the keys (against
// MinIO: the keys really work) before a token is issued.
type fakeFederation struct {
	URL   string
	check func(context.Context, api.Credentials) error
	mu    sync.Mutex
	got   []api.Credentials
	toks  map[string]string // SigninToken → access key id
}

func newFakeFederation(t *testing.T, check func(context.Context, api.Credentials) error) *fakeFederation {
	f := &fakeFederation{check: check, toks: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

func (f *fakeFederation) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/federation" && r.Method == http.MethodPost && r.FormValue("Action") == "getSigninToken":
		var s struct{ SessionID, SessionKey, SessionToken string }
		if err := json.Unmarshal([]byte(r.FormValue("Session")), &s); err != nil || s.SessionID == "" || s.SessionKey == "" || s.SessionToken == "" {
			http.Error(w, "bad Session", http.StatusBadRequest)
			return
		}
		c := api.Credentials{AccessKeyID: s.SessionID, SecretAccessKey: s.SessionKey, SessionToken: s.SessionToken}
		if f.check != nil {
			if err := f.check(r.Context(), c); err != nil {
				http.Error(w, "the session's keys do not work: "+err.Error(), http.StatusForbidden)
				return
			}
		}
		f.mu.Lock()
		f.got = append(f.got, c)
		tok := fmt.Sprintf("fake-signin-token-%d", len(f.got))
		f.toks[tok] = s.SessionID
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]string{"SigninToken": tok})
	case r.URL.Path == "/federation" && r.Method == http.MethodGet && r.FormValue("Action") == "login":
		f.mu.Lock()
		key, ok := f.toks[r.FormValue("SigninToken")]
		f.mu.Unlock()
		if !ok {
			http.Error(w, "unknown SigninToken", http.StatusForbidden)
			return
		}
		http.Redirect(w, r, r.FormValue("Destination")+"?session="+url.QueryEscape(key), http.StatusFound)
	case strings.HasPrefix(r.URL.Path, "/console/"):
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>FAKE AWS console</title><h1 id=\"fake-console\">FAKE AWS console, session %s</h1>", html.EscapeString(r.FormValue("session")))
	default:
		http.Error(w, "not what AWS's federation endpoint answers", http.StatusBadRequest)
	}
}

func (f *fakeFederation) calls() []api.Credentials {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.Credentials(nil), f.got...)
}

var versionField = regexp.MustCompile(`name="version" value="([0-9]+)"`)

// versionOf is the request version p's decision form carries.
func versionOf(t *testing.T, p page) string {
	t.Helper()
	m := versionField.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no version field on %s (HTTP %d):\n%s", p.url, p.status, p.body)
	}
	return m[1]
}
