// Package credpath is the credential_process path on its own: from the
// command line and environment to the role's credentials JSON on stdout, and
// from an error to the message and exit code jit uses. Both the slim
// `jit-credential-process` binary and `jit credential-process` run it, so an
// old profile and a new one behave the same.
//
// It imports only what that path needs: the CLI config file, the keyring
// cache and its lock, the credential_process contract and the session (whose
// approval client and OIDC refresh run only on a cache miss). It must never
// import cobra, the server, the stores, the IdP sandbox, the TUI or an AWS SDK
// service package: every package linked here runs its init on every call an
// AWS SDK makes near a grant's end (TestCredentialPathStaysSlim).
package credpath

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/approval"
	"github.com/jit-access/jit/pkg/cliconfig"
	"github.com/jit-access/jit/pkg/credcache"
	"github.com/jit-access/jit/pkg/credprocess"
	"github.com/jit-access/jit/pkg/session"
)

// BinaryName is the slim binary shipped beside jit.
const BinaryName = "jit-credential-process"

// Exit codes: the same numbers as cmdutil's documented table (a test keeps
// them equal), repeated here so this path does not link cobra.
const (
	ExitOK            = 0
	ExitError         = 1
	ExitUsage         = 3
	ExitLoginRequired = 4
	ExitDenied        = 5
	ExitNoGrant       = 6
	ExitUnreachable   = 9
)

// ErrNoServer: no --server, no JIT_SERVER and none in the config file.
var ErrNoServer = errors.New("no jit server configured")

// Hinted is an error with the next step for a person and an exit code.
type Hinted struct {
	Err  error
	Hint string
	Code int
}

func (e *Hinted) Error() string { return e.Err.Error() }
func (e *Hinted) Unwrap() error { return e.Err }

// Settings are where the path finds its server and keyring: flags first,
// then environment, then the config file.
type Settings struct {
	Getenv func(string) string
	Now    func() time.Time
	// Server and Keyring are the --server and --keyring flags ("" = unset).
	Server  string
	Keyring string
	// Passphrase answers the file keyring's passphrase prompt (nil: only
	// JIT_FILE_PASSPHRASE, never a prompt).
	Passphrase func(prompt string) (string, error)
	HTTPClient *http.Client
}

// LoadConfig reads the CLI config file named by the environment.
func LoadConfig(getenv func(string) string) (*cliconfig.Config, error) {
	path, err := cliconfig.Path(getenv)
	if err != nil {
		return nil, err
	}
	return cliconfig.Load(path)
}

// ServerURL resolves the server: flag, then JIT_SERVER, then the config.
func ServerURL(flagValue string, getenv func(string) string, cfg *cliconfig.Config) (string, error) {
	switch {
	case flagValue != "":
		return strings.TrimRight(flagValue, "/"), nil
	case getenv("JIT_SERVER") != "":
		return strings.TrimRight(getenv("JIT_SERVER"), "/"), nil
	case cfg != nil && cfg.Server != "":
		return strings.TrimRight(cfg.Server, "/"), nil
	}
	return "", ErrNoServer
}

// OpenCache opens the keyring backend picked by flag, JIT_KEYRING_BACKEND or
// the config (else the OS default).
func OpenCache(s Settings, cfg *cliconfig.Config) (*credcache.Cache, error) {
	backend := s.Keyring
	if backend == "" {
		backend = s.Getenv("JIT_KEYRING_BACKEND")
	}
	if backend == "" {
		backend = cfg.Keyring
	}
	dir := s.Getenv("JIT_KEYRING_FILE_DIR")
	if dir == "" {
		dir = cfg.KeyringFileDir
	}
	pass := s.Passphrase
	if pass == nil {
		pass = func(string) (string, error) {
			if p := s.Getenv("JIT_FILE_PASSPHRASE"); p != "" {
				return p, nil
			}
			return "", credcache.ErrNoPassphrase
		}
	}
	c, err := credcache.Open(credcache.Config{
		Backend: backend, FileDir: dir, FilePassphrase: pass, CallTimeout: cfg.KeyringTimeout, Now: s.Now,
	})
	if err != nil {
		return nil, &Hinted{Err: fmt.Errorf("open keyring: %w", err), Code: ExitError,
			Hint: "pick a backend with --keyring or JIT_KEYRING_BACKEND (keyctl, secret-service, file, pass …); see jit doctor"}
	}
	return c, nil
}

