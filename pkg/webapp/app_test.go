package webapp_test

import (
	"bufio"
	"bytes"
	"context"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/webapp"
)

// home signs username in at the app (no fresh login asked) and returns
// the home page.
func (e *env) home(b *browser, username string) page {
	e.t.Helper()
	p := b.signIn(e.url+"/web/", username)
	if p.status != http.StatusOK || p.url.Path != "/web/" {
		e.t.Fatalf("after signing in to the app: %s HTTP %d\n%s", p.url, p.status, p.body)
	}
	return p
}

func TestRequestingNeedsASignInButNotAFreshOne(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)
	b.stopAt = "/authorize"
	b.get(e.url + "/")
	if b.last == nil {
		t.Fatal("the app's root did not send the browser to sign in")
	}
	if q := b.last.Query(); q.Get("prompt") != "" || q.Get("max_age") != "" || q.Get("code_challenge_method") != "S256" {
		t.Errorf("the app's sign-in asks %s; want PKCE and no prompt=login or max_age", b.last.RawQuery)
	}
	b.stopAt = ""
	p := e.home(b, "alice")
	assertSecurityHeaders(t, "home", p.header)
	assertNoInlineScriptOrStyle(t, "home", p.body)

	// An hour on, requesting still works; deciding asks for a fresh sign-in.
	e.clock.Set(time.Now().Add(webappMaxLoginAge() + time.Minute))
	if p := b.get(e.url + "/web/roles/prod-admin"); p.status != http.StatusOK || !strings.Contains(p.body, `id="request-form"`) {
		t.Errorf("the request form after the login aged: %s HTTP %d", p.url, p.status)
	}
	b.stopAt = "/authorize"
	b.last = nil
	b.get(e.url + "/approve/")
	if b.last == nil || b.last.Query().Get("prompt") != "login" {
		t.Errorf("the approver's queue on an aged login did not ask for a fresh one: %v", b.last)
	}
}

