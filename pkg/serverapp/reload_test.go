package serverapp_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/sqlite"
)

func postActivity(t *testing.T, url, secret string) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "POST", url+"/v1/activity/cloudtrail", bytes.NewReader([]byte(`{"Records":[]}`)))
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// The SIGHUP path, for real: a rotated activity.secret_file applies (the
// new secret is accepted, the old one refused), and a changed oidc.*
// setting, which the running verifier does not pick up, is named in a
// warning and audited as config.restart_required.
func TestReloadAppliesTheRotatedActivitySecretAndNamesOIDCChangesAsNeedingARestart(t *testing.T) {
	idp := testenv.OIDC(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "jit.db")
	secret := filepath.Join(dir, "activity-secret")
	if err := os.WriteFile(secret, []byte("old-activity-secret-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := func(lifetime string) string {
		return fmt.Sprintf("oidc: {issuer: %q, client_id: %q, max_token_lifetime: %s}\nstore: {dsn: %q}\nactivity: {secret_file: activity-secret}\nroles:\n",
			idp.Issuer(), idp.ClientID(), lifetime, "sqlite://"+db) + fmt.Sprintf(roleYAML, "one", "one")
	}
	path := filepath.Join(dir, "jit.yaml")
	if err := os.WriteFile(path, []byte(cfg("24h")), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	a := startAppWith(t, path, slog.New(slog.NewJSONHandler(&logs, nil)))
	defer a.stop(t)
	if code := postActivity(t, a.url, "old-activity-secret-0123456789"); code != http.StatusOK {
		t.Fatalf("old secret before the reload: HTTP %d", code)
	}
	if err := os.WriteFile(secret, []byte("new-activity-secret-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(cfg("1h")), 0o600); err != nil {
		t.Fatal(err)
	}
	a.reload <- syscall.SIGHUP
	testenv.Eventually(t, 10*time.Second, func() bool { return strings.Contains(logs.String(), "secrets reloaded") }, "the reload")
	if code := postActivity(t, a.url, "new-activity-secret-0123456789"); code != http.StatusOK {
		t.Errorf("new secret after the reload: HTTP %d, want 200", code)
	}
	if code := postActivity(t, a.url, "old-activity-secret-0123456789"); code != http.StatusUnauthorized {
		t.Errorf("old secret after the reload: HTTP %d, want 401", code)
	}
	if !strings.Contains(logs.String(), "take effect only after a restart") || !strings.Contains(logs.String(), "oidc.max_token_lifetime") {
		t.Errorf("no restart warning naming oidc.max_token_lifetime:\n%s", logs.String())
	}
	st, err := sqlite.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evs, err := st.Audit(t.Context(), store.AuditFilter{Type: audit.TypeRestartRequired})
	if err != nil || len(evs) != 1 || evs[0].Detail["settings"] != "oidc.max_token_lifetime" {
		t.Fatalf("config.restart_required records %+v (%v), want one naming oidc.max_token_lifetime", evs, err)
	}
}
