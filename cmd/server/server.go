// Package server is `jit server` (run the approval endpoint) with its
// policy tools `jit server check-policy`, `explain`, `test-policy`, `replay` and `graph`.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/config"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/serverapp"
)

// Options are `jit server`'s inputs.
type Options struct {
	IO  *iostreams.IOStreams
	Now func() time.Time
	// Serve runs the server until ctx ends (serverapp.Run).
	Serve func(context.Context, serverapp.Options) error

	ConfigPath string
	LogFormat  string
	Debug      bool
}

// NewCmdServer builds `jit server` and its subcommands.
func NewCmdServer(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Now: f.Now, Serve: serverapp.Run}
	cmd := &cobra.Command{
		Use:   "server --config FILE",
		Short: "Run the approval server",
		Long: `Run jit's approval endpoint: it verifies the IdP's tokens, applies the policy,
keeps request state (SQLite by default, PostgreSQL for several replicas), vends
credentials through STS and writes the audit log. SIGHUP reloads the policy; an
invalid file keeps the running one. See docs/deployment.md and docs/policy.md.

With audit.signing_key_file (made by jit server keygen) the server signs
checkpoints of its audit log's Merkle tree; clients fetch its verifier key at
GET /v1/audit/key, pin it, and witness the log (docs/security.md).`,
		Example: "  jit server --config /etc/jit/jit.yaml\n  jit server check-policy /etc/jit/jit.yaml",
		GroupID: "admin",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.ConfigPath == "" {
				return cmdutil.FlagErrorf("--config is required (see docs/examples/jit.yaml)")
			}
			if opts.LogFormat != "json" && opts.LogFormat != "text" {
				return cmdutil.FlagErrorf("--log-format must be json or text")
			}
			opts.Debug = f.Flags.Debug
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.ConfigPath, "config", "c", "", "the server's config file")
	cmd.Flags().StringVar(&opts.LogFormat, "log-format", "json", "log format on stderr: json or text")
	cmd.AddCommand(NewCmdCheckPolicy(f, nil), NewCmdExplain(f, nil), NewCmdKeygen(f, nil))
	cmd.AddCommand(NewCmdAWSSetup(f, nil))
	cmd.AddCommand(NewCmdCheckAWS(f, nil))
	cmd.AddCommand(NewCmdTestPolicy(f, nil))
	cmd.AddCommand(NewCmdReplay(f, nil))
	cmd.AddCommand(NewCmdGraph(f, nil))
	return cmd
}

// Run serves until ctx ends, logging to stderr in the chosen format.
func Run(ctx context.Context, opts *Options) error {
	return opts.Serve(ctx, serverapp.Options{ConfigPath: opts.ConfigPath, Logger: serverLogger(opts), Now: opts.Now})
}

func serverLogger(opts *Options) *slog.Logger {
	level := slog.LevelInfo
	if opts.Debug {
		level = slog.LevelDebug
	}
	ho := &slog.HandlerOptions{Level: level}
	if opts.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(opts.IO.ErrOut, ho))
	}
	return slog.New(slog.NewJSONHandler(opts.IO.ErrOut, ho))
}

// CheckPolicyOptions are `jit server check-policy`'s inputs.
type CheckPolicyOptions struct {
	IO   *iostreams.IOStreams
	Path string
}

// NewCmdCheckPolicy builds `jit server check-policy`.
func NewCmdCheckPolicy(f *cmdutil.Factory, runF func(context.Context, *CheckPolicyOptions) error) *cobra.Command {
	opts := &CheckPolicyOptions{IO: f.IO}
	return &cobra.Command{
		Use:   "check-policy FILE",
		Short: "Validate a server config (and its policy) and print what it allows",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Path = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return CheckPolicyRun(cmd.Context(), opts)
		},
	}
}

// CheckPolicyRun loads the config, prints its warnings on stderr and each
// role's rules on stdout.
func CheckPolicyRun(_ context.Context, opts *CheckPolicyOptions) error {
	cfg, err := config.Load(opts.Path)
	if err != nil {
		return cmdutil.WithHint(err, cmdutil.ExitError, "fix the lines named above; docs/policy.md lists every key")
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(opts.IO.ErrOut, "warning: %s\n", w)
	}
	fmt.Fprintf(opts.IO.Out, "%s: OK — %d role(s)\n", opts.Path, len(cfg.Policy.Roles))
	for _, r := range cfg.Policy.Roles {
		auto := ""
		if r.AutoApprove != nil {
			auto = ", auto-approves " + r.AutoApprove.Subjects.String()
		}
		bg := ""
		if r.BreakGlass != nil {
			bg = ", break-glass"
		}
		fmt.Fprintf(opts.IO.Out, "  %-20s eligible: %s; approvers: %s (%d needed)%s%s; max %s\n",
			r.Name, r.Eligible, r.Approvers, r.ApprovalsRequired, auto, bg, r.MaxDuration)
		fmt.Fprintf(opts.IO.Out, "  %-20s grants %s\n", "", r.Target())
	}
	return nil
}

// ExplainOptions are `jit server explain`'s inputs.
type ExplainOptions struct {
	IO *iostreams.IOStreams

	ConfigPath string
	User, Role string
	Groups     []string
}

// NewCmdExplain builds `jit server explain`.
func NewCmdExplain(f *cmdutil.Factory, runF func(context.Context, *ExplainOptions) error) *cobra.Command {
	opts := &ExplainOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:     "explain --config FILE --user U [--groups G,...] --role R",
		Short:   "Explain what the policy does for a user and a role: eligible? auto-approved? who approves?",
		Example: "  jit server explain -c jit.yaml --user alice@example.com --groups developers --role prod-admin",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.ConfigPath == "" || opts.User == "" || opts.Role == "" {
				return cmdutil.FlagErrorf("--config, --user and --role are required")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return ExplainRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.ConfigPath, "config", "c", "", "the server's config file")
	cmd.Flags().StringVar(&opts.User, "user", "", "the user's verified email (or oidc.username_claim value)")
	cmd.Flags().StringSliceVar(&opts.Groups, "groups", nil, "the user's groups")
	cmd.Flags().StringVar(&opts.Role, "role", "", "the role")
	return cmd
}

// ExplainRun prints the policy's verdict for the user and the role.
func ExplainRun(_ context.Context, opts *ExplainOptions) error {
	cfg, err := config.Load(opts.ConfigPath)
	if err != nil {
		return err
	}
	// The name policy users: entries match: a verified email, or the value
	// of oidc.username_claim.
	u := api.User{Subject: opts.User, Username: opts.User, Groups: opts.Groups}
	if strings.Contains(opts.User, "@") {
		u.Email = opts.User
	}
	_, err = fmt.Fprintln(opts.IO.Out, cfg.Policy.Explain(u, opts.Role).String())
	return err
}
