package webapp

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jit-access/jit/pkg/api"
)

func TestReturnPathsStayOnThisPage(t *testing.T) {
	for p, want := range map[string]bool{
		"/approve/":                true,
		"/approve/req_01abc":       true,
		"//evil.example/approve/":  false,
		"/approve//evil.example":   false,
		"https://evil.example/":    false,
		"/approve/\\evil.example":  false,
		"/v1/requests":             false,
		"/approve/x\r\nSet-Cookie": false,
		"":                         false,
		"/approve/../v1/requests":  false,
		"/approve/x?next=//evil":   false,
		"/web/":                    true,
		"/web/requests/req_1":      true,
		"/web//evil.example":       false,
		"/web/../approve":          false,
		"/webx/":                   false,
		"/web":                     false,
	} {
		if got := sameOriginPath(p); got != want {
			t.Errorf("sameOriginPath(%q) = %t, want %t", p, got, want)
		}
	}
}

func TestSealedCookiesRefuseTamperingAndSwapping(t *testing.T) {
	s, err := newSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.seal("jit-approve", session{IDToken: "a.b.c", CSRF: "x", Expires: 99})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(v, "a.b.c") {
		t.Error("the sealed value shows the token")
	}
	var got session
	if err := s.open("jit-approve", v, &got); err != nil || got.IDToken != "a.b.c" {
		t.Fatalf("open: %v %+v", err, got)
	}
	if err := s.open("jit-approve-login", v, &got); err == nil {
		t.Error("a session cookie opened as the login cookie")
	}
	flipped := []byte(v)
	flipped[len(flipped)/2] ^= 1
	if err := s.open("jit-approve", string(flipped), &got); err == nil {
		t.Error("a tampered cookie opened")
	}
	other, _ := newSealer(bytes.Repeat([]byte{8}, 32))
	if err := other.open("jit-approve", v, &got); err == nil {
		t.Error("a cookie opened under another key")
	}
	if _, err := newSealer([]byte("short")); err == nil {
		t.Error("a short key was accepted")
	}
}

// fakeVerifier is a FAKE of the API's token verifier: it says the token is
// user, whatever it is.
type fakeVerifier struct{ user api.User }

func (f fakeVerifier) Verify(context.Context, string) (api.User, error) { return f.user, nil }

func TestASessionIsBoundToThePrincipalWhoSignedIn(t *testing.T) {
	alice := api.User{Issuer: "https://idp.example", Subject: "alice-sub"}
	s := &session{IDToken: "t", Issuer: alice.Issuer, Subject: alice.Subject}
	r := httptest.NewRequest(http.MethodGet, "/web/", nil)
	for name, tc := range map[string]struct {
		user api.User
		ok   bool
	}{
		"the same principal":    {alice, true},
		"another subject":       {api.User{Issuer: alice.Issuer, Subject: "bob-sub"}, false},
		"another issuer":        {api.User{Issuer: "https://other.example", Subject: alice.Subject}, false},
		"a workload of the IdP": {api.User{Issuer: alice.Issuer, Subject: alice.Subject, Kind: api.KindWorkload}, false},
	} {
		h := &Handler{opts: Options{Verifier: fakeVerifier{tc.user}}, log: slog.New(slog.DiscardHandler)}
		a, code, e := h.actor(r, s)
		if tc.ok != (e == nil) || (!tc.ok && code != http.StatusUnauthorized) || (tc.ok && a.Via != "web") {
			t.Errorf("%s: actor %+v, HTTP %d, error %v", name, a, code, e)
		}
	}
}
