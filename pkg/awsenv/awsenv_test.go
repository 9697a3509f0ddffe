package awsenv

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
)

var creds = api.Credentials{AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "se'cret", SessionToken: "tok",
	Expiration: time.Date(2026, 11, 29, 11, 0, 0, 0, time.UTC), Role: "prod"}

func TestEnvironReplacesClashingVariables(t *testing.T) {
	got := Environ([]string{"PATH=/bin", "AWS_PROFILE=other", "AWS_ACCESS_KEY_ID=OLD"}, creds, "eu-west-1")
	for _, want := range []string{"PATH=/bin", "AWS_ACCESS_KEY_ID=ASIAEXAMPLE", "AWS_SESSION_TOKEN=tok",
		"AWS_CREDENTIAL_EXPIRATION=2026-11-29T11:00:00Z", "AWS_REGION=eu-west-1", "JIT_ROLE=prod"} {
		if !slices.Contains(got, want) {
			t.Errorf("missing %s in %v", want, got)
		}
	}
	for _, e := range got {
		if strings.HasPrefix(e, "AWS_PROFILE=") || e == "AWS_ACCESS_KEY_ID=OLD" {
			t.Errorf("kept %s", e)
		}
	}
}

func TestBashExportsSurviveQuotesWhenEvaluated(t *testing.T) {
	script, err := Exports("bash", creds, "")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("bash", "-c", script+`printf %s "$AWS_SECRET_ACCESS_KEY"`).Output()
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "se'cret" {
		t.Fatalf("bash read %q", out)
	}
}

func TestExportsForEveryShell(t *testing.T) {
	for shell, want := range map[string]string{
		"fish":       "set -gx AWS_ACCESS_KEY_ID 'ASIAEXAMPLE'",
		"powershell": "$Env:AWS_SECRET_ACCESS_KEY = 'se''cret'",
		"zsh":        "export AWS_SESSION_TOKEN='tok'",
	} {
		got, err := Exports(shell, creds, "")
		if err != nil || !strings.Contains(got, want) {
			t.Errorf("%s: %v\n%s", shell, err, got)
		}
	}
	if _, err := Exports("tcsh", creds, ""); err == nil {
		t.Error("unknown shell accepted")
	}
}
