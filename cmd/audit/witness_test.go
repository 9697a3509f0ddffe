package audit

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/apiclient"
	jitaudit "github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/server"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/sqlite"
)

var witnessPolicy = testenv.Policy(testenv.ReadOnly.Without("default_duration"))

// The CLI side of the rollback attack: `jit audit verify`'s witness step,
// having verified the longer log before, fails loudly on the rolled-back and
// rewritten one and prints both signed checkpoints.
func TestVerifyFailsLoudlyWithBothCheckpointsOnARolledBackAndRewrittenLog(t *testing.T) {
	idp := testenv.OIDC(t)
	token := testenv.DeviceToken(t, idp, "alice").Extra("id_token").(string)
	dir := t.TempDir()
	db := filepath.Join(dir, "jit.db")
	skey, _, _ := jitaudit.GenerateKey("jit.example.com")
	key, err := jitaudit.ParseKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	ios, _, _, errOut := iostreams.Test()
	env := map[string]string{"JIT_WITNESS_DIR": filepath.Join(dir, "witness")}
	opts := &VerifyOptions{IO: ios, Env: func(k string) string { return env[k] }}
	const name = "https://jit.example.com"
	serve := func(t *testing.T) (*apiclient.Client, store.Store) {
		st, err := sqlite.Open(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		js := testenv.StartJitServer(t, testenv.JitServerOptions{Issuer: idp.Issuer(), ClientID: idp.ClientID(), Policy: witnessPolicy,
			Tweak: func(o *server.Options, _ string) { o.Store = st; o.CheckpointKey = key }})
		c, err := apiclient.New(js.URL, nil, func(context.Context) (string, error) { return token, nil })
		if err != nil {
			t.Fatal(err)
		}
		return c, st
	}
	create := func(t *testing.T, c *apiclient.Client, n int) {
		for range n {
			if _, err := c.Create(t.Context(), api.CreateRequest{Role: "readonly", Reason: "r"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var longer int64
	t.Run("short", func(t *testing.T) {
		c, _ := serve(t)
		create(t, c, 2)
		if _, err := observe(t.Context(), opts, name, c); err != nil {
			t.Fatal(err)
		}
	})
	old, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("longer", func(t *testing.T) {
		c, _ := serve(t)
		create(t, c, 3)
		res, err := observe(t.Context(), opts, name, c)
		if err != nil {
			t.Fatal(err)
		}
		longer = res.Current.Size
	})
	for _, s := range []string{"-wal", "-shm"} {
		os.Remove(db + s)
	}
	if err := os.WriteFile(db, old, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("rewritten", func(t *testing.T) {
		c, st := serve(t)
		for {
			n, err := st.AuditTreeSize(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if n > longer {
				break
			}
			create(t, c, 1)
		}
		_, err := observe(t.Context(), opts, name, c)
		if !errors.Is(err, jitaudit.ErrInconsistent) {
			t.Fatalf("err %v, want ErrInconsistent", err)
		}
		out := errOut.String()
		if !strings.Contains(out, "FAILED") || strings.Count(out, "— jit.example.com ") != 2 || !strings.Contains(out, "witnessed before:") {
			t.Fatalf("stderr should show both signed checkpoints:\n%s", out)
		}
	})
}
