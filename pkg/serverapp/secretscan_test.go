package serverapp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/serverapp"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/postgres"
)

// secretWord is in every secret these tests give the server; nothing it
// prints, returns or audits may contain it.
var secretWord = regexp.MustCompile(`SECRET`)

// lockedBuffer is a log sink the server writes from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runOnce runs the server on the config until it fails (a start error).
func runOnce(t *testing.T, path string, log *slog.Logger) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return serverapp.Run(ctx, serverapp.Options{ConfigPath: path, Listener: ln, Reload: make(chan os.Signal), Logger: log,
		Ready: func(string) { t.Error("a config that should fail started"); cancel() }})
}

// A database password given in any form pgx accepts, a webhook URL that is
// itself the secret: a failing start prints none of them — not in its
// error, not in its log.
func TestFailingStartShowsNoDatabasePasswordOrWebhookURL(t *testing.T) {
	idp := testenv.OIDC(t)
	dir := t.TempDir()
	for _, tc := range []struct{ name, store, extra string }{
		{"password as a query parameter", `{dsn: "postgres://jit@127.0.0.1:1/jit?connect_timeout=1&password=SECRET-PG-QUERY"}`, ""},
		{"password in a URL-encoded query key", `{dsn: "postgres://jit@127.0.0.1:1/jit?connect_timeout=1&pass%77ord=SECRET-PG-ENCODED"}`, ""},
		{"password in the userinfo", `{dsn: "postgres://jit:SECRET-PG-USERINFO@127.0.0.1:1/jit?connect_timeout=1"}`, ""},
		{"keyword form", `{dsn: "host=127.0.0.1 port=1 user=jit password=SECRET-PG-KEYWORD dbname=jit"}`, ""},
		{"quoted keyword form", `{dsn: "host=127.0.0.1 user=jit password='SECRET PG QUOTED' dbname=jit"}`, ""},
		{"plain-http webhook URL", `{dsn: "sqlite://` + filepath.Join(dir, "jit.db") + `"}`,
			"notify: {webhooks: [{url: \"http://hooks.example.com/services/T0/B0/SECRET-HOOK-TOKEN\"}]}\n"},
		{"webhook URL that does not parse", `{dsn: "sqlite://` + filepath.Join(dir, "jit.db") + `"}`,
			"notify: {webhooks: [{url: \"https://hooks.example.com:SECRET-PORT/x\"}]}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := fmt.Sprintf("oidc: {issuer: %q, client_id: %q}\nstore: %s\n%sroles:\n", idp.Issuer(), idp.ClientID(), tc.store, tc.extra) +
				fmt.Sprintf(roleYAML, "one", "one")
			path := filepath.Join(t.TempDir(), "jit.yaml")
			if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			var logs lockedBuffer
			err := runOnce(t, path, slog.New(slog.NewJSONHandler(&logs, nil)))
			if err == nil {
				t.Fatal("started")
			}
			if out := err.Error() + "\n" + logs.String(); secretWord.MatchString(out) {
				t.Errorf("a secret leaked:\n%s", out)
			}
		})
	}
}

// The listening line shows the PostgreSQL DSN, and a refused reload audits
// its error as policy.rejected: neither may carry the password (here as a
// query parameter, which PostgreSQL's trust authentication ignores) or a
// webhook URL.
func TestListeningLineAndRefusedReloadShowNoSecret(t *testing.T) {
	idp := testenv.OIDC(t)
	dsn := testenv.Postgres(t)
	secretDSN := dsn + "&password=SECRET-PG-QUERY"
	if !strings.Contains(dsn, "?") {
		secretDSN = dsn + "?password=SECRET-PG-QUERY"
	}
	good := fmt.Sprintf("oidc: {issuer: %q, client_id: %q}\nstore: {dsn: %q}\nroles:\n", idp.Issuer(), idp.ClientID(), secretDSN) +
		fmt.Sprintf(roleYAML, "one", "one")
	path := filepath.Join(t.TempDir(), "jit.yaml")
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	a := startAppWith(t, path, slog.New(slog.NewJSONHandler(&logs, nil)))
	bad := strings.Replace(good, "roles:\n", "notify: {webhooks: [{url: \"http://hooks.example.com/services/SECRET-HOOK-TOKEN\"}]}\nroles:\n", 1)
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := postgres.Open(t.Context(), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a.reload <- syscall.SIGHUP
	var rejected []byte
	testenv.Eventually(t, 10*time.Second, func() bool {
		evs, err := st.Audit(t.Context(), store.AuditFilter{Type: audit.TypePolicyRejected})
		if err != nil || len(evs) == 0 {
			return false
		}
		rejected, _ = json.Marshal(evs)
		return true
	}, "the refused reload is audited")
	a.stop(t)
	all, err := st.Audit(t.Context(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	records, _ := json.Marshal(all)
	if !strings.Contains(logs.String(), "jit server listening") || !strings.Contains(string(rejected), "hooks.example.com") {
		t.Fatalf("the log or the audit lacks what this test scans:\n%s\n%s", logs.String(), rejected)
	}
	if out := logs.String() + "\n" + string(records); secretWord.MatchString(out) {
		t.Errorf("a secret leaked:\n%s", out)
	}
}
