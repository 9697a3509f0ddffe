package login

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/99designs/keyring"

	"github.com/jit-access/jit/internal/cmdtest"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/credcache"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/session"
)

func TestNewCmdLogout(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no args", nil, ""},
		{"an argument", []string{"https://jit.example.com"}, `unknown command "https://jit.example.com" for "logout"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io, _, _, _ := iostreams.Test()
			opened := errors.New("the factory's cache")
			f := &cmdutil.Factory{IO: io, Cache: func() (*credcache.Cache, error) { return nil, opened }}
			var got *LogoutOptions
			cmd := NewCmdLogout(f, func(_ context.Context, o *LogoutOptions) error { got = o; return nil })
			if !cmdtest.Execute(t, cmd, io.ErrOut, tc.args, tc.wantErr) {
				return
			}
			if got.IO != io {
				t.Fatal("options do not carry the factory's streams")
			}
			if _, err := got.Cache(); err != opened {
				t.Fatalf("options' Cache is not the factory's: %v", err)
			}
		})
	}
}

func TestLogoutRun(t *testing.T) {
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	creds := api.Credentials{AccessKeyID: "ASIA1", SecretAccessKey: "s", SessionToken: "t", RequestID: "req_1", Role: "prod",
		Expiration: now.Add(time.Hour), STSExpiration: now.Add(time.Hour), GrantEndsAt: now.Add(time.Hour)}
	for _, tc := range []struct {
		name       string
		setup      func(t *testing.T, c *credcache.Cache)
		openErr    error
		wantStdout string
		wantErr    string
	}{
		{"empty keyring", nil, nil, "Removed 0 item(s) from the array keyring.\n", ""},
		{"two servers' tokens and a grant's credentials", func(t *testing.T, c *credcache.Cache) {
			ctx := context.Background()
			for _, server := range []string{"https://a.example.com", "https://b.example.com"} {
				if err := c.PutTokens(ctx, server, session.Tokens{IDToken: "id", Expiry: now.Add(time.Hour)}); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.PutCredentials(ctx, "https://a.example.com", "prod", creds); err != nil {
				t.Fatal(err)
			}
		}, nil, "Removed 3 item(s) from the array keyring.\n", ""},
		{"keyring does not open", nil, errors.New("no keyring backend available"), "", "no keyring backend available"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := credcache.New(keyring.NewArrayKeyring(nil), "array", credcache.Config{Now: func() time.Time { return now }})
			if tc.setup != nil {
				tc.setup(t, cache)
			}
			io, _, stdout, stderr := iostreams.Test()
			opts := &LogoutOptions{IO: io, Cache: func() (*credcache.Cache, error) { return cache, tc.openErr }}
			err := LogoutRun(t.Context(), opts)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if stdout.String() != tc.wantStdout || stderr.Len() != 0 {
				t.Fatalf("stdout %q stderr %q, want stdout %q", stdout, stderr, tc.wantStdout)
			}
			if _, ok, _ := cache.GetTokens(t.Context(), "https://a.example.com"); ok {
				t.Error("tokens survived logout")
			}
			if _, ok, _ := cache.GetCredentials(t.Context(), "https://a.example.com", "prod"); ok {
				t.Error("credentials survived logout")
			}
		})
	}
}
