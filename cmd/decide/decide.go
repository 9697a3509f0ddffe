// Package decide holds the commands that change one request: approve, deny,
// cancel, revoke and extend. Each is a thin call to the server; the policy
// and the state machine there decide what is allowed.
package decide

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/session"
)

// Action names a decision.
type Action string

// The actions.
const (
	Approve Action = "approve"
	Deny    Action = "deny"
	Cancel  Action = "cancel"
	Revoke  Action = "revoke"
	Extend  Action = "extend"
)

// Options are a decision's inputs.
type Options struct {
	IO      *iostreams.IOStreams
	Session func() (*session.Session, error)

	Action  Action
	ID      string
	Comment string
	// Seen is the request's version the approver decides on (approve and
	// deny; jit show prints it). Zero means the request as it was asked
	// for: a pending request, never an extension asked for since.
	Seen   int64
	For    time.Duration
	Output string
}

type spec struct {
	action             Action
	use, short, long   string
	commentFlag, usage string
	commentRequired    bool
	group              string
	example            string
}

var specs = []spec{
	{Approve, "approve ID [--comment TEXT] [--seen VERSION]", "Approve a request waiting for your review", "Approve a pending request, or the extension a live grant waits for. You can never approve your own; a role may need several distinct approvers.\n\n" +
		"A decision applies to what you saw: without --seen, the request as it was asked for; with --seen VERSION\n" +
		"(jit show prints it), what waited at that version. An extension asked for since is refused, not approved.",
		"comment", "a note for the requester and the audit log", false, "review", "  jit requests --pending\n  jit approve req_01j… --comment \"ok for INC-1234\""},
	{Deny, "deny ID --reason TEXT", "Deny a request waiting for your review", "Deny a pending request; the reason is shown to the requester and kept in the audit log.",
		"reason", "why (required)", true, "review", "  jit deny req_01j… --reason \"use the read-only role\""},
	{Cancel, "cancel ID", "Withdraw your pending request", "Withdraw a request of yours that is still pending.",
		"reason", "why (optional)", false, "access", ""},
	{Revoke, "revoke ID", "End a live grant now", "End a live grant before its time: yours, or one of a role you approve. Cached credentials for it on this machine are wiped.",
		"reason", "why (kept in the audit log)", false, "access", ""},
	{Extend, "extend ID --for DURATION", "Add time to your live grant", "Move a live grant's end, within the role's extension limits.\n\n" +
		"A break-glass or auto-approved grant is extended at once only up to the limit that let it skip\n" +
		"approvers (break_glass.max_duration, auto_approve.max_duration). Past it the extension waits for\n" +
		"the role's approvers, who decide with jit approve / jit deny like a request; the grant keeps its end until then.",
		"reason", "why (kept in the audit log)", false, "access", "  jit extend req_01j… --for 30m --reason \"migration still running\""},
}

// NewCmds builds approve, deny, cancel, revoke and extend.
func NewCmds(f *cmdutil.Factory, runF func(context.Context, *Options) error) []*cobra.Command {
	var out []*cobra.Command
	for _, sp := range specs {
		out = append(out, newCmd(f, sp, runF))
	}
	return out
}

func newCmd(f *cmdutil.Factory, sp spec, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Session: f.Session, Action: sp.action}
	cmd := &cobra.Command{
		Use: sp.use, Short: sp.short, Long: sp.long, Example: sp.example, GroupID: sp.group,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if sp.commentRequired && strings.TrimSpace(opts.Comment) == "" {
				return cmdutil.FlagErrorf("%s needs --%s", sp.action, sp.commentFlag)
			}
			if sp.action == Extend && opts.For <= 0 {
				return cmdutil.FlagErrorf("extend needs --for, like --for 30m")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Comment, sp.commentFlag, "", sp.usage)
	if sp.action == Extend {
		cmd.Flags().DurationVar(&opts.For, "for", 0, "how much longer")
	}
	if sp.action == Approve || sp.action == Deny {
		cmd.Flags().Int64Var(&opts.Seen, "seen", 0, "the version of the request you decide on, as jit show prints it (needed for an extension; a request changed since is refused)")
	}
	cmdutil.AddOutputFlag(cmd, &opts.Output, "text", cmdutil.OutputJSON)
	return cmd
}

