package doctor

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/cmdtest"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/awsconfig"
	"github.com/jit-access/jit/pkg/credcache"
	"github.com/jit-access/jit/pkg/session"
)

var now = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// world is a server, a logged-in keyring and an AWS config for Run.
type world struct {
	routes   cmdtest.Routes
	noServer bool
	// keyringErr fails opening the keyring.
	keyringErr error
	// awsConfig writes the AWS config given the jit path and server URL.
	awsConfig func(t *testing.T, path, exe, server string)
}

func (w world) deps(t *testing.T) Deps {
	t.Helper()
	srv := cmdtest.Server(t, w.routes)
	s := cmdtest.Session(t, srv, "alice@example.com", func() time.Time { return now })
	dir := t.TempDir()
	exe := filepath.Join(dir, "jit")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "aws-config")
	if w.awsConfig != nil {
		w.awsConfig(t, cfg, exe, srv.URL)
	}
	env := map[string]string{"AWS_CONFIG_FILE": cfg, "HOME": dir}
	return Deps{
		Server: func() (string, error) {
			if w.noServer {
				return "", errors.New("no jit server configured")
			}
			return srv.URL, nil
		},
		Keyring: func() (Keyring, error) {
			if w.keyringErr != nil {
				return nil, w.keyringErr
			}
			return s.Cache.(*credcache.Cache), nil
		},
		HTTPClient: srv.Client,
		Session:    func() (*session.Session, error) { return s, nil },
		Env:        func(k string) string { return env[k] },
		Now:        func() time.Time { return now },
		Executable: func() (string, error) { return exe, nil },
		GOOS:       "linux",
		Compiled:   []string{"keyctl", "file"},
	}
}

func profilesFor(roles ...string) func(t *testing.T, path, exe, server string) {
	return func(t *testing.T, path, exe, server string) {
		t.Helper()
		exe, direct := awsconfig.Locate(exe)
		var ps []awsconfig.Profile
		for _, r := range roles {
			ps = append(ps, awsconfig.Profile{Name: r, Role: r, Server: server, CredentialProcess: exe, Direct: direct})
		}
		data, _, err := awsconfig.Plan(nil, ps)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func healthy() cmdtest.Routes {
	return cmdtest.Routes{
		"GET /v1/discovery": api.Discovery{Issuer: "https://idp.example.com", ServerVersion: "v1.2.3", ServerTime: now},
		"GET /v1/whoami":    api.User{Email: "alice@example.com", Groups: []string{"developers"}},
		"GET /v1/roles":     api.RolesResponse{Roles: []api.Role{{Name: "prod"}}},
	}
}

func with(r cmdtest.Routes, pattern string, answer any) cmdtest.Routes {
	r[pattern] = answer
	return r
}

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		name string
		w    world
		// want is "name:ok" or "name:FAIL" per check, in order.
		want   []string
		wantIn map[string]string
	}{
		{"all well", world{routes: healthy(), awsConfig: profilesFor("prod")},
			[]string{"backends:ok", "keyring:ok", "server:ok", "clock:ok", "token:ok", "login:ok", "roles:ok", "aws:ok"},
			map[string]string{"server": "answers in 0s (version v1.2.3; issuer https://idp.example.com)", "clock": "0s off the server's clock",
				"token": "ID token for alice@example.com valid for 1h0m0s (refresh token: false)", "login": "the server sees you as alice@example.com, groups [developers]",
				"roles": "you may request 1 role(s)", "aws": "has a profile for each of your roles", "backends": "in use: array; compiled in: keyctl, file"}},
		{"no server configured", world{routes: healthy(), noServer: true}, []string{"server:FAIL"},
			map[string]string{"server": "no jit server configured"}},
		{"keyring does not open", world{routes: healthy(), keyringErr: errors.New("no keyring backend"), awsConfig: profilesFor("prod")},
			[]string{"backends:ok", "keyring:FAIL", "server:ok", "clock:ok", "login:ok", "roles:ok", "aws:ok"},
			map[string]string{"keyring": "no keyring backend", "backends": "in use: none opened"}},
		{"server down", world{routes: with(healthy(), "GET /v1/discovery", cmdtest.Fail(http.StatusServiceUnavailable, api.CodeInternal, "store unavailable"))},
			[]string{"backends:ok", "keyring:ok", "server:FAIL"}, map[string]string{"server": "store unavailable"}},
		{"clock off by two minutes", world{routes: with(healthy(), "GET /v1/discovery", api.Discovery{ServerTime: now.Add(-2 * time.Minute)}), awsConfig: profilesFor("prod")},
			[]string{"backends:ok", "keyring:ok", "server:ok", "clock:FAIL", "token:ok", "login:ok", "roles:ok", "aws:ok"},
			map[string]string{"clock": "2m0s off the server's clock"}},
		{"token refused", world{routes: with(healthy(), "GET /v1/whoami", cmdtest.Fail(http.StatusUnauthorized, api.CodeUnauthenticated, "token expired"))},
			[]string{"backends:ok", "keyring:ok", "server:ok", "clock:ok", "token:ok", "login:FAIL"},
			map[string]string{"login": "token expired (run jit login)"}},
		{"no roles", world{routes: with(healthy(), "GET /v1/roles", api.RolesResponse{}), awsConfig: profilesFor()},
			[]string{"backends:ok", "keyring:ok", "server:ok", "clock:ok", "token:ok", "login:ok", "roles:FAIL", "aws:ok"},
			map[string]string{"roles": "you may request 0 role(s)"}},
		{"aws config lacks a role", world{routes: with(healthy(), "GET /v1/roles", api.RolesResponse{Roles: []api.Role{{Name: "prod"}, {Name: "staging"}}}), awsConfig: profilesFor("prod")},
			[]string{"backends:ok", "keyring:ok", "server:ok", "clock:ok", "token:ok", "login:ok", "roles:ok", "aws:FAIL"},
			map[string]string{"aws": "does not match your roles (run jit configure aws --dry-run to see how)"}},
		{"aws profile runs a moved jit", world{routes: healthy(), awsConfig: func(t *testing.T, path, _, server string) {
			profilesFor("prod")(t, path, filepath.Join(filepath.Dir(path), "old", "jit"), server)
		}},
			[]string{"backends:ok", "keyring:ok", "server:ok", "clock:ok", "token:ok", "login:ok", "roles:ok", "aws-path:FAIL", "aws:FAIL"},
			map[string]string{"aws-path": "does not exist (run jit configure aws)", "aws": "does not match"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Run(t.Context(), tc.w.deps(t))
			var names []string
			for _, c := range got {
				mark := "ok"
				if !c.OK {
					mark = "FAIL"
				}
				names = append(names, c.Name+":"+mark)
				if want, ok := tc.wantIn[c.Name]; ok && !strings.Contains(c.Msg, want) {
					t.Errorf("%s says %q, want %q", c.Name, c.Msg, want)
				}
			}
			if strings.Join(names, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("checks %v, want %v", names, tc.want)
			}
		})
	}
}
