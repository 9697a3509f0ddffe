// Package requests holds the read-only views: `jit roles`, `jit requests`
// and `jit status`.
package requests

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jit-access/jit/cmd/shared"

	"github.com/spf13/cobra"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/apiclient"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/session"
	"github.com/jit-access/jit/pkg/witness"
)

// Options are the listing commands' inputs.
type Options struct {
	IO      *iostreams.IOStreams
	Session func() (*session.Session, error)
	Now     func() time.Time

	Scope  apiclient.ListScope
	States []string
	Limit  int
	Output string
	// WitnessDir, when set, makes status witness the server's audit log in
	// the background (pkg/witness): a warning on inconsistency.
	WitnessDir func() (string, error)
	// Unused keeps only grants with no recorded activity.
	Unused bool
	// Watch (jit status --watch) follows the live grants until they end.
	Watch bool
	// ID is the request jit show prints.
	ID string
}

// NewCmdRoles builds `jit roles`.
func NewCmdRoles(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	return newListing(f, "roles", "List the roles you may request, with their limits", RolesRun, runF)
}

// newListing builds an argument-less listing command with --output.
func newListing(f *cmdutil.Factory, use, short string, run, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Session: f.Session, Now: f.Now, WitnessDir: func() (string, error) { return witness.Dir(f.Env) }}
	if runF != nil {
		run = runF
	}
	cmd := &cobra.Command{
		Use: use, Short: short, GroupID: "access",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd.Context(), opts)
		},
	}
	cmdutil.AddOutputFlag(cmd, &opts.Output, "table", cmdutil.OutputJSON)
	return cmd
}