// Run sends the decision and prints the request as it now is.
func Run(ctx context.Context, opts *Options) error {
	s, err := opts.Session()
	if err != nil {
		return err
	}
	client, err := s.API()
	if err != nil {
		return err
	}
	// Without --seen the decision is on the request as it was asked for
	// (its first version): a pending request is decided, an extension
	// asked for since is not (the server answers 409 naming it).
	seen := opts.Seen
	if seen <= 0 {
		seen = 1
	}
	var r *api.Request
	switch opts.Action {
	case Approve:
		r, err = client.Approve(ctx, opts.ID, seen, opts.Comment)
	case Deny:
		r, err = client.Deny(ctx, opts.ID, seen, opts.Comment)
	case Cancel:
		r, err = client.Cancel(ctx, opts.ID, opts.Comment)
	case Revoke:
		r, err = client.Revoke(ctx, opts.ID, opts.Comment)
	case Extend:
		r, err = client.Extend(ctx, opts.ID, opts.For, opts.Comment)
	default:
		return fmt.Errorf("unknown action %q", opts.Action)
	}
	if err != nil {
		return err
	}
	// Wipe this machine's cached credentials when they no longer match the
	// grant: revoked (unusable), or extended (the next use re-vends longer ones).
	if (opts.Action == Revoke || opts.Action == Extend) && s.Cache != nil {
		if _, err := s.WipeGrantCredentials(ctx, r.Role, func(id string) bool { return id == r.ID }); err != nil {
			return fmt.Errorf("%s done, but wiping the cached credentials failed: %w", opts.Action, err)
		}
	}
	return cmdutil.Render(opts.IO.Out, opts.Output, r, func(w io.Writer) error {
		fmt.Fprintln(w, summary(opts.Action, r))
		return nil
	})
}

func summary(a Action, r *api.Request) string {
	x := r.PendingExtension
	switch {
	case a == Extend && x != nil && len(x.Approvals) == 0:
		return fmt.Sprintf("Extension of %s by %s asked for: %s.\nIt waits for approval; %s still ends at %s. Approvers see it in `jit requests --pending` and decide with `jit approve %s --seen %d` or `jit deny %s --seen %d --reason ...`.",
			r.ID, api.FormatDuration(x.Duration()), x.Why, r.Role, r.EndsAt.Local().Format("15:04 MST"), r.ID, r.Version, r.ID, r.Version)
	case a == Approve && r.State.Granted() && x != nil:
		return fmt.Sprintf("Approved the extension of %s (%s for %s); it needs %d more approval(s).", r.ID, r.Role, r.Requester, x.ApprovalsNeeded-len(x.Approvals))
	case a == Deny && r.State.Granted():
		return fmt.Sprintf("Denied the extension of %s: %s still ends at %s.", r.ID, r.Role, r.EndsAt.Local().Format("15:04 MST"))
	case a == Approve && r.State == api.StatePending:
		return fmt.Sprintf("Approved %s (%s for %s); it needs %d more approval(s).", r.ID, r.Role, r.Requester, r.ApprovalsNeeded-len(r.Approvals))
	case a == Approve:
		return fmt.Sprintf("Approved %s: %s has %s until %s.", r.ID, r.Requester, r.Role, r.EndsAt.Local().Format("15:04 MST"))
	case a == Extend:
		return fmt.Sprintf("Extended %s: %s now ends at %s.", r.ID, r.Role, r.EndsAt.Local().Format("15:04 MST"))
	}
	return fmt.Sprintf("%s: %s (%s for %s) is now %s.", strings.ToUpper(string(a[:1]))+string(a[1:]), r.ID, r.Role, r.Requester, r.State)
}
