package webapprove_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
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
	"github.com/jit-access/jit/pkg/webapprove"
)

// testPolicy: developers request prod-admin, one approver from "approvers";
// two-man needs two; oncall allows break-glass (and extensions past it only
// with an approver).
var testPolicy = testenv.Policy(testenv.ProdAdmin.Without("pending_timeout"), testenv.TwoMan,
	testenv.OnCall.With("max_extensions", "2").With("max_total_duration", "2h"))

// activitySecret authenticates test activity deliveries.
const activitySecret = "webapprove-activity-secret-0123"

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
	_ = p.Close()
	os.Exit(code)
}

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
}

// newEnv runs a jit server with the approval page on 127.0.0.1 against
// the package's provider. opts may change the page's options.
func newEnv(t *testing.T, opts ...func(*webapprove.Options)) *env {
	t.Helper()
	c := testenv.NewClock(time.Now())
	e := &env{t: t, clock: c}
	log := slog.New(slog.DiscardHandler)
	js := testenv.StartJitServer(t, testenv.JitServerOptions{
		Issuer: ids.idp.Issuer(), ClientID: ids.idp.ClientID(), Policy: testPolicy, Now: c.Now, Logger: log,
		Tweak: func(o *server.Options, url string) {
			o.Activity = server.ActivityOptions{Secret: activitySecret}
			// The page and the API share one grants service and verifier,
			// as serverapp wires them.
			svc, err := server.NewGrants(*o)
			if err != nil {
				t.Fatal(err)
			}
			o.Grants = svc
			wo := webapprove.Options{
				PublicURL: url, Issuer: ids.idp.Issuer(), ClientID: ids.idp.ClientID(),
				Grants: svc, Verifier: o.Verifier, Now: c.Now, Logger: log,
			}
			for _, opt := range opts {
				opt(&wo)
			}
			web, err := webapprove.New(wo)
			if err != nil {
				t.Fatal(err)
			}
			o.Routes = web.Register
		},
	})
	e.url, e.srv = js.URL, js.Server
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
