// Package use holds the commands that put a live grant to work: `jit exec`
// (run a command with the role's credentials), `jit assume` (export
// statements for a shell) and `jit console` (the AWS console, signed in).
package use

import (
	"context"
	"os"

	"github.com/jit-access/jit/cmd/shared"

	"github.com/spf13/cobra"

	"github.com/jit-access/jit/pkg/awsenv"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/console"
)

func newOptions(f *cmdutil.Factory) *shared.UseOptions {
	return &shared.UseOptions{IO: f.IO, Env: f.Env, Environ: os.Environ, Session: f.Session, HTTPClient: f.HTTPClient, Browser: f.Browser}
}

// NewCmdExec builds `jit exec ROLE -- CMD ...`.
func NewCmdExec(f *cmdutil.Factory, runF func(context.Context, *shared.UseOptions) error) *cobra.Command {
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
			return shared.ExecRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Region, "region", "", "AWS region to set (default: the role's)")
	cmd.Flags().BoolVar(&opts.EnvCredentials, "env-credentials", false, "put static keys in the environment instead of serving them from a local endpoint")
	return cmd
}

// NewCmdAssume builds `jit assume ROLE`.
func NewCmdAssume(f *cmdutil.Factory, runF func(context.Context, *shared.UseOptions) error) *cobra.Command {
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
			return shared.AssumeRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Shell, "shell", "", "bash, zsh, fish or powershell (default: from $SHELL)")
	cmd.Flags().StringVar(&opts.Region, "region", "", "AWS region to set (default: the role's)")
	return cmd
}

// NewCmdConsole builds `jit console ROLE`.
func NewCmdConsole(f *cmdutil.Factory, runF func(context.Context, *shared.UseOptions) error) *cobra.Command {
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
			return shared.ConsoleRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.PrintURL, "url", false, "print the sign-in URL instead of opening a browser")
	cmd.Flags().StringVar(&opts.FederationURL, "federation-url", console.DefaultFederationURL, "the federation endpoint (other partitions: signin.amazonaws-us-gov.com, signin.amazonaws.cn)")
	cmd.Flags().StringVar(&opts.Destination, "destination", console.DefaultDestination, "the console page to land on")
	return cmd
}
