package server

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/serverapp"
)

const goodConfig = `oidc: {issuer: "http://127.0.0.1:1", client_id: jit-cli}
store: {dsn: "sqlite:///tmp/unused.db"}
%s
roles:
  - name: readonly
    arn: arn:aws:iam::123456789012:role/readonly
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
    max_duration: 1h
    auto_approve: {groups: [developers]}
  - name: admin
    arn: arn:aws:iam::123456789012:role/admin
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
    approvals_required: 2
    max_duration: 4h
    break_glass: {allowed: true, groups: [oncall], max_duration: 1h}
`

const badConfig = `oidc: {issuer: "http://127.0.0.1:1", client_id: jit-cli}
store: {dsn: "sqlite:///tmp/unused.db"}
roles:
  - name: readonly
    arn: arn:aws:iam::123456789012:role/readonly
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
    default_duration: 1h
    max_duration: 2x
`

// writeConfig writes a server config into a temp dir and returns its path.
func writeConfig(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func good(t *testing.T, extra string) string {
	t.Helper()
	return writeConfig(t, "jit.yaml", strings.Replace(goodConfig, "%s", extra, 1))
}

func TestNewCmdServer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		debug   bool
		want    Options
		wantErr string
	}{
		{"config", []string{"--config", "/etc/jit/jit.yaml"}, false, Options{ConfigPath: "/etc/jit/jit.yaml", LogFormat: "json"}, ""},
		{"short config, text logs, debug", []string{"-c", "jit.yaml", "--log-format", "text"}, true, Options{ConfigPath: "jit.yaml", LogFormat: "text", Debug: true}, ""},
		{"no config", nil, false, Options{}, "--config is required (see docs/examples/jit.yaml)"},
		{"bad log format", []string{"-c", "jit.yaml", "--log-format", "xml"}, false, Options{}, "--log-format must be json or text"},
		{"an argument", []string{"jit.yaml"}, false, Options{}, `unknown command "jit.yaml" for "server"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io, _, _, _ := iostreams.Test()
			f := &cmdutil.Factory{IO: io, Flags: cmdutil.GlobalFlags{Debug: tc.debug}}
			var got *Options
			cmd := NewCmdServer(f, func(_ context.Context, o *Options) error { got = o; return nil })
			cmd.SetOut(io.ErrOut)
			cmd.SetErr(io.ErrOut)
			cmd.SetArgs(tc.args)
			err := cmd.Execute()
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.ConfigPath != tc.want.ConfigPath || got.LogFormat != tc.want.LogFormat || got.Debug != tc.want.Debug || got.Serve == nil {
				t.Fatalf("options %+v, want %+v", *got, tc.want)
			}
		})
	}
}

func TestServerRun(t *testing.T) {
	for _, tc := range []struct {
		name       string
		opts       Options
		serveErr   error
		wantStderr []string
		notStderr  []string
		wantErr    string
	}{
		{"json logs at info", Options{ConfigPath: "jit.yaml", LogFormat: "json"}, nil,
			[]string{`"level":"INFO","msg":"listening"`}, []string{"detail"}, ""},
		{"text logs with debug", Options{ConfigPath: "jit.yaml", LogFormat: "text", Debug: true}, nil,
			[]string{"level=INFO msg=listening", "level=DEBUG msg=detail"}, []string{"{"}, ""},
		{"the server fails", Options{ConfigPath: "jit.yaml", LogFormat: "json"}, errors.New("open store: no such file"),
			nil, nil, "open store: no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io, _, stdout, stderr := iostreams.Test()
			var got serverapp.Options
			tc.opts.IO = io
			tc.opts.Serve = func(_ context.Context, o serverapp.Options) error {
				got = o
				o.Logger.Info("listening")
				o.Logger.Debug("detail")
				return tc.serveErr
			}
			err := Run(t.Context(), &tc.opts)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.ConfigPath != tc.opts.ConfigPath {
				t.Errorf("served config %q, want %q", got.ConfigPath, tc.opts.ConfigPath)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q: logs belong on stderr", stdout)
			}
			for _, want := range tc.wantStderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			for _, not := range tc.notStderr {
				if strings.Contains(stderr.String(), not) {
					t.Errorf("stderr has %q:\n%s", not, stderr)
				}
			}
		})
	}
}

func TestNewCmdCheckPolicy(t *testing.T) {
	for _, tc := range []struct {
		name, wantPath, wantErr string
		args                    []string
	}{
		{"a file", "/etc/jit/jit.yaml", "", []string{"/etc/jit/jit.yaml"}},
		{"no file", "", "accepts 1 arg(s), received 0", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io, _, _, _ := iostreams.Test()
			var got *CheckPolicyOptions
			cmd := NewCmdCheckPolicy(&cmdutil.Factory{IO: io}, func(_ context.Context, o *CheckPolicyOptions) error { got = o; return nil })
			cmd.SetOut(io.ErrOut)
			cmd.SetErr(io.ErrOut)
			cmd.SetArgs(tc.args)
			err := cmd.Execute()
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got.Path != tc.wantPath {
				t.Fatalf("options %+v, err %v; want path %q", got, err, tc.wantPath)
			}
		})
	}
}

func TestCheckPolicyRun(t *testing.T) {
	for _, tc := range []struct {
		name       string
		path       func(t *testing.T) string
		wantStdout []string
		wantStderr string
		wantErr    []string
	}{
		{"a good policy", func(t *testing.T) string { return good(t, "") },
			[]string{"jit.yaml: OK — 2 role(s)\n",
				"  readonly             eligible: groups developers; approvers: groups approvers (1 needed), auto-approves groups developers; max 1h0m0s\n",
				"  admin                eligible: groups developers; approvers: groups approvers (2 needed), break-glass; max 4h0m0s\n"}, "", nil},
		{"a warning", func(t *testing.T) string { return good(t, "aws: {role_chaining: true}") },
			[]string{"OK — 2 role(s)"}, "jit.yaml: roles[1] admin allows 4h0m0s but role_chaining caps credentials at 1h", nil},
		{"a mistake, named by line", func(t *testing.T) string { return writeConfig(t, "bad.yaml", badConfig) },
			nil, "", []string{"bad.yaml:9:19", "max_duration"}},
		{"no file", func(t *testing.T) string { return filepath.Join(t.TempDir(), "missing.yaml") },
			nil, "", []string{"missing.yaml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io, _, stdout, stderr := iostreams.Test()
			err := CheckPolicyRun(t.Context(), &CheckPolicyOptions{IO: io, Path: tc.path(t)})
			if tc.wantErr != nil {
				var he *cmdutil.HintError
				if err == nil || !errors.As(err, &he) || !strings.Contains(he.Hint, "docs/policy.md") {
					t.Fatalf("err = %v, want one hinting at docs/policy.md", err)
				}
				for _, want := range tc.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("err %q lacks %q", err, want)
					}
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
			if tc.wantStderr == "" && stderr.Len() != 0 || !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("stderr %q, want %q", stderr, tc.wantStderr)
			}
		})
	}
}

func TestNewCmdExplain(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		want    ExplainOptions
		wantErr string
	}{
		{"all flags", []string{"-c", "jit.yaml", "--user", "alice@example.com", "--groups", "developers,oncall", "--role", "admin"},
			ExplainOptions{ConfigPath: "jit.yaml", User: "alice@example.com", Groups: []string{"developers", "oncall"}, Role: "admin"}, ""},
		{"no groups", []string{"--config", "jit.yaml", "--user", "alice", "--role", "admin"},
			ExplainOptions{ConfigPath: "jit.yaml", User: "alice", Role: "admin"}, ""},
		{"no role", []string{"-c", "jit.yaml", "--user", "alice"}, ExplainOptions{}, "--config, --user and --role are required"},
		{"no config", []string{"--user", "alice", "--role", "admin"}, ExplainOptions{}, "--config, --user and --role are required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io, _, _, _ := iostreams.Test()
			var got *ExplainOptions
			cmd := NewCmdExplain(&cmdutil.Factory{IO: io}, func(_ context.Context, o *ExplainOptions) error { got = o; return nil })
			cmd.SetOut(io.ErrOut)
			cmd.SetErr(io.ErrOut)
			cmd.SetArgs(tc.args)
			err := cmd.Execute()
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.ConfigPath != tc.want.ConfigPath || got.User != tc.want.User || got.Role != tc.want.Role || !reflect.DeepEqual(got.Groups, tc.want.Groups) {
				t.Fatalf("options %+v, want %+v", *got, tc.want)
			}
		})
	}
}

func TestExplainRun(t *testing.T) {
	for _, tc := range []struct {
		name       string
		opts       ExplainOptions
		wantStdout []string
		wantErr    string
	}{
		{"needs approvers", ExplainOptions{User: "alice@example.com", Groups: []string{"developers"}, Role: "admin"},
			[]string{"user:      alice@example.com (groups developers)", "eligible:  yes", "approval:  2 of groups approvers (never auto-approved)",
				"rule:      roles[admin].approvers decides a request for the default duration"}, ""},
		{"auto-approved", ExplainOptions{User: "alice@example.com", Groups: []string{"developers"}, Role: "readonly"},
			[]string{"eligible:  yes", "auto", "rule:      roles[readonly].auto_approve"}, ""},
		{"not eligible", ExplainOptions{User: "mallory@example.com", Groups: []string{"contractors"}, Role: "admin"},
			[]string{"eligible:  no"}, ""},
		{"no config", ExplainOptions{ConfigPath: "missing.yaml", User: "alice", Role: "admin"}, nil, "missing.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io, _, stdout, _ := iostreams.Test()
			tc.opts.IO = io
			if tc.opts.ConfigPath == "" {
				tc.opts.ConfigPath = good(t, "")
			} else {
				tc.opts.ConfigPath = filepath.Join(t.TempDir(), tc.opts.ConfigPath)
			}
			err := ExplainRun(t.Context(), &tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %q", err, tc.wantErr)
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
		})
	}
}

func TestCheckPolicyAndExplainShowWhatARoleGrants(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bind.pw"), []byte("pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := writeConfig(t, "jit.yaml", strings.Replace(goodConfig, "%s",
		`ldap: {url: "ldaps://ldap.example.org", bind_dn: "cn=jit,dc=example,dc=org", bind_password_file: `+filepath.Join(dir, "bind.pw")+`}`, 1)+
		`  - name: ops
    kind: ldap_group
    ldap: {group: "cn=ops,ou=groups,dc=example,dc=org", member_dn: "uid={user},ou=people,dc=example,dc=org"}
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
`)
	io, _, stdout, _ := iostreams.Test()
	if err := CheckPolicyRun(t.Context(), &CheckPolicyOptions{IO: io, Path: path}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"grants aws_role: arn:aws:iam::123456789012:role/readonly",
		"grants ldap_group: membership of cn=ops,ou=groups,dc=example,dc=org (member uid={user},ou=people,dc=example,dc=org)"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("check-policy lacks %q:\n%s", want, stdout)
		}
	}
	io, _, stdout, _ = iostreams.Test()
	if err := ExplainRun(t.Context(), &ExplainOptions{IO: io, ConfigPath: path, User: "alice", Groups: []string{"developers"}, Role: "ops"}); err != nil {
		t.Fatal(err)
	}
	if want := "grants:    ldap_group: membership of cn=ops,ou=groups,dc=example,dc=org"; !strings.Contains(stdout.String(), want) {
		t.Errorf("explain lacks %q:\n%s", want, stdout)
	}
}
