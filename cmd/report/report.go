// Package report holds `jit report`: the access report for auditors.
package report

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/report"
	"github.com/jit-access/jit/pkg/session"
)

// Options are `jit report`'s inputs.
type Options struct {
	IO      *iostreams.IOStreams
	Session func() (*session.Session, error)
	Now     func() time.Time

	Since  time.Duration
	Output string
}

// NewCmdReport builds `jit report`.
func NewCmdReport(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Session: f.Session, Now: f.Now}
	var since string
	cmd := &cobra.Command{
		Use:   "report [--since 30d] [-o table|json|csv]",
		Short: "Access report for auditors: grants, approvers, use, reviews, least-privilege hints (admins)",
		Long: `Summarise the grants that started in the period: per role and person, who approved them,
the duration asked against the time used, break-glass grants and their review status,
grants never used, and per role the actions actually used, with a least-privilege hint
when a role was used for only a few actions.`,
		Example: "  jit report --since 30d\n  jit report --since 90d -o csv > access-review.csv",
		GroupID: "review",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := ParseSince(since)
			if err != nil {
				return cmdutil.FlagErrorf("--since: %v", err)
			}
			opts.Since = d
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&since, "since", "30d", "the period's length back from now: 30d, 12h, 2w")
	cmdutil.AddOutputFlag(cmd, &opts.Output, "table", cmdutil.OutputJSON, "csv")
	return cmd
}

// ParseSince reads a period: Go durations (12h) plus days (30d) and weeks (2w).
func ParseSince(s string) (time.Duration, error) {
	unit := time.Duration(0)
	switch {
	case strings.HasSuffix(s, "d"):
		unit = 24 * time.Hour
	case strings.HasSuffix(s, "w"):
		unit = 7 * 24 * time.Hour
	}
	if unit != 0 {
		n, err := strconv.Atoi(strings.TrimRight(s[:len(s)-1], " "))
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("%q is not a period such as 30d", s)
		}
		return time.Duration(n) * unit, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a period such as 30d or 12h", s)
	}
	return d, nil
}

// Run fetches and prints the report.
func Run(ctx context.Context, opts *Options) error {
	s, err := opts.Session()
	if err != nil {
		return err
	}
	client, err := s.API()
	if err != nil {
		return err
	}
	now := opts.Now()
	rep, err := client.Report(ctx, now.Add(-opts.Since), now)
	if err != nil {
		return err
	}
	if opts.Output == "csv" {
		return report.CSV(opts.IO.Out, *rep)
	}
	return cmdutil.Render(opts.IO.Out, opts.Output, rep, func(w io.Writer) error { return report.Table(w, *rep) })
}
