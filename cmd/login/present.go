package login

import (
	"context"
	"fmt"
	"strings"

	"github.com/jit-access/jit/pkg/apiclient"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/credcache"
	"github.com/jit-access/jit/pkg/session"
)

// presentedSource is the token login presents: --id-token-file,
// --id-token-env, else JIT_ID_TOKEN / JIT_ID_TOKEN_FILE; ok is false when
// none is given (then login runs the device flow).
func presentedSource(opts *Options) (session.TokenSource, bool, error) {
	switch {
	case opts.IDTokenFile != "":
		return session.FileTokenSource(opts.IDTokenFile), true, nil
	case opts.IDTokenEnv != "":
		tok := strings.TrimSpace(opts.Env(opts.IDTokenEnv))
		if tok == "" {
			return nil, false, cmdutil.WithHint(fmt.Errorf("--id-token-env %s: the variable is empty or unset", opts.IDTokenEnv), cmdutil.ExitUsage,
				"export the job's OIDC token in %s first (docs/workloads.md)", opts.IDTokenEnv)
		}
		return func() (string, error) { return tok, nil }, true, nil
	}
	src, err := session.PresentedFromEnv(opts.Env)
	if err != nil {
		return nil, false, nil
	}
	return src, true, nil
}

// presentRun is login with a presented token: the server verifies it
// (whoami); it is then kept in the keyring for later commands, unless the
// keyring is none.
func presentRun(ctx context.Context, opts *Options, server string, src session.TokenSource) error {
	raw, err := src()
	if err != nil {
		return cmdutil.WithHint(err, cmdutil.ExitUsage, "give the file or variable that holds the job's OIDC token")
	}
	tokens, err := session.PresentedTokens(raw)
	if err != nil {
		return cmdutil.WithHint(err, cmdutil.ExitUsage, "present the raw ID token (a JWT), not JSON around it")
	}
	if !tokens.Expiry.After(opts.Now()) {
		return cmdutil.WithHint(fmt.Errorf("the presented token expired at %s", tokens.Expiry.UTC().Format("15:04:05Z")), cmdutil.ExitLoginRequired,
			"fetch a fresh token from the CI system and present it again")
	}
	authed, err := apiclient.New(server, opts.HTTPClient(), func(context.Context) (string, error) { return raw, nil })
	if err != nil {
		return err
	}
	me, err := authed.WhoAmI(ctx)
	if err != nil {
		return fmt.Errorf("the jit server refused the presented token: %w", err)
	}
	cache, err := opts.Cache()
	if err != nil {
		return err
	}
	kept := "not kept (--keyring none): later commands read JIT_ID_TOKEN or JIT_ID_TOKEN_FILE"
	if cache.Backend() != credcache.BackendNone {
		if err := cache.PutTokens(ctx, server, tokens); err != nil {
			return fmt.Errorf("store the token in the keyring: %w", err)
		}
		kept = "kept in the " + cache.Backend() + " keyring until it expires"
	}
	if opts.SaveServer {
		if err := saveServer(opts, server); err != nil {
			return err
		}
	}
	what := ""
	if me.IsWorkload() {
		what = fmt.Sprintf(" (workload of issuer %s)", me.IssuerName)
	}
	fmt.Fprintf(opts.IO.Out, "Logged in to %s as %s%s; the token expires at %s and is %s.\n",
		server, me.ID(), what, tokens.Expiry.UTC().Format("15:04:05Z"), kept)
	return nil
}
