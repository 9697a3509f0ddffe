package testenv

import (
	"errors"
	"strings"
	"testing"
)

// TestMissingOIDCProviderNamesTheInstallCommand: without node or without
// the npm packages the harness fails (OIDCProvider calls t.Fatalf with this
// error, CI or not) and says how to install them.
func TestMissingOIDCProviderNamesTheInstallCommand(t *testing.T) {
	noNode := func(string) (string, error) { return "", errors.New("not found") }
	if _, err := findOIDCProvider(noNode, OIDCProviderDir()); err == nil || !strings.Contains(err.Error(), "install Node.js") || !strings.Contains(err.Error(), "npm ci") {
		t.Errorf("no node: %v", err)
	}
	node := func(string) (string, error) { return "/usr/bin/node", nil }
	if _, err := findOIDCProvider(node, t.TempDir()); err == nil || !strings.Contains(err.Error(), "scripts/deps.sh") {
		t.Errorf("no node_modules: %v", err)
	}
	SkipPeerInShortMode(t, "the npm packages of internal/testidp/oidcprovider")
	if p, err := findOIDCProvider(node, OIDCProviderDir()); err != nil || p != "/usr/bin/node" {
		t.Errorf("installed: %q %v (run scripts/deps.sh)", p, err)
	}
}
