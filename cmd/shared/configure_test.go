package shared

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/cmdtest"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/session"
)

func TestConfigureRun(t *testing.T) {
	roles := api.RolesResponse{Roles: []api.Role{{Name: "prod", Region: "eu-west-1"}, {Name: "staging"}}}
	for _, tc := range []struct {
		name       string
		opts       ConfigureOptions
		existing   string
		wantStdout []string
		wantStderr string
		wantFile   []string
		wantErr    string
		wantExit   int
	}{
		{"writes a profile per role", ConfigureOptions{Region: "us-east-1"}, "", nil, "Wrote 2 jit profile(s) to",
			[]string{"[profile prod]", "region = eu-west-1", "[profile staging]", "region = us-east-1", "credential_process = "}, "", 0},
		{"dry run writes nothing", ConfigureOptions{DryRun: true}, "", []string{"+[profile prod]", "+[profile staging]"}, "", nil, "", 0},
		{"prefix", ConfigureOptions{Prefix: "jit-"}, "", nil, "--profile jit-prod", []string{"[profile jit-prod]", "[profile jit-staging]"}, "", 0},
		{"a profile of the same name outside the block", ConfigureOptions{}, "[profile prod]\nregion = us-west-2\n", nil, "", nil, "profile", cmdutil.ExitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := cmdtest.Session(t, cmdtest.Server(t, cmdtest.Routes{"GET /v1/roles": roles}), "alice@example.com", time.Now)
			dir := t.TempDir()
			exe := filepath.Join(dir, "jit")
			if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "aws", "config")
			if tc.existing != "" {
				_ = os.MkdirAll(filepath.Dir(path), 0o700)
				if err := os.WriteFile(path, []byte(tc.existing), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			io, _, stdout, stderr := iostreams.Test()
			tc.opts.IO, tc.opts.Env = io, func(string) string { return "" }
			tc.opts.Session = func() (*session.Session, error) { return s, nil }
			tc.opts.Executable = func() (string, error) { return exe, nil }
			tc.opts.Path = path
			err := ConfigureRun(t.Context(), &tc.opts)
			if tc.wantErr != "" {
				var he *cmdutil.HintError
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.As(err, &he) || he.Code != tc.wantExit {
					t.Fatalf("err = %v, want %q with exit %d", err, tc.wantErr, tc.wantExit)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range tc.wantStdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("stderr %q, want %q", stderr, tc.wantStderr)
			}
			data, err := os.ReadFile(path)
			if len(tc.wantFile) == 0 {
				if err == nil {
					t.Errorf("wrote %s:\n%s", path, data)
				}
				return
			}
			for _, want := range tc.wantFile {
				if !strings.Contains(string(data), want) {
					t.Errorf("%s lacks %q:\n%s", path, want, data)
				}
			}
			// Running it again changes nothing.
			io2, _, _, stderr2 := iostreams.Test()
			tc.opts.IO = io2
			if err := ConfigureRun(t.Context(), &tc.opts); err != nil || !strings.Contains(stderr2.String(), "is up to date (2 jit profile(s))") {
				t.Errorf("second run: %v, stderr %q", err, stderr2)
			}
		})
	}
}
