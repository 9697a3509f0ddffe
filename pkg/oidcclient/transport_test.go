package oidcclient

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jit-access/jit/pkg/secureurl"
)

// TestRefreshRefusesPlainHTTPIssuerOffLoopback: a cached issuer of
// http://idp.example.com would get the refresh token in clear text; it is
// refused before any request.
func TestRefreshRefusesPlainHTTPIssuerOffLoopback(t *testing.T) {
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		t.Errorf("contacted %s", r.URL)
		return nil, errors.New("blocked")
	})}
	c := &Client{Issuer: "http://idp.example.com", ClientID: "jit-cli", HTTPClient: hc}
	_, err := c.Refresh(t.Context(), "refresh-token")
	var insecure *secureurl.InsecureError
	if !errors.As(err, &insecure) || !strings.Contains(err.Error(), "use https://") {
		t.Fatalf("Refresh = %v, want a plain-http refusal", err)
	}
}

// TestDiscoveryRefusesPlainHTTPTokenEndpointOffLoopback: an issuer on
// loopback whose discovery points the token endpoint at a plain-http host
// elsewhere is refused.
func TestDiscoveryRefusesPlainHTTPTokenEndpointOffLoopback(t *testing.T) {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer": srv.URL, "jwks_uri": srv.URL + "/keys",
			"token_endpoint":                "http://idp.example.com/token",
			"device_authorization_endpoint": srv.URL + "/device",
		})
	}))
	t.Cleanup(srv.Close)
	c := &Client{Issuer: srv.URL, ClientID: "jit-cli", HTTPClient: srv.Client()}
	_, err := c.Endpoint(t.Context())
	var insecure *secureurl.InsecureError
	if !errors.As(err, &insecure) || insecure.What != "OIDC token endpoint" {
		t.Fatalf("Endpoint = %v, want the token endpoint refused", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
