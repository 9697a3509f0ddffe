package serverapp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/serverapp"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/sqlite"
)

const roleYAML = `
  - name: %s
    arn: arn:aws:iam::123456789012:role/%s
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
    max_duration: 1h
`

// app is serverapp.Run serving the config file at path on 127.0.0.1.
type app struct {
	url    string
	reload chan os.Signal
	cancel context.CancelFunc
	done   chan error
}

// startApp runs the server on the config file at path and returns once it
// serves.
func startApp(t *testing.T, path string) *app {
	t.Helper()
	return startAppWith(t, path, slog.New(slog.DiscardHandler))
}

// startAppWith is startApp logging to log.
func startAppWith(t *testing.T, path string, log *slog.Logger) *app {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &app{reload: make(chan os.Signal, 1), done: make(chan error, 1)}
	ready := make(chan string, 1)
	var ctx context.Context
	ctx, a.cancel = context.WithCancel(context.Background())
	go func() {
		a.done <- serverapp.Run(ctx, serverapp.Options{ConfigPath: path, Listener: ln, Reload: a.reload,
			Logger: log, Ready: func(u string) { ready <- u }})
	}()
	select {
	case a.url = <-ready:
	case err := <-a.done:
		t.Fatalf("the server stopped before it served: %v", err)
	}
	return a
}

// stop ends the server; Run must return no error.
func (a *app) stop(t *testing.T) {
	t.Helper()
	a.cancel()
	if err := <-a.done; err != nil {
		t.Fatal(err)
	}
}

func config(issuer, clientID, dbPath string, roles ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "oidc: {issuer: %q, client_id: %q}\nstore: {dsn: %q}\nroles:\n", issuer, clientID, "sqlite://"+dbPath)
	for _, r := range roles {
		fmt.Fprintf(&b, roleYAML, r, r)
	}
	return b.String()
}

// TestReloadSwapsThePolicyAndKeepsItWhenTheNewFileIsBad runs the real
// server from a config file, then reloads it (the SIGHUP path) with a valid
// file and with a broken one.
func TestReloadSwapsThePolicyAndKeepsItWhenTheNewFileIsBad(t *testing.T) {
	idp := testenv.OIDC(t)
	token := testenv.DeviceToken(t, idp, "alice").Extra("id_token").(string)
	dir := t.TempDir()
	db := filepath.Join(dir, "jit.db")
	path := filepath.Join(dir, "jit.yaml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(config(idp.Issuer(), idp.ClientID(), db, "one"))
	app := startApp(t, path)
	url, reload := app.url, app.reload
	roles := func() []string {
		req, _ := http.NewRequestWithContext(context.Background(), "GET", url+"/v1/roles", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out api.RolesResponse
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, r := range out.Roles {
			names = append(names, r.Name)
		}
		return names
	}
	waitFor := func(want string) {
		t.Helper()
		testenv.Eventually(t, 10*time.Second, func() bool { return strings.Join(roles(), ",") == want }, "roles %s", want)
	}
	waitFor("one")

	write(config(idp.Issuer(), idp.ClientID(), db, "one", "two"))
	reload <- syscall.SIGHUP
	waitFor("one,two")

	write("roles: [this is not a policy\n")
	reload <- syscall.SIGHUP
	// The broken file is refused and audited; the running policy stays.
	testenv.Eventually(t, 10*time.Second, func() bool { return auditCount(t, db, audit.TypePolicyRejected) == 1 },
		"the refused reload to be audited")
	if got := strings.Join(roles(), ","); got != "one,two" {
		t.Fatalf("after a bad reload: roles %s", got)
	}
	app.stop(t)
}

func auditCount(t *testing.T, db, typ string) int {
	t.Helper()
	st, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	events, err := st.Audit(context.Background(), store.AuditFilter{Type: typ})
	if err != nil {
		t.Fatal(err)
	}
	return len(events)
}
