package dev

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
)

// TestMain removes the jit binary that testenv.JitBinary builds once.
func TestMain(m *testing.M) { testenv.Main(m) }

func TestNewCmdDevParsesFlags(t *testing.T) {
	tests := []struct {
		args []string
		want Options
	}{
		{nil, Options{Listen: "127.0.0.1:0"}},
		{[]string{"--tour"}, Options{Listen: "127.0.0.1:0", Tour: true}},
		{[]string{"--state-dir", "/tmp/x", "--listen", "127.0.0.1:8765"}, Options{StateDir: "/tmp/x", Listen: "127.0.0.1:8765"}},
	}
	for _, tt := range tests {
		ios, _, _, _ := iostreams.Test()
		f := &cmdutil.Factory{IO: ios, Env: func(string) string { return "" }, Now: time.Now}
		var got *Options
		cmd := NewCmdDev(f, func(_ context.Context, o *Options) error { got = o; return nil })
		cmd.SetArgs(tt.args)
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		if err := cmd.Execute(); err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		if got.StateDir != tt.want.StateDir || got.Listen != tt.want.Listen || got.Tour != tt.want.Tour {
			t.Errorf("%v: got %+v, want %+v", tt.args, *got, tt.want)
		}
	}
	ios, _, _, _ := iostreams.Test()
	cmd := NewCmdDev(&cmdutil.Factory{IO: ios}, func(context.Context, *Options) error { return nil })
	cmd.SetArgs([]string{"extra"})
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	if err := cmd.Execute(); err == nil {
		t.Error("jit dev accepted an argument")
	}
}

// TestDevTourRunsEndToEnd is the README's demo path (make demo): the built
// jit binary runs `jit dev --tour`, which drives alice, bob and carol
// through login, grants, the AWS CLI, an approval, a grant's end and the
// audit chain, and exits 0 only when every step passed.
func TestDevTourRunsEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	state := t.TempDir()
	cmd := exec.CommandContext(ctx, testenv.JitBinary(t), "dev", "--tour", "--state-dir", state)
	cmd.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS=disabled:")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(state, "server.log"))
		t.Fatalf("jit dev --tour: %v\nstdout:\n%s\nstderr:\n%s\nserver log (tail):\n%s", err, out.String(), errb.String(), tail(string(log), 40))
	}
	text := out.String()
	for _, want := range []string{
		"==> alice (developers) signs in",
		"auto-approved by policy",
		"s3 ls s3://jit-demo/",
		"hello.txt",
		"approved by bob@example.com",
		"upload: ",
		"jit: no active grant for role readonly",
		"refused (AccessDenied",
		"alice's keyring no longer holds readonly credentials",
		"OK: ",
		"OK: the tour passed",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the tour's output lacks %q", want)
		}
	}
	// Secrets never reach the narration.
	if strings.Contains(text, "SecretAccessKey\":\"") && !strings.Contains(text, "SecretAccessKey\":\"(hidden)\"") {
		t.Error("the tour printed a secret access key")
	}
	if t.Failed() {
		t.Logf("output:\n%s", text)
	}
}

// TestDevTourWithoutAWSCLIUsesCredentialProcess covers machines without
// /usr/bin/aws: the tour then calls credential_process and S3 itself.
func TestDevTourWithoutAWSCLIUsesCredentialProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("a second whole tour")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testenv.JitBinary(t), "dev", "--tour", "--tour-without-aws-cli")
	cmd.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS=disabled:")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("jit dev --tour --tour-without-aws-cli: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "calling credential_process and S3 from Go") || !strings.Contains(string(out), "OK: the tour passed") {
		t.Fatalf("output:\n%s", out)
	}
}

func TestDevWithoutTourPrintsWhatToTryAndStopsOnInterrupt(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testenv.JitBinary(t), "dev")
	cmd.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS=disabled:")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(out.String(), "Or watch it all scripted") {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("no instructions printed:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("jit dev after Ctrl-C: %v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{"export JIT_SERVER=http://127.0.0.1:", "jit request readonly --reason demo", "jit configure aws",
		"--profile readonly --endpoint-url", "alice  password alice-password", "stopping the sandbox"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
