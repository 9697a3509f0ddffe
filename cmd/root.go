// Package cmd assembles jit's command tree and is the one place where errors
// become exit codes.
package cmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/jit-access/jit/cmd/audit"
	"github.com/jit-access/jit/cmd/configure"
	"github.com/jit-access/jit/cmd/credentialprocess"
	"github.com/jit-access/jit/cmd/decide"
	"github.com/jit-access/jit/cmd/dev"
	"github.com/jit-access/jit/cmd/doctor"
	"github.com/jit-access/jit/cmd/link"
	"github.com/jit-access/jit/cmd/login"
	"github.com/jit-access/jit/cmd/mcp"
	"github.com/jit-access/jit/cmd/pick"
	"github.com/jit-access/jit/cmd/report"
	"github.com/jit-access/jit/cmd/request"
	"github.com/jit-access/jit/cmd/requests"
	"github.com/jit-access/jit/cmd/review"
	"github.com/jit-access/jit/cmd/server"
	"github.com/jit-access/jit/cmd/use"
	"github.com/jit-access/jit/cmd/version"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/apiclient"
	jitaudit "github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/session"
	"github.com/jit-access/jit/pkg/store/storeopen"
)

// Main runs jit with args and returns the process exit code.
func Main(ctx context.Context, args []string) int {
	f := cmdutil.New(iostreams.System())
	root := NewRootCmd(f)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return cmdutil.ExitOK
	}
	return printError(ctx, f, err)
}

// NewRootCmd builds the whole command tree on f.
func NewRootCmd(f *cmdutil.Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "jit",
		Short: "Just-in-time access to AWS: request, approve, use and expire short grants",
		Long: `jit replaces standing AWS permissions with short grants that are requested,
approved, vended, expired and wiped on their own, every step audited.

Developers: jit login, jit request ROLE --reason TEXT --for 1h, then use the role
with aws --profile ROLE (jit configure aws), jit exec ROLE -- CMD, or jit console ROLE.
Approvers: jit requests --pending, jit approve ID, jit deny ID --reason TEXT.
Operators: jit server --config jit.yaml; try it all locally with jit dev.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       "",
	}
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	pf := root.PersistentFlags()
	pf.StringVar(&f.Flags.Server, "server", "", "jit server URL (default: $JIT_SERVER, then the config file)")
	pf.StringVar(&f.Flags.Keyring, "keyring", "", "keyring backend: keyctl, secret-service, file, pass, kwallet, keychain, wincred, or none (keep nothing: CI) (default: $JIT_KEYRING_BACKEND, config, OS default)")
	pf.BoolVar(&f.Flags.Debug, "debug", false, "log debug details to stderr (never secrets)")
	root.AddGroup(
		&cobra.Group{ID: "access", Title: "Getting access:"},
		&cobra.Group{ID: "use", Title: "Using a grant:"},
		&cobra.Group{ID: "review", Title: "Approving:"},
		&cobra.Group{ID: "admin", Title: "Running jit:"},
	)
	for _, c := range commands(f) {
		root.AddCommand(c)
	}
	// `jit` alone opens the picker on a terminal, else prints a hint.
	root.RunE = func(c *cobra.Command, _ []string) error { return pick.RunDefault(c, f) }
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &cmdutil.FlagError{Err: err} })
	return root
}

func commands(f *cmdutil.Factory) []*cobra.Command {
	cmds := []*cobra.Command{
		login.NewCmdLogin(f, nil),
		login.NewCmdLogout(f, nil),
		requests.NewCmdRoles(f, nil),
		request.NewCmdRequest(f, nil),
		request.NewCmdWait(f, nil),
		requests.NewCmdStatus(f, nil),
		requests.NewCmdRequests(f, nil),
		requests.NewCmdShow(f, nil),
		review.NewCmdReview(f, nil),
		link.NewCmdLink(f, nil),
		report.NewCmdReport(f, nil),
		credentialprocess.NewCmdCredentialProcess(f, nil),
		use.NewCmdExec(f, nil),
		use.NewCmdAssume(f, nil),
		use.NewCmdConsole(f, nil),
		configure.NewCmdConfigure(f, nil),
		server.NewCmdServer(f, nil),
		dev.NewCmdDev(f, nil),
		audit.NewCmdAudit(f, auditStoreReader(f)),
		doctor.NewCmdDoctor(f, nil),
		pick.NewCmdPick(f, nil),
		mcp.NewCmdMCP(f, nil),
		version.NewCmdVersion(f, nil),
	}
	return append(cmds, decide.NewCmds(f, nil)...)
}

// printError writes err for a person, with its hint, and picks the exit code.
func printError(ctx context.Context, f *cmdutil.Factory, err error) int {
	w := f.IO.ErrOut
	var (
		hint    *cmdutil.HintError
		flag    *cmdutil.FlagError
		status  *cmdutil.StatusError
		server  *apiclient.ServerError
		unreach *apiclient.UnreachableError
		noGrant *session.NoGrantError
	)
	switch {
	case errors.Is(err, cmdutil.ErrSilent):
		return cmdutil.ExitError
	case errors.As(err, &status):
		return status.Code
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		fmt.Fprintln(w, "interrupted")
		return cmdutil.ExitInterrupted
	case errors.As(err, &hint):
		fmt.Fprintf(w, "jit: %s\nTry: %s\n", hint.Err, hint.Hint)
		if hint.Code != 0 {
			return hint.Code
		}
		return cmdutil.ExitError
	case errors.As(err, &flag):
		fmt.Fprintf(w, "jit: %s\nSee: jit COMMAND --help\n", flag.Err)
		return cmdutil.ExitUsage
	case errors.As(err, &noGrant):
		fmt.Fprintf(w, "jit: %s\nTry: jit request %s --reason \"...\" --for 1h\n", noGrant, noGrant.Role)
		return cmdutil.ExitNoGrant
	case errors.Is(err, session.ErrLoginRequired):
		fmt.Fprintf(w, "jit: %s\nTry: jit login\n", err)
		return cmdutil.ExitLoginRequired
	case errors.As(err, &unreach):
		fmt.Fprintf(w, "jit: %s\nTry: check the URL and your network; jit doctor\n", unreach)
		return cmdutil.ExitUnreachable
	case errors.As(err, &server):
		fmt.Fprintf(w, "jit: %s\n", server.Body.Message)
		if server.Body.Hint != "" {
			fmt.Fprintf(w, "Try: %s\n", server.Body.Hint)
		}
		switch server.Body.Code {
		case api.CodeUnauthenticated:
			return cmdutil.ExitLoginRequired
		case api.CodeForbidden:
			return cmdutil.ExitDenied
		}
		return cmdutil.ExitError
	}
	fmt.Fprintf(w, "jit: %s\n", err)
	return cmdutil.ExitError
}

// auditStoreReader serves `jit audit verify --store`: the store is linked
// here, in the binary, and never into cmd/audit.
func auditStoreReader(f *cmdutil.Factory) audit.StoreReader {
	return func(ctx context.Context, dsn string, each func(api.AuditEvent) bool) (jitaudit.Checkpoint, error) {
		return storeopen.ReadAudit(ctx, dsn, f.Logger(), each)
	}
}
