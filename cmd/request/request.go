// Package request is `jit request`: ask for a role, wait for the decision,
// and cache the credentials when it is approved; and `jit wait ID` to
// resume waiting.
package request

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/apiclient"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/session"
	"github.com/jit-access/jit/pkg/witness"
)

// Options are `jit request`'s inputs.
type Options struct {
	IO      *iostreams.IOStreams
	Session func() (*session.Session, error)
	Now     func() time.Time

	Role       string
	Reason     string
	Ticket     string
	For        time.Duration
	NoWait     bool
	BreakGlass bool
	Output     string
	// ResumeID waits on an existing request instead of creating one.
	ResumeID string
	// WitnessDir, when set, makes the command witness the server's audit
	// log in the background (pkg/witness): a warning on inconsistency.
	WitnessDir func() (string, error)
}

// NewCmdRequest builds `jit request`.
func NewCmdRequest(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Session: f.Session, Now: f.Now, WitnessDir: func() (string, error) { return witness.Dir(f.Env) }}
	cmd := &cobra.Command{
		Use:   "request ROLE --reason TEXT [--for DURATION]",
		Short: "Ask for a role and wait for the decision",
		Long: `Ask for a role for a while, with a reason. jit waits for the decision (an
approver's jit approve, or the policy's auto-approval) and caches the
credentials in your keyring the moment it arrives.

Ctrl-C stops waiting but leaves the request pending: resume with jit wait ID,
withdraw it with jit cancel ID.`,
		Example: `  jit request prod-admin --reason "INC-1234: restart the stuck deploy" --for 1h
  jit request readonly --reason "look at logs" --no-wait
  jit request prod-admin --break-glass --reason "site down, nobody answering"`,
		GroupID:           "access",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: cmdutil.RoleNames(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Role = args[0]
			if opts.For < 0 {
				return cmdutil.FlagErrorf("--for must be positive, like 30m or 2h")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Reason, "reason", "r", "", "why you need the role (shown to approvers, kept in the audit log)")
	cmd.Flags().StringVar(&opts.Ticket, "ticket", "", "ticket id, when the role's policy asks for one")
	cmd.Flags().DurationVar(&opts.For, "for", 0, "how long the grant should last (default: the role's default)")
	cmd.Flags().BoolVar(&opts.NoWait, "no-wait", false, "create the request and exit (exit code 8 while it is pending)")
	cmd.Flags().BoolVar(&opts.BreakGlass, "break-glass", false, "self-activate in an emergency where the role allows it (everyone is notified, flagged for review)")
	cmdutil.AddOutputFlag(cmd, &opts.Output, "text", cmdutil.OutputJSON)
	return cmd
}

// NewCmdWait builds `jit wait ID`.
func NewCmdWait(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Session: f.Session, Now: f.Now}
	cmd := &cobra.Command{
		Use:     "wait ID",
		Short:   "Resume waiting for a pending request's decision",
		GroupID: "access",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ResumeID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmdutil.AddOutputFlag(cmd, &opts.Output, "text", cmdutil.OutputJSON)
	return cmd
}

// Run creates (or resumes) the request, waits, and caches credentials.
func Run(ctx context.Context, opts *Options) error {
	s, err := opts.Session()
	if err != nil {
		return err
	}
	client, err := s.API()
	if err != nil {
		return err
	}
	defer witness.Background(ctx, opts.WitnessDir, s.Server, client, opts.IO.ErrOut)()
	var req *api.Request
	if opts.ResumeID != "" {
		if req, err = client.Get(ctx, opts.ResumeID); err != nil {
			return err
		}
	} else {
		req, err = client.Create(ctx, api.CreateRequest{
			Role: opts.Role, Reason: opts.Reason, Ticket: opts.Ticket,
			DurationSeconds: int64(opts.For / time.Second), BreakGlass: opts.BreakGlass,
		})
		if err != nil {
			return err
		}
	}
	w := opts.IO.ErrOut
	if req.State == api.StatePending {
		fmt.Fprintf(w, "Request %s for %s is pending: %s.\n", req.ID, req.Role, needs(req))
		if opts.NoWait {
			return finish(opts, req, nil, &cmdutil.StatusError{Code: cmdutil.ExitPending})
		}
		spin := newSpinner(w, opts.IO.IsStderrTTY(), opts.Now)
		req, err = client.Wait(ctx, req, func(r *api.Request) { spin.update(r) })
		spin.stop()
		if err != nil {
			if ctx.Err() != nil {
				fmt.Fprintf(w, "\nStopped waiting; request %s is still pending.\n  resume:   jit wait %s\n  withdraw: jit cancel %s\n", req.ID, req.ID, req.ID)
				return &cmdutil.StatusError{Code: cmdutil.ExitInterrupted}
			}
			return err
		}
	}
	switch req.State {
	case api.StateApproved, api.StateActive:
		creds, err := s.Credentials(ctx, req.Role)
		if apiclient.IsCode(err, api.CodeNoCredentials) {
			// A kind whose access is given at the grant's start (a
			// directory group): nothing to fetch or cache.
			fmt.Fprintf(w, "✓ %s granted until %s (%s): its access was given at the server (a directory group, say), with nothing to fetch.\n", req.Role,
				req.EndsAt.Local().Format("15:04 MST"), approvedBy(req))
			return finish(opts, req, nil, nil)
		}
		if err != nil {
			return fmt.Errorf("approved, but fetching credentials failed: %w", err)
		}
		fmt.Fprintf(w, "✓ %s granted until %s (%s).\n", req.Role, req.EndsAt.Local().Format("15:04 MST"),
			approvedBy(req))
		fmt.Fprintf(w, "  use it: aws --profile %s …  |  jit exec %s -- CMD  |  jit console %s\n", req.Role, req.Role, req.Role)
		_ = creds
		return finish(opts, req, nil, nil)
	case api.StateDenied:
		reason := ""
		if req.Denial != nil {
			reason = fmt.Sprintf(" by %s: %s", req.Denial.By, req.Denial.Comment)
		}
		return finish(opts, req, fmt.Errorf("request %s was denied%s", req.ID, reason), &cmdutil.StatusError{Code: cmdutil.ExitDenied})
	case api.StateTimedOut:
		return finish(opts, req, fmt.Errorf("request %s timed out with no decision; ask again or ping an approver", req.ID), &cmdutil.StatusError{Code: cmdutil.ExitDenied})
	case api.StateCancelled:
		return finish(opts, req, fmt.Errorf("request %s was cancelled", req.ID), &cmdutil.StatusError{Code: cmdutil.ExitCancelled})
	default:
		return finish(opts, req, fmt.Errorf("request %s is %s", req.ID, req.State), &cmdutil.StatusError{Code: cmdutil.ExitError})
	}
}

// finish prints the request (JSON on stdout when asked), the message on
// stderr, and returns the exit status.
func finish(opts *Options, req *api.Request, msg error, status error) error {
	err := cmdutil.Render(opts.IO.Out, opts.Output, req, func(w io.Writer) error {
		if req.State.Granted() || req.State == api.StatePending {
			fmt.Fprintln(w, req.ID)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if msg != nil {
		fmt.Fprintf(opts.IO.ErrOut, "jit: %s\n", msg)
	}
	return status
}

func needs(r *api.Request) string {
	left := r.ApprovalsNeeded - len(r.Approvals)
	if left == 1 {
		return "it needs 1 approval"
	}
	return fmt.Sprintf("it needs %d approvals", left)
}

func approvedBy(r *api.Request) string {
	switch {
	case r.BreakGlass:
		return "break-glass: everyone is notified, flagged for review"
	case r.AutoApproved:
		return "auto-approved by policy"
	}
	by := make([]string, 0, len(r.Approvals))
	for _, d := range r.Approvals {
		by = append(by, d.By)
	}
	return "approved by " + strings.Join(by, ", ")
}

// spinner shows the state and the time waited on a terminal, and only
// changes of state elsewhere.
type spinner struct {
	w     io.Writer
	tty   bool
	now   func() time.Time
	start time.Time
	done  chan struct{}
	state chan *api.Request
	ended chan struct{}
}

func newSpinner(w io.Writer, tty bool, now func() time.Time) *spinner {
	s := &spinner{w: w, tty: tty, now: now, start: now(), done: make(chan struct{}), state: make(chan *api.Request, 8), ended: make(chan struct{})}
	go s.loop()
	return s
}

func (s *spinner) update(r *api.Request) {
	select {
	case s.state <- r:
	default:
	}
}

func (s *spinner) stop() {
	close(s.done)
	<-s.ended
}

func (s *spinner) loop() {
	defer close(s.ended)
	frames := []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}
	t := time.NewTicker(120 * time.Millisecond)
	defer t.Stop()
	status := "waiting for approval"
	for i := 0; ; i++ {
		select {
		case <-s.done:
			if s.tty {
				fmt.Fprint(s.w, "\r\033[K")
			}
			return
		case r := <-s.state:
			status = fmt.Sprintf("%s (%d/%d approvals)", r.State, len(r.Approvals), r.ApprovalsNeeded)
			if !s.tty {
				fmt.Fprintf(s.w, "… %s\n", status)
			}
		case <-t.C:
		}
		if s.tty {
			waited := s.now().Sub(s.start).Truncate(time.Second)
			fmt.Fprintf(s.w, "\r\033[K%s %s · %s", frames[i%len(frames)], status, waited)
		}
	}
}