// NewSession is the session on server with cache: silent OIDC refresh and the
// cross-process lock that makes a burst of callers vend once.
func NewSession(server string, cache *credcache.Cache, hc *http.Client, now func() time.Time) *session.Session {
	prefix := credcache.ServerHash(server) + "-"
	return &session.Session{
		Server:     server,
		Cache:      cache,
		HTTPClient: hc,
		Refresh:    session.OIDCRefresher(hc, now),
		Lock: func(ctx context.Context, name string, timeout time.Duration) (func(), error) {
			return credcache.Acquire(ctx, prefix+name, timeout)
		},
		Now: now,
	}
}

// Print writes role's credentials as the credential_process document.
func Print(ctx context.Context, s *session.Session, role string, w io.Writer) error {
	c, err := s.Credentials(ctx, role)
	if err != nil {
		return err
	}
	return credprocess.Write(w, credprocess.FromCredentials(c))
}

// Main is the slim binary: `jit-credential-process --role ROLE [--server URL]
// [--keyring NAME] [--timeout D]`. It returns the exit code.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(BinaryName, flag.ContinueOnError)
	fs.SetOutput(stderr)
	role := fs.String("role", "", "the jit role")
	server := fs.String("server", "", "jit server URL (default: $JIT_SERVER, then the config file)")
	keyring := fs.String("keyring", "", "keyring backend (default: $JIT_KEYRING_BACKEND, config, OS default)")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after this long")
	fs.Bool("debug", false, "accepted for compatibility with jit credential-process")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if *role == "" || fs.NArg() > 0 {
		fmt.Fprintf(stderr, "jit: --role is required and nothing else\nTry: %s --role ROLE\n", BinaryName)
		return ExitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	st := Settings{Getenv: getenv, Now: time.Now, Server: *server, Keyring: *keyring,
		HTTPClient: &http.Client{Timeout: 60 * time.Second, Transport: http.DefaultTransport}}
	return Report(Run(ctx, st, *role, stdout), stderr)
}

// Run resolves the settings, opens the keyring and prints the credentials.
func Run(ctx context.Context, st Settings, role string, stdout io.Writer) error {
	cfg, err := LoadConfig(st.Getenv)
	if err != nil {
		return err
	}
	server, err := ServerURL(st.Server, st.Getenv, cfg)
	if err != nil {
		return noServer(err)
	}
	cache, err := OpenCache(st, cfg)
	if err != nil {
		return err
	}
	return Print(ctx, NewSession(server, cache, st.HTTPClient, st.Now), role, stdout)
}

func noServer(err error) error {
	if errors.Is(err, ErrNoServer) {
		return &Hinted{Err: err, Code: ExitLoginRequired, Hint: "run: jit login --server https://jit.example.com (or set JIT_SERVER)"}
	}
	return err
}

// Report writes err for a person the way jit does and returns the exit code.
// The credential_process contract wants a message on stderr and a non-zero
// exit; never a secret (no error here carries one).
func Report(err error, w io.Writer) int {
	if err == nil {
		return ExitOK
	}
	var (
		hint    *Hinted
		server  *approval.ServerError
		unreach *approval.UnreachableError
		noGrant *session.NoGrantError
	)
	switch {
	case errors.As(err, &hint):
		fmt.Fprintf(w, "jit: %s\nTry: %s\n", hint.Err, hint.Hint)
		return hint.Code
	case errors.As(err, &noGrant):
		fmt.Fprintf(w, "jit: %s\nTry: jit request %s --reason \"...\" --for 1h\n", noGrant, noGrant.Role)
		return ExitNoGrant
	case errors.Is(err, session.ErrLoginRequired):
		fmt.Fprintf(w, "jit: %s\nTry: jit login\n", err)
		return ExitLoginRequired
	case errors.As(err, &unreach):
		fmt.Fprintf(w, "jit: %s\nTry: check the URL and your network; jit doctor\n", unreach)
		return ExitUnreachable
	case errors.As(err, &server):
		fmt.Fprintf(w, "jit: %s\n", server.Body.Message)
		if server.Body.Hint != "" {
			fmt.Fprintf(w, "Try: %s\n", server.Body.Hint)
		}
		switch server.Body.Code {
		case api.CodeUnauthenticated:
			return ExitLoginRequired
		case api.CodeForbidden:
			return ExitDenied
		}
		return ExitError
	}
	fmt.Fprintf(w, "jit: %s\n", err)
	return ExitError
}
