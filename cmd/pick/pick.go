// Package pick is `jit pick`, the interactive picker over the roles you may
// request and the requests waiting for your review; and what `jit` with no
// arguments does: the picker on a terminal, a short hint elsewhere.
package pick

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"github.com/spf13/cobra"

	"github.com/jit-access/jit/cmd/shared"
	"github.com/jit-access/jit/pkg/awsenv"
	"github.com/jit-access/jit/pkg/browser"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/console"
	"github.com/jit-access/jit/pkg/credcache"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/session"
	"github.com/jit-access/jit/pkg/tui"
)

// Options are `jit pick`'s inputs.
type Options struct {
	IO         *iostreams.IOStreams
	Env        func(string) string
	Environ    func() []string
	Now        func() time.Time
	Session    func() (*session.Session, error)
	HTTPClient func() *http.Client
	Browser    func() browser.Opener
	Executable func() (string, error)
	// Screen runs the picker on a terminal (tui.Run).
	Screen func(ctx context.Context, opts tui.Options, in io.Reader, out io.Writer) (tui.Result, error)
	// MRUPath is the recently used roles file of a server ("": none kept).
	MRUPath func(server string) string
}

func newOptions(f *cmdutil.Factory) *Options {
	return &Options{IO: f.IO, Env: f.Env, Environ: os.Environ, Now: f.Now, Session: f.Session, HTTPClient: f.HTTPClient,
		Browser: f.Browser, Executable: f.Executable, Screen: tui.Run, MRUPath: mruPath}
}

// NewCmdPick builds `jit pick`.
func NewCmdPick(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := newOptions(f)
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
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
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
	return pick(cmd.Context(), newOptions(f))
}

// Run opens the picker (refused without a terminal) and then runs the
// action chosen in it.
func Run(ctx context.Context, opts *Options) error {
	if !opts.IO.CanPrompt() {
		return cmdutil.WithHint(fmt.Errorf("jit pick needs a terminal"), cmdutil.ExitUsage,
			"jit roles, jit request ROLE --reason TEXT, jit requests --pending")
	}
	return pick(ctx, opts)
}

func pick(ctx context.Context, opts *Options) error {
	s, err := opts.Session()
	if err != nil {
		return err
	}
	r := lipgloss.NewRenderer(opts.IO.ErrOut)
	if !opts.IO.ColorEnabled() {
		r.SetColorProfile(termenv.Ascii)
	}
	to := tui.Options{
		Backend:  &tui.SessionBackend{Session: s},
		Now:      opts.Now,
		Renderer: r,
		MRU:      &tui.MRU{Path: opts.MRUPath(s.Server)},
		Tick:     time.Second,
	}
	res, err := opts.Screen(ctx, to, opts.IO.In, opts.IO.ErrOut)
	if err != nil {
		return err
	}
	if res.PendingID != "" {
		fmt.Fprintf(opts.IO.ErrOut, "Request %s is still pending.\n  resume:   jit wait %s\n  withdraw: jit cancel %s\n", res.PendingID, res.PendingID, res.PendingID)
		return &cmdutil.StatusError{Code: cmdutil.ExitPending}
	}
	return runAction(ctx, opts, res)
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

func runAction(ctx context.Context, opts *Options, res tui.Result) error {
	uo := &shared.UseOptions{IO: opts.IO, Env: opts.Env, Environ: opts.Environ, Session: opts.Session,
		HTTPClient: opts.HTTPClient, Browser: opts.Browser, Role: res.Role}
	switch res.Action {
	case tui.ActionExec:
		return shared.ExecRun(ctx, uo)
	case tui.ActionExports:
		uo.Shell = awsenv.DetectShell(opts.Env)
		return shared.AssumeRun(ctx, uo)
	case tui.ActionConsole:
		uo.FederationURL, uo.Destination = console.DefaultFederationURL, console.DefaultDestination
		return shared.ConsoleRun(ctx, uo)
	case tui.ActionProfile:
		return shared.ConfigureRun(ctx, &shared.ConfigureOptions{IO: opts.IO, Env: opts.Env, Session: opts.Session, Executable: opts.Executable})
	}
	return nil
}