func TestRolesShowLimitsApprovalAndWhyNotInExplainsWords(t *testing.T) {
	e := newEnv(t)
	p := e.home(newBrowser(t), "alice")
	p.body = html.UnescapeString(p.body)
	for _, want := range []string{`id="role-prod-admin"`, "default 30m, max 2h; reason required", "1 of groups approvers",
		`id="role-readonly"`, "auto-approved up to 1h", "break-glass allowed", "ticket <code>^INC-[0-9]+$</code>",
		`href="/web/roles/prod-admin"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("alice's roles lack %q", want)
		}
	}
	if strings.Contains(p.body, `class="ineligible"`) {
		t.Error("alice is eligible for every role, yet one is shown as not")
	}

	// carol may request nothing: each role says why, as explain does.
	b := newBrowser(t)
	p = e.home(b, "carol")
	if !strings.Contains(p.body, `class="ineligible" id="role-prod-admin"`) || !strings.Contains(p.body, "roles[prod-admin].eligible") {
		t.Errorf("carol's home does not mark prod-admin as not hers:\n%s", p.body)
	}
	p = b.get(e.url + "/web/roles/prod-admin")
	carol := ids.user(t, "carol")
	explained := e.srv.Policy().Explain(carol, "prod-admin").String()
	if !strings.Contains(p.body, html.EscapeString(explained)) {
		t.Errorf("the role page does not carry explain's words:\n%s\nwant:\n%s", p.body, explained)
	}
	if strings.Contains(p.body, `id="request-form"`) {
		t.Error("carol is offered a request form for a role she may not request")
	}
}

func TestRequestFormShowsBadInputByItsFieldAndKeepsWhatWasTyped(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)
	e.home(b, "alice")
	p := b.get(e.url + "/web/roles/ticketed")
	csrf := csrfOf(t, p)
	for _, tc := range []struct {
		form  url.Values
		field string
		says  string
	}{
		{url.Values{"duration": {"forever"}, "reason": {"keep <this>"}, "ticket": {"INC-7"}}, "duration", "Write it like 30m"},
		{url.Values{"duration": {"3h"}, "reason": {"keep <this>"}, "ticket": {"INC-7"}}, "duration", "max for ticketed is 1h"},
		{url.Values{"duration": {"30m"}, "reason": {"keep <this>"}, "ticket": {"JIRA-1"}}, "ticket", "does not match ^INC-[0-9]+$"},
		{url.Values{"duration": {"30m"}, "reason": {"keep <this>"}}, "ticket", "requires a ticket"},
	} {
		tc.form.Set("csrf", csrf)
		p := b.post(e.url+"/web/roles/ticketed", tc.form)
		if p.status != http.StatusBadRequest {
			t.Errorf("%v: HTTP %d, want 400", tc.form, p.status)
		}
		errID := `id="` + tc.field + `-error"`
		if !strings.Contains(p.body, errID) || !strings.Contains(p.body, `aria-describedby="`+tc.field+`-error"`) {
			t.Errorf("%v: no error next to %s:\n%s", tc.form, tc.field, p.body)
			continue
		}
		at := strings.Index(p.body, errID)
		if msg := p.body[at:min(len(p.body), at+300)]; !strings.Contains(html.UnescapeString(msg), tc.says) {
			t.Errorf("%v: the %s error says %q, want %q", tc.form, tc.field, msg, tc.says)
		}
		// Nothing typed is lost.
		if !strings.Contains(p.body, ">keep &lt;this&gt;</textarea>") || !strings.Contains(p.body, `value="`+html.EscapeString(tc.form.Get("duration"))+`"`) ||
			!strings.Contains(p.body, `value="`+tc.form.Get("ticket")+`"`) {
			t.Errorf("%v: the form came back without what was typed:\n%s", tc.form, p.body)
		}
	}
	if reqs := e.requestsOf("alice"); len(reqs) != 0 {
		t.Errorf("bad forms created requests: %+v", reqs)
	}
	// A good one creates the request and lands on its page.
	p = b.post(e.url+"/web/roles/ticketed", url.Values{"csrf": {csrf}, "duration": {"30m"}, "reason": {"fix it"}, "ticket": {"INC-7"}})
	if p.status != http.StatusOK || !strings.HasPrefix(p.url.Path, "/web/requests/req_") || !strings.Contains(p.body, `class="state-pending"`) {
		t.Fatalf("after a good request: %s HTTP %d\n%s", p.url, p.status, p.body)
	}
	reqs := e.requestsOf("alice")
	if len(reqs) != 1 || reqs[0].Ticket != "INC-7" || reqs[0].Duration() != 30*time.Minute {
		t.Fatalf("requests after the form: %+v", reqs)
	}
	e.wantVia(reqs[0].ID, "request.created", "web")
}

func TestARoleThePersonMayNotRequestIsRefusedAndNothingIsCreated(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)
	p := e.home(b, "carol")
	p = b.post(e.url+"/web/roles/prod-admin", url.Values{"csrf": {csrfOf(t, p)}, "reason": {"let me in"}, "duration": {"30m"}})
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "is not eligible for prod-admin") {
		t.Errorf("carol requests prod-admin: HTTP %d\n%s", p.status, p.body)
	}
	if reqs := e.requestsOf("carol"); len(reqs) != 0 {
		t.Errorf("carol's refused request was created: %+v", reqs)
	}
}

// events opens the request's event stream in b and returns its events'
// data, one string per event, until ctx ends.
func (b *browser) events(ctx context.Context, target string) (int, <-chan string) {
	b.t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	req.Header.Set("Accept", "text/event-stream")
	hc := *b.hc
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		b.t.Fatalf("GET %s: %v", target, err)
	}
	out := make(chan string, 16)
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		close(out)
		return resp.StatusCode, out
	}
	go func() {
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		sc.Split(sseLines)
		var data []string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "data: "):
				data = append(data, strings.TrimPrefix(line, "data: "))
			case line == "" && data != nil:
				out <- strings.Join(data, "\n")
				data = nil
			}
		}
	}()
	return resp.StatusCode, out
}

// sseLines splits a stream into lines as browsers' EventSource does: at
// CRLF, a lone CR or a lone LF.
func sseLines(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		if data[i] == '\r' {
			switch {
			case i+1 < len(data) && data[i+1] == '\n':
				return i + 2, data[:i], nil
			case i+1 == len(data) && !atEOF:
				return 0, nil, nil // a CRLF may be cut between reads
			}
		}
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

func next(t *testing.T, events <-chan string, what string) string {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatalf("%s: the stream ended", what)
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no event in 10s", what)
	}
	return ""
}

func TestRequestPageStreamsTheApprovalThenTheGrant(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)
	e.home(b, "alice")
	req := e.create("alice", "two-man")
	p := b.get(e.url + "/web/requests/" + req.ID)
	if p.status != http.StatusOK || !strings.Contains(p.body, `data-events="/web/requests/`+req.ID+`/events"`) {
		t.Fatalf("request page: HTTP %d\n%s", p.status, p.body)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	status, events := b.events(ctx, e.url+"/web/requests/"+req.ID+"/events")
	if status != http.StatusOK {
		t.Fatalf("event stream: HTTP %d", status)
	}
	if ev := next(t, events, "first event"); !strings.Contains(ev, `class="state-pending"`) || !strings.Contains(ev, "0 of 2 approvals") {
		t.Errorf("first event:\n%s", ev)
	}
	bob, carol := e.client("bob"), e.client("carol")
	if _, err := bob.Approve(t.Context(), req.ID, req.Version, "one"); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, events, "after bob's approval"); !strings.Contains(ev, "1 of 2 approvals") || !strings.Contains(ev, "bob@example.com") {
		t.Errorf("after bob's approval:\n%s", ev)
	}
	if _, err := carol.Approve(t.Context(), req.ID, req.Version, "two"); err != nil {
		t.Fatal(err)
	}
	ev := next(t, events, "after carol's approval")
	for _, want := range []string{`class="state-approved"`, `id="time-left"`, `data-ends="`, " left.", `id="revoke"`, "jit exec two-man -- "} {
		if !strings.Contains(ev, want) {
			t.Errorf("the grant's event lacks %q:\n%s", want, ev)
		}
	}
}

