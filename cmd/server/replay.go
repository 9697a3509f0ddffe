package server

import (
	"context"
	"fmt"
	"iter"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/replay"
	"github.com/jit-access/jit/pkg/store/storeopen"
)

// ReplayOptions are `jit server replay`'s inputs.
type ReplayOptions struct {
	IO  *iostreams.IOStreams
	Now func() time.Time

	ConfigPath string
	// Store is the DSN to read the audit log from (read-only); default the
	// config's store.dsn when ConfigPath is a server config.
	Store string
	// Export is an audit export (JSON lines) to read instead, "-" for stdin.
	Export       string
	Since, Until string
	Format       string
}

// NewCmdReplay builds `jit server replay`.
func NewCmdReplay(f *cmdutil.Factory, runF func(context.Context, *ReplayOptions) error) *cobra.Command {
	opts := &ReplayOptions{IO: f.IO, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "replay --config PROPOSED.yaml [--since 30d] [--store DSN | --export FILE]",
		Short: "Run the audited requests of a period through a proposed policy and show what would change",
		Long: `Replay every request audited in the period through the proposed policy and show
what would have changed: requests refused, approved at once instead of waiting
(or waiting instead), needing other approvers, grants that would have been
shorter. Counts per role, then one line per changed request naming the rule
that decided.

The audit log is read from the store (opened read-only: nothing is migrated or
written) — --store, or the store.dsn of --config when it is a server config — or
from an audit export (jit audit export, JSON lines) with --export, offline.
Requests recorded before jit wrote the requester's groups are counted as not
replayable. See docs/evolving-policy.md.`,
		Example: "  jit server replay -c proposed.yaml --store sqlite:///var/lib/jit/jit.db --since 30d\n" +
			"  jit audit export > audit.jsonl && jit server replay -c proposed.yaml --export audit.jsonl --since 2026-04-01 --format csv",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.ConfigPath == "" {
				return cmdutil.FlagErrorf("--config is required: the proposed server config or policy file")
			}
			if opts.Store != "" && opts.Export != "" {
				return cmdutil.FlagErrorf("--store and --export are alternatives; give one")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return ReplayRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.ConfigPath, "config", "c", "", "the proposed server config or policy file")
	cmd.Flags().StringVar(&opts.Store, "store", "", "read the audit log from this store, read-only (default: the config's store.dsn)")
	cmd.Flags().StringVar(&opts.Export, "export", "", `read an audit export (JSON lines) instead; "-" for stdin`)
	cmd.Flags().StringVar(&opts.Since, "since", "30d", "start of the period: 30d, 12h, or a date (2026-04-01)")
	cmd.Flags().StringVar(&opts.Until, "until", "", "end of the period: a date or an age like --since (default now)")
	cmdutil.AddFormatFlag(cmd, &opts.Format, "format", "", "table", cmdutil.OutputJSON, "csv")
	return cmd
}

// ReplayRun replays the period and prints what would change.
func ReplayRun(ctx context.Context, opts *ReplayOptions) error {
	p, cfg, err := loadPolicyAndConfig(opts.ConfigPath)
	if err != nil {
		return err
	}
	now := opts.Now()
	since, err := parseWhen(opts.Since, now)
	if err != nil {
		return cmdutil.FlagErrorf("--since: %v", err)
	}
	until := now
	if opts.Until != "" {
		if until, err = parseWhen(opts.Until, now); err != nil {
			return cmdutil.FlagErrorf("--until: %v", err)
		}
	}
	if !since.Before(until) {
		return cmdutil.FlagErrorf("--since %s is not before --until %s", since.Format(time.RFC3339), until.Format(time.RFC3339))
	}
	var events iter.Seq2[api.AuditEvent, error]
	switch {
	case opts.Export == "-":
		events = audit.ReadJSONL(opts.IO.In)
	case opts.Export != "":
		f, err := os.Open(opts.Export)
		if err != nil {
			return fmt.Errorf("read audit export: %w", err)
		}
		defer f.Close()
		events = audit.ReadJSONL(f)
	default:
		dsn := opts.Store
		if dsn == "" && cfg != nil {
			dsn = string(cfg.Store.DSN)
		}
		if dsn == "" {
			return cmdutil.FlagErrorf("nothing to replay: give --store DSN or --export FILE (--config %s is a policy file, with no store)", opts.ConfigPath)
		}
		events = storeopen.ReadAuditReadOnly(ctx, dsn, since)
	}
	records, err := replay.Collect(events)
	if err != nil {
		return cmdutil.WithHint(err, cmdutil.ExitError, "check the store or the export file (jit audit export writes one)")
	}
	res := replay.Run(p, records, since, until)
	switch opts.Format {
	case "json":
		return replay.JSON(opts.IO.Out, res)
	case "csv":
		return replay.CSV(opts.IO.Out, res)
	}
	return replay.Table(opts.IO.Out, res)
}

// parseWhen reads a point in time: an age before now (30d, 12h, 90m) or a
// date or RFC 3339 time.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.AddDate(0, 0, -n), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not an age (30d, 12h) or a date (2026-04-01)", s)
}