// RolesRun lists the caller's requestable roles.
func RolesRun(ctx context.Context, opts *Options) error {
	client, err := api_(opts)
	if err != nil {
		return err
	}
	roles, err := client.Roles(ctx)
	if err != nil {
		return err
	}
	return cmdutil.Render(opts.IO.Out, opts.Output, roles, func(w io.Writer) error {
		if len(roles) == 0 {
			fmt.Fprintln(opts.IO.ErrOut, "The policy lets you request no role; ask your jit admin.")
			return nil
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ROLE\tDEFAULT\tMAX\tAPPROVAL\tDESCRIPTION")
		for _, r := range roles {
			approval := fmt.Sprintf("%d approver(s)", r.ApprovalsRequired)
			switch {
			case r.AutoApproved:
				approval = "auto"
			case r.BreakGlass:
				approval += ", break-glass"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, dur(r.DefaultDuration), dur(r.MaxDuration), approval, r.Description)
		}
		return tw.Flush()
	})
}

// NewCmdRequests builds `jit requests`.
func NewCmdRequests(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Session: f.Session, Now: f.Now}
	var mine, pending, all bool
	cmd := &cobra.Command{
		Use: "requests [--mine|--pending|--all]", Short: "List requests: yours, those waiting for your review, or all (admins)",
		GroupID: "review",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n := 0
			for _, b := range []bool{mine, pending, all} {
				if b {
					n++
				}
			}
			if n > 1 {
				return cmdutil.FlagErrorf("use one of --mine, --pending, --all")
			}
			opts.Scope = apiclient.ScopeMine
			if pending {
				opts.Scope = apiclient.ScopeReview
			}
			if all {
				opts.Scope = apiclient.ScopeAll
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return ListRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&mine, "mine", false, "your requests (the default)")
	cmd.Flags().BoolVar(&pending, "pending", false, "requests waiting for your review")
	cmd.Flags().BoolVar(&all, "all", false, "every request (admins)")
	cmd.Flags().StringSliceVar(&opts.States, "state", nil, "only these states (pending, approved, active, expired, denied, cancelled, revoked, timed_out)")
	cmd.Flags().IntVar(&opts.Limit, "limit", 50, "at most this many")
	cmd.Flags().BoolVar(&opts.Unused, "unused", false, "only grants whose credentials were never used (no recorded activity)")
	cmdutil.AddOutputFlag(cmd, &opts.Output, "table", cmdutil.OutputJSON)
	return cmd
}

// unused keeps the grants with no recorded activity.
func unused(reqs []api.Request) []api.Request {
	var out []api.Request
	for _, r := range reqs {
		if !r.StartsAt.IsZero() && !r.Activity.Used() {
			out = append(out, r)
		}
	}
	return out
}

func api_(opts *Options) (*apiclient.Client, error) {
	s, err := opts.Session()
	if err != nil {
		return nil, err
	}
	return s.API()
}

func states(in []string) []api.State {
	out := make([]api.State, len(in))
	for i, s := range in {
		out[i] = api.State(s)
	}
	return out
}

// ListRun lists requests in the chosen scope.
func ListRun(ctx context.Context, opts *Options) error {
	client, err := api_(opts)
	if err != nil {
		return err
	}
	var got []api.Request
	cursor := ""
	for len(got) < opts.Limit {
		page, err := client.List(ctx, opts.Scope, states(opts.States), cursor, min(opts.Limit-len(got), 200))
		if err != nil {
			return err
		}
		if opts.Unused {
			page.Requests = unused(page.Requests)
		}
		got = append(got, page.Requests...)
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	return cmdutil.Render(opts.IO.Out, opts.Output, got, func(w io.Writer) error {
		if len(got) == 0 {
			fmt.Fprintln(opts.IO.ErrOut, "No requests.")
			return nil
		}
		return table(w, got, opts.Now())
	})
}

func table(w io.Writer, reqs []api.Request, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tROLE\tREQUESTER\tSTATE\tFOR\tLEFT\tAGE\tREASON")
	for _, r := range reqs {
		left := "-"
		if d := r.Remaining(now); d > 0 {
			left = d.Truncate(time.Second).String()
		}
		reason := r.Reason
		if len(reason) > 40 {
			reason = reason[:37] + "..."
		}
		state := string(r.State)
		if r.PendingExtension != nil && r.State.Granted() {
			state += "+extension?" // an extension waits for approvers
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Role, r.Requester, state,
			dur(r.DurationSeconds), left, now.Sub(r.CreatedAt).Truncate(time.Second), reason)
	}
	return tw.Flush()
}

// NewCmdStatus builds `jit status`.
func NewCmdStatus(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	var watch bool
	withWatch := func(run func(context.Context, *Options) error) func(context.Context, *Options) error {
		return func(ctx context.Context, o *Options) error { o.Watch = watch; return run(ctx, o) }
	}
	if runF != nil {
		runF = withWatch(runF)
	}
	cmd := newListing(f, "status", "Show your live grants with time left, and your pending requests", withWatch(StatusRun), runF)
	cmd.Flags().BoolVar(&watch, "watch", false, "stay and follow your live grants: when one is revoked or ends, say so and wipe its cached credentials at once")
	return cmd
}

// StatusRun shows live grants and pending requests, and wipes this
// machine's cached credentials whose grant has ended or been revoked.
func StatusRun(ctx context.Context, opts *Options) error {
	s, err := opts.Session()
	if err != nil {
		return err
	}
	client, err := s.API()
	if err != nil {
		return err
	}
	defer witness.Background(ctx, opts.WitnessDir, s.Server, client, opts.IO.ErrOut)()
	// Recent requests in every state: a revoked or ended one names a role
	// whose cached credentials may need wiping.
	page, err := client.List(ctx, apiclient.ScopeMine, nil, "", 200)
	if err != nil {
		return err
	}
	now := opts.Now()
	live := map[string]bool{}
	roles := map[string]bool{}
	var shown []api.Request
	for _, r := range page.Requests {
		roles[r.Role] = true
		if r.Remaining(now) > 0 {
			live[r.ID] = true
		}
		if r.State == api.StatePending || r.Remaining(now) > 0 {
			shown = append(shown, r)
		}
	}
	wiped := 0
	for role := range roles {
		if ok, _ := s.WipeGrantCredentials(ctx, role, func(id string) bool { return !live[id] }); ok {
			wiped++
		}
	}
	return cmdutil.Render(opts.IO.Out, opts.Output, shown, func(w io.Writer) error {
		if wiped > 0 {
			fmt.Fprintf(opts.IO.ErrOut, "Wiped %d cached credential item(s) whose grant ended.\n", wiped)
		}
		if len(shown) == 0 {
			fmt.Fprintln(opts.IO.ErrOut, "No live grants and no pending requests. Ask with: jit request ROLE --reason TEXT")
			return nil
		}
		if err := table(w, shown, now); err != nil {
			return err
		}
		endingSoon(opts.IO.ErrOut, shown, now)
		if !opts.Watch {
			return nil
		}
		return watchGrants(ctx, opts, s, shown)
	})
}

// RemindBefore is how long before a grant's end `jit status` offers to
// extend it: the server's default notify.remind_before, when its reminder
// (grant.ending_soon) reaches a Slack-linked requester by direct message.
const RemindBefore = 10 * time.Minute

// endingSoon is the reminder for people at a terminal: each live grant
// that ends within RemindBefore, with the command that extends it.
func endingSoon(w io.Writer, reqs []api.Request, now time.Time) {
	for _, r := range reqs {
		if d := r.Remaining(now); d > 0 && d <= RemindBefore && r.PendingExtension == nil {
			fmt.Fprintf(w, "%s (%s) ends in %s: extend? jit extend %s --for 30m --reason \"…\"\n", r.ID, r.Role,
				api.FormatDuration((d + time.Minute - 1).Truncate(time.Minute)), r.ID)
		}
	}
}

// dur renders a duration in seconds for people.
func dur(sec int64) string { return api.FormatDuration(time.Duration(sec) * time.Second) }

// NewCmdShow builds `jit show ID`.
func NewCmdShow(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Session: f.Session, Now: f.Now}
	cmd := &cobra.Command{
		Use: "show ID", Short: "Show one request: state, approvals, grant times", GroupID: "review",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return ShowRun(cmd.Context(), opts)
		},
	}
	cmdutil.AddOutputFlag(cmd, &opts.Output, "text", cmdutil.OutputJSON)
	return cmd
}