func TestAnotherPersonsRequestPageAndStreamAreNotFound(t *testing.T) {
	e := newEnv(t)
	req := e.create("alice", "prod-admin")
	b := newBrowser(t)
	e.home(b, "bob") // an approver of prod-admin: he may see it at /approve/, not watch it as hers
	if p := b.get(e.url + "/web/requests/" + req.ID); p.status != http.StatusNotFound {
		t.Errorf("bob opens alice's request page: HTTP %d, want 404", p.status)
	}
	if status, _ := b.events(t.Context(), e.url+"/web/requests/"+req.ID+"/events"); status != http.StatusNotFound {
		t.Errorf("bob opens alice's event stream: HTTP %d, want 404", status)
	}
	if status, _ := newBrowser(t).events(t.Context(), e.url+"/web/requests/"+req.ID+"/events"); status != http.StatusUnauthorized {
		t.Errorf("a browser without a session opens the stream: HTTP %d, want 401", status)
	}
	e.wantRefusal("authz.denied", "bob@example.com")
}

func TestRequesterExtendsAndRevokesTheirGrant(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)
	p := e.home(b, "alice")
	p = b.post(e.url+"/web/roles/oncall", url.Values{"csrf": {csrfOf(t, p)}, "break_glass": {"on"}, "reason": {"site down"}, "duration": {"4m"}})
	if p.status != http.StatusOK || !strings.Contains(p.body, `id="revoke"`) {
		t.Fatalf("break-glass from the form: %s HTTP %d\n%s", p.url, p.status, p.body)
	}
	// Under five minutes left: the page offers to extend.
	if !strings.Contains(p.body, "Ends in 4 min: extend?") {
		t.Errorf("a grant with 4m left has no reminder:\n%s", p.body)
	}
	here := p.url.String()
	id := p.url.Path[len("/web/requests/"):]
	home := b.get(e.url + "/web/")
	if !strings.Contains(home.body, "ends in 4 min: extend?") || !strings.Contains(home.body, "jit exec oncall -- ") {
		t.Errorf("home lacks the reminder or the CLI line:\n%s", home.body)
	}
	p = b.post(here+"/extend", url.Values{"csrf": {csrfOf(t, p)}, "by": {"10m"}, "comment": {"still down"}})
	r := e.get(id)
	if p.status != http.StatusOK || !r.EndsAt.Equal(r.StartsAt.Add(14*time.Minute)) {
		t.Fatalf("extend by 10m: HTTP %d, grant %s to %s\n%s", p.status, r.StartsAt, r.EndsAt, p.body)
	}
	e.wantVia(id, "grant.extended", "web")
	p = b.post(here+"/extend", url.Values{"csrf": {csrfOf(t, p)}, "by": {"soon"}})
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, "such as 15m") {
		t.Errorf("extend by a non-duration: HTTP %d", p.status)
	}
	p = b.post(here+"/revoke", url.Values{"csrf": {csrfOf(t, p)}})
	if p.status != http.StatusOK || e.state(id) != api.StateRevoked || !strings.Contains(p.body, `class="state-revoked"`) {
		t.Fatalf("revoke: HTTP %d, state %s\n%s", p.status, e.state(id), p.body)
	}
	e.wantVia(id, "grant.revoked", "web")
}

