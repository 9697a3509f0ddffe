package serverapp_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/serverapp"
)

const ciRoleYAML = `
  - name: ci
    arn: arn:aws:iam::123456789012:role/ci
    eligible: {workloads: [{issuer: github, claims: {repository: octo/app}}]}
    approvers: {groups: [approvers]}
`

func issuersYAML(url string) string {
	return fmt.Sprintf("issuers:\n  - {name: github, kind: workload, flavor: github, issuer: %q, audience: https://jit.test/ci}\n", url)
}

// runErr runs the server on the config text and returns Run's error, or
// stops it once it serves and returns nil.
func runErr(t *testing.T, cfg string) error {
	t.Helper()
	path := filepath.Join(t.TempDir(), "jit.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- serverapp.Run(ctx, serverapp.Options{ConfigPath: path, Listener: ln, Reload: make(chan os.Signal),
			Logger: slog.New(slog.DiscardHandler), Ready: func(string) { cancel() }})
	}()
	return <-done
}

func TestStartRefusesAnIssuerWithoutADiscoverableJWKS(t *testing.T) {
	idp := testenv.OIDC(t)
	db := filepath.Join(t.TempDir(), "jit.db")
	base := config(idp.Issuer(), idp.ClientID(), db, "one") + ciRoleYAML

	// Nothing listens at the issuer.
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "http://" + dead.Addr().String()
	dead.Close()
	if err := runErr(t, base+issuersYAML(deadURL)); err == nil || !strings.Contains(err.Error(), "issuers[0] (github)") || !strings.Contains(err.Error(), "discover issuer") {
		t.Fatalf("an unreachable issuer: %v", err)
	}
	// A stand-in issuer (not an IdP: only a discovery document) whose JWKS is empty.
	var keyless *httptest.Server
	keyless = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			fmt.Fprintf(w, `{"issuer": %q, "jwks_uri": %q}`, keyless.URL, keyless.URL+"/jwks")
		case "/jwks":
			fmt.Fprint(w, `{"keys": []}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer keyless.Close()
	if err := runErr(t, base+issuersYAML(keyless.URL)); err == nil || !strings.Contains(err.Error(), "holds no keys") {
		t.Fatalf("an issuer without keys: %v", err)
	}
	// The real second provider starts.
	ci := testenv.OIDCProvider(t, testenv.OIDCProviderOptions{})
	if err := runErr(t, base+issuersYAML(ci.Issuer())); err != nil {
		t.Fatalf("a discoverable issuer: %v", err)
	}
}

func TestReloadAddsAnIssuerAndRefusesOneWithoutJWKS(t *testing.T) {
	idp := testenv.OIDC(t)
	ci := testenv.OIDCProvider(t, testenv.OIDCProviderOptions{Workloads: map[string]map[string]any{
		"main": testenv.GitHubActionsClaims("octo/app", "refs/heads/main", "", "1")}})
	dir := t.TempDir()
	db, path := filepath.Join(dir, "jit.db"), filepath.Join(dir, "jit.yaml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(config(idp.Issuer(), idp.ClientID(), db, "one"))
	app := startApp(t, path)
	rolesStatus := func() int {
		req, _ := http.NewRequestWithContext(context.Background(), "GET", app.url+"/v1/roles", nil)
		req.Header.Set("Authorization", "Bearer "+ci.WorkloadToken(t, "main", "https://jit.test/ci"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := rolesStatus(); code != http.StatusUnauthorized {
		t.Fatalf("a workload token before its issuer is trusted: HTTP %d", code)
	}
	write(config(idp.Issuer(), idp.ClientID(), db, "one") + ciRoleYAML + issuersYAML(ci.Issuer()))
	app.reload <- syscall.SIGHUP
	testenv.Eventually(t, 10*time.Second, func() bool { return rolesStatus() == http.StatusOK }, "the reloaded issuer to be trusted")

	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "http://" + dead.Addr().String()
	dead.Close()
	write(config(idp.Issuer(), idp.ClientID(), db, "one") + ciRoleYAML + issuersYAML(deadURL))
	app.reload <- syscall.SIGHUP
	testenv.Eventually(t, 10*time.Second, func() bool { return auditCount(t, db, audit.TypePolicyRejected) == 1 }, "the refused reload to be audited")
	if code := rolesStatus(); code != http.StatusOK {
		t.Fatalf("after a refused reload the running issuers changed: HTTP %d", code)
	}
	app.stop(t)
}
