// Package login is `jit login` (the OIDC device authorization flow, RFC
// 8628) and `jit logout` (wipe every item jit keeps in the keyring).
package login

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/jit-access/jit/pkg/apiclient"
	"github.com/jit-access/jit/pkg/browser"
	"github.com/jit-access/jit/pkg/cliconfig"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/credcache"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/oidcclient"
	"github.com/jit-access/jit/pkg/secureurl"
	"github.com/jit-access/jit/pkg/session"
)

// Options are `jit login`'s inputs.
type Options struct {
	IO         *iostreams.IOStreams
	Env        func(string) string
	Now        func() time.Time
	HTTPClient func() *http.Client
	Browser    func() browser.Opener
	Cache      func() (*credcache.Cache, error)
	Config     func() (*cliconfig.Config, error)
	ConfigPath func() (string, error)
	Server     func() (string, error)

	NoBrowser bool
	// SaveServer records the server in the config file (when --server was given).
	SaveServer bool
	// IDTokenFile and IDTokenEnv present a token the caller already holds
	// (a CI job's workload token) instead of the device flow.
	IDTokenFile string
	IDTokenEnv  string
}

// NewCmdLogin builds `jit login`.
func NewCmdLogin(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Env: f.Env, Now: f.Now, HTTPClient: f.HTTPClient, Browser: f.Browser,
		Cache: f.Cache, Config: f.Config, ConfigPath: f.ConfigPath, Server: f.ServerURL}
	cmd := &cobra.Command{
		Use:   "login [--server URL]",
		Short: "Sign in with your identity provider (device flow)",
		Long: `Sign in with your identity provider through the OAuth device authorization flow
(RFC 8628). jit opens the provider's page in your browser; with no display, over
SSH, in CI or with --no-browser it prints the URL and the code instead.

The tokens are kept in your OS keyring and refreshed silently. --server is
remembered in the config file for later commands.

In CI, present the job's OIDC token instead (GitHub Actions, GitLab CI, a
Kubernetes service account): --id-token-file F, --id-token-env NAME, or the
JIT_ID_TOKEN / JIT_ID_TOKEN_FILE variables. The server verifies it and says
who you are; no browser, no device code. With --keyring none nothing is
written anywhere: later commands read the token from JIT_ID_TOKEN or
JIT_ID_TOKEN_FILE (docs/workloads.md).`,
		Example: "  jit login --server https://jit.example.com\n  jit login --no-browser\n  jit --keyring none login --id-token-file \"$RUNNER_TEMP/jit-token\"",
		GroupID: "access",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.SaveServer = f.Flags.Server != ""
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.NoBrowser, "no-browser", false, "print the URL and code instead of opening a browser")
	cmd.Flags().StringVar(&opts.IDTokenFile, "id-token-file", "", "present the ID token in this file (a CI job's workload token) instead of signing in")
	cmd.Flags().StringVar(&opts.IDTokenEnv, "id-token-env", "", "present the ID token in this environment variable instead of signing in")
	cmd.MarkFlagsMutuallyExclusive("id-token-file", "id-token-env", "no-browser")
	return cmd
}