// ShowRun prints one request.
func ShowRun(ctx context.Context, opts *Options) error {
	client, err := api_(opts)
	if err != nil {
		return err
	}
	r, err := client.Get(ctx, opts.ID)
	if err != nil {
		return err
	}
	return cmdutil.Render(opts.IO.Out, opts.Output, r, func(w io.Writer) error {
		now := opts.Now()
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		row := func(k, v string) {
			if v != "" {
				fmt.Fprintf(tw, "%s\t%s\n", k, v)
			}
		}
		at := func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.Local().Format(time.DateTime)
		}
		row("id", r.ID)
		row("role", r.Role)
		row("requester", r.Requester)
		row("state", string(r.State))
		row("reason", r.Reason)
		row("ticket", r.Ticket)
		row("duration", dur(r.DurationSeconds))
		row("requested", at(r.CreatedAt))
		if r.State == api.StatePending {
			row("times out", at(r.PendingUntil))
		}
		row("approvals", fmt.Sprintf("%d of %d", len(r.Approvals), r.ApprovalsNeeded))
		for _, d := range r.Approvals {
			row("  approved by", fmt.Sprintf("%s at %s %s", d.By, at(d.At), d.Comment))
		}
		if r.Denial != nil {
			row("denied by", fmt.Sprintf("%s at %s: %s", r.Denial.By, at(r.Denial.At), r.Denial.Comment))
		}
		row("starts", at(r.StartsAt))
		row("ends", at(r.EndsAt))
		if left := r.Remaining(now); left > 0 {
			row("left", left.Truncate(time.Second).String())
		}
		if r.BreakGlass {
			row("break-glass", "yes (flagged for review)")
		}
		if r.Agent != "" {
			row("agent", r.Agent+" (an AI agent asked on the requester's behalf)")
		}
		if x := r.PendingExtension; x != nil && r.State.Granted() {
			row("extension", fmt.Sprintf("%s more, waiting for approval (%d of %d): %s", dur(x.DurationSeconds), len(x.Approvals), x.ApprovalsNeeded, x.Why))
			row("  decide", fmt.Sprintf("jit approve %s --seen %d, or jit deny %s --seen %d --reason ...", r.ID, r.Version, r.ID, r.Version))
		}
		if r.EndedBy != "" {
			row("ended by", strings.TrimSpace(r.EndedBy+" "+r.EndReason))
		}
		if !r.StartsAt.IsZero() {
			for _, l := range shared.ActivityLines(r.Activity, now) {
				row(l[0], l[1])
			}
		}
		if r.ReviewRequired {
			switch rv := r.Review; {
			case rv == nil:
				row("review", "waiting (jit review "+r.ID+")")
			default:
				row("review", strings.TrimSpace(fmt.Sprintf("%s by %s at %s %s", rv.Verdict, rv.By, at(rv.At), rv.Note)))
			}
		}
		return tw.Flush()
	})
}
