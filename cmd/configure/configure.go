// Package configure is `jit configure aws`: a managed block of
// [profile ROLE] entries whose credential_process is jit, in ~/.aws/config
// (or $AWS_CONFIG_FILE), leaving every other byte of the file unchanged.
package configure

import (
	"context"

	"github.com/jit-access/jit/cmd/shared"

	"github.com/spf13/cobra"

	"github.com/jit-access/jit/pkg/cmdutil"
)

// NewCmdConfigure builds `jit configure` with its `aws` subcommand.
func NewCmdConfigure(f *cmdutil.Factory, runF func(context.Context, *shared.ConfigureOptions) error) *cobra.Command {
	parent := &cobra.Command{Use: "configure", Short: "Write jit's settings into other tools' config files", GroupID: "use"}
	opts := &shared.ConfigureOptions{IO: f.IO, Env: f.Env, Session: f.Session, Executable: f.Executable}
	cmd := &cobra.Command{
		Use:   "aws",
		Short: "Add a [profile] with jit's credential_process for each role you may request",
		Long: `Write one [profile ROLE] per role you may request into ~/.aws/config (or
$AWS_CONFIG_FILE), inside a block between marker comments that jit owns. Every
byte outside the block stays as it was; running it again changes nothing unless
your roles changed. A profile name you already use outside the block is an error:
pick a --prefix.

Each profile runs the absolute path of jit-credential-process, the small binary
shipped beside jit (or jit credential-process when it is missing). Run this
again after moving jit; jit doctor says when a profile's path is stale.`,
		Example: "  jit configure aws --dry-run\n  jit configure aws --prefix jit- --region eu-west-1",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return shared.ConfigureRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Path, "file", "", "the AWS config file (default: $AWS_CONFIG_FILE, else ~/.aws/config)")
	cmd.Flags().StringVar(&opts.Prefix, "prefix", "", "put this before each profile name")
	cmd.Flags().StringVar(&opts.Region, "region", "", "region for profiles whose role names none")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print the change as a diff and write nothing")
	parent.AddCommand(cmd)
	return parent
}
