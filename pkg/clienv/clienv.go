// Package clienv gives one person an isolated jit CLI environment — a home
// with its own CLI config, file keyring, cache and AWS config, pointed at
// one jit server — and logs that person in headless, the way they would:
// `jit login --no-browser` prints a sign-in URL and a browser (here, a
// function) completes it. The end-to-end tests run the jit binary this way;
// the sandbox tour (jit dev --tour) does the same for its three people.
package clienv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// Env is the environment of a person whose files live under home, talking
// to the jit server at serverURL; passphrase unlocks their file keyring
// (a throwaway keyring for tests and sandboxes). The process's PATH is
// kept; nothing else is inherited, so no real AWS profile, keyring or
// session bus is reached, and CI=true keeps jit from opening a browser.
// extra (KEY=value) is appended.
func Env(home, serverURL, passphrase string, extra ...string) []string {
	env := []string{
		"HOME=" + home,
		"PATH=" + os.Getenv("PATH"),
		"JIT_SERVER=" + serverURL,
		"JIT_CONFIG=" + filepath.Join(home, "jit.yaml"),
		"JIT_KEYRING_BACKEND=file",
		"JIT_KEYRING_FILE_DIR=" + filepath.Join(home, "keyring"),
		"JIT_FILE_PASSPHRASE=" + passphrase,
		"XDG_CACHE_HOME=" + filepath.Join(home, "cache"),
		"AWS_CONFIG_FILE=" + filepath.Join(home, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"DBUS_SESSION_BUS_ADDRESS=disabled:",
		"CI=true", // headless: never open a browser
	}
	return append(env, extra...)
}

// SignInURL matches the line in which `jit login --no-browser` names the
// page to open; the first group is the URL.
var SignInURL = regexp.MustCompile(`open (http\S+)`)

// LoginResult is what a headless login printed.
type LoginResult struct {
	Stdout, Stderr string
	// URL is the sign-in URL the CLI printed.
	URL string
}

// Login starts cmd (a `jit login --no-browser`; its Stdout and Stderr must
// be unset), reads its stderr until the sign-in URL, calls signIn with it —
// the person's browser step — and waits for cmd to finish. It fails when
// the CLI prints no URL, the sign-in fails or the CLI exits non-zero; the
// result holds what the CLI printed either way.
func Login(ctx context.Context, cmd *exec.Cmd, signIn func(ctx context.Context, url string) error) (LoginResult, error) {
	var res LoginResult
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return res, fmt.Errorf("jit login: %w", err)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("start jit login: %w", err)
	}
	var seen strings.Builder
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		seen.WriteString(sc.Text() + "\n")
		if m := SignInURL.FindStringSubmatch(sc.Text()); m != nil {
			res.URL = m[1]
			break
		}
	}
	if res.URL == "" {
		_ = cmd.Wait()
		res.Stdout, res.Stderr = out.String(), seen.String()
		return res, errors.New("jit login printed no sign-in URL")
	}
	copied := make(chan struct{})
	go func() { // the rest of stderr; seen is read only once it is done
		defer close(copied)
		_, _ = io.Copy(&seen, stderr)
	}()
	signErr := signIn(ctx, res.URL)
	if signErr != nil {
		_ = cmd.Process.Kill() // it would wait for a sign-in that never comes
	}
	<-copied
	waitErr := cmd.Wait()
	res.Stdout, res.Stderr = out.String(), seen.String()
	switch {
	case signErr != nil:
		return res, fmt.Errorf("sign in at %s: %w", res.URL, signErr)
	case waitErr != nil:
		return res, fmt.Errorf("jit login: %w", waitErr)
	}
	return res, nil
}
