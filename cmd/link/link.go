// Package link is `jit link slack`: link the Slack account that typed
// `/jit link` to your jit login, so you can request access from Slack; list
// your links; or remove them.
package link

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/session"
)

// Options are `jit link slack`'s inputs.
type Options struct {
	IO      *iostreams.IOStreams
	Session func() (*session.Session, error)

	Code   string
	Remove bool
	Output string
}

// NewCmdLink builds `jit link` and its one subcommand, `jit link slack`.
func NewCmdLink(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "link",
		Short:   "Link a chat account (Slack) to your jit login",
		GroupID: "access",
		Args:    cobra.NoArgs,
	}
	cmd.AddCommand(newCmdSlack(f, runF))
	return cmd
}

func newCmdSlack(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Session: f.Session}
	cmd := &cobra.Command{
		Use:   "slack [CODE | --remove]",
		Short: "Link your Slack account to your jit login, so you can request from Slack",
		Long: `Requests made in Slack are made as the person whose jit login linked the Slack account.
To link yours: type /jit link in Slack; it shows you alone a one-time code that works for
a few minutes. Run jit link slack CODE here, logged in as yourself (jit login).

Link only your own Slack account: never run a code someone sent you, or their Slack
account requests as you. A link carries the groups of the login that made it and lasts
30 days (notify.slack.link_max_age); link again to renew it.

With no CODE, list the Slack accounts linked to you. With --remove, unlink them all
(in Slack: /jit unlink).`,
		Example: "  jit link slack K7M2Q-9XW4T\n  jit link slack\n  jit link slack --remove",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Code = args[0]
			}
			if opts.Remove && opts.Code != "" {
				return cmdutil.FlagErrorf("use a CODE or --remove, not both")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Remove, "remove", false, "unlink every Slack account linked to you")
	cmdutil.AddOutputFlag(cmd, &opts.Output, "table", cmdutil.OutputJSON)
	return cmd
}

// Run links, lists or unlinks.
func Run(ctx context.Context, opts *Options) error {
	s, err := opts.Session()
	if err != nil {
		return err
	}
	client, err := s.API()
	if err != nil {
		return err
	}
	var out *api.SlackLinks
	switch {
	case opts.Code != "":
		out, err = client.LinkSlack(ctx, opts.Code)
	case opts.Remove:
		out, err = client.UnlinkSlack(ctx)
	default:
		out, err = client.SlackLinks(ctx)
	}
	if err != nil {
		return err
	}
	return cmdutil.Render(opts.IO.Out, opts.Output, out, func(w io.Writer) error {
		switch {
		case opts.Code != "" && len(out.Links) == 1:
			l := out.Links[0]
			_, err := fmt.Fprintf(w, "Linked Slack user %s (workspace %s) to %s until %s.\nIn Slack, type /jit to request access.\n",
				l.UserID, l.TeamID, l.Principal, l.ExpiresAt.Local().Format("2006-01-02 15:04"))
			return err
		case opts.Remove:
			if out.Removed == 0 {
				_, err := fmt.Fprintln(w, "No Slack account was linked to you.")
				return err
			}
			_, err := fmt.Fprintf(w, "Unlinked %d Slack account(s).\n", out.Removed)
			return err
		case len(out.Links) == 0:
			fmt.Fprintln(opts.IO.ErrOut, "No Slack account is linked to you. To link one: type /jit link in Slack, then run jit link slack CODE.")
			return nil
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "WORKSPACE\tSLACK USER\tREQUESTS AS\tLINKED\tEXPIRES")
		for _, l := range out.Links {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", l.TeamID, l.UserID, l.Principal,
				l.LinkedAt.Local().Format("2006-01-02 15:04"), l.ExpiresAt.Local().Format("2006-01-02 15:04"))
		}
		return tw.Flush()
	})
}