func TestEveryAppFormRefusesAMissingOrWrongCSRFToken(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)
	p := e.home(b, "alice")
	good := csrfOf(t, p)
	live, err := e.client("alice").Create(t.Context(), api.CreateRequest{Role: "readonly"}) // auto-approved
	if err != nil {
		t.Fatal(err)
	}
	pending := e.create("alice", "prod-admin")
	other := newBrowser(t)
	otherCSRF := csrfOf(t, e.home(other, "bob"))
	forms := map[string]url.Values{
		"/web/roles/readonly":                        {"duration": {"15m"}},
		"/web/requests/" + pending.ID + "/cancel":    {},
		"/web/requests/" + live.ID + "/revoke":       {},
		"/web/requests/" + live.ID + "/extend":       {"by": {"5m"}},
		"/web/requests/" + live.ID + "/console":      {},
		"/web/logout":                                {},
		"/approve/" + pending.ID + "?action=approve": {"action": {"approve"}},
	}
	for path, form := range forms {
		for name, token := range map[string]string{"missing": "", "forged": "x" + good[1:], "another session's": otherCSRF} {
			f := url.Values{}
			for k, v := range form {
				f[k] = v
			}
			if token != "" {
				f.Set("csrf", token)
			}
			if p := b.post(e.url+path, f); p.status != http.StatusForbidden && p.status != http.StatusUnauthorized {
				t.Errorf("POST %s with a %s CSRF token: HTTP %d, want 403", path, name, p.status)
			}
		}
	}
	if got := len(e.requestsOf("alice")); got != 2 {
		t.Errorf("alice has %d requests after refused forms, want 2", got)
	}
	if e.state(pending.ID) != api.StatePending || e.get(live.ID).EndsAt != live.EndsAt || e.state(live.ID) != live.State {
		t.Error("a refused form changed a request")
	}
	if len(e.fed.calls()) != 0 {
		t.Error("a refused console form reached the federation endpoint")
	}
	if !signedIn(b, e) {
		t.Error("a refused logout signed the browser out")
	}
}

func TestReasonWithMarkupIsShownAsText(t *testing.T) {
	e := newEnv(t)
	evil := `<script>alert(1)</script><img src=x onerror=alert(2)>"'`
	req, err := e.client("alice").Create(t.Context(), api.CreateRequest{Role: "two-man", Reason: evil})
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	e.home(b, "alice")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	_, events := b.events(ctx, e.url+"/web/requests/"+req.ID+"/events")
	next(t, events, "first event")
	if _, err := e.client("bob").Approve(t.Context(), req.ID, req.Version, evil); err != nil {
		t.Fatal(err)
	}
	ev := next(t, events, "after the approval")
	mine := b.get(e.url + "/web/requests/" + req.ID)
	appr := newBrowser(t)
	queue := appr.signIn(e.url+"/approve/", "carol")
	approver := appr.get(e.url + "/approve/" + req.ID)
	for what, body := range map[string]string{"request page": mine.body, "live event": ev, "approver page": approver.body, "queue": queue.body} {
		assertNoInlineScriptOrStyle(t, what, body)
		if strings.Contains(body, "<img") || strings.Contains(body, "<script>alert") {
			t.Errorf("%s carries the reason's markup as markup:\n%s", what, body)
		}
	}
	if !strings.Contains(mine.body, "&lt;script&gt;alert(1)&lt;/script&gt;") || !strings.Contains(ev, "&lt;img src=x onerror=alert(2)&gt;") {
		t.Errorf("the reason and the comment are not shown as text:\n%s\n%s", mine.body, ev)
	}
}

