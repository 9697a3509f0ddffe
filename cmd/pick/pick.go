// Package pick is `jit pick`, the interactive picker over the roles you may
// request and the requests waiting for your review; and what `jit` with no
// arguments does: the picker on a terminal, a short hint elsewhere.
package pick

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"github.com/spf13/cobra"

	"github.com/jit-access/jit/cmd/configure"
	"github.com/jit-access/jit/cmd/use"
	"github.com/jit-access/jit/pkg/awsenv"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/console"
	"github.com/jit-access/jit/pkg/credcache"
	"github.com/jit-access/jit/pkg/tui"
)

// NewCmdPick builds `jit pick`.
func NewCmdPick(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "pick",
		Short: "Pick a role to use or request, or a request to review, on an interactive screen",
		Long: `An interactive screen over every role you may request, with its state (active
with the time left, pending, needs approval, auto-approved, break-glass): type to
filter, enter to use a live grant (a shell, exports, the console, the AWS profile)
or to request the role and watch for the decision. Tab switches to the requests
waiting for your review, where a approves and d denies. jit with no arguments on a
terminal opens it too.`,
		GroupID: "access",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !f.IO.CanPrompt() {
				return cmdutil.WithHint(fmt.Errorf("jit pick needs a terminal"), cmdutil.ExitUsage,
					"jit roles, jit request ROLE --reason TEXT, jit requests --pending")
			}
			return Run(cmd.Context(), f)
		},
	}
}

// RunDefault is `jit` with no arguments: the picker on a terminal, else a
// hint and the command list, with nothing drawn.
func RunDefault(cmd *cobra.Command, f *cmdutil.Factory) error {
	if !f.IO.IsStdoutTTY() || !f.IO.CanPrompt() {
		w := f.IO.ErrOut
		fmt.Fprintln(w, "jit: the interactive picker needs a terminal; use a command instead.")
		fmt.Fprintln(w)
		cmd.SetOut(w)
		return cmd.Usage()
	}
	return Run(cmd.Context(), f)
}

// Run opens the picker and then runs the action chosen in it.
func Run(ctx context.Context, f *cmdutil.Factory) error {
	s, err := f.Session()
	if err != nil {
		return err
	}
	r := lipgloss.NewRenderer(f.IO.ErrOut)
	if !f.IO.ColorEnabled() {
		r.SetColorProfile(termenv.Ascii)
	}
	opts := tui.Options{
		Backend:  &tui.SessionBackend{Session: s},
		Now:      f.Now,
		Renderer: r,
		MRU:      &tui.MRU{Path: mruPath(s.Server)},
		Tick:     time.Second,
	}
	res, err := tui.Run(ctx, opts, f.IO.In, f.IO.ErrOut)
	if err != nil {
		return err
	}
	if res.PendingID != "" {
		fmt.Fprintf(f.IO.ErrOut, "Request %s is still pending.\n  resume:   jit wait %s\n  withdraw: jit cancel %s\n", res.PendingID, res.PendingID, res.PendingID)
		return &cmdutil.StatusError{Code: cmdutil.ExitPending}
	}
	return runAction(ctx, f, res)
}

// mruPath is the recently used roles file of a server, under the user's
// cache directory ("" when there is none: the picker then remembers nothing).
func mruPath(server string) string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "jit", "recent-roles-"+credcache.ServerHash(server))
}

func runAction(ctx context.Context, f *cmdutil.Factory, res tui.Result) error {
	opts := &use.Options{IO: f.IO, Env: f.Env, Environ: os.Environ, Session: f.Session,
		HTTPClient: f.HTTPClient, Browser: f.Browser, Role: res.Role}
	switch res.Action {
	case tui.ActionExec:
		return use.ExecRun(ctx, opts)
	case tui.ActionExports:
		opts.Shell = awsenv.DetectShell(f.Env)
		return use.AssumeRun(ctx, opts)
	case tui.ActionConsole:
		opts.FederationURL, opts.Destination = console.DefaultFederationURL, console.DefaultDestination
		return use.ConsoleRun(ctx, opts)
	case tui.ActionProfile:
		return configure.Run(ctx, &configure.Options{IO: f.IO, Env: f.Env, Session: f.Session, Executable: f.Executable})
	}
	return nil
}
