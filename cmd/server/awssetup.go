package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/jit-access/jit/pkg/awssetup"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/config"
	"github.com/jit-access/jit/pkg/iostreams"
)

// AWSSetupOptions are `jit server aws-setup`'s flags.
type AWSSetupOptions struct {
	IO             *iostreams.IOStreams
	ConfigPath     string
	Format         string
	Out            string
	ServerAccount  string
	ServerRoleName string
	ServerTrust    string
}

// NewCmdAWSSetup builds `jit server aws-setup`.
func NewCmdAWSSetup(f *cmdutil.Factory, runF func(context.Context, *AWSSetupOptions) error) *cobra.Command {
	opts := &AWSSetupOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "aws-setup -c FILE --server-account ID --format terraform|cloudformation",
		Short: "Write the AWS roles and policies the config's roles need, as Terraform or CloudFormation",
		Long: `Write what the roles in the config need in AWS: each target role with its trust
policy (the jit server only, with a jit request tag, allowed to set SourceIdentity and
tag the session) and maximum session duration; the server's role and its policy,
naming each role by its ARN; with aws.revoke_with_inline_policy a revoker role in
every other account; and with audit.anchor the Object Lock bucket for checkpoints.

--format terraform writes jit-aws.tf.json (Terraform's JSON syntax, one provider
alias per account); --format cloudformation writes one template per account,
jit-aws-ACCOUNT.cfn.json. A summary of what was written and what is left to do
goes to stderr. The policy documents are the ones docs/aws-setup.md shows and the
tests check with an IAM evaluator.`,
		Example: "  jit server aws-setup -c /etc/jit/jit.yaml --server-account 111111111111 --format terraform --out infra/jit",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.ConfigPath == "" || opts.ServerAccount == "" {
				return cmdutil.FlagErrorf("--config and --server-account are required")
			}
			if !slices.Contains(awssetup.Formats, opts.Format) {
				return cmdutil.FlagErrorf("--format must be one of %s", strings.Join(awssetup.Formats, ", "))
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return AWSSetupRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.ConfigPath, "config", "c", "", "the server's config file")
	cmd.Flags().StringVar(&opts.Format, "format", "", "output format: terraform or cloudformation")
	cmd.Flags().StringVar(&opts.Out, "out", ".", "directory to write the files into")
	cmd.Flags().StringVar(&opts.ServerAccount, "server-account", "", "the AWS account the jit server runs in")
	cmd.Flags().StringVar(&opts.ServerRoleName, "server-role-name", awssetup.DefaultServerRoleName, "the server's IAM role")
	cmd.Flags().StringVar(&opts.ServerTrust, "server-trust", awssetup.DefaultServerTrust, "who runs as the server's role: a service principal (ecs-tasks.amazonaws.com) or an IAM ARN")
	return cmd
}

// AWSSetupRun plans the set-up from the config, writes the files and
// prints a summary on stderr.
func AWSSetupRun(_ context.Context, opts *AWSSetupOptions) error {
	cfg, err := config.Load(opts.ConfigPath)
	if err != nil {
		return cmdutil.WithHint(err, cmdutil.ExitError, "fix the lines named above; `jit server check-policy` checks the file")
	}
	plan, err := awssetup.NewPlan(cfg, awssetup.Options{ServerAccount: opts.ServerAccount,
		ServerRoleName: opts.ServerRoleName, ServerTrust: opts.ServerTrust})
	if errors.Is(err, awssetup.ErrInput) {
		return cmdutil.WithHint(err, cmdutil.ExitError, "see `jit server aws-setup --help` and docs/aws-setup.md")
	}
	if err != nil {
		return err
	}
	files, err := awssetup.Render(plan, opts.Format)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return err
	}
	w := opts.IO.ErrOut
	for _, f := range files {
		path := filepath.Join(opts.Out, f.Name)
		if err := os.WriteFile(path, f.Data, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(w, "wrote %s\n", path)
	}
	fmt.Fprintf(w, "\nserver role   %s (trusts %s)\n", plan.ServerRoleARN, plan.ServerTrust)
	for _, t := range plan.Targets {
		fmt.Fprintf(w, "target role   %-20s %s (max session %s)\n", t.Policy, t.ARN, t.MaxSessionDuration)
	}
	for _, r := range plan.Revokers {
		note := ""
		if !r.FromConfig {
			note = " (not in the config yet)"
		}
		fmt.Fprintf(w, "revoker role  %s for %d target role(s)%s\n", r.ARN, len(r.Targets), note)
	}
	if a := plan.Anchor; a != nil {
		fmt.Fprintf(w, "anchor bucket %s (Object Lock, COMPLIANCE, %d days)\n", a.Bucket, a.Retention())
	}
	fmt.Fprintln(w, "\nleft to you:")
	for _, todo := range plan.ToDo() {
		fmt.Fprintf(w, "  - %s\n", todo)
	}
	return nil
}
