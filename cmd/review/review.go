// Package review holds `jit review`: the queue of grants waiting for a
// post-hoc review, a grant's timeline, and recording a verdict.
package review

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/jit-access/jit/cmd/shared"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/session"
)

// Options are `jit review`'s inputs.
type Options struct {
	IO      *iostreams.IOStreams
	Session func() (*session.Session, error)
	Now     func() time.Time

	ID      string
	OK      bool
	Concern bool
	Note    string
	Output  string
}

// NewCmdReview builds `jit review [ID] [--ok|--concern --note TEXT]`.
func NewCmdReview(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Session: f.Session, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "review [ID] [--ok | --concern --note TEXT]",
		Short: "Review grants after the fact: the queue, a grant's timeline, a verdict",
		Long: `Break-glass grants, and every grant of a role with review: required, wait for a post-hoc
review by an approver of the role (never by the requester).

With no ID, list what waits for your review. With an ID, show the grant's timeline: the
request, approvals, credential vends, activity and its end. With --ok or --concern, record
your verdict in the audit log; a concern needs a --note.`,
		Example: "  jit review\n  jit review req_01j…\n  jit review req_01j… --ok --note \"matches INC-1234\"\n  jit review req_01j… --concern --note \"no ticket; deleted a bucket\"",
		GroupID: "review",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.ID = args[0]
			}
			if opts.OK && opts.Concern {
				return cmdutil.FlagErrorf("use --ok or --concern, not both")
			}
			if (opts.OK || opts.Concern) && opts.ID == "" {
				return cmdutil.FlagErrorf("name the grant to review: jit review ID --ok")
			}
			if opts.Concern && strings.TrimSpace(opts.Note) == "" {
				return cmdutil.FlagErrorf("--concern needs --note saying what is wrong")
			}
			if opts.Note != "" && !opts.OK && !opts.Concern {
				return cmdutil.FlagErrorf("--note goes with --ok or --concern")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.OK, "ok", false, "record that the grant's use was appropriate")
	cmd.Flags().BoolVar(&opts.Concern, "concern", false, "record a concern about the grant's use (needs --note)")
	cmd.Flags().StringVar(&opts.Note, "note", "", "what you found, for the audit log")
	cmdutil.AddOutputFlag(cmd, &opts.Output, "table", cmdutil.OutputJSON)
	return cmd
}

// Run lists, shows or decides.
func Run(ctx context.Context, opts *Options) error {
	s, err := opts.Session()
	if err != nil {
		return err
	}
	client, err := s.API()
	if err != nil {
		return err
	}
	switch {
	case opts.OK || opts.Concern:
		verdict := api.VerdictOK
		if opts.Concern {
			verdict = api.VerdictConcern
		}
		r, err := client.Review(ctx, opts.ID, verdict, opts.Note)
		if err != nil {
			return err
		}
		return cmdutil.Render(opts.IO.Out, opts.Output, r, func(w io.Writer) error {
			_, err := fmt.Fprintf(w, "%s reviewed: %s\n", r.ID, r.Review.Verdict)
			return err
		})
	case opts.ID != "":
		tl, err := client.Timeline(ctx, opts.ID)
		if err != nil {
			return err
		}
		return cmdutil.Render(opts.IO.Out, opts.Output, tl, func(w io.Writer) error { return Timeline(w, tl, opts.Now()) })
	}
	list, err := client.Reviews(ctx)
	if err != nil {
		return err
	}
	return cmdutil.Render(opts.IO.Out, opts.Output, list.Requests, func(w io.Writer) error {
		if len(list.Requests) == 0 {
			fmt.Fprintln(opts.IO.ErrOut, "Nothing waits for your review.")
			return nil
		}
		return Queue(w, list.Requests)
	})
}

// Queue prints the grants waiting for review.
func Queue(w io.Writer, reqs []api.Request) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tROLE\tREQUESTER\tKIND\tSTARTED\tSTATE\tCALLS\tREASON")
	for _, r := range reqs {
		kind := "review: required"
		if r.BreakGlass {
			kind = "break-glass"
		}
		calls := "0"
		if r.Activity != nil {
			calls = fmt.Sprint(r.Activity.Calls)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Role, r.Requester, kind,
			r.StartsAt.Local().Format("2006-01-02 15:04"), r.State, calls, r.Reason)
	}
	return tw.Flush()
}

// Timeline prints a grant's history for a reviewer: the audit events in
// order (grant.activity windows included), then the activity summary.
func Timeline(w io.Writer, tl *api.Timeline, now time.Time) error {
	r := tl.Request
	kind := ""
	if r.BreakGlass {
		kind = " (break-glass)"
	}
	fmt.Fprintf(w, "%s  %s  requested by %s%s\nreason: %s\n\n", r.ID, r.Role, r.Requester, kind, r.Reason)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tEVENT\tBY\tDETAIL")
	for _, e := range tl.Events {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Time.Local().Format(time.DateTime), e.Type, e.Actor, detail(e))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, l := range shared.ActivityLines(r.Activity, now) {
		fmt.Fprintf(tw, "%s\t%s\n", l[0], l[1])
	}
	switch {
	case r.Review != nil:
		fmt.Fprintf(tw, "review\t%s by %s %s\n", r.Review.Verdict, r.Review.By, r.Review.Note)
	case r.ReviewRequired:
		fmt.Fprintf(tw, "review\twaiting: jit review %s --ok | --concern --note TEXT\n", r.ID)
	}
	return tw.Flush()
}

// detail renders an event's reason and detail in one line, keys sorted.
func detail(e api.AuditEvent) string {
	var parts []string
	if e.Reason != "" {
		parts = append(parts, fmt.Sprintf("%q", e.Reason))
	}
	keys := make([]string, 0, len(e.Detail))
	for k := range e.Detail {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if slices.Contains([]string{"access_key_id", "total_calls"}, k) {
			continue
		}
		parts = append(parts, k+"="+e.Detail[k])
	}
	return strings.Join(parts, " ")
}
