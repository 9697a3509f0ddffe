package configure

import (
	"context"
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

func TestNewCmdConfigure(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		want    Options
		wantErr string
	}{
		{"defaults", []string{"aws"}, Options{}, ""},
		{"all flags", []string{"aws", "--file", "cfg", "--prefix", "jit-", "--region", "eu-west-1", "--dry-run"},
			Options{Path: "cfg", Prefix: "jit-", Region: "eu-west-1", DryRun: true}, ""},
		{"an argument", []string{"aws", "prod"}, Options{}, `unknown command "prod" for "configure aws"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io, _, _, _ := iostreams.Test()
			var got *Options
			cmd := NewCmdConfigure(&cmdutil.Factory{IO: io}, func(_ context.Context, o *Options) error { got = o; return nil })
			if !cmdtest.Execute(t, cmd, io.ErrOut, tc.args, tc.wantErr) {
				return
			}
			if got.Path != tc.want.Path || got.Prefix != tc.want.Prefix || got.Region != tc.want.Region || got.DryRun != tc.want.DryRun {
				t.Fatalf("options %+v, want %+v", *got, tc.want)
			}
		})
	}
}

func TestConfigureRun(t *testing.T) {
	roles := api.RolesResponse{Roles: []api.Role{{Name: "prod", Region: "eu-west-1"}, {Name: "staging"}}}
	for _, tc := range []struct {
		name       string
		opts       Options
		existing   string
		wantStdout []string
		wantStderr string
		wantFile   []string
		wantErr    string
		wantExit   int
	}{
		{"writes a profile per role", Options{Region: "us-east-1"}, "", nil, "Wrote 2 jit profile(s) to",
			[]string{"[profile prod]", "region = eu-west-1", "[profile staging]", "region = us-east-1", "credential_process = "}, "", 0},
		{"dry run writes nothing", Options{DryRun: true}, "", []string{"+[profile prod]", "+[profile staging]"}, "", nil, "", 0},
		{"prefix", Options{Prefix: "jit-"}, "", nil, "--profile jit-prod", []string{"[profile jit-prod]", "[profile jit-staging]"}, "", 0},
		{"a profile of the same name outside the block", Options{}, "[profile prod]\nregion = us-west-2\n", nil, "", nil, "profile", cmdutil.ExitUsage},
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
			err := Run(t.Context(), &tc.opts)
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
			if err := Run(t.Context(), &tc.opts); err != nil || !strings.Contains(stderr2.String(), "is up to date (2 jit profile(s))") {
				t.Errorf("second run: %v, stderr %q", err, stderr2)
			}
		})
	}
}