// A carriage return ends a line of an event stream for the browser: an
// approver's comment carrying CRs must not cut the live part short or add
// an event of the approver's making to the requester's page.
func TestACommentWithCarriageReturnsCannotForgeALiveEvent(t *testing.T) {
	e := newEnv(t)
	req := e.create("alice", "two-man")
	b := newBrowser(t)
	e.home(b, "alice")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	_, events := b.events(ctx, e.url+"/web/requests/"+req.ID+"/events")
	next(t, events, "first event")
	forged := "fine\r\revent: request\rdata: State: approved, your grant is live"
	if _, err := e.client("bob").Approve(t.Context(), req.ID, req.Version, forged); err != nil {
		t.Fatal(err)
	}
	ev := next(t, events, "after bob's approval")
	if !strings.Contains(ev, "1 of 2 approvals") || !strings.Contains(ev, "fine") || !strings.Contains(ev, "your grant is live") ||
		!strings.Contains(ev, `id="waiting"`) {
		t.Errorf("the approval's event was cut by the comment's CRs:\n%q", ev)
	}
	select {
	case extra := <-events:
		t.Errorf("an event of the comment's making followed:\n%q", extra)
	case <-time.After(300 * time.Millisecond):
	}
}

// A live stream opened with a session must not outlive it: once the
// session's token has expired, a change is not sent and the stream ends.
func TestTheLiveStreamEndsWithTheSession(t *testing.T) {
	web := testenv.NewClock(time.Now())
	e := newEnv(t, func(o *webapp.Options) { o.Now = web.Now })
	req := e.create("alice", "two-man")
	b := newBrowser(t)
	e.home(b, "alice")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	_, events := b.events(ctx, e.url+"/web/requests/"+req.ID+"/events")
	next(t, events, "first event")
	web.Add(48 * time.Hour) // the web app's clock only: alice's session has ended, bob's API token still works
	if _, err := e.client("bob").Approve(t.Context(), req.ID, req.Version, "one"); err != nil {
		t.Fatal(err)
	}
	select {
	case ev, ok := <-events:
		if ok {
			t.Errorf("the stream sent a change after its session ended:\n%s", ev)
		}
	case <-time.After(10 * time.Second):
		t.Error("the stream neither ended nor sent in 10s after its session ended")
	}
}

func TestOldAndNewSignInPathsRefuseReturnURLsOffThisServer(t *testing.T) {
	e := newEnv(t)
	for _, target := range []string{"//evil.example/web/", "/web/..%2f..%2fevil", "/approve/%2F%2Fevil.example"} {
		b := newBrowser(t)
		b.stopAt = "/authorize"
		b.get(e.url + target)
		b.stopAt = ""
		if b.last == nil {
			continue // not a sign-in at all: nothing to redirect
		}
		p := b.signIn(b.last.String(), "alice")
		if p.url.Host != strings.TrimPrefix(e.url, "http://") {
			t.Errorf("signing in from %s landed on %s", target, p.url)
		}
	}
}

// requestsOf lists username's requests (store side, every state).
func (e *env) requestsOf(username string) []api.Request {
	e.t.Helper()
	u := ids.user(e.t, username)
	reqs, _, err := e.st.List(e.t.Context(), store.Filter{RequesterIssuer: u.Issuer, RequesterSubject: u.Subject, Limit: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	return reqs
}

func (e *env) get(id string) *api.Request {
	e.t.Helper()
	r, err := e.st.Get(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// wantVia checks that the request's event of type typ says it came
// through door via.
func (e *env) wantVia(id, typ, via string) {
	e.t.Helper()
	evs, err := e.st.Audit(e.t.Context(), store.AuditFilter{RequestID: id})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, ev := range evs {
		if string(ev.Type) == typ {
			if ev.Detail["via"] != via {
				e.t.Errorf("%s of %s came via %q, want %q", typ, id, ev.Detail["via"], via)
			}
			return
		}
	}
	e.t.Errorf("no %s event for %s in %+v", typ, id, evs)
}

// wantRefusal checks that the audit log has an event of type typ by actor.
func (e *env) wantRefusal(typ, actor string) {
	e.t.Helper()
	evs, err := e.st.Audit(e.t.Context(), store.AuditFilter{})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, ev := range evs {
		if string(ev.Type) == typ && ev.Actor == actor {
			return
		}
	}
	e.t.Errorf("no %s event by %s", typ, actor)
}
