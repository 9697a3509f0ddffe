package testenv

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/clienv"
)

// User is one person's isolated jit CLI environment (pkg/clienv: own home,
// CLI config, file keyring and AWS config) for running the jit binary.
type User struct {
	t testing.TB
	// Name is the person's username at the IdP.
	Name string
	// Home holds the person's files.
	Home string
	// Env is the environment every command runs with.
	Env []string
	// Bin is the jit binary Run and Login start.
	Bin string
}

// NewUser makes name's home under dir and an environment that talks to
// the jit server at serverURL with the jit binary bin.
func NewUser(t testing.TB, bin, dir, name, serverURL string) *User {
	t.Helper()
	home := filepath.Join(dir, name)
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatalf("testenv: home for %s: %v", name, err)
	}
	return &User{t: t, Name: name, Home: home, Bin: bin, Env: clienv.Env(home, serverURL, "test-"+name)}
}

// Run runs the jit binary (or another program when args[0] is an
// absolute path) as the user, for two minutes at most. It fails the test
// only when the program cannot run at all.
func (u *User) Run(args ...string) (stdout, stderr string, code int) {
	u.t.Helper()
	bin := u.Bin
	if filepath.IsAbs(args[0]) {
		bin, args = args[0], args[1:]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = u.Env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		u.t.Fatalf("run %s %v: %v", bin, args, err)
	}
	return out.String(), errb.String(), code
}

// Must is Run that fails the test on a non-zero exit; it returns stdout.
func (u *User) Must(args ...string) string {
	u.t.Helper()
	out, errOut, code := u.Run(args...)
	if code != 0 {
		u.t.Fatalf("%s: jit %s: exit %d\nstdout: %s\nstderr: %s", u.Name, strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// Login runs `jit login --no-browser` and lets signIn complete the URL it
// prints, as the person would in a browser (clienv.Login).
func (u *User) Login(signIn func(ctx context.Context, url string) error) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, u.Bin, "login", "--no-browser")
	cmd.Env = u.Env
	res, err := clienv.Login(ctx, cmd, signIn)
	if err != nil {
		u.t.Fatalf("log in as %s: %v\nstderr: %s", u.Name, err, res.Stderr)
	}
	if !strings.Contains(res.Stdout, "Logged in") {
		u.t.Fatalf("login output: %q", res.Stdout)
	}
}
