package server

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jit-access/jit/internal/cmdtest"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
)

func TestNewCmdTestPolicy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		want    TestPolicyOptions
		wantErr string
	}{
		{"config and tests", []string{"-c", "jit.yaml", "tests.yaml"}, TestPolicyOptions{ConfigPath: "jit.yaml", TestsPath: "tests.yaml"}, ""},
		{"junit", []string{"--config", "p.yaml", "--junit", "out.xml", "tests.yaml"}, TestPolicyOptions{ConfigPath: "p.yaml", TestsPath: "tests.yaml", JUnitPath: "out.xml"}, ""},
		{"no config", []string{"tests.yaml"}, TestPolicyOptions{}, "--config is required: the server config or policy file to test"},
		{"no tests", []string{"-c", "jit.yaml"}, TestPolicyOptions{}, "accepts 1 arg(s), received 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io, _, _, _ := iostreams.Test()
			var got *TestPolicyOptions
			cmd := NewCmdTestPolicy(&cmdutil.Factory{IO: io}, func(_ context.Context, o *TestPolicyOptions) error { got = o; return nil })
			if !cmdtest.Execute(t, cmd, io.ErrOut, tc.args, tc.wantErr) {
				return
			}
			if got.ConfigPath != tc.want.ConfigPath || got.TestsPath != tc.want.TestsPath || got.JUnitPath != tc.want.JUnitPath {
				t.Fatalf("options %+v, want %+v", *got, tc.want)
			}
		})
	}
}

// The shipped example tests pass against the shipped example config.
func TestTestPolicyRunPassesTheShippedExampleTests(t *testing.T) {
	io, _, stdout, _ := iostreams.Test()
	opts := &TestPolicyOptions{IO: io, ConfigPath: "../../docs/examples/jit.yaml", TestsPath: "../../docs/examples/policy-tests.yaml"}
	if err := TestPolicyRun(t.Context(), opts); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if !strings.Contains(stdout.String(), "6 passed, 0 failed") {
		t.Fatalf("stdout:\n%s", stdout)
	}
}

func TestTestPolicyRunFailsOnAWrongExpectationAndWritesJUnit(t *testing.T) {
	dir := t.TempDir()
	// A bare policy file (admins:, roles:) is accepted as well as a config.
	policyPath := filepath.Join(dir, "proposed.yaml")
	if err := os.WriteFile(policyPath, []byte(goodConfig[strings.Index(goodConfig, "roles:"):]), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := filepath.Join(dir, "tests.yaml")
	if err := os.WriteFile(tests, []byte(`cases:
  - name: developers get readonly at once
    principal: {user: alice@example.com, groups: [developers]}
    role: readonly
    expect: {outcome: auto_approved}
  - name: admin is at once too (it is not)
    principal: {user: alice@example.com, groups: [developers]}
    role: admin
    expect: {outcome: auto_approved}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	junit := filepath.Join(dir, "out.xml")
	io, _, stdout, _ := iostreams.Test()
	err := TestPolicyRun(t.Context(), &TestPolicyOptions{IO: io, ConfigPath: policyPath, TestsPath: tests, JUnitPath: junit})
	var he *cmdutil.HintError
	if !errors.As(err, &he) || he.Code != cmdutil.ExitError || !strings.Contains(err.Error(), "1 of 2 policy test(s) failed") {
		t.Fatalf("err = %#v", err)
	}
	for _, want := range []string{
		"ok   " + tests + ":2 developers get readonly at once: auto_approved for 1h by roles[readonly].auto_approve",
		"FAIL " + tests + ":6 admin is at once too (it is not): needs_approval (2) for 1h by roles[admin].approvers",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	x, err := os.ReadFile(junit)
	if err != nil || !strings.Contains(string(x), `failures="1"`) || !strings.Contains(string(x), "outcome is needs_approval, want auto_approved") {
		t.Fatalf("junit: %v\n%s", err, x)
	}
}

func TestTestPolicyRunNamesTheLineOfABadTestsFile(t *testing.T) {
	tests := writeConfig(t, "tests.yaml", "cases:\n  - name: x\n    principal: {user: a}\n    role: readonly\n    expect: {outcome: maybe}\n")
	io, _, _, _ := iostreams.Test()
	err := TestPolicyRun(t.Context(), &TestPolicyOptions{IO: io, ConfigPath: good(t, ""), TestsPath: tests})
	if err == nil || !strings.Contains(err.Error(), tests+":5:23: cases[0].expect.outcome: \"maybe\" is not an outcome here") {
		t.Fatalf("err = %v", err)
	}
}