// Run performs the device flow and stores the tokens.
func Run(ctx context.Context, opts *Options) error {
	server, err := opts.Server()
	if err != nil {
		return err
	}
	hc := opts.HTTPClient()
	client, err := apiclient.New(server, hc, nil)
	if err != nil {
		return cmdutil.WithHint(err, cmdutil.ExitUsage, "jit login --server https://jit.example.com")
	}
	if src, ok, err := presentedSource(opts); err != nil || ok {
		if err != nil {
			return err
		}
		return presentRun(ctx, opts, server, src)
	}
	d, err := client.Discovery(ctx)
	if err != nil {
		return err
	}
	cache, err := opts.Cache()
	if err != nil {
		return err
	}
	oc := &oidcclient.Client{Issuer: d.Issuer, ClientID: d.ClientID, Scopes: d.Scopes, HTTPClient: hc, Now: opts.Now}
	w := opts.IO.ErrOut
	headless := opts.NoBrowser || browser.Headless(opts.Env)
	tokens, err := oc.Login(ctx, func(dc oidcclient.DeviceCode) error {
		target := dc.VerificationURIComplete
		if target == "" {
			target = dc.VerificationURI
		}
		fmt.Fprintf(w, "To sign in, open %s\nand check that it shows the code: %s\n", target, dc.UserCode)
		if !headless {
			if err := opts.Browser().Open(target); err != nil {
				fmt.Fprintf(w, "(could not open a browser: %v; open the URL yourself)\n", err)
			}
		}
		fmt.Fprintf(w, "Waiting for you to sign in (the code expires at %s)...\n", dc.Expiry.Local().Format("15:04"))
		return nil
	})
	if err != nil {
		switch {
		case errors.Is(err, oidcclient.ErrAccessDenied):
			return cmdutil.WithHint(err, cmdutil.ExitDenied, "run jit login again and choose Allow")
		case errors.Is(err, oidcclient.ErrExpired):
			return cmdutil.WithHint(err, cmdutil.ExitLoginRequired, "run jit login again and finish within the time shown")
		case errors.As(err, new(*secureurl.InsecureError)):
			return cmdutil.WithHint(err, cmdutil.ExitError, "the jit server at %s names this issuer; ask its operator to set oidc.issuer to an https:// URL", server)
		}
		return err
	}
	if err := cache.PutTokens(ctx, server, session.FromOIDC(tokens, d.Issuer, d.ClientID)); err != nil {
		return fmt.Errorf("store the tokens in the keyring: %w", err)
	}
	if opts.SaveServer {
		if err := saveServer(opts, server); err != nil {
			return err
		}
	}
	authed, err := apiclient.New(server, hc, func(context.Context) (string, error) { return tokens.IDToken, nil })
	if err != nil {
		return err
	}
	me, err := authed.WhoAmI(ctx)
	if err != nil {
		return fmt.Errorf("signed in at the identity provider, but the jit server refused the token: %w", err)
	}
	groups := ""
	if len(me.Groups) > 0 {
		groups = " (groups: " + strings.Join(me.Groups, ", ") + ")"
	}
	fmt.Fprintf(opts.IO.Out, "Logged in to %s as %s%s.\n", server, me.ID(), groups)
	return nil
}

func saveServer(opts *Options, server string) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	if cfg.Server == server {
		return nil
	}
	path, err := opts.ConfigPath()
	if err != nil {
		return err
	}
	next := *cfg
	next.Server = server
	if err := cliconfig.Save(path, &next); err != nil {
		return fmt.Errorf("remember the server in %s: %w", path, err)
	}
	return nil
}

// LogoutOptions are `jit logout`'s inputs.
type LogoutOptions struct {
	IO    *iostreams.IOStreams
	Cache func() (*credcache.Cache, error)
}

// NewCmdLogout builds `jit logout`.
func NewCmdLogout(f *cmdutil.Factory, runF func(context.Context, *LogoutOptions) error) *cobra.Command {
	opts := &LogoutOptions{IO: f.IO, Cache: f.Cache}
	return &cobra.Command{
		Use:     "logout",
		Short:   "Wipe every token and credential jit keeps in the keyring",
		GroupID: "access",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return LogoutRun(cmd.Context(), opts)
		},
	}
}

// LogoutRun wipes every item jit keeps in the keyring, for every server.
func LogoutRun(ctx context.Context, opts *LogoutOptions) error {
	cache, err := opts.Cache()
	if err != nil {
		return err
	}
	n, err := cache.WipeAll(ctx)
	if err != nil {
		return fmt.Errorf("wipe the keyring (%d item(s) removed before the error): %w", n, err)
	}
	fmt.Fprintf(opts.IO.Out, "Removed %d item(s) from the %s keyring.\n", n, cache.Backend())
	return nil
}
