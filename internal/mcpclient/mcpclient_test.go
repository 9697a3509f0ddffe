package mcpclient

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindNamesTheInstallCommandWhenNodeOrThePinnedPackageIsMissing(t *testing.T) {
	noNode := func(string) (string, error) { return "", os.ErrNotExist }
	if _, err := find(noNode, Dir()); err == nil || !strings.Contains(err.Error(), "apt-get install nodejs npm") {
		t.Errorf("without node: %v, want the install command", err)
	}
	node := func(string) (string, error) { return "/usr/bin/node", nil }
	if _, err := find(node, t.TempDir()); err == nil || !strings.Contains(err.Error(), "npm ci") {
		t.Errorf("without the npm package: %v, want the npm ci command", err)
	}
	dir := t.TempDir()
	pkg := filepath.Join(dir, "node_modules", "@modelcontextprotocol", "sdk")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(version string) {
		if err := os.WriteFile(filepath.Join(pkg, "package.json"), []byte(`{"version": "`+version+`"}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("1.0.0")
	if _, err := find(node, dir); err == nil || !strings.Contains(err.Error(), "want "+Version) {
		t.Errorf("another version installed: %v, want a refusal naming %s", err, Version)
	}
	write(Version)
	if got, err := find(node, dir); err != nil || got != "/usr/bin/node" {
		t.Errorf("with both: %q, %v", got, err)
	}
}

func TestPackageJSONPinsTheVersionStartChecks(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(Dir(), "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `"@modelcontextprotocol/sdk": "` + Version + `"`; !strings.Contains(string(raw), want) {
		t.Errorf("node/package.json does not pin %s", want)
	}
}
