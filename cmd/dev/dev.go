// Package dev is `jit dev`: the one-command local sandbox (dev OIDC
// provider, MinIO, jit server; pkg/devenv), and with --tour a scripted,
// narrated end-to-end run of the real jit binary against it.
package dev

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/devenv"
	"github.com/jit-access/jit/pkg/devenv/tour"
	"github.com/jit-access/jit/pkg/iostreams"
)

// Options are `jit dev`'s inputs.
type Options struct {
	IO         *iostreams.IOStreams
	Env        func(string) string
	Executable func() (string, error)
	Now        func() time.Time

	StateDir string
	Listen   string
	Tour     bool
	// NoAWSCLI makes the tour call credential_process and S3 itself even
	// when the AWS CLI is installed.
	NoAWSCLI bool
}

// NewCmdDev builds `jit dev`.
func NewCmdDev(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Env: f.Env, Executable: f.Executable, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "dev [--state-dir DIR] [--listen ADDR] [--tour]",
		Short: "Run a local sandbox: dev OIDC provider, MinIO as AWS, and a jit server",
		Long: `Run jit's local sandbox on 127.0.0.1: a dev OIDC provider with demo users
(alice, bob, carol; the sign-in page lists them), MinIO as STS and S3 with a
bucket jit-demo, and a jit server on SQLite with a demo policy (readonly is
auto-approved for developers, admin needs an approver, breakglass is
self-activated). It prints what to try and runs until Ctrl-C.

With --tour it instead runs a scripted, narrated end-to-end tour with the real
jit binary and the AWS CLI, each user in an isolated config and keyring, and
exits non-zero if any step fails.

MinIO comes from PATH, $JIT_TOOLS_BIN or ~/.cache/jit-tools/bin (make deps).
Without it the sandbox still runs, but vending credentials fails.`,
		Example: "  jit dev\n  jit dev --tour\n  jit dev --state-dir ~/.local/state/jit-dev --listen 127.0.0.1:8765",
		GroupID: "admin",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return devRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.StateDir, "state-dir", "", "keep the config, database and server log here (default: a temporary directory removed at exit)")
	cmd.Flags().StringVar(&opts.Listen, "listen", "127.0.0.1:0", "the jit server's address (loopback only; port 0 picks a free one)")
	cmd.Flags().BoolVar(&opts.Tour, "tour", false, "run the scripted end-to-end tour and exit")
	cmd.Flags().BoolVar(&opts.NoAWSCLI, "tour-without-aws-cli", false, "in the tour, call credential_process and S3 from jit instead of /usr/bin/aws")
	_ = cmd.Flags().MarkHidden("tour-without-aws-cli")
	return cmd
}

func devRun(ctx context.Context, opts *Options) error {
	out := opts.IO.Out
	startCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if opts.Tour {
		fmt.Fprintln(opts.IO.ErrOut, "jit dev: starting the sandbox (OIDC provider, MinIO, jit server)…")
	}
	sb, err := devenv.Start(startCtx, devenv.Options{StateDir: opts.StateDir, Listen: opts.Listen, Getenv: opts.Env, Now: opts.Now})
	if err != nil {
		return cmdutil.WithHint(fmt.Errorf("start the sandbox: %w", err), cmdutil.ExitError,
			"make deps installs MinIO; --listen and --state-dir pick other places")
	}
	defer sb.Close()

	if opts.Tour {
		exe, err := opts.Executable()
		if err != nil {
			return fmt.Errorf("find the jit binary for the tour: %w", err)
		}
		tourOpts := tour.Options{Jit: exe, Out: out, Now: opts.Now}
		if opts.NoAWSCLI {
			tourOpts.AWSCLI = "-"
		}
		if err := tour.Run(ctx, sb, tourOpts); err != nil {
			return cmdutil.WithHint(fmt.Errorf("tour failed: %w", err), cmdutil.ExitError,
				"see the server log %s/server.log (keep it with --state-dir DIR)", sb.StateDir)
		}
		return nil
	}

	printWelcome(out, sb)
	err = sb.Wait(ctx)
	fmt.Fprintln(opts.IO.ErrOut, "\njit dev: stopping the sandbox")
	if err != nil {
		return err
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return nil // Ctrl-C is how jit dev ends
	}
	return ctx.Err()
}

func printWelcome(w io.Writer, sb *devenv.Sandbox) {
	fmt.Fprintf(w, "jit dev: the sandbox is running (Ctrl-C stops it)\n\n")
	fmt.Fprintf(w, "  jit server   %s\n", sb.ServerURL)
	fmt.Fprintf(w, "  web app      %s/web/  (sign in as alice; approvers decide at /approve/)\n", sb.ServerURL)
	fmt.Fprintf(w, "               config %s, log %s/server.log\n", sb.ConfigPath, sb.StateDir)
	fmt.Fprintf(w, "  OIDC         %s  (dev provider; never for real users)\n", sb.IssuerURL)
	for _, u := range sb.Users {
		fmt.Fprintf(w, "               %-6s password %-15s groups %s\n", u.Username, u.Password, strings.Join(u.Groups, ", "))
	}
	if sb.MinIOEndpoint != "" {
		fmt.Fprintf(w, "  MinIO (AWS)  %s  bucket %s\n", sb.MinIOEndpoint, sb.Bucket)
	} else {
		fmt.Fprintf(w, "  MinIO (AWS)  not running: %v\n", sb.MinIOMissing)
		fmt.Fprintf(w, "               requests work, vending credentials fails; run `make deps` and restart\n")
	}
	fmt.Fprintf(w, "  roles        readonly (auto-approved for developers), admin (one approver), breakglass (--break-glass)\n\n")

	endpoint := sb.MinIOEndpoint
	if endpoint == "" {
		endpoint = "http://127.0.0.1:MINIO-PORT"
	}
	fmt.Fprintf(w, `Try it, as alice, in another shell:
  export JIT_SERVER=%[1]s
  jit login                                  # sign in as alice / alice-password
  jit roles
  jit request readonly --reason demo
  jit configure aws                          # a credential_process profile per role
  /usr/bin/aws --profile readonly --endpoint-url %[2]s s3 ls s3://%[3]s
  jit request admin --reason "upload a report" --no-wait

Approve as bob in a third shell, with his own CLI config and keyring:
  export JIT_SERVER=%[1]s JIT_CONFIG=/tmp/jit-bob/jit.yaml
  export JIT_KEYRING_BACKEND=file JIT_KEYRING_FILE_DIR=/tmp/jit-bob/keyring
  jit login                                  # sign in as bob / bob-password
  jit requests --pending
  jit approve REQUEST-ID
  (or in a browser: %[1]s/approve/)

Or do it all in a browser: open %[1]s/web/ as alice, request admin, and
approve it as bob at %[1]s/approve/ in a private window.

Then as alice: jit wait REQUEST-ID, and
  /usr/bin/aws --profile admin --endpoint-url %[2]s s3 cp FILE s3://%[3]s/
Or watch it all scripted: jit dev --tour
`, sb.ServerURL, endpoint, sb.Bucket)
}
