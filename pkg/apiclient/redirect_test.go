package apiclient_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/jit-access/jit/pkg/apiclient"
	"github.com/jit-access/jit/pkg/secureurl"
)

// TestHTTPSServerRedirectToPlainHTTPDoesNotSendToken: the server URL was
// checked once (https), but the client followed a redirect to plain http,
// and Go keeps the Authorization header on a redirect to the same or a
// sub-domain: the bearer token crossed the network in clear text. A
// redirect to a URL the CLI would refuse as a server URL is now refused.
func TestHTTPSServerRedirectToPlainHTTPDoesNotSendToken(t *testing.T) {
	var leaked atomic.Value
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store(r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"email":"x@example.com"}`))
	}))
	t.Cleanup(plain.Close)
	tls := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The same host name, plain http: Go keeps the token.
		http.Redirect(w, r, "http://jit.example.com"+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(tls.Close)
	// jit.example.com resolves to the TLS server on 443 and to the plain
	// listener on 80 (a network the attacker watches).
	tr := tls.Client().Transport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		target := map[string]string{"jit.example.com:443": tls.Listener.Addr().String(),
			"jit.example.com:80": plain.Listener.Addr().String()}[addr]
		return (&net.Dialer{}).DialContext(ctx, network, target)
	}
	c, err := apiclient.New("https://jit.example.com", &http.Client{Transport: tr},
		func(context.Context) (string, error) { return "secret-token", nil })
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.WhoAmI(context.Background())
	if got, _ := leaked.Load().(string); got != "" {
		t.Fatalf("the token reached a plain-http URL: %q", got)
	}
	if !errors.As(err, new(*secureurl.InsecureError)) {
		t.Fatalf("WhoAmI after a redirect to http = %v, want the insecure-URL refusal", err)
	}
}
