package webapp_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/webapp"
)

var cspShape = regexp.MustCompile(`^default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; ` +
	`form-action 'self' http://127\.0\.0\.1:\d+; frame-ancestors 'none'; base-uri 'none'$`)

func TestTheDefaultCSPNamesAWSsFederationAndConsoleOnlyForForms(t *testing.T) {
	got := webapp.ContentSecurityPolicy("https://signin.aws.amazon.com", "https://console.aws.amazon.com", "https://signin.aws.amazon.com")
	want := "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
		"form-action 'self' https://signin.aws.amazon.com https://console.aws.amazon.com; frame-ancestors 'none'; base-uri 'none'"
	if got != want {
		t.Errorf("CSP = %q\nwant  %q", got, want)
	}
}

func assertSecurityHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	// Scripts, styles and streams from this server only, nothing inline;
	// forms post here and (the console button) to the federation
	// endpoint, here the fake's one origin on 127.0.0.1.
	if csp := h.Get("Content-Security-Policy"); !cspShape.MatchString(csp) {
		t.Errorf("%s: Content-Security-Policy = %q", what, csp)
	}
	want := map[string]string{
		"X-Frame-Options":        "DENY",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "same-origin",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got, v)
		}
	}
}

func TestApproverSignsInSeesTheRequestAndApproves(t *testing.T) {
	e := newEnv(t)
	req := e.create("alice", "prod-admin")
	b := newBrowser(t)
	p := b.signIn(e.url+"/approve/"+req.ID, "bob")
	if p.status != http.StatusOK || p.url.Path != "/approve/"+req.ID {
		t.Fatalf("after sign-in: %s HTTP %d\n%s", p.url, p.status, p.body)
	}
	assertSecurityHeaders(t, "request page", p.header)
	for _, want := range []string{"alice@example.com", "prod-admin", "deploy hotfix INC-1", "30m", "0 of 1",
		`id="state" class="state-pending"`, "1 of groups approvers", "may approve this role", `id="approve"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("request page lacks %q", want)
		}
	}
	assertNoInlineScriptOrStyle(t, "request page", p.body)
	p = b.post(e.url+"/approve/"+req.ID, url.Values{"csrf": {csrfOf(t, p)}, "action": {"approve"}, "comment": {"looks right"}})
	if p.status != http.StatusOK || p.url.Path != "/approve/"+req.ID || !strings.Contains(p.body, `class="state-approved"`) {
		t.Fatalf("after approving: %s HTTP %d\n%s", p.url, p.status, p.body)
	}
	if !strings.Contains(p.body, "bob@example.com") || !strings.Contains(p.body, "looks right") {
		t.Error("the approval and its comment are not shown")
	}
	if got := e.state(req.ID); got != api.StateApproved {
		t.Errorf("state = %s, want approved", got)
	}
	css := b.get(e.url + "/approve/static/style.css")
	if css.status != http.StatusOK || css.header.Get("Content-Type") != "text/css; charset=utf-8" {
		t.Errorf("style sheet: HTTP %d %s", css.status, css.header.Get("Content-Type"))
	}
	assertSecurityHeaders(t, "style sheet", css.header)
}

func TestQueueListsRequestsWaitingForTheApprover(t *testing.T) {
	e := newEnv(t)
	req := e.create("alice", "two-man")
	b := newBrowser(t)
	p := b.signIn(e.url+"/approve/", "bob")
	if p.status != http.StatusOK || !strings.Contains(p.body, `href="/approve/`+req.ID+`"`) || !strings.Contains(p.body, "0 of 2") {
		t.Fatalf("queue: HTTP %d\n%s", p.status, p.body)
	}
	assertSecurityHeaders(t, "queue", p.header)
	// N of M: bob's approval is one of two; the request stays pending.
	p = b.get(e.url + "/approve/" + req.ID)
	p = b.post(e.url+"/approve/"+req.ID, url.Values{"csrf": {csrfOf(t, p)}, "action": {"approve"}})
	if !strings.Contains(p.body, "1 of 2") || e.state(req.ID) != api.StatePending {
		t.Errorf("after one of two approvals: state %s\n%s", e.state(req.ID), p.body)
	}
	// The same approver cannot count twice.
	p = b.post(e.url+"/approve/"+req.ID, url.Values{"csrf": {csrfOf(t, p)}, "action": {"approve"}})
	if p.status < 400 || !strings.Contains(p.body, `id="error"`) {
		t.Errorf("second approval by the same approver: HTTP %d\n%s", p.status, p.body)
	}
}

func TestDecisionWithoutTheSessionsCSRFTokenIsRefused(t *testing.T) {
	e := newEnv(t)
	req := e.create("alice", "prod-admin")
	b := newBrowser(t)
	p := b.signIn(e.url+"/approve/"+req.ID, "bob")
	good := csrfOf(t, p)
	for name, form := range map[string]url.Values{
		"missing": {"action": {"approve"}},
		"forged":  {"action": {"approve"}, "csrf": {"forged-" + good[7:]}},
		"empty":   {"action": {"approve"}, "csrf": {""}},
	} {
		p := b.post(e.url+"/approve/"+req.ID, form)
		if p.status != http.StatusForbidden {
			t.Errorf("%s CSRF token: HTTP %d, want 403\n%s", name, p.status, p.body)
		}
		assertSecurityHeaders(t, "refusal", p.header)
	}
	// Another browser's session token is no good either.
	other := newBrowser(t)
	op := other.signIn(e.url+"/approve/"+req.ID, "carol")
	if p := b.post(e.url+"/approve/"+req.ID, url.Values{"action": {"approve"}, "csrf": {csrfOf(t, op)}}); p.status != http.StatusForbidden {
		t.Errorf("another session's CSRF token: HTTP %d, want 403", p.status)
	}
	// A cross-origin form, even with the right token.
	r, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.url+"/approve/"+req.ID,
		strings.NewReader(url.Values{"action": {"approve"}, "csrf": {good}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Origin", "https://evil.example")
	resp, err := b.hc.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin POST: HTTP %d, want 403", resp.StatusCode)
	}
	if got := e.state(req.ID); got != api.StatePending {
		t.Errorf("state = %s after refused decisions, want pending", got)
	}
}

// startAndAuthorize begins a sign-in at the page and completes it at the
// IdP, stopping before the callback; edit may change the IdP's URL first.
func startAndAuthorize(t *testing.T, e *env, b *browser, maxAge string, edit func(url.Values)) *url.URL {
	t.Helper()
	b.stopAt = "/authorize"
	b.get(e.url + "/approve/")
	authURL := b.last
	if authURL == nil {
		t.Fatal("the page did not send the browser to the IdP")
	}
	q := authURL.Query()
	for k, want := range map[string]string{"prompt": "login", "max_age": maxAge, "code_challenge_method": "S256", "redirect_uri": e.url + "/approve/callback"} {
		if got := q.Get(k); got != want {
			t.Errorf("authorize %s = %q, want %q", k, got, want)
		}
	}
	if q.Get("state") == "" || q.Get("nonce") == "" || q.Get("code_challenge") == "" {
		t.Errorf("authorize lacks state, nonce or code_challenge: %s", authURL)
	}
	if edit != nil {
		edit(q)
		authURL.RawQuery = q.Encode()
	}
	b.stopAt = "/approve/callback"
	b.last = nil
	id := b.atLogin(authURL.String())
	u, _ := ids.idp.User("bob")
	b.post(ids.idp.Issuer()+"/login", url.Values{"authRequestID": {id}, "username": {"bob"}, "password": {u.Password}})
	if b.last == nil || b.last.Query().Get("code") == "" {
		t.Fatalf("the IdP did not redirect back with a code")
	}
	b.stopAt = ""
	return b.last
}

func signedIn(b *browser, e *env) bool {
	u, _ := url.Parse(e.url)
	for _, c := range b.hc.Jar.Cookies(u) {
		if c.Name == "jit-web" {
			return true
		}
	}
	return false
}

func TestCallbackRefusesStateMismatch(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)
	cb := startAndAuthorize(t, e, b, "900", nil)
	q := cb.Query()
	q.Set("state", "not-"+q.Get("state"))
	cb.RawQuery = q.Encode()
	p := b.get(cb.String())
	if p.status != http.StatusBadRequest || signedIn(b, e) {
		t.Errorf("state mismatch: HTTP %d, signed in %t\n%s", p.status, signedIn(b, e), p.body)
	}
	assertSecurityHeaders(t, "callback refusal", p.header)

	// The genuine callback in a browser that did not start the sign-in.
	cb = startAndAuthorize(t, e, b, "900", nil)
	stranger := newBrowser(t)
	if p := stranger.get(cb.String()); p.status != http.StatusBadRequest || signedIn(stranger, e) {
		t.Errorf("callback in another browser: HTTP %d", p.status)
	}
	// The login cookie is one-use: the genuine callback now fails too.
	if p := b.get(cb.String()); p.status != http.StatusOK || !signedIn(b, e) {
		t.Errorf("the genuine callback failed: HTTP %d\n%s", p.status, p.body)
	}
	if p := b.get(cb.String()); p.status != http.StatusBadRequest {
		t.Errorf("replayed callback: HTTP %d, want 400", p.status)
	}
}

func TestCallbackRefusesNonceMismatch(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)
	// The state and PKCE verifier are right; the ID token carries another nonce.
	cb := startAndAuthorize(t, e, b, "900", func(q url.Values) { q.Set("nonce", "attacker-nonce") })
	p := b.get(cb.String())
	if p.status != http.StatusBadRequest || signedIn(b, e) {
		t.Errorf("nonce mismatch: HTTP %d, signed in %t\n%s", p.status, signedIn(b, e), p.body)
	}
}

func TestStaleLoginRePromptsAndDecidesNothing(t *testing.T) {
	e := newEnv(t)
	req := e.create("alice", "prod-admin")
	b := newBrowser(t)
	p := b.signIn(e.url+"/approve/"+req.ID, "bob")
	csrf := csrfOf(t, p)
	// The IdP's auth_time is on the real clock, which ran on while signing
	// in (seconds on a loaded machine): age the login from now.
	e.clock.Set(time.Now())
	e.clock.Add(webapp.DefaultMaxLoginAge + time.Second)

	p = b.post(e.url+"/approve/"+req.ID, url.Values{"csrf": {csrf}, "action": {"approve"}})
	if p.status != http.StatusUnauthorized || !strings.Contains(p.body, `href="/approve/`+req.ID+`"`) {
		t.Errorf("decision on a stale login: HTTP %d\n%s", p.status, p.body)
	}
	if got := e.state(req.ID); got != api.StatePending {
		t.Errorf("state = %s after a stale decision, want pending", got)
	}
	// Viewing sends the browser to the IdP, asking for a fresh login.
	b.stopAt = "/authorize"
	b.get(e.url + "/approve/" + req.ID)
	if b.last == nil || b.last.Query().Get("prompt") != "login" || b.last.Query().Get("max_age") != "900" {
		t.Fatalf("stale login was not re-prompted: %v", b.last)
	}
	b.stopAt = ""
	// Signing in again works and the decision goes through. (The IdP's
	// auth_time is on the real clock: bring the page's back to it.)
	e.clock.Add(-(webapp.DefaultMaxLoginAge + time.Second))
	p = b.signIn(e.url+"/approve/"+req.ID, "bob")
	p = b.post(e.url+"/approve/"+req.ID, url.Values{"csrf": {csrfOf(t, p)}, "action": {"approve"}})
	if got := e.state(req.ID); got != api.StateApproved {
		t.Errorf("after a fresh sign-in: state %s\n%s", got, p.body)
	}
}

func TestCallbackRefusesASignInOlderThanMaxLoginAge(t *testing.T) {
	e := newEnv(t, func(o *webapp.Options) { o.MaxLoginAge = 2 * time.Minute })
	b := newBrowser(t)
	cb := startAndAuthorize(t, e, b, "120", nil)
	e.clock.Add(3 * time.Minute) // the IdP's auth_time is now 3 minutes old
	p := b.get(cb.String())
	if p.status != http.StatusUnauthorized || signedIn(b, e) || !strings.Contains(p.body, "within 2m") {
		t.Errorf("old auth_time: HTTP %d, signed in %t\n%s", p.status, signedIn(b, e), p.body)
	}
}

func TestSelfApprovalIsRefusedThroughThePage(t *testing.T) {
	e := newEnv(t)
	req := e.create("bob", "prod-admin") // bob is a developer and an approver
	b := newBrowser(t)
	p := b.signIn(e.url+"/approve/"+req.ID, "bob")
	if !strings.Contains(p.body, `id="refusal"`) {
		t.Error("the page does not warn that the policy would refuse")
	}
	p = b.post(e.url+"/approve/"+req.ID, url.Values{"csrf": {csrfOf(t, p)}, "action": {"approve"}})
	if p.status != http.StatusForbidden || !strings.Contains(p.body, `id="error"`) {
		t.Errorf("self-approval: HTTP %d\n%s", p.status, p.body)
	}
	if got := e.state(req.ID); got != api.StatePending {
		t.Errorf("state = %s after self-approval, want pending", got)
	}
}

func TestNonApproverCannotDecideThroughThePage(t *testing.T) {
	e := newEnv(t)
	req := e.create("bob", "prod-admin")
	b := newBrowser(t)
	p := b.signIn(e.url+"/approve/", "alice") // a developer, not an approver
	if !strings.Contains(p.body, `id="empty"`) {
		t.Errorf("alice's queue is not empty:\n%s", p.body)
	}
	if p := b.get(e.url + "/approve/" + req.ID); p.status != http.StatusNotFound {
		t.Errorf("alice views bob's request: HTTP %d, want 404", p.status)
	}
	p = b.post(e.url+"/approve/"+req.ID, url.Values{"csrf": {csrfOf(t, p)}, "action": {"approve"}})
	if p.status != http.StatusNotFound && p.status != http.StatusForbidden {
		t.Errorf("alice approves bob's request: HTTP %d", p.status)
	}
	if got := e.state(req.ID); got != api.StatePending {
		t.Errorf("state = %s, want pending", got)
	}
}

func TestDenyNeedsAComment(t *testing.T) {
	e := newEnv(t)
	req := e.create("alice", "prod-admin")
	b := newBrowser(t)
	p := b.signIn(e.url+"/approve/"+req.ID, "bob")
	p = b.post(e.url+"/approve/"+req.ID, url.Values{"csrf": {csrfOf(t, p)}, "action": {"deny"}})
	if p.status != http.StatusBadRequest || e.state(req.ID) != api.StatePending {
		t.Fatalf("deny without a comment: HTTP %d\n%s", p.status, p.body)
	}
	p = b.post(e.url+"/approve/"+req.ID, url.Values{"csrf": {csrfOf(t, p)}, "action": {"deny"}, "comment": {"not during the freeze"}})
	if e.state(req.ID) != api.StateDenied || !strings.Contains(p.body, "not during the freeze") {
		t.Errorf("deny: state %s\n%s", e.state(req.ID), p.body)
	}
}

func TestSignOutEndsTheSession(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)
	p := b.signIn(e.url+"/approve/", "bob")
	if p := b.post(e.url+"/approve/logout", url.Values{"csrf": {"wrong"}}); p.status != http.StatusForbidden || !signedIn(b, e) {
		t.Errorf("logout with a bad CSRF token: HTTP %d", p.status)
	}
	p = b.post(e.url+"/approve/logout", url.Values{"csrf": {csrfOf(t, p)}})
	if p.status != http.StatusOK || signedIn(b, e) {
		t.Errorf("logout: HTTP %d, signed in %t", p.status, signedIn(b, e))
	}
}

func TestForgedSessionCookieIsIgnored(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)
	u, _ := url.Parse(e.url)
	b.hc.Jar.SetCookies(u, []*http.Cookie{{Name: "jit-web", Value: "AAAA" + strings.Repeat("x", 80), Path: "/"}})
	b.stopAt = "/authorize"
	b.get(e.url + "/approve/")
	if b.last == nil {
		t.Error("a forged session cookie was accepted")
	}
}

// TestApproverApprovesAWaitingExtensionThroughThePage: an extension of a
// break-glass grant past its limit waits for approvers; it is in their
// queue, and the request page shows it and approves it.
func TestApproverApprovesAWaitingExtensionThroughThePage(t *testing.T) {
	e := newEnv(t)
	alice := e.client("alice")
	bg, err := alice.Create(t.Context(), api.CreateRequest{Role: "oncall", BreakGlass: true, Reason: "site down"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := alice.Extend(t.Context(), bg.ID, time.Hour, "still down")
	if err != nil || r.PendingExtension == nil || !r.EndsAt.Equal(bg.EndsAt) {
		t.Fatalf("extend past the break-glass limit: %v %+v", err, r)
	}
	b := newBrowser(t)
	p := b.signIn(e.url+"/approve/", "bob")
	if !strings.Contains(p.body, `href="/approve/`+bg.ID+`"`) {
		t.Fatalf("the waiting extension is not in the queue:\n%s", p.body)
	}
	p = b.get(e.url + "/approve/" + bg.ID)
	for _, want := range []string{`id="extension"`, "1h more, waiting for approval (0 of 1)", "break_glass.max_duration of 30m", `id="approve"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("request page lacks %q", want)
		}
	}
	p = b.post(e.url+"/approve/"+bg.ID, url.Values{"csrf": {csrfOf(t, p)}, "version": {versionOf(t, p)}, "action": {"approve"}})
	if p.status != http.StatusOK || strings.Contains(p.body, `id="extension"`) {
		t.Fatalf("after approving the extension: HTTP %d\n%s", p.status, p.body)
	}
	got, err := e.client("carol").Get(t.Context(), bg.ID)
	if err != nil || !got.EndsAt.Equal(bg.EndsAt.Add(time.Hour)) || got.PendingExtension != nil {
		t.Fatalf("after approval: %v %+v", err, got)
	}
}

