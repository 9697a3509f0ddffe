package credserver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
)

func start(t *testing.T, source Source) *Server {
	t.Helper()
	s, err := Start(source)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func get(t *testing.T, s *Server, token string) (int, map[string]string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, s.URL(), nil)
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body map[string]string
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("status %d, body %q is not JSON", resp.StatusCode, b)
	}
	return resp.StatusCode, body
}

func creds(key string, exp time.Time) api.Credentials {
	return api.Credentials{AccessKeyID: key, SecretAccessKey: "secret", SessionToken: "token", Expiration: exp}
}

func TestEndpointServesTheContainerCredentialsDocumentOnLoopback(t *testing.T) {
	exp := time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC)
	s := start(t, func(context.Context) (api.Credentials, error) { return creds("ASIA1", exp), nil })
	u, err := url.Parse(s.URL())
	if err != nil || u.Hostname() != "127.0.0.1" || u.Port() == "" || u.Port() == "0" {
		t.Fatalf("URL %q: want http://127.0.0.1:PORT/...", s.URL())
	}
	env := map[string]string{}
	for _, kv := range s.Env() {
		env[kv[0]] = kv[1]
	}
	if env[FullURIVar] != s.URL() || len(env[AuthTokenVar]) < 40 {
		t.Fatalf("env = %v", env)
	}
	code, body := get(t, s, env[AuthTokenVar])
	if code != http.StatusOK || body["AccessKeyId"] != "ASIA1" || body["Token"] != "token" || body["Expiration"] != "2026-12-02T18:00:00Z" {
		t.Fatalf("status %d body %v", code, body)
	}
}

func TestEndpointRefusesARequestWithoutTheToken(t *testing.T) {
	var calls atomic.Int32
	s := start(t, func(context.Context) (api.Credentials, error) { calls.Add(1); return creds("ASIA1", time.Now()), nil })
	token := s.Env()[1][1]
	for _, bad := range []string{"", "wrong", token[:len(token)-1], token + "x", "Bearer " + token} {
		if code, body := get(t, s, bad); code != http.StatusUnauthorized || body["AccessKeyId"] != "" {
			t.Errorf("token %q: status %d body %v; want 401 and no credentials", bad, code, body)
		}
	}
	if calls.Load() != 0 {
		t.Errorf("credentials were fetched %d times for unauthorised requests", calls.Load())
	}
}

func TestEndpointRefusesWithJitsMessageOnceStopped(t *testing.T) {
	var calls atomic.Int32
	s := start(t, func(context.Context) (api.Credentials, error) { calls.Add(1); return creds("ASIA1", time.Now()), nil })
	token := s.Env()[1][1]
	s.Stop(errors.New("the grant req_1 for role prod was revoked by bob"))
	code, body := get(t, s, token)
	if code != http.StatusForbidden || body["code"] != "grant_ended" || !strings.HasPrefix(body["message"], "jit: the grant req_1 for role prod was revoked by bob") {
		t.Fatalf("status %d body %v", code, body)
	}
	if calls.Load() != 0 {
		t.Error("a stopped endpoint still fetched credentials")
	}
}

func TestEndpointMapsAnEndedGrantTo403AndOtherFailuresTo502(t *testing.T) {
	var fail atomic.Pointer[error]
	s := start(t, func(context.Context) (api.Credentials, error) { return api.Credentials{}, *fail.Load() })
	token := s.Env()[1][1]
	ended := errors.Join(errors.New("no active grant for role prod"), ErrGrantEnded)
	fail.Store(&ended)
	if code, body := get(t, s, token); code != http.StatusForbidden || !strings.Contains(body["message"], "no active grant for role prod") {
		t.Errorf("ended: status %d body %v", code, body)
	}
	unreachable := errors.New("jit server unreachable")
	fail.Store(&unreachable)
	if code, body := get(t, s, token); code != http.StatusBadGateway || !strings.Contains(body["message"], "unreachable") {
		t.Errorf("unreachable: status %d body %v", code, body)
	}
}

func TestEndpointServerHasTimeouts(t *testing.T) {
	s := start(t, func(context.Context) (api.Credentials, error) { return api.Credentials{}, nil })
	if s.srv.ReadHeaderTimeout <= 0 || s.srv.IdleTimeout <= 0 || s.srv.MaxHeaderBytes <= 0 {
		t.Errorf("server timeouts not set: %+v", s.srv)
	}
}
