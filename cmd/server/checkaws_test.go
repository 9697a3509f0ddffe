package server

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/cmdtest"
	"github.com/jit-access/jit/pkg/awscheck"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/config"
	"github.com/jit-access/jit/pkg/iostreams"
)

func TestNewCmdCheckAWS(t *testing.T) {
	ios, _, _, stderr := iostreams.Test()
	var got *CheckAWSOptions
	cmd := NewCmdCheckAWS(&cmdutil.Factory{IO: ios}, func(_ context.Context, o *CheckAWSOptions) error { got = o; return nil })
	if cmdtest.Execute(t, cmd, stderr, []string{"-c", "jit.yaml"}, "") && got.ConfigPath != "jit.yaml" {
		t.Errorf("config %q", got.ConfigPath)
	}
	cmd = NewCmdCheckAWS(&cmdutil.Factory{IO: ios}, func(context.Context, *CheckAWSOptions) error { return nil })
	cmdtest.Execute(t, cmd, stderr, nil, "--config is required")
}

// fakeCheck stands in for serverapp.CheckAWS (which pkg/serverapp tests
// against internal/fakeiam): it answers fixed results.
func fakeCheck(res []awscheck.Result) func(context.Context, *config.Config, func() time.Time) ([]awscheck.Result, error) {
	return func(context.Context, *config.Config, func() time.Time) ([]awscheck.Result, error) { return res, nil }
}

func TestCheckAWSRunPrintsEachRoleAndFailsWhenOneCannotBeUsed(t *testing.T) {
	ios, _, stdout, stderr := iostreams.Test()
	err := CheckAWSRun(t.Context(), &CheckAWSOptions{IO: ios, Now: time.Now, ConfigPath: good(t, ""), Check: fakeCheck([]awscheck.Result{
		{Role: "readonly", ARN: "arn:aws:iam::123456789012:role/readonly", RevokeChecked: true},
		{Role: "admin", ARN: "arn:aws:iam::123456789012:role/admin", Assume: errors.New("AccessDenied: not authorized"), RevokeChecked: true},
	})})
	if !errors.Is(err, ErrAWSCheckFailed) {
		t.Fatalf("err = %v, want ErrAWSCheckFailed", err)
	}
	for _, want := range []string{"ROLE", "readonly  ok      ok", "admin     FAILED  ok"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr.String(), "admin: assume: AccessDenied: not authorized") {
		t.Errorf("stderr %q", stderr)
	}
	ios, _, stdout, _ = iostreams.Test()
	err = CheckAWSRun(t.Context(), &CheckAWSOptions{IO: ios, Now: time.Now, ConfigPath: good(t, ""), Check: fakeCheck([]awscheck.Result{{Role: "readonly"}})})
	if err != nil || !strings.Contains(stdout.String(), "not checked (revoke_with_inline_policy off)") {
		t.Errorf("all ok: %v\n%s", err, stdout)
	}
}
