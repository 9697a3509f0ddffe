// Package server is `jit server` (run the approval endpoint) with its
// policy tools `jit server check-policy` and `jit server explain`.
package server

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/config"
	"github.com/jit-access/jit/pkg/serverapp"
)

// NewCmdServer builds `jit server` and its subcommands.
func NewCmdServer(f *cmdutil.Factory) *cobra.Command {
	var configPath, logFormat string
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
			if configPath == "" {
				return cmdutil.FlagErrorf("--config is required (see docs/examples/jit.yaml)")
			}
			log, err := serverLogger(f, logFormat)
			if err != nil {
				return err
			}
			return serverapp.Run(cmd.Context(), serverapp.Options{ConfigPath: configPath, Logger: log, Now: f.Now})
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "", "the server's config file")
	cmd.Flags().StringVar(&logFormat, "log-format", "json", "log format on stderr: json or text")
	cmd.AddCommand(newCmdCheckPolicy(f), newCmdExplain(f), newCmdKeygen(f, nil))
	return cmd
}

func serverLogger(f *cmdutil.Factory, format string) (*slog.Logger, error) {
	level := slog.LevelInfo
	if f.Flags.Debug {
		level = slog.LevelDebug
	}
	ho := &slog.HandlerOptions{Level: level}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(f.IO.ErrOut, ho)), nil
	case "text":
		return slog.New(slog.NewTextHandler(f.IO.ErrOut, ho)), nil
	}
	return nil, cmdutil.FlagErrorf("--log-format must be json or text")
}

func newCmdCheckPolicy(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "check-policy FILE",
		Short: "Validate a server config (and its policy) and print what it allows",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(args[0])
			if err != nil {
				return cmdutil.WithHint(err, cmdutil.ExitError, "fix the lines named above; docs/policy.md lists every key")
			}
			for _, w := range cfg.Warnings {
				fmt.Fprintf(f.IO.ErrOut, "warning: %s\n", w)
			}
			fmt.Fprintf(f.IO.Out, "%s: OK — %d role(s)\n", args[0], len(cfg.Policy.Roles))
			for _, r := range cfg.Policy.Roles {
				auto := ""
				if r.AutoApprove != nil {
					auto = ", auto-approves " + r.AutoApprove.Subjects.String()
				}
				bg := ""
				if r.BreakGlass != nil {
					bg = ", break-glass"
				}
				fmt.Fprintf(f.IO.Out, "  %-20s eligible: %s; approvers: %s (%d needed)%s%s; max %s\n",
					r.Name, r.Eligible, r.Approvers, r.ApprovalsRequired, auto, bg, r.MaxDuration)
			}
			return nil
		},
	}
}

func newCmdExplain(f *cmdutil.Factory) *cobra.Command {
	var configPath, user, role string
	var groups []string
	cmd := &cobra.Command{
		Use:     "explain --config FILE --user U [--groups G,...] --role R",
		Short:   "Explain what the policy does for a user and a role: eligible? auto-approved? who approves?",
		Example: "  jit server explain -c jit.yaml --user alice@example.com --groups developers --role prod-admin",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configPath == "" || user == "" || role == "" {
				return cmdutil.FlagErrorf("--config, --user and --role are required")
			}
			cfg, err := config.Load(configPath)
			if err != nil {
				return err
			}
			// The name policy users: entries match: a verified email, or
			// the value of oidc.username_claim.
			u := api.User{Subject: user, Username: user, Groups: groups}
			if strings.Contains(user, "@") {
				u.Email = user
			}
			_, err = fmt.Fprintln(f.IO.Out, cfg.Policy.Explain(u, role).String())
			return err
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "", "the server's config file")
	cmd.Flags().StringVar(&user, "user", "", "the user's verified email (or oidc.username_claim value)")
	cmd.Flags().StringSliceVar(&groups, "groups", nil, "the user's groups")
	cmd.Flags().StringVar(&role, "role", "", "the role")
	return cmd
}
