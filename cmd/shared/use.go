package shared

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/awsenv"
	"github.com/jit-access/jit/pkg/browser"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/console"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/session"
)

// UseOptions are the inputs of exec, assume and console.
type UseOptions struct {
	IO         *iostreams.IOStreams
	Env        func(string) string
	Environ    func() []string
	Session    func() (*session.Session, error)
	HTTPClient func() *http.Client
	Browser    func() browser.Opener

	Role    string
	Region  string
	Command []string
	Shell   string
	// EnvCredentials puts static keys in the child's environment (the old
	// behaviour) instead of serving them from a local endpoint.
	EnvCredentials bool
	// Console
	PrintURL      bool
	FederationURL string
	Destination   string
}

func credentials(ctx context.Context, opts *UseOptions) (region string, c api.Credentials, err error) {
	s, err := opts.Session()
	if err != nil {
		return "", api.Credentials{}, err
	}
	cr, err := s.Credentials(ctx, opts.Role)
	if err != nil {
		return "", api.Credentials{}, err
	}
	region = opts.Region
	if region == "" {
		region = cr.Region
	}
	return region, cr, nil
}

// ExecRun runs the command and returns its exit status.
func ExecRun(ctx context.Context, opts *UseOptions) error {
	if cur := opts.Env(awsenv.RoleVar); cur != "" {
		return cmdutil.WithHint(fmt.Errorf("already inside jit exec for %s", cur), cmdutil.ExitUsage,
			"exit that shell first; nesting would mix two grants' credentials")
	}
	region, c, err := credentials(ctx, opts)
	if err != nil {
		return err
	}
	argv := opts.Command
	if len(argv) == 0 {
		sh := opts.Env("SHELL")
		if sh == "" {
			sh = "/bin/sh"
		}
		argv = []string{sh}
		fmt.Fprintf(opts.IO.ErrOut, "Starting %s with %s until %s; exit to drop it.\n", sh, opts.Role, c.Expiration.Local().Format("15:04"))
	}
	child := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if opts.EnvCredentials {
		child.Env = awsenv.Environ(opts.Environ(), c, region)
	} else {
		ep, err := startEndpoint(ctx, opts, c)
		if err != nil {
			return err
		}
		defer ep.close()
		child.Env = awsenv.EndpointEnviron(opts.Environ(), ep.srv.Env(), opts.Role, region)
	}
	child.Stdin, child.Stdout, child.Stderr = opts.IO.In, opts.IO.Out, opts.IO.ErrOut
	child.Cancel = func() error { return child.Process.Signal(os.Interrupt) }
	child.WaitDelay = 5 * time.Second
	err = child.Run()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return &cmdutil.StatusError{Code: exitErr.ExitCode()}
	}
	if err != nil {
		return fmt.Errorf("run %s: %w", argv[0], err)
	}
	return nil
}

// AssumeRun prints the export statements on stdout.
func AssumeRun(ctx context.Context, opts *UseOptions) error {
	region, c, err := credentials(ctx, opts)
	if err != nil {
		return err
	}
	out, err := awsenv.Exports(opts.Shell, c, region)
	if err != nil {
		return cmdutil.FlagErrorf("%v", err)
	}
	if opts.IO.IsStdoutTTY() {
		fmt.Fprintf(opts.IO.ErrOut, "# These lines hold secrets; use: eval \"$(jit assume %s)\"\n", opts.Role)
	}
	_, err = fmt.Fprint(opts.IO.Out, out)
	return err
}

// ConsoleRun signs in and opens or prints the URL.
func ConsoleRun(ctx context.Context, opts *UseOptions) error {
	_, c, err := credentials(ctx, opts)
	if err != nil {
		return err
	}
	signer := &console.Signer{FederationURL: opts.FederationURL, HTTPClient: opts.HTTPClient()}
	u, err := signer.SignInURL(ctx, c, opts.Destination)
	if err != nil {
		return err
	}
	if opts.PrintURL || browser.Headless(opts.Env) {
		_, err := fmt.Fprintln(opts.IO.Out, u)
		return err
	}
	if err := opts.Browser().Open(u); err != nil {
		return cmdutil.WithHint(err, cmdutil.ExitError, "jit console %s --url", opts.Role)
	}
	fmt.Fprintf(opts.IO.ErrOut, "Opened the AWS console as %s.\n", opts.Role)
	return nil
}
