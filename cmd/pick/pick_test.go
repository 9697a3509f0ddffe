package pick

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/oauth2"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/apiclient"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/credcache"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/session"
)

func TestRunDefaultWithoutTerminalPrintsHintNotScreen(t *testing.T) {
	ios, _, out, errOut := iostreams.Test()
	f := &cmdutil.Factory{IO: ios}
	root := &cobra.Command{Use: "jit", RunE: func(cmd *cobra.Command, _ []string) error { return RunDefault(cmd, f) }}
	root.AddCommand(&cobra.Command{Use: "request", Short: "Ask for a role", Run: func(*cobra.Command, []string) {}})
	root.SetArgs(nil)
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Errorf("stdout = %q, want nothing (stdout is for data)", out)
	}
	got := errOut.String()
	for _, want := range []string{"needs a terminal", "request", "Ask for a role"} {
		if !strings.Contains(got, want) {
			t.Errorf("stderr lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "\x1b[") {
		t.Errorf("stderr holds escape sequences:\n%q", got)
	}
}

func TestPickRefusesWithoutTerminal(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	cmd := NewCmdPick(&cmdutil.Factory{IO: ios}, nil)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetArgs(nil)
	err := cmd.Execute()
	var he *cmdutil.HintError
	if !errors.As(err, &he) || !strings.Contains(err.Error(), "terminal") || he.Code != cmdutil.ExitUsage {
		t.Fatalf("err = %v", err)
	}
}

const tmuxPolicy = `
roles:
  - name: readonly
    arn: arn:aws:iam::123456789012:role/jit-readonly
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
    default_duration: 15m
    max_duration: 1h
    auto_approve: {groups: [developers], max_duration: 1h}
  - name: prod-admin
    description: full admin on production
    account: "123456789012"
    arn: arn:aws:iam::123456789012:role/jit-prod-admin
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
    default_duration: 30m
    max_duration: 2h
    reason_required: true
`

// TestBinaryInTmuxRequestsApprovedRole drives the built jit binary in a real
// terminal (tmux, 80×24): pick prod-admin, fill in the form, watch the wait
// screen turn into the grant when bob approves, then print the exports.
func TestBinaryInTmuxRequestsApprovedRole(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (apt-get install tmux)")
	}
	if testing.Short() {
		t.Skip("builds the binary")
	}
	tmp := t.TempDir()
	bin := testenv.JitBinary(t)

	idp := testenv.OIDC(t)
	alice := testenv.DeviceToken(t, idp, "alice")
	bobTok := testenv.DeviceToken(t, idp, "bob").Extra("id_token").(string)
	url := startServer(t, idp.Issuer(), idp.ClientID())

	// The user's tokens, as jit login would have stored them, in a file keyring of the test's own.
	keyDir, pass := filepath.Join(tmp, "keyring"), "test-passphrase"
	cache, err := credcache.Open(credcache.Config{Backend: credcache.BackendFile, FileDir: keyDir,
		FilePassphrase: func(string) (string, error) { return pass, nil }})
	if err != nil {
		t.Fatal(err)
	}
	if err := cache.PutTokens(t.Context(), url, tokensOf(alice, idp.Issuer(), idp.ClientID())); err != nil {
		t.Fatal(err)
	}

	sock := fmt.Sprintf("jit-pick-%d", os.Getpid())
	tmux := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("tmux", append([]string{"-L", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	env := []string{"env", "-i", "PATH=" + os.Getenv("PATH"), "HOME=" + tmp, "XDG_CONFIG_HOME=" + tmp + "/config",
		"XDG_CACHE_HOME=" + tmp + "/cache", "TERM=xterm-256color", "NO_COLOR=1", "SHELL=/bin/bash",
		"JIT_SERVER=" + url, "JIT_KEYRING_BACKEND=file", "JIT_KEYRING_FILE_DIR=" + keyDir, "JIT_FILE_PASSPHRASE=" + pass,
		"DBUS_SESSION_BUS_ADDRESS=disabled:"}
	script := strings.Join(env, " ") + " " + bin + " pick; echo EXIT=$?; sleep 60"
	tmux("new-session", "-d", "-x", "80", "-y", "24", "-s", "pick", script)
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", sock, "kill-server").Run() })

	screen := func() string { return tmux("capture-pane", "-p", "-t", "pick") }
	waitScreen := func(want string) string {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			s := screen()
			if strings.Contains(s, want) {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("the screen never showed %q; it shows:\n%s", want, s)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	s := waitScreen("prod-admin")
	if !strings.Contains(s, "auto-approved") || !strings.Contains(s, "needs approval") {
		t.Errorf("roles screen:\n%s", s)
	}
	tmux("send-keys", "-t", "pick", "Down", "Enter")
	waitScreen("Request prod-admin")
	tmux("send-keys", "-t", "pick", "-l", "45m")
	tmux("send-keys", "-t", "pick", "Enter")
	tmux("send-keys", "-t", "pick", "-l", "tmux test")
	tmux("send-keys", "-t", "pick", "Enter")
	waitScreen("waiting for approval")

	bob, err := apiclient.New(url, nil, func(context.Context) (string, error) { return bobTok, nil })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Approve(t.Context(), "req_0001", 1, "ok"); err != nil {
		t.Fatal(err)
	}
	waitScreen("Credentials are in your keyring")
	tmux("send-keys", "-t", "pick", "Enter")
	waitScreen("Print export statements")
	tmux("send-keys", "-t", "pick", "x")
	s = waitScreen("EXIT=")
	for _, want := range []string{"AWS_ACCESS_KEY_ID='ASIAFAKE0001'", "EXIT=0"} {
		if !strings.Contains(s, want) {
			t.Errorf("after the picker the terminal lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "\x1b") {
		t.Errorf("escape sequences left on screen:\n%q", s)
	}
}

func tokensOf(tok *oauth2.Token, issuer, clientID string) session.Tokens {
	return session.Tokens{IDToken: tok.Extra("id_token").(string), RefreshToken: tok.RefreshToken, AccessToken: tok.AccessToken,
		Expiry: time.Now().Add(30 * time.Minute), Issuer: issuer, ClientID: clientID, Subject: "alice", Email: "alice@example.com"}
}

func startServer(t *testing.T, issuer, clientID string) string {
	t.Helper()
	return testenv.StartJitServer(t, testenv.JitServerOptions{
		Issuer: issuer, ClientID: clientID, Policy: tmuxPolicy, SequentialIDs: true,
	}).URL
}
