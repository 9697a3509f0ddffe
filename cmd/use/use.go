// Package use holds the commands that put a live grant to work: `jit exec`
// (run a command with the role's credentials), `jit assume` (export
// statements for a shell) and `jit console` (the AWS console, signed in).
package use

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"time"

	"github.com/spf13/cobra"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/awsenv"
	"github.com/jit-access/jit/pkg/browser"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/console"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/session"
)

// Options are the inputs of exec, assume and console.
type Options struct {
	IO         *iostreams.IOStreams
	Env        func(string) string
	Environ    func() []string
	Session    func() (*session.Session, error)
	HTTPClient func() *http.Client
	Browser    func() browser.Opener

	Role    string
	Region  string
	Command []string
	Shell   string
	// EnvCredentials puts static keys in the child's environment (the old
	// behaviour) instead of serving them from a local endpoint.
	EnvCredentials bool
	// Console
	PrintURL      bool
	FederationURL string
	Destination   string
}

func newOptions(f *cmdutil.Factory) *Options {
	return &Options{IO: f.IO, Env: f.Env, Environ: os.Environ, Session: f.Session, HTTPClient: f.HTTPClient, Browser: f.Browser}
}

// NewCmdExec builds `jit exec ROLE -- CMD ...`.
func NewCmdExec(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := newOptions(f)
	cmd := &cobra.Command{
		Use:   "exec ROLE [-- CMD [ARGS...]]",
		Short: "Run a command (default: your shell) with a live grant's credentials",
		Long: `Run a command with the role's credentials, served to it by a local endpoint:
the child gets AWS_CONTAINER_CREDENTIALS_FULL_URI (http://127.0.0.1:PORT/...,
a random port) and a random AWS_CONTAINER_AUTHORIZATION_TOKEN, which every AWS
SDK and the AWS CLI read, and no static keys. The endpoint re-vends across STS
expiry while the grant lives, so a long job keeps working when the grant is
extended, and it watches the grant: once it is revoked or ends, the endpoint
refuses with jit's message and the cached credentials are wiped.

--env-credentials puts AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_SESSION_TOKEN and AWS_CREDENTIAL_EXPIRATION in the environment instead
(for tools that read only those); they stop working at the grant's end.
exec refuses to run inside another jit exec.`,
		Example:           "  jit exec prod-admin -- aws s3 ls\n  jit exec prod-admin   # a shell",
		GroupID:           "use",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: cmdutil.RoleNames(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Role, opts.Command = args[0], args[1:]
			if cmd.ArgsLenAtDash() > 1 {
				return cmdutil.FlagErrorf("put the command after --: jit exec ROLE -- CMD")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return ExecRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Region, "region", "", "AWS region to set (default: the role's)")
	cmd.Flags().BoolVar(&opts.EnvCredentials, "env-credentials", false, "put static keys in the environment instead of serving them from a local endpoint")
	return cmd
}

func credentials(ctx context.Context, opts *Options) (region string, c api.Credentials, err error) {
	s, err := opts.Session()
	if err != nil {
		return "", api.Credentials{}, err
	}
	cr, err := s.Credentials(ctx, opts.Role)
	if err != nil {
		return "", api.Credentials{}, err
	}
	region = opts.Region
	if region == "" {
		region = cr.Region
	}
	return region, cr, nil
}

// ExecRun runs the command and returns its exit status.
func ExecRun(ctx context.Context, opts *Options) error {
	if cur := opts.Env(awsenv.RoleVar); cur != "" {
		return cmdutil.WithHint(fmt.Errorf("already inside jit exec for %s", cur), cmdutil.ExitUsage,
			"exit that shell first; nesting would mix two grants' credentials")
	}
	region, c, err := credentials(ctx, opts)
	if err != nil {
		return err
	}
	argv := opts.Command
	if len(argv) == 0 {
		sh := opts.Env("SHELL")
		if sh == "" {
			sh = "/bin/sh"
		}
		argv = []string{sh}
		fmt.Fprintf(opts.IO.ErrOut, "Starting %s with %s until %s; exit to drop it.\n", sh, opts.Role, c.Expiration.Local().Format("15:04"))
	}
	child := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if opts.EnvCredentials {
		child.Env = awsenv.Environ(opts.Environ(), c, region)
	} else {
		ep, err := startEndpoint(ctx, opts, c)
		if err != nil {
			return err
		}
		defer ep.close()
		child.Env = awsenv.EndpointEnviron(opts.Environ(), ep.srv.Env(), opts.Role, region)
	}
	child.Stdin, child.Stdout, child.Stderr = opts.IO.In, opts.IO.Out, opts.IO.ErrOut
	child.Cancel = func() error { return child.Process.Signal(os.Interrupt) }
	child.WaitDelay = 5 * time.Second
	err = child.Run()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return &cmdutil.StatusError{Code: exitErr.ExitCode()}
	}
	if err != nil {
		return fmt.Errorf("run %s: %w", argv[0], err)
	}
	return nil
}

// NewCmdAssume builds `jit assume ROLE`.
func NewCmdAssume(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := newOptions(f)
	cmd := &cobra.Command{
		Use:   "assume ROLE",
		Short: "Print shell statements that export a live grant's credentials",
		Example: `  eval "$(jit assume prod-admin)"              # bash, zsh
  jit assume prod-admin --shell fish | source
  jit assume prod-admin --shell powershell | Invoke-Expression`,
		GroupID:           "use",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: cmdutil.RoleNames(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Role = args[0]
			if opts.Shell == "" {
				opts.Shell = awsenv.DetectShell(opts.Env)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return AssumeRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Shell, "shell", "", "bash, zsh, fish or powershell (default: from $SHELL)")
	cmd.Flags().StringVar(&opts.Region, "region", "", "AWS region to set (default: the role's)")
	return cmd
}

// AssumeRun prints the export statements on stdout.
func AssumeRun(ctx context.Context, opts *Options) error {
	region, c, err := credentials(ctx, opts)
	if err != nil {
		return err
	}
	out, err := awsenv.Exports(opts.Shell, c, region)
	if err != nil {
		return cmdutil.FlagErrorf("%v", err)
	}
	if opts.IO.IsStdoutTTY() {
		fmt.Fprintf(opts.IO.ErrOut, "# These lines hold secrets; use: eval \"$(jit assume %s)\"\n", opts.Role)
	}
	_, err = fmt.Fprint(opts.IO.Out, out)
	return err
}

// NewCmdConsole builds `jit console ROLE`.
func NewCmdConsole(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := newOptions(f)
	cmd := &cobra.Command{
		Use:               "console ROLE",
		Short:             "Open the AWS console signed in as a live grant's role",
		Long:              "Sign in to the AWS console with the role's credentials (federation getSigninToken) and open it in your browser, or print the one-time URL (valid 15 minutes) with --url.",
		GroupID:           "use",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: cmdutil.RoleNames(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Role = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return ConsoleRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.PrintURL, "url", false, "print the sign-in URL instead of opening a browser")
	cmd.Flags().StringVar(&opts.FederationURL, "federation-url", console.DefaultFederationURL, "the federation endpoint (other partitions: signin.amazonaws-us-gov.com, signin.amazonaws.cn)")
	cmd.Flags().StringVar(&opts.Destination, "destination", console.DefaultDestination, "the console page to land on")
	return cmd
}

// ConsoleRun signs in and opens or prints the URL.
func ConsoleRun(ctx context.Context, opts *Options) error {
	_, c, err := credentials(ctx, opts)
	if err != nil {
		return err
	}
	signer := &console.Signer{FederationURL: opts.FederationURL, HTTPClient: opts.HTTPClient()}
	u, err := signer.SignInURL(ctx, c, opts.Destination)
	if err != nil {
		return err
	}
	if opts.PrintURL || browser.Headless(opts.Env) {
		_, err := fmt.Fprintln(opts.IO.Out, u)
		return err
	}
	if err := opts.Browser().Open(u); err != nil {
		return cmdutil.WithHint(err, cmdutil.ExitError, "jit console %s --url", opts.Role)
	}
	fmt.Fprintf(opts.IO.ErrOut, "Opened the AWS console as %s.\n", opts.Role)
	return nil
}
