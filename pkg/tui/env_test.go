package tui

import (
	"context"
	"flag"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/99designs/keyring"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/apiclient"
	"github.com/jit-access/jit/pkg/credcache"
	"github.com/jit-access/jit/pkg/devidp"
	"github.com/jit-access/jit/pkg/session"
)

// testPolicy gives alice (developers) an auto-approved readonly role, a
// prod-admin that bob (approvers) must approve, a role needing a ticket and
// a break-glass role.
var testPolicy = testenv.Policy(
	testenv.ReadOnly.With("auto_approve", "{groups: [developers], max_duration: 1h}").
		With("description", "read-only view of production").With("account", `"123456789012"`),
	testenv.ProdAdmin.With("description", "full admin on production").With("account", `"123456789012"`),
	testenv.NewRole("billing", "description", "cost explorer and invoices", "account", `"210987654321"`,
		"arn", "arn:aws:iam::210987654321:role/jit-billing", "max_duration", "1h", "ticket_pattern", `"^FIN-[0-9]+$"`),
	testenv.OnCall.With("description", "incident response").With("account", `"123456789012"`))

// base is the fixed time of every test server and picker, so that ages,
// countdowns and goldens do not depend on when the test runs.
var base = time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)

var (
	idpOnce   sync.Once
	sharedIDP *devidp.Provider
	sharedTok map[string]string
)

func TestMain(m *testing.M) {
	flag.Parse()
	lipgloss.SetColorProfile(termenv.Ascii)
	code := m.Run()
	if sharedIDP != nil {
		_ = sharedIDP.Close()
	}
	os.Exit(code)
}

// identities logs alice (developer) and bob (approver) in once through the
// real device flow of the real OIDC provider.
func identities(t *testing.T) (*devidp.Provider, map[string]string) {
	t.Helper()
	idpOnce.Do(func() {
		p, err := devidp.Start(context.Background(), devidp.Options{Users: devidp.DefaultUsers()})
		if err != nil {
			t.Fatalf("start OIDC provider: %v", err)
		}
		sharedIDP, sharedTok = p, map[string]string{}
		for _, u := range []string{"alice", "bob"} {
			tok := testenv.DeviceToken(t, p, u)
			sharedTok[u] = tok.Extra("id_token").(string)
			sharedTok[u+":refresh"] = tok.RefreshToken
		}
	})
	if sharedIDP == nil {
		t.Fatal("OIDC provider failed to start in an earlier test")
	}
	return sharedIDP, sharedTok
}

// testServer is a real jit server (sqlite store, real token verification)
// on 127.0.0.1 whose clock stands still at base and whose ids count up.
type testServer struct {
	url    string
	idp    *devidp.Provider
	tokens map[string]string
}

func startServer(t *testing.T) *testServer {
	t.Helper()
	idp, tokens := identities(t)
	js := testenv.StartJitServer(t, testenv.JitServerOptions{
		Issuer: idp.Issuer(), ClientID: idp.ClientID(), Policy: testPolicy,
		Now: func() time.Time { return base },
		// Tokens are real and fresh: check them against the real clock.
		VerifyNow: time.Now, SequentialIDs: true,
	})
	return &testServer{url: js.URL, idp: idp, tokens: tokens}
}

// client is the API client of user.
func (s *testServer) client(t *testing.T, user string) *apiclient.Client {
	t.Helper()
	tok := s.tokens[user]
	c, err := apiclient.New(s.url, &http.Client{Timeout: time.Minute}, func(context.Context) (string, error) { return tok, nil })
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// session is user's logged-in session with an in-memory keyring holding
// the real tokens, its clock at base.
func (s *testServer) session(t *testing.T, user string) *session.Session {
	t.Helper()
	now := func() time.Time { return base }
	cache := credcache.New(keyring.NewArrayKeyring(nil), "array", credcache.Config{Now: now})
	if err := cache.PutTokens(context.Background(), s.url, session.Tokens{
		IDToken: s.tokens[user], RefreshToken: s.tokens[user+":refresh"], Expiry: time.Now().Add(time.Hour),
		Issuer: s.idp.Issuer(), ClientID: s.idp.ClientID(), Subject: user, Email: user + "@example.com",
	}); err != nil {
		t.Fatal(err)
	}
	return &session.Session{Server: s.url, Cache: cache, HTTPClient: &http.Client{Timeout: time.Minute}, Now: now}
}

// picker is a picker for user against the server, with an MRU file in a
// temporary directory.
func (s *testServer) picker(t *testing.T, user string) (*Model, *MRU) {
	t.Helper()
	mru := &MRU{Path: t.TempDir() + "/recent"}
	r := lipgloss.NewRenderer(os.Stderr)
	r.SetColorProfile(termenv.Ascii)
	return New(t.Context(), Options{
		Backend: &SessionBackend{Session: s.session(t, user), Poll: 10 * time.Second},
		Now:     func() time.Time { return base }, Renderer: r, MRU: mru,
	}), mru
}
