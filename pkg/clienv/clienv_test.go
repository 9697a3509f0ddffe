package clienv

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeLogin is a stand-in for `jit login --no-browser`: it prints the
// sign-in line, waits for the browser step (a line on stdin), then says
// what jit says.
const fakeLogin = `echo "Open the page: open http://127.0.0.1:1/device?user_code=ABCD" >&2
read done
echo "signed in at the IdP" >&2
echo "Logged in as $1"`

func loginCmd(t *testing.T, ctx context.Context, script string) (*exec.Cmd, *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	cmd := exec.CommandContext(ctx, "sh", "-c", script, "sh", "alice")
	cmd.Stdin = r
	return cmd, w
}

func TestLoginCompletesTheSignInURLThePersonIsShown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd, browser := loginCmd(t, ctx, fakeLogin)
	var opened string
	res, err := Login(ctx, cmd, func(_ context.Context, url string) error {
		opened = url
		_, err := browser.WriteString("done\n")
		return err
	})
	if err != nil {
		t.Fatalf("Login: %v (stderr %q)", err, res.Stderr)
	}
	if want := "http://127.0.0.1:1/device?user_code=ABCD"; opened != want || res.URL != want {
		t.Errorf("signed in at %q, result URL %q; want %q", opened, res.URL, want)
	}
	if res.Stdout != "Logged in as alice\n" || !strings.Contains(res.Stderr, "open http://") || !strings.Contains(res.Stderr, "signed in at the IdP") {
		t.Errorf("stdout %q, stderr %q: want all the CLI printed", res.Stdout, res.Stderr)
	}
}

func TestLoginStopsTheCLIWhenTheSignInFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd, _ := loginCmd(t, ctx, fakeLogin) // nobody ever answers on stdin
	start := time.Now()
	_, err := Login(ctx, cmd, func(context.Context, string) error { return errors.New("wrong password") })
	if err == nil || !strings.Contains(err.Error(), "wrong password") {
		t.Fatalf("err = %v, want the sign-in failure", err)
	}
	if waited := time.Since(start); waited > 30*time.Second {
		t.Errorf("Login waited %s for a CLI whose sign-in failed", waited)
	}
}

func TestLoginFailsWhenTheCLIPrintsNoSignInURL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd, _ := loginCmd(t, ctx, `echo "error: no server configured" >&2; exit 1`)
	called := false
	res, err := Login(ctx, cmd, func(context.Context, string) error { called = true; return nil })
	if err == nil || called || !strings.Contains(res.Stderr, "no server configured") {
		t.Fatalf("err %v, sign-in called %t, stderr %q: want an error, no sign-in, the CLI's message", err, called, res.Stderr)
	}
}

func TestEnvIsolatesThePersonUnderHome(t *testing.T) {
	env := Env("/h/alice", "http://127.0.0.1:8080", "pw", "NO_COLOR=1")
	want := []string{"HOME=/h/alice", "JIT_SERVER=http://127.0.0.1:8080", "JIT_KEYRING_BACKEND=file",
		"JIT_KEYRING_FILE_DIR=/h/alice/keyring", "JIT_FILE_PASSPHRASE=pw", "AWS_CONFIG_FILE=/h/alice/aws-config",
		"DBUS_SESSION_BUS_ADDRESS=disabled:", "CI=true", "NO_COLOR=1"}
	for _, w := range want {
		if !slices.Contains(env, w) {
			t.Errorf("env lacks %s: %v", w, env)
		}
	}
	for _, e := range env {
		if strings.HasPrefix(e, "AWS_PROFILE=") || strings.HasPrefix(e, "AWS_ACCESS_KEY_ID=") {
			t.Errorf("env inherits %s", e)
		}
	}
}
