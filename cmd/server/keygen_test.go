package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
)

func TestNewCmdKeygen(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	var got *KeygenOptions
	cmd := NewCmdKeygen(&cmdutil.Factory{IO: ios}, func(_ context.Context, o *KeygenOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--name", "jit.example.com", "--out", "k"})
	if err := cmd.Execute(); err != nil || got.Name != "jit.example.com" || got.Out != "k" {
		t.Fatalf("%+v %v", got, err)
	}
	cmd = NewCmdKeygen(&cmdutil.Factory{IO: ios}, func(context.Context, *KeygenOptions) error { return nil })
	cmd.SetArgs([]string{"--name", "x"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if err := cmd.Execute(); err == nil {
		t.Fatal("--out missing: no error")
	}
}

func TestKeygenRunWritesAPrivateKeyOnceAndPrintsItsVerifierKey(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	path := filepath.Join(t.TempDir(), "checkpoint.key")
	if err := KeygenRun(t.Context(), &KeygenOptions{IO: ios, Name: "jit.example.com", Out: path}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v (%v), want 0600", fi.Mode(), err)
	}
	k, err := audit.LoadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out.String()) != k.VerifierKey || !strings.HasPrefix(k.VerifierKey, "jit.example.com+") {
		t.Fatalf("printed %q, the key file's verifier key is %q", out.String(), k.VerifierKey)
	}
	// Never overwritten: a new key is a new log identity for every client.
	before, _ := os.ReadFile(path)
	if err := KeygenRun(t.Context(), &KeygenOptions{IO: ios, Name: "jit.example.com", Out: path}); err == nil {
		t.Fatal("overwrote an existing key")
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Fatal("the key file changed")
	}
}
