package webapp_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/server"
	"github.com/jit-access/jit/pkg/webapp"
)

func TestConsoleButtonRedirectsToAFederationSignInAndTheKeysNeverReachThePage(t *testing.T) {
	e := newEnv(t)
	grant, err := e.client("alice").Create(t.Context(), api.CreateRequest{Role: "readonly"}) // auto-approved
	if err != nil || !grant.State.Granted() {
		t.Fatalf("readonly: %v %+v", err, grant)
	}
	b := newBrowser(t)
	e.home(b, "alice")
	p := b.get(e.url + "/web/requests/" + grant.ID)
	if !strings.Contains(p.body, `id="console"`) {
		t.Fatalf("no console button on a live AWS role grant:\n%s", p.body)
	}
	b.stopAt = "/federation"
	p = b.post(e.url+"/web/requests/"+grant.ID+"/console", url.Values{"csrf": {csrfOf(t, p)}})
	b.stopAt = ""
	if p.status != http.StatusSeeOther || b.last == nil {
		t.Fatalf("console: HTTP %d, not a redirect to the federation endpoint\n%s", p.status, p.body)
	}
	q := b.last.Query()
	if b.last.Scheme+"://"+b.last.Host != e.fed.URL || q.Get("Action") != "login" || q.Get("Issuer") != "jit" ||
		q.Get("Destination") != e.fed.URL+"/console/" || !strings.HasPrefix(q.Get("SigninToken"), "fake-signin-token-") {
		t.Errorf("the console link is %s", b.last)
	}
	calls := e.fed.calls()
	if len(calls) != 1 || !strings.HasPrefix(calls[0].AccessKeyID, "ASIAFAKE") {
		t.Fatalf("federation calls: %d", len(calls))
	}
	// The keys went to the federation endpoint only: not in the redirect,
	// not in any page.
	for what, text := range map[string]string{"redirect": b.last.String(), "page": p.body, "grant page": b.get(e.url + "/web/requests/" + grant.ID).body} {
		if strings.Contains(text, calls[0].SecretAccessKey) || strings.Contains(text, calls[0].SessionToken) {
			t.Errorf("the %s carries the grant's keys", what)
		}
	}
	// Following the link opens the (fake) console as that session.
	if p := b.get(b.last.String()); !strings.Contains(p.body, "FAKE AWS console, session "+calls[0].AccessKeyID) {
		t.Errorf("the sign-in link did not open the console: %s\n%s", p.url, p.body)
	}
	e.wantVia(grant.ID, "credentials.vended", "web")
}

func TestConsoleForSomeoneElsesOrAnEndedGrantIsRefused(t *testing.T) {
	e := newEnv(t)
	alice := e.client("alice")
	grant, err := alice.Create(t.Context(), api.CreateRequest{Role: "readonly"})
	if err != nil {
		t.Fatal(err)
	}
	// bob (an approver, who may view it) asks for alice's console.
	bob := newBrowser(t)
	p := e.home(bob, "bob")
	if p := bob.post(e.url+"/web/requests/"+grant.ID+"/console", url.Values{"csrf": {csrfOf(t, p)}}); p.status != http.StatusNotFound {
		t.Errorf("bob opens alice's console: HTTP %d, want 404", p.status)
	}
	// alice, once her grant is revoked.
	if _, err := alice.Revoke(t.Context(), grant.ID, "done"); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	p = e.home(b, "alice")
	p = b.post(e.url+"/web/requests/"+grant.ID+"/console", url.Values{"csrf": {csrfOf(t, p)}})
	if p.status != http.StatusConflict || !strings.Contains(p.body, "not an active grant") {
		t.Errorf("console of a revoked grant: HTTP %d\n%s", p.status, p.body)
	}
	if n := len(e.fed.calls()); n != 0 {
		t.Errorf("the federation endpoint was asked %d times", n)
	}
}

func TestAWorkloadsTokenCannotSignInToTheWebApp(t *testing.T) {
	// The web app's verifier takes this IdP's tokens as a workload issuer's
	// (a real verifier, configured as for GitHub Actions or Kubernetes).
	e := newEnv(t, func(o *webapp.Options) {
		o.Verifier = server.NewOIDCVerifier(server.OIDCVerifierConfig{Issuer: ids.idp.Issuer(), ClientID: ids.idp.ClientID(),
			Name: "ci", Kind: api.KindWorkload, MaxTokenLifetime: 24 * time.Hour})
	})
	b := newBrowser(t)
	p := b.signIn(e.url+"/web/", "alice")
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "workload") || signedIn(b, e) {
		t.Errorf("a workload's sign-in: HTTP %d, signed in %t\n%s", p.status, signedIn(b, e), p.body)
	}
	// Nor does a bearer token stand in for a session.
	r, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, e.url+"/web/", nil)
	r.Header.Set("Authorization", "Bearer "+token(t, "alice"))
	b.stopAt = "/authorize"
	resp, err := b.hc.Do(r)
	if err == nil {
		resp.Body.Close()
	}
	if b.last == nil {
		t.Error("a bearer token opened the web app without a sign-in")
	}
}
