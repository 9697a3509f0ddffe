package server

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jit-access/jit/internal/cmdtest"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
)

func TestNewCmdAWSSetup(t *testing.T) {
	for _, tc := range []struct {
		name, wantErr string
		args          []string
		want          AWSSetupOptions
	}{
		{"terraform", "", []string{"-c", "jit.yaml", "--server-account", "111111111111", "--format", "terraform"},
			AWSSetupOptions{ConfigPath: "jit.yaml", ServerAccount: "111111111111", Format: "terraform", Out: ".", ServerRoleName: "jit-server", ServerTrust: "ec2.amazonaws.com"}},
		{"cloudformation into a directory for ECS", "", []string{"-c", "jit.yaml", "--server-account", "111111111111", "--format", "cloudformation", "--out", "infra", "--server-trust", "ecs-tasks.amazonaws.com"},
			AWSSetupOptions{ConfigPath: "jit.yaml", ServerAccount: "111111111111", Format: "cloudformation", Out: "infra", ServerRoleName: "jit-server", ServerTrust: "ecs-tasks.amazonaws.com"}},
		{"no account", "--config and --server-account are required", []string{"-c", "jit.yaml", "--format", "terraform"}, AWSSetupOptions{}},
		{"bad format", "--format must be one of terraform, cloudformation", []string{"-c", "jit.yaml", "--server-account", "1", "--format", "hcl"}, AWSSetupOptions{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ios, _, _, stderr := iostreams.Test()
			var got *AWSSetupOptions
			cmd := NewCmdAWSSetup(&cmdutil.Factory{IO: ios}, func(_ context.Context, o *AWSSetupOptions) error { got = o; return nil })
			if !cmdtest.Execute(t, cmd, stderr, tc.args, tc.wantErr) {
				return
			}
			got.IO = nil
			if *got != tc.want {
				t.Errorf("options %+v, want %+v", *got, tc.want)
			}
		})
	}
}

func TestAWSSetupRunWritesTheFilesAndSaysWhatIsLeft(t *testing.T) {
	cfg := good(t, "aws: {revoke_with_inline_policy: true}")
	out := filepath.Join(t.TempDir(), "infra")
	ios, _, stdout, stderr := iostreams.Test()
	err := AWSSetupRun(t.Context(), &AWSSetupOptions{IO: ios, ConfigPath: cfg, Format: "cloudformation", Out: out,
		ServerAccount: "111111111111", ServerRoleName: "jit-server", ServerTrust: "ecs-tasks.amazonaws.com"})
	if err != nil {
		t.Fatal(err)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout %q, want nothing (the files are the output)", stdout)
	}
	for _, name := range []string{"jit-aws-111111111111.cfn.json", "jit-aws-123456789012.cfn.json"} {
		raw, err := os.ReadFile(filepath.Join(out, name))
		if err != nil || !json.Valid(raw) {
			t.Fatalf("%s: %v (valid JSON %v)", name, err, json.Valid(raw))
		}
	}
	for _, want := range []string{
		"wrote " + filepath.Join(out, "jit-aws-123456789012.cfn.json"),
		"server role   arn:aws:iam::111111111111:role/jit-server (trusts ecs-tasks.amazonaws.com)",
		"target role   admin",
		"revoker role  arn:aws:iam::123456789012:role/jit-revoker for 2 target role(s) (not in the config yet)",
		"left to you:",
		"give each target role its permissions",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, stderr)
		}
	}
}

func TestAWSSetupRunRefusesABadAccountWithAHint(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	err := AWSSetupRun(t.Context(), &AWSSetupOptions{IO: ios, ConfigPath: good(t, ""), Format: "terraform", Out: t.TempDir(), ServerAccount: "1234"})
	if err == nil || !strings.Contains(err.Error(), "12-digit") {
		t.Fatalf("err = %v, want the account named", err)
	}
}
