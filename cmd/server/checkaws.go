package server

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/jit-access/jit/pkg/awscheck"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/config"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/serverapp"
)

// CheckAWSOptions are `jit server check-aws`'s inputs.
type CheckAWSOptions struct {
	IO         *iostreams.IOStreams
	Now        func() time.Time
	ConfigPath string
	// Check runs the checks (serverapp.CheckAWS).
	Check func(context.Context, *config.Config, func() time.Time) ([]awscheck.Result, error)
}

// NewCmdCheckAWS builds `jit server check-aws`.
func NewCmdCheckAWS(f *cmdutil.Factory, runF func(context.Context, *CheckAWSOptions) error) *cobra.Command {
	opts := &CheckAWSOptions{IO: f.IO, Now: f.Now, Check: serverapp.CheckAWS}
	cmd := &cobra.Command{
		Use:   "check-aws -c FILE",
		Short: "Report which roles the server's own AWS credentials can assume and revoke on",
		Long: `Run where the server runs, with its credentials: for each role of the policy it
calls sts:AssumeRole as a vend does (request tag req_jitcheck, SourceIdentity
jit-check, a session policy that allows nothing that matters; the credentials
are dropped), and with aws.revoke_with_inline_policy it reaches the role's
jit-revocations policy through the account's revoker role and reads it (no write).
Exit 1 when any role fails. See docs/aws-setup.md.`,
		Example: "  jit server check-aws -c /etc/jit/jit.yaml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.ConfigPath == "" {
				return cmdutil.FlagErrorf("--config is required")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return CheckAWSRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.ConfigPath, "config", "c", "", "the server's config file")
	return cmd
}

// ErrAWSCheckFailed is returned when a role failed a check.
var ErrAWSCheckFailed = errors.New("some roles cannot be used from this server's credentials")

// CheckAWSRun prints one line per role: assume and revoke, ok or why not.
func CheckAWSRun(ctx context.Context, opts *CheckAWSOptions) error {
	cfg, err := config.Load(opts.ConfigPath)
	if err != nil {
		return cmdutil.WithHint(err, cmdutil.ExitError, "fix the lines named above; `jit server check-policy` checks the file")
	}
	results, err := opts.Check(ctx, cfg, opts.Now)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tASSUME\tREVOKE\tARN")
	failed := 0
	for _, r := range results {
		revoke := "not checked (revoke_with_inline_policy off)"
		if r.RevokeChecked {
			revoke = verdict(r.Revoke)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Role, verdict(r.Assume), revoke, r.ARN)
		if !r.OK() {
			failed++
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range results {
		if r.Assume != nil {
			fmt.Fprintf(opts.IO.ErrOut, "%s: assume: %v\n", r.Role, r.Assume)
		}
		if r.Revoke != nil {
			fmt.Fprintf(opts.IO.ErrOut, "%s: revoke: %v\n", r.Role, r.Revoke)
		}
	}
	if failed > 0 {
		return cmdutil.WithHint(fmt.Errorf("%w (%d of %d)", ErrAWSCheckFailed, failed, len(results)), cmdutil.ExitError,
			"compare the roles' trust policies and the server's policy with `jit server aws-setup` (docs/aws-setup.md)")
	}
	return nil
}

func verdict(err error) string {
	if err == nil {
		return "ok"
	}
	return "FAILED"
}
