package credpath_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/credcache"
	"github.com/jit-access/jit/pkg/credpath"
)

// closedURL is a server nobody listens on: the cached path must not call it.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	ln.Close()
	return u
}

func fileEnv(t *testing.T, server string) map[string]string {
	t.Helper()
	home := t.TempDir()
	return map[string]string{
		"HOME": home, "JIT_CONFIG": filepath.Join(home, "none.yaml"), "JIT_SERVER": server,
		"JIT_KEYRING_BACKEND": "file", "JIT_KEYRING_FILE_DIR": filepath.Join(home, "keyring"),
		"JIT_FILE_PASSPHRASE": "test-pass", "XDG_CACHE_HOME": filepath.Join(home, "cache"),
		"DBUS_SESSION_BUS_ADDRESS": "disabled:",
	}
}

// fileCache opens the file keyring of env (see fileEnv).
func fileCache(t *testing.T, env map[string]string) *credcache.Cache {
	t.Helper()
	c, err := credcache.Open(credcache.Config{Backend: credcache.BackendFile, FileDir: env["JIT_KEYRING_FILE_DIR"],
		FilePassphrase: func(string) (string, error) { return env["JIT_FILE_PASSPHRASE"], nil }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMainServesCachedCredentialsWithoutTheServer(t *testing.T) {
	server := closedURL(t)
	env := fileEnv(t, server)
	c := fileCache(t, env)
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	if err := c.PutCredentials(context.Background(), server, "prod", api.Credentials{Role: "prod", RequestID: "r1",
		AccessKeyID: "ASIATEST", SecretAccessKey: "secret", SessionToken: "tok", Expiration: exp, STSExpiration: exp, GrantEndsAt: exp}); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := credpath.Main(context.Background(), []string{"--role", "prod"}, func(k string) string { return env[k] }, &out, &errOut, noMiss(t))
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
	var doc struct {
		Version                                                int
		AccessKeyId, SecretAccessKey, SessionToken, Expiration string
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("stdout %q is not JSON: %v", out.String(), err)
	}
	if doc.Version != 1 || doc.AccessKeyId != "ASIATEST" || doc.Expiration != exp.Format(time.RFC3339) {
		t.Errorf("document = %+v", doc)
	}
	if errOut.Len() != 0 {
		t.Errorf("stderr %q, want nothing", errOut.String())
	}
}

// noMiss is a Delegate that fails the test: the call was a cache hit.
func noMiss(t *testing.T) credpath.Delegate {
	return func(args []string) int {
		t.Errorf("the full path was run (%q) on a cache hit", args)
		return 99
	}
}

func TestMainWithoutRoleIsAUsageError(t *testing.T) {
	var out, errOut bytes.Buffer
	code := credpath.Main(context.Background(), nil, func(string) string { return "" }, &out, &errOut, noMiss(t))
	if code != cmdutil.ExitUsage || out.Len() != 0 || !strings.Contains(errOut.String(), "--role") {
		t.Errorf("exit %d, stdout %q, stderr %q; want usage error naming --role", code, out.String(), errOut.String())
	}
}

func TestMainHandsEveryMissToTheFullPathWithItsOwnArgs(t *testing.T) {
	server := closedURL(t)
	env := fileEnv(t, server)
	c := fileCache(t, env)
	now := time.Now()
	long := now.Add(2 * time.Hour)
	for _, tc := range []struct {
		name  string
		creds *api.Credentials
	}{
		{"nothing cached", nil},
		{"in their last seconds", &api.Credentials{Expiration: now.Add(2 * time.Second), STSExpiration: now.Add(2 * time.Second), GrantEndsAt: now.Add(2 * time.Second)}},
		{"STS session ending while the grant goes on", &api.Credentials{Expiration: now.Add(3 * time.Minute), STSExpiration: now.Add(3 * time.Minute), GrantEndsAt: long}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_ = c.DeleteCredentials(context.Background(), server, "prod")
			if tc.creds != nil {
				cr := *tc.creds
				cr.AccessKeyID, cr.SecretAccessKey, cr.SessionToken, cr.RequestID, cr.Role = "ASIAOLD", "s", "t", "r1", "prod"
				if err := c.PutCredentials(context.Background(), server, "prod", cr); err != nil {
					t.Fatal(err)
				}
			}
			args := []string{"--role", "prod", "--timeout", "30s"}
			var got []string
			var out, errOut bytes.Buffer
			code := credpath.Main(context.Background(), args, func(k string) string { return env[k] }, &out, &errOut,
				func(a []string) int { got = a; return 6 })
			if code != 6 || strings.Join(got, " ") != strings.Join(args, " ") {
				t.Errorf("exit %d, delegated %q; want the full path's exit 6 and args %q", code, got, args)
			}
			if out.Len() != 0 {
				t.Errorf("printed %q on a miss", out.String())
			}
		})
	}
}

func TestMainWithoutServerSaysJitLogin(t *testing.T) {
	env := fileEnv(t, "")
	var out, errOut bytes.Buffer
	code := credpath.Main(context.Background(), []string{"--role", "prod"}, func(k string) string { return env[k] }, &out, &errOut, noMiss(t))
	if code != cmdutil.ExitLoginRequired || out.Len() != 0 || !strings.Contains(errOut.String(), "Try: run: jit login --server") {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 4 and jit login", code, out.String(), errOut.String())
	}
}

func TestExecJitReportsAMissingJit(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if _, err := credpath.JitBeside(filepath.Join(t.TempDir(), credpath.BinaryName)); err == nil {
		t.Fatal("found a jit where there is none")
	}
	dir := t.TempDir()
	jit := filepath.Join(dir, "jit")
	if err := os.WriteFile(jit, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := credpath.JitBeside(filepath.Join(dir, credpath.BinaryName)); err != nil || got != jit {
		t.Errorf("JitBeside = %q, %v; want %q", got, err, jit)
	}
}

// TestMainServesKeyctlAndSecretServiceItemsTheFullCacheWrote: the slim path
// reads what pkg/credcache (the keyring library) wrote, on the kernel
// keyring and on Secret Service, and an unknown backend name is refused
// with the next step.
func TestMainServesKeyctlAndSecretServiceItemsTheFullCacheWrote(t *testing.T) {
	server := closedURL(t)
	backends := []string{credcache.BackendKeyctl}
	if os.Getenv("JIT_TEST_SECRET_SERVICE") == "1" {
		backends = append(backends, credcache.BackendSecretService)
	}
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			c, err := credcache.Open(credcache.Config{Backend: b})
			if err != nil {
				t.Fatalf("open %s: %v", b, err)
			}
			if err := c.PutCredentials(context.Background(), server, "prod", api.Credentials{Role: "prod", RequestID: "r1",
				AccessKeyID: "ASIA" + strings.ToUpper(strings.ReplaceAll(b, "-", "")), SecretAccessKey: "secret", SessionToken: "tok",
				Expiration: exp, STSExpiration: exp, GrantEndsAt: exp}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.DeleteCredentials(context.Background(), server, "prod") })
			env := map[string]string{"HOME": t.TempDir(), "JIT_CONFIG": filepath.Join(t.TempDir(), "none.yaml"), "JIT_SERVER": server,
				"JIT_KEYRING_BACKEND": b, "DBUS_SESSION_BUS_ADDRESS": os.Getenv("DBUS_SESSION_BUS_ADDRESS")}
			var out, errOut bytes.Buffer
			code := credpath.Main(context.Background(), []string{"--role", "prod"}, func(k string) string { return env[k] }, &out, &errOut, noMiss(t))
			if code != 0 || !strings.Contains(out.String(), `"AccessKeyId":"ASIA`+strings.ToUpper(strings.ReplaceAll(b, "-", ""))+`"`) {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
			}
		})
	}
	env := map[string]string{"HOME": t.TempDir(), "JIT_CONFIG": filepath.Join(t.TempDir(), "none.yaml"), "JIT_SERVER": server, "JIT_KEYRING_BACKEND": "keyctll"}
	var out, errOut bytes.Buffer
	code := credpath.Main(context.Background(), []string{"--role", "prod"}, func(k string) string { return env[k] }, &out, &errOut, noMiss(t))
	if code != cmdutil.ExitError || !strings.Contains(errOut.String(), `unknown keyring backend "keyctll"`) || !strings.Contains(errOut.String(), "Try: pick a backend") {
		t.Errorf("an unknown backend: exit %d, stderr %q", code, errOut.String())
	}
}
