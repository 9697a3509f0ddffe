package serverapp_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/notify/webhook"
)

// delivery is one webhook POST as the receiver saw it.
type delivery struct {
	event     string
	signature string
	body      []byte
}

// TestServerWithOnlyFileSecretsServesAndReloadRotatesTheWebhookSecret runs
// the real server from a config whose every secret (store DSN, AWS keys,
// approver-page session key, webhook secret) is a *_file key, then rotates
// the webhook secret file and reloads (the SIGHUP path): the next delivery
// is signed with the new secret and no longer verifies with the old one.
func TestServerWithOnlyFileSecretsServesAndReloadRotatesTheWebhookSecret(t *testing.T) {
	idp := testenv.OIDC(t)
	token := testenv.DeviceToken(t, idp, "alice").Extra("id_token").(string)

	got := make(chan delivery, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- delivery{event: r.Header.Get(webhook.HeaderEvent), signature: r.Header.Get(webhook.HeaderSignature), body: b}
	}))
	t.Cleanup(hook.Close)

	dir := t.TempDir()
	secrets := filepath.Join(dir, "secrets")
	if err := os.Mkdir(secrets, 0o700); err != nil {
		t.Fatal(err)
	}
	writeSecret := func(name, v string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(secrets, name), []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeSecret("dsn", "sqlite://"+filepath.Join(dir, "jit.db"))
	writeSecret("aws-key-id", "AKIAFROMFILE")
	writeSecret("aws-secret", "aws-secret-from-file")
	writeSecret("session", strings.Repeat("0123456789abcdef", 4))
	writeSecret("hook", "first-hook-secret")
	cfg := `public_url: http://127.0.0.1:1
web: {session_key_file: secrets/session}
oidc: {issuer: "` + idp.Issuer() + `", client_id: "` + idp.ClientID() + `"}
store: {dsn_file: secrets/dsn}
aws: {region: us-east-1, access_key_id_file: secrets/aws-key-id, secret_access_key_file: secrets/aws-secret}
notify:
  webhooks:
    - url: ` + hook.URL + `/jit
      secret_file: secrets/hook
      events: [policy.loaded]
roles:
  - name: one
    arn: arn:aws:iam::123456789012:role/one
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
`
	if strings.Contains(cfg, "first-hook-secret") || strings.Contains(cfg, "aws-secret-from-file") {
		t.Fatal("the config holds a secret")
	}
	path := filepath.Join(dir, "jit.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	app := startApp(t, path)
	url, reload := app.url, app.reload

	// It serves: an authenticated API call answers from the store.
	req, _ := http.NewRequestWithContext(context.Background(), "GET", url+"/v1/roles", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var roles api.RolesResponse
	err = json.NewDecoder(resp.Body).Decode(&roles)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || len(roles.Roles) != 1 {
		t.Fatalf("GET /v1/roles: %d %v %+v", resp.StatusCode, err, roles)
	}

	verify := func(d delivery, secret string) error {
		return webhook.Verify([]byte(secret), d.signature, d.body, time.Now(), webhook.DefaultTolerance)
	}
	// deliveredAfterReload sends SIGHUP (each reload logs policy.loaded,
	// which the hook subscribes to) until a delivery arrives that ok
	// accepts. A sink starts at the log's head when the dispatcher first
	// reads its cursor, so the first reloads may come before it listens;
	// and a delivery queued before a rotation may still be in flight.
	deliveredAfterReload := func(what string, ok func(delivery) bool) delivery {
		t.Helper()
		deadline := time.After(30 * time.Second)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		reload <- syscall.SIGHUP
		for {
			select {
			case d := <-got:
				if d.event == "policy.loaded" && ok(d) {
					return d
				}
			case <-tick.C:
				select {
				case reload <- syscall.SIGHUP:
				default:
				}
			case <-deadline:
				t.Fatalf("%s: no matching webhook delivery within 30s", what)
			}
		}
	}

	// A reload with the same secret: deliveries verify with it.
	deliveredAfterReload("before rotation", func(d delivery) bool { return verify(d, "first-hook-secret") == nil })

	// Rotate the file and reload: deliveries then verify with the new
	// secret, and not with the old one.
	writeSecret("hook", "second-hook-secret")
	d := deliveredAfterReload("after rotation", func(d delivery) bool { return verify(d, "first-hook-secret") != nil })
	if err := verify(d, "second-hook-secret"); err != nil {
		t.Fatalf("after rotation the delivery does not verify with the new secret: %v", err)
	}
	app.stop(t)
}
