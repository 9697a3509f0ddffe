package console

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/jit-access/jit/pkg/api"
)

// fakeFederation stands in for signin.aws.amazon.com, which cannot be
// reached here: it checks the request the way the real endpoint reads it.
func fakeFederation(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.Form.Get("Action") != "getSigninToken" {
			http.Error(w, "bad action", http.StatusBadRequest)
			return
		}
		var s map[string]string
		if err := json.Unmarshal([]byte(r.Form.Get("Session")), &s); err != nil || s["sessionId"] != "ASIAX" || s["sessionToken"] != "tok" {
			http.Error(w, "bad session", http.StatusBadRequest)
			return
		}
		if r.Form.Has("SessionDuration") {
			http.Error(w, "SessionDuration is refused for role credentials", http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"SigninToken": "SIGNIN"})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestSignInURLCarriesTheTokenAndDestination(t *testing.T) {
	fed := fakeFederation(t)
	s := &Signer{FederationURL: fed.URL, HTTPClient: fed.Client()}
	got, err := s.SignInURL(context.Background(), api.Credentials{AccessKeyID: "ASIAX", SecretAccessKey: "sec", SessionToken: "tok"}, "")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(got)
	if u.Query().Get("SigninToken") != "SIGNIN" || u.Query().Get("Action") != "login" || u.Query().Get("Destination") != DefaultDestination {
		t.Fatalf("url %s", got)
	}
	if strings.Contains(got, "sec") {
		t.Fatal("the secret key leaked into the sign-in URL")
	}
}

func TestSignInURLRefusedCredentialsSayWhy(t *testing.T) {
	fed := fakeFederation(t)
	s := &Signer{FederationURL: fed.URL, HTTPClient: fed.Client()}
	_, err := s.SignInURL(context.Background(), api.Credentials{AccessKeyID: "AKIAUSER"}, "")
	if err == nil || !strings.Contains(err.Error(), "AssumeRole") {
		t.Fatalf("err = %v", err)
	}
}