// TestPageShownBeforeALaterExtensionDecidesNothing: the decision form
// carries the version the page showed. Bob opens the page while a first
// extension waits; carol denies it and alice asks for another. Bob's form,
// posted as it was, is refused with what waits now, and approves nothing;
// the page shown again decides.
func TestPageShownBeforeALaterExtensionDecidesNothing(t *testing.T) {
	e := newEnv(t)
	alice, carol := e.client("alice"), e.client("carol")
	bg, err := alice.Create(t.Context(), api.CreateRequest{Role: "oncall", BreakGlass: true, Reason: "site down"})
	if err != nil {
		t.Fatal(err)
	}
	first, err := alice.Extend(t.Context(), bg.ID, time.Hour, "still down")
	if err != nil || first.PendingExtension == nil {
		t.Fatalf("first extension: %v %+v", err, first)
	}
	b := newBrowser(t)
	b.signIn(e.url+"/approve/", "bob")
	shown := b.get(e.url + "/approve/" + bg.ID)
	if _, err := carol.Deny(t.Context(), bg.ID, first.Version, "not yet"); err != nil {
		t.Fatalf("carol denies the first extension: %v", err)
	}
	second, err := alice.Extend(t.Context(), bg.ID, time.Hour, "still down")
	if err != nil || second.PendingExtension == nil {
		t.Fatalf("second extension: %v %+v", err, second)
	}
	p := b.post(e.url+"/approve/"+bg.ID, url.Values{"csrf": {csrfOf(t, shown)}, "version": {versionOf(t, shown)}, "action": {"approve"}})
	if p.status != http.StatusConflict || !strings.Contains(p.body, "changed since you looked") || !strings.Contains(p.body, "it now asks for an extension") {
		t.Fatalf("the stale form: HTTP %d\n%s", p.status, p.body)
	}
	got, err := carol.Get(t.Context(), bg.ID)
	if err != nil || got.PendingExtension == nil || len(got.PendingExtension.Approvals) != 0 || !got.EndsAt.Equal(bg.EndsAt) {
		t.Fatalf("the stale form decided something: %v %+v", err, got)
	}
	// The refusal shows the page as it is now; its form decides.
	p = b.post(e.url+"/approve/"+bg.ID, url.Values{"csrf": {csrfOf(t, p)}, "version": {versionOf(t, p)}, "action": {"approve"}})
	if p.status != http.StatusOK || strings.Contains(p.body, `id="extension"`) {
		t.Fatalf("approving the page as shown now: HTTP %d\n%s", p.status, p.body)
	}
}
