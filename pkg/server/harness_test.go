package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/devidp"
	"github.com/jit-access/jit/pkg/server"
	"github.com/jit-access/jit/pkg/store"
)

// testPolicy: developers may request readonly (auto-approved) and
// prod-admin (one approver from "approvers"); "two-man" needs two; "oncall"
// allows break-glass. readonly and oncall allow extensions, which their
// requester gives alone only up to the auto-approve / break-glass max.
var testPolicy = testenv.Policy(
	testenv.ReadOnly.With("auto_approve", "{groups: [developers], max_duration: 1h}").
		With("max_extensions", "3").With("max_total_duration", "3h"),
	testenv.ProdAdmin.With("max_extensions", "1").With("max_total_duration", "3h"),
	testenv.TwoMan,
	testenv.OnCall.With("max_extensions", "5").With("max_total_duration", "4h"))

// env is a running server with real tokens for every test user.
type env struct {
	t      *testing.T
	url    string
	srv    *server.Server
	store  store.Store
	clock  *testenv.Clock
	vendor *testenv.FakeVendor
	idp    *devidp.Provider
	tokens map[string]string // username → ID token
	logs   *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

var (
	idpOnce   sync.Once
	sharedIDP *devidp.Provider
	sharedTok map[string]string
)

// dave is a developer who approves nothing.
var dave = devidp.User{Username: "dave", Password: "dave-password", Email: "dave@example.com", Name: "Dave Doe", Groups: []string{"developers"}}

// identities starts one OIDC provider for the package and logs every test
// user in once through the real device flow.
func identities(t *testing.T) (*devidp.Provider, map[string]string) {
	t.Helper()
	idpOnce.Do(func() {
		p, err := devidp.Start(context.Background(), devidp.Options{Users: append(devidp.DefaultUsers(), dave)})
		if err != nil {
			t.Fatalf("start OIDC provider: %v", err)
		}
		sharedIDP = p
		sharedTok = testenv.IDTokens(t, p, "alice", "bob", "carol", "dave")
	})
	if sharedIDP == nil {
		t.Fatal("OIDC provider failed to start in an earlier test")
	}
	return sharedIDP, sharedTok
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedIDP != nil {
		_ = sharedIDP.Close()
	}
	os.Exit(code)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, nil)
}

// newEnvWith lets a test change the server's options before it starts.
func newEnvWith(t *testing.T, tweak func(*server.Options)) *env {
	t.Helper()
	idp, tokens := identities(t)
	c := testenv.NewClock(time.Now())
	logs := &syncBuffer{}
	fv := &testenv.FakeVendor{}
	js := testenv.StartJitServer(t, testenv.JitServerOptions{
		Issuer: idp.Issuer(), ClientID: idp.ClientID(), Policy: testPolicy, Vendor: fv, Now: c.Now,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Tweak: func(o *server.Options, _ string) {
			if tweak != nil {
				tweak(o)
			}
		},
	})
	return &env{t: t, url: js.URL, srv: js.Server, store: js.Store, clock: c, vendor: fv, idp: idp, tokens: tokens, logs: logs}
}

// call makes an API call as user ("" = anonymous) and decodes the answer.
func (e *env) call(user, method, path string, body any, out any) int {
	e.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, e.url+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	if user != "" {
		tok, ok := e.tokens[user]
		if !ok {
			tok = user // a raw token
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			e.t.Fatalf("%s %s: decode %q: %v", method, path, data, err)
		}
	}
	return resp.StatusCode
}

func (e *env) create(user string, in api.CreateRequest) *api.Request {
	e.t.Helper()
	var r api.Request
	if code := e.call(user, "POST", "/v1/requests", in, &r); code != http.StatusCreated {
		e.t.Fatalf("create %+v as %s: HTTP %d", in, user, code)
	}
	return &r
}

func (e *env) errorOf(user, method, path string, body any) (int, api.Error) {
	e.t.Helper()
	var ae api.Error
	code := e.call(user, method, path, body, &ae)
	return code, ae
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
