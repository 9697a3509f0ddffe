package doctor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/cmdtest"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/awsconfig"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/credcache"
	"github.com/jit-access/jit/pkg/doctor"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/session"
)

func TestNewCmdDoctor(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no args", nil, ""},
		{"an argument", []string{"aws"}, `unknown command "aws" for "doctor"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io, _, _, _ := iostreams.Test()
			cacheErr := errors.New("the factory's keyring")
			f := &cmdutil.Factory{IO: io, Env: func(string) string { return "" },
				Cache: func() (*credcache.Cache, error) { return nil, cacheErr }}
			var got *Options
			cmd := NewCmdDoctor(f, func(_ context.Context, o *Options) error { got = o; return nil })
			if !cmdtest.Execute(t, cmd, io.ErrOut, tc.args, tc.wantErr) {
				return
			}
			if got.Deps.GOOS != runtime.GOOS || !slices.Equal(got.Deps.Compiled, credcache.CompiledBackends()) {
				t.Errorf("platform %s %v, want this build's", got.Deps.GOOS, got.Deps.Compiled)
			}
			// A keyring that fails to open is a nil interface, not a nil *Cache in one.
			if kr, err := got.Deps.Keyring(); kr != nil || err != cacheErr {
				t.Errorf("Keyring() = %v, %v; want nil and the factory's error", kr, err)
			}
		})
	}
}

func TestDoctorRun(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	srv := cmdtest.Server(t, cmdtest.Routes{
		"GET /v1/discovery": api.Discovery{Issuer: "https://idp.example.com", ServerVersion: "v1.2.3", ServerTime: now},
		"GET /v1/whoami":    api.User{Email: "alice@example.com"},
		"GET /v1/roles":     api.RolesResponse{Roles: []api.Role{{Name: "prod"}}},
	})
	s := cmdtest.Session(t, srv, "alice@example.com", func() time.Time { return now })
	dir := t.TempDir()
	exe := filepath.Join(dir, "jit")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	located, direct := awsconfig.Locate(exe)
	profiles, _, err := awsconfig.Plan(nil, []awsconfig.Profile{{Name: "prod", Role: "prod", Server: srv.URL, CredentialProcess: located, Direct: direct}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config")
	if err := os.WriteFile(cfg, profiles, 0o600); err != nil {
		t.Fatal(err)
	}
	deps := func(goos string, compiled []string, server error) doctor.Deps {
		return doctor.Deps{
			Server:     func() (string, error) { return srv.URL, server },
			Keyring:    func() (doctor.Keyring, error) { return s.Cache.(*credcache.Cache), nil },
			HTTPClient: srv.Client,
			Session:    func() (*session.Session, error) { return s, nil },
			Env:        func(k string) string { return map[string]string{"AWS_CONFIG_FILE": cfg}[k] },
			Now:        func() time.Time { return now },
			Executable: func() (string, error) { return exe, nil },
			GOOS:       goos, Compiled: compiled,
		}
	}
	for _, tc := range []struct {
		name       string
		deps       doctor.Deps
		wantStdout string
		// prefix: stdout starts with wantStdout (the rest as in "all well").
		prefix   bool
		wantExit int
	}{
		{"all well", deps("linux", []string{"keyctl", "file"}, nil), "" +
			"ok   backends   in use: array; compiled in: keyctl, file\n" +
			"ok   keyring    backend array; one read took 0s\n" +
			"ok   server     " + srv.URL + " answers in 0s (version v1.2.3; issuer https://idp.example.com)\n" +
			"ok   clock      0s off the server's clock (tokens tolerate the server's clock_skew)\n" +
			"ok   token      ID token for alice@example.com valid for 1h0m0s (refresh token: false)\n" +
			"ok   login      the server sees you as alice@example.com, groups []\n" +
			"ok   roles      you may request 1 role(s)\n" +
			"ok   aws        " + cfg + " has a profile for each of your roles\n", false, cmdutil.ExitOK},
		{"a warning alone still passes", deps("darwin", []string{"file"}, nil), "WARN backends   in use: array; compiled in: file; this build lacks darwin's own store", true, cmdutil.ExitOK},
		{"a failure exits 1", deps("linux", []string{"keyctl"}, errors.New("no jit server configured")), "FAIL server     no jit server configured\n", false, cmdutil.ExitError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io, _, stdout, stderr := iostreams.Test()
			err := Run(t.Context(), &Options{IO: io, Deps: tc.deps})
			code := cmdutil.ExitOK
			var se *cmdutil.StatusError
			if errors.As(err, &se) {
				code = se.Code
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.wantExit {
				t.Errorf("exit %d, want %d", code, tc.wantExit)
			}
			if got := stdout.String(); got != tc.wantStdout && !(tc.prefix && strings.HasPrefix(got, tc.wantStdout)) {
				t.Errorf("stdout:\n%s\nwant:\n%s", got, tc.wantStdout)
			}
			if stderr.Len() != 0 {
				t.Errorf("stderr %q: the report is data, on stdout", stderr)
			}
		})
	}
}
