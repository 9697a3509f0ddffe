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

func TestEndpointEnvironCarriesNoStaticKeys(t *testing.T) {
	base := []string{"PATH=/bin", "AWS_ACCESS_KEY_ID=AKIAOLD", "AWS_SECRET_ACCESS_KEY=old", "AWS_SESSION_TOKEN=old",
		"AWS_PROFILE=other", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/x", "JIT_ROLE=stale"}
	got := EndpointEnviron(base, [][2]string{{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/creds/x"}, {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "tok"}}, "prod", "eu-west-1")
	env := map[string]string{}
	for _, kv := range got {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := env[k]; dup {
			t.Errorf("%s set twice", k)
		}
		env[k] = v
	}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		if _, ok := env[k]; ok {
			t.Errorf("%s left in the child's environment", k)
		}
	}
	if env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] != "http://127.0.0.1:1/creds/x" || env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] != "tok" ||
		env["JIT_ROLE"] != "prod" || env["AWS_REGION"] != "eu-west-1" || env["PATH"] != "/bin" {
		t.Errorf("env = %v", env)
	}
}
