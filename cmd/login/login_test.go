package login

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/99designs/keyring"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/credcache"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/secureurl"
)

// onlyHosts is a transport that fails the test for a request to any host
// but the allowed ones: a token must never leave for a plain-http host.
type onlyHosts struct {
	t       *testing.T
	allowed map[string]bool
}

func (o onlyHosts) RoundTrip(r *http.Request) (*http.Response, error) {
	if !o.allowed[r.URL.Host] {
		o.t.Errorf("the CLI contacted %s", r.URL)
		return nil, errors.New("blocked by the test")
	}
	return http.DefaultTransport.RoundTrip(r)
}

func testOptions(t *testing.T, server string, allowed ...string) *Options {
	t.Helper()
	io, _, _, _ := iostreams.Test()
	hosts := map[string]bool{}
	for _, h := range allowed {
		hosts[h] = true
	}
	hc := &http.Client{Transport: onlyHosts{t, hosts}, Timeout: 5 * time.Second}
	cache := credcache.New(keyring.NewArrayKeyring(nil), "array", credcache.Config{Now: time.Now})
	return &Options{
		IO: io, Env: func(string) string { return "" }, Now: time.Now,
		HTTPClient: func() *http.Client { return hc },
		Cache:      func() (*credcache.Cache, error) { return cache, nil },
		Server:     func() (string, error) { return server, nil },
		NoBrowser:  true,
	}
}

// TestLoginRefusesPlainHTTPServerOffLoopback: `jit login --server
// http://jit.example.com` would send ID tokens in clear text; it is refused
// before any request, with an error that says to use https.
func TestLoginRefusesPlainHTTPServerOffLoopback(t *testing.T) {
	for _, server := range []string{"http://jit.example.com", "http://10.1.2.3:8080", "HTTP://jit.example.com"} {
		err := Run(context.Background(), testOptions(t, server))
		var insecure *secureurl.InsecureError
		var hint *cmdutil.HintError
		if !errors.As(err, &insecure) || !errors.As(err, &hint) || !strings.Contains(err.Error(), "use https://") {
			t.Errorf("login --server %s = %v, want a refusal saying to use https", server, err)
		}
	}
}

// TestLoginRefusesPlainHTTPIssuerFromDiscovery: a jit server (here on
// loopback, so allowed) whose discovery names a plain-http issuer on another
// host would make the CLI send the device code and tokens in clear text;
// login refuses before contacting the issuer.
func TestLoginRefusesPlainHTTPIssuerFromDiscovery(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/discovery" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(api.Discovery{Issuer: "http://idp.example.com", ClientID: "jit-cli", Scopes: []string{"openid"}})
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	err := Run(context.Background(), testOptions(t, srv.URL, u.Host))
	var insecure *secureurl.InsecureError
	if !errors.As(err, &insecure) || insecure.What != "OIDC issuer" || !strings.Contains(err.Error(), "use https://") {
		t.Fatalf("login with a plain-http issuer = %v, want a refusal naming the OIDC issuer", err)
	}
	var hint *cmdutil.HintError
	if !errors.As(err, &hint) || !strings.Contains(hint.Hint, "oidc.issuer") {
		t.Fatalf("the refusal has no hint naming oidc.issuer: %v", err)
	}
}
