package oidcclient

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeDeviceEndpoint is an OAuth server that answers the device grant's
// token polls from a script, to produce the RFC 8628 errors (slow_down,
// expired_token) the real provider in pkg/devidp does not send on demand.
// It serves discovery, device authorization and the token endpoint, and
// records when each poll arrived.
type fakeDeviceEndpoint struct {
	srv          *httptest.Server
	interval     int
	noDeviceAuth bool

	mu     sync.Mutex
	script []fakeAnswer // answers to successive polls; the last repeats
	polls  []time.Time
	forms  []string // device_code and grant_type of each poll
}

type fakeAnswer struct {
	status int
	body   map[string]any
}

func oauthError(code, desc string) fakeAnswer {
	return fakeAnswer{http.StatusBadRequest, map[string]any{"error": code, "error_description": desc}}
}

func startFakeDeviceEndpoint(t *testing.T, interval int, script ...fakeAnswer) *fakeDeviceEndpoint {
	t.Helper()
	f := &fakeDeviceEndpoint{interval: interval, script: script}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		doc := map[string]any{
			"issuer":                 f.srv.URL,
			"authorization_endpoint": f.srv.URL + "/authorize",
			"token_endpoint":         f.srv.URL + "/token",
			"jwks_uri":               f.srv.URL + "/keys",
		}
		if !f.noDeviceAuth {
			doc["device_authorization_endpoint"] = f.srv.URL + "/device"
		}
		writeJSON(w, http.StatusOK, doc)
	})
	mux.HandleFunc("POST /device", func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("client_id") != "jit-cli" {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_client"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"device_code":               "fake-device-code",
			"user_code":                 "WDJB-MJHT",
			"verification_uri":          f.srv.URL + "/activate",
			"verification_uri_complete": f.srv.URL + "/activate?user_code=WDJB-MJHT",
			"expires_in":                600,
			"interval":                  f.interval,
		})
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.polls = append(f.polls, time.Now())
		f.forms = append(f.forms, r.FormValue("grant_type")+" "+r.FormValue("device_code"))
		a := f.script[min(len(f.polls), len(f.script))-1]
		f.mu.Unlock()
		writeJSON(w, a.status, a.body)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeDeviceEndpoint) client() *Client {
	return &Client{Issuer: f.srv.URL, ClientID: "jit-cli", HTTPClient: f.srv.Client()}
}

func (f *fakeDeviceEndpoint) recorded() ([]time.Time, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.polls...), append([]string(nil), f.forms...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// unsignedJWT builds a token with the given claims; the client reads claims
// without verifying, so no signature is needed.
func unsignedJWT(t *testing.T, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none"}`)) + "." + enc(payload) + ".sig"
}

func tokenAnswer(idToken string) fakeAnswer {
	return fakeAnswer{http.StatusOK, map[string]any{
		"access_token": "fake-access", "token_type": "Bearer", "expires_in": 3600,
		"refresh_token": "fake-refresh", "id_token": idToken,
	}}
}

func TestLoginSlowDownAddsFiveSeconds(t *testing.T) {
	t.Parallel()
	exp := time.Now().Add(time.Hour).Unix()
	id := unsignedJWT(t, map[string]any{"sub": "u1", "email": "dana@example.com", "exp": exp, "groups": "ops"})
	f := startFakeDeviceEndpoint(t, 1,
		fakeAnswer{http.StatusBadRequest, map[string]any{"error": "authorization_pending"}},
		oauthError("slow_down", "polling too fast"),
		tokenAnswer(id),
	)
	tokens, err := f.client().Login(t.Context(), func(DeviceCode) error { return nil })
	if err != nil {
		t.Fatalf("Login = %v; slow_down must not end the login", err)
	}
	if tokens.Claims.Email != "dana@example.com" || tokens.RefreshToken != "fake-refresh" || tokens.Expiry.Unix() != exp {
		t.Errorf("tokens = %v", tokens)
	}
	polls, forms := f.recorded()
	if len(polls) != 3 {
		t.Fatalf("%d polls, want 3", len(polls))
	}
	for _, form := range forms {
		if form != "urn:ietf:params:oauth:grant-type:device_code fake-device-code" {
			t.Errorf("poll form = %q", form)
		}
	}
	// A lower bound only: after slow_down the interval is 1+5 s, so the
	// next poll cannot come sooner than that.
	if gap := polls[2].Sub(polls[1]); gap < 6*time.Second {
		t.Errorf("poll after slow_down came %s later, want at least 6s", gap)
	}
}

func TestLoginExpiredTokenFromProvider(t *testing.T) {
	t.Parallel()
	f := startFakeDeviceEndpoint(t, 1, oauthError("expired_token", "device code expired"))
	_, err := f.client().Login(t.Context(), func(DeviceCode) error { return nil })
	if !errors.Is(err, ErrExpired) {
		t.Fatalf("Login = %v, want ErrExpired", err)
	}
}

func TestLoginAccessDeniedFromProvider(t *testing.T) {
	t.Parallel()
	f := startFakeDeviceEndpoint(t, 1, oauthError("access_denied", "not in the jit-users group"))
	_, err := f.client().Login(t.Context(), func(DeviceCode) error { return nil })
	if !errors.Is(err, ErrAccessDenied) || !strings.Contains(err.Error(), "not in the jit-users group") {
		t.Fatalf("Login = %v, want ErrAccessDenied with the provider's description", err)
	}
}

func TestLoginOtherProviderErrorIsReported(t *testing.T) {
	t.Parallel()
	f := startFakeDeviceEndpoint(t, 1, oauthError("invalid_scope", "groups is not allowed"))
	_, err := f.client().Login(t.Context(), func(DeviceCode) error { return nil })
	var pe *ProviderError
	if !errors.As(err, &pe) || pe.Code != "invalid_scope" || !strings.Contains(err.Error(), "groups is not allowed") {
		t.Fatalf("Login = %v, want a ProviderError naming invalid_scope", err)
	}
	if errors.Is(err, ErrAccessDenied) || errors.Is(err, ErrExpired) {
		t.Error("an unrelated provider error was mapped to a login outcome")
	}
}

func TestLoginRejectsTokenWithoutIDToken(t *testing.T) {
	t.Parallel()
	f := startFakeDeviceEndpoint(t, 1, fakeAnswer{http.StatusOK, map[string]any{"access_token": "a", "token_type": "Bearer"}})
	if _, err := f.client().Login(t.Context(), func(DeviceCode) error { return nil }); err == nil || !strings.Contains(err.Error(), "id_token") {
		t.Fatalf("Login = %v, want an error about the missing id_token", err)
	}
}

func TestLoginWithoutDeviceEndpoint(t *testing.T) {
	t.Parallel()
	f := startFakeDeviceEndpoint(t, 1)
	f.noDeviceAuth = true
	_, err := f.client().Login(t.Context(), func(DeviceCode) error { t.Error("prompt called"); return nil })
	if !errors.Is(err, ErrNoDeviceGrant) {
		t.Fatalf("Login = %v, want ErrNoDeviceGrant", err)
	}
}

func TestDiscoveryIssuerMismatch(t *testing.T) {
	t.Parallel()
	f := startFakeDeviceEndpoint(t, 1)
	c := f.client()
	c.Issuer = strings.Replace(f.srv.URL, "127.0.0.1", "localhost", 1)
	if _, err := c.Endpoint(t.Context()); err == nil {
		t.Fatal("discovery accepted a document for another issuer")
	}
}
