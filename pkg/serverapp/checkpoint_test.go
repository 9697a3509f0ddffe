package serverapp_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/serverapp"
)

// audit.signing_key_file (relative to the config) turns on the verifier key
// endpoint and the periodic audit.checkpoint events that webhooks carry.
func TestSigningKeyFileTurnsOnCheckpointsAndLogsThem(t *testing.T) {
	idp := testenv.OIDC(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "jit.db")
	skey, vkey, err := audit.GenerateKey("jit.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "checkpoint.key"), []byte(skey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "jit.yaml")
	cfg := config(idp.Issuer(), idp.ClientID(), db, "one") + "audit:\n  signing_key_file: checkpoint.key\n  anchor: {interval: 100ms}\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	app := startApp(t, path)
	url := app.url
	resp, err := http.Get(url + "/v1/audit/key")
	if err != nil {
		t.Fatal(err)
	}
	var k api.AuditKey
	err = json.NewDecoder(resp.Body).Decode(&k)
	resp.Body.Close()
	if err != nil || k.VerifierKey != vkey {
		t.Fatalf("published key %q (%v), want %q", k.VerifierKey, err, vkey)
	}
	testenv.Eventually(t, 10*time.Second, func() bool { return auditCount(t, db, audit.TypeCheckpoint) > 0 }, "an audit.checkpoint event")
	app.stop(t)
}

func TestAnchorWithoutSigningKeyIsRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "jit.yaml")
	cfg := config("https://idp.example.com", "jit", filepath.Join(dir, "jit.db"), "one") + "audit:\n  anchor: {bucket: jit-audit}\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	err = serverapp.Run(context.Background(), serverapp.Options{ConfigPath: path, Listener: ln, Reload: make(chan os.Signal),
		Logger: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "signed checkpoints") {
		t.Fatalf("err %v", err)
	}
}
