package iamsim

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindNamesTheInstallCommandWhenNodeOrThePackageIsMissing(t *testing.T) {
	noNode := func(string) (string, error) { return "", errors.New("not found") }
	if _, err := find(noNode, Dir()); err == nil || !strings.Contains(err.Error(), "apt-get install nodejs npm") {
		t.Errorf("without node: %v, want the install command", err)
	}
	node := func(string) (string, error) { return "/usr/bin/node", nil }
	if _, err := find(node, t.TempDir()); err == nil || !strings.Contains(err.Error(), "npm ci") {
		t.Errorf("without the npm package: %v, want the npm ci command", err)
	}
	dir := t.TempDir()
	pkg := filepath.Join(dir, "node_modules", "@cloud-copilot", "iam-simulate")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pkg, "package.json"), []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := find(node, dir); err != nil || got != "/usr/bin/node" {
		t.Errorf("with both: %q, %v", got, err)
	}
}

func TestPackageJSONPinsTheVersionStartChecks(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(Dir(), "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `"@cloud-copilot/iam-simulate": "` + Version + `"`; !strings.Contains(string(raw), want) {
		t.Errorf("node/package.json does not pin %s", want)
	}
}

func TestEvaluatorAnswersInRequestOrder(t *testing.T) {
	sim := Start(t)
	allow := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`
	for i, c := range []struct{ action, want string }{
		{"s3:GetObject", Allowed}, {"s3:PutObject", ImplicitlyDenied}, {"s3:GetObject", Allowed},
	} {
		got := sim.Decide(t, Simulation{
			Request: Request{Principal: "arn:aws:iam::111111111111:user/a", Action: c.action,
				Resource: "arn:aws:s3:::b/k", ResourceAccount: "111111111111", Context: map[string]any{}},
			IdentityPolicies: []Policy{{Name: "p", Document: allow}},
		})
		if got != c.want {
			t.Errorf("request %d %s: %s, want %s", i, c.action, got, c.want)
		}
	}
}
