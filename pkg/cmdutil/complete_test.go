package cmdutil

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/session"
)

// tokenCache holds a valid login and nothing else.
type tokenCache struct{ expiry time.Time }

func (c tokenCache) GetCredentials(context.Context, string, string) (api.Credentials, bool, error) {
	return api.Credentials{}, false, nil
}
func (c tokenCache) PutCredentials(context.Context, string, string, api.Credentials) error {
	return nil
}
func (c tokenCache) DeleteCredentials(context.Context, string, string) error { return nil }
func (c tokenCache) GetTokens(context.Context, string) (session.Tokens, bool, error) {
	return session.Tokens{IDToken: "test-id-token", Expiry: c.expiry}, true, nil
}
func (c tokenCache) PutTokens(context.Context, string, session.Tokens) error { return nil }

// completionFactory is a Factory whose session talks to handler.
func completionFactory(t *testing.T, handler http.HandlerFunc) *Factory {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	ios, _, _, _ := iostreams.Test()
	ios.SetTTY(true)
	f := New(ios)
	now := time.Now()
	f.Session = func() (*session.Session, error) {
		return &session.Session{Server: srv.URL, Cache: tokenCache{expiry: now.Add(time.Hour)},
			HTTPClient: srv.Client(), Now: func() time.Time { return now }}, nil
	}
	return f
}

func rolesHandler(t *testing.T, roles ...api.Role) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/roles" || r.Header.Get("Authorization") != "Bearer test-id-token" {
			t.Errorf("unexpected call %s %s (auth %q)", r.Method, r.URL.Path, r.Header.Get("Authorization"))
			http.Error(w, "{}", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(api.RolesResponse{Roles: roles})
	}
}

func TestRoleNamesCompletesRequestableRolesByPrefix(t *testing.T) {
	f := completionFactory(t, rolesHandler(t,
		api.Role{Name: "prod-admin", Description: "Full admin\n on prod"},
		api.Role{Name: "prod-readonly"},
		api.Role{Name: "staging-readonly", Description: "Read-only on staging"},
	))
	cmd := &cobra.Command{Use: "request"}
	cmd.SetContext(context.Background())
	got, dir := RoleNames(f)(cmd, nil, "prod")
	want := []string{"prod-admin\tFull admin on prod", "prod-readonly"}
	if !slices.Equal(got, want) {
		t.Errorf("completions = %q, want %q", got, want)
	}
	if dir != cobra.ShellCompDirectiveNoFileComp {
		t.Errorf("directive = %v, want NoFileComp", dir)
	}
	if f.IO.CanPrompt() {
		t.Error("completion left prompting allowed; it must never prompt")
	}
}

func TestRoleNamesOffersNothingAfterTheRole(t *testing.T) {
	f := completionFactory(t, func(http.ResponseWriter, *http.Request) { t.Error("no server call expected") })
	got, dir := RoleNames(f)(&cobra.Command{}, []string{"prod-admin"}, "")
	if len(got) != 0 || dir != cobra.ShellCompDirectiveNoFileComp {
		t.Errorf("got %q, %v; want nothing, NoFileComp", got, dir)
	}
}

func TestRoleNamesGivesUpOnASlowServer(t *testing.T) {
	release := make(chan struct{})
	f := completionFactory(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	start := time.Now()
	got, dir := roleNames(f, 100*time.Millisecond)(&cobra.Command{}, nil, "")
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("completion took %s; it must give up after its timeout", took)
	}
	if len(got) != 0 || dir != cobra.ShellCompDirectiveNoFileComp {
		t.Errorf("got %q, %v; want nothing, NoFileComp", got, dir)
	}
}

func TestRoleNamesOffersNothingWhenNotLoggedIn(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	f := New(ios)
	f.Session = func() (*session.Session, error) { return nil, session.ErrLoginRequired }
	got, dir := RoleNames(f)(&cobra.Command{}, nil, "")
	if len(got) != 0 || dir != cobra.ShellCompDirectiveNoFileComp {
		t.Errorf("got %q, %v; want nothing, NoFileComp", got, dir)
	}
}
