// Package credpath is the slim credential_process: from the command line and
// environment to the role's cached credentials as credential_process JSON on
// stdout. It serves cache hits itself and hands every miss (nothing cached,
// expired, due for a re-vend, unreadable) to the full `jit credential-process`
// beside it, which takes the lock, refreshes the login and re-vends — so the
// approval client, the OIDC refresh and net/http are linked only there.
//
// It reads the keyring with pkg/keyread, not the keyring library, whose
// D-Bus backends connect to the session bus in package init. It must never
// import the keyring library, cobra, net/http, the session, the server, the stores,
// the IdP sandbox, the TUI or an AWS SDK service package: every package
// linked here runs its init on every call an AWS SDK makes near a grant's end
// (TestCredentialPathStaysSlim).
package credpath

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/jit-access/jit/pkg/cacheitem"
	"github.com/jit-access/jit/pkg/cliconfig"
	"github.com/jit-access/jit/pkg/credprocess"
	"github.com/jit-access/jit/pkg/exitcode"
	"github.com/jit-access/jit/pkg/freshness"
	"github.com/jit-access/jit/pkg/keyread"
)

// BinaryName is the slim binary shipped beside jit.
const BinaryName = "jit-credential-process"

// ErrNoServer: no --server, no JIT_SERVER and none in the config file.
var ErrNoServer = errors.New("no jit server configured")

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

// KnownBackends are the keyring backend names --keyring accepts ("none"
// keeps nothing); credcache opens them.
var KnownBackends = []string{"keyctl", "secret-service", "file", "pass", "kwallet", "keychain", "wincred", "none"}

// Keyring is the backend chosen for this call and how to reach it.
type Keyring struct {
	// Backend is a backend name, or "" for the OS default.
	Backend string
	// FileDir is the file backend's directory ("" = its default).
	FileDir string
	// Passphrase answers the file backend's passphrase prompt.
	Passphrase func(prompt string) (string, error)
	// Timeout bounds every keyring call (0 = the default).
	Timeout time.Duration
}

// KeyringHint is the next step when the keyring cannot be opened.
const KeyringHint = "pick a backend with --keyring or JIT_KEYRING_BACKEND (keyctl, secret-service, file, pass …); see jit doctor"

// ErrNoPassphrase: the file keyring needs JIT_FILE_PASSPHRASE here.
var ErrNoPassphrase = keyread.ErrNoPassphrase

// ChooseKeyring picks the keyring backend by flag, JIT_KEYRING_BACKEND or
// the config (else the OS default). The slim path reads it (pkg/keyread);
// jit's Factory opens the same choice with pkg/credcache.
func ChooseKeyring(s Settings, cfg *cliconfig.Config) (Keyring, error) {
	backend := s.Keyring
	if backend == "" {
		backend = s.Getenv("JIT_KEYRING_BACKEND")
	}
	if backend == "" {
		backend = cfg.Keyring
	}
	if backend != "" && !slices.Contains(KnownBackends, backend) {
		return Keyring{}, &exitcode.HintError{Err: fmt.Errorf("open keyring: unknown keyring backend %q (want one of %s)", backend, strings.Join(KnownBackends, ", ")),
			Code: exitcode.Error, Hint: KeyringHint}
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
			return "", ErrNoPassphrase
		}
	}
	return Keyring{Backend: backend, FileDir: dir, Passphrase: pass, Timeout: cfg.KeyringTimeout}, nil
}

// Delegate runs the full `jit credential-process` with args (this call's own
// flags) and returns its exit code; on unix it replaces this process.
type Delegate func(args []string) int

// Main is the slim binary: `jit-credential-process --role ROLE [--server URL]
// [--keyring NAME] [--timeout D]`. It returns the exit code.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, miss Delegate) int {
	fs := flag.NewFlagSet(BinaryName, flag.ContinueOnError)
	fs.SetOutput(stderr)
	role := fs.String("role", "", "the jit role")
	server := fs.String("server", "", "jit server URL (default: $JIT_SERVER, then the config file)")
	keyring := fs.String("keyring", "", "keyring backend (default: $JIT_KEYRING_BACKEND, config, OS default)")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after this long")
	fs.Bool("debug", false, "passed on to jit credential-process on a cache miss")
	if err := fs.Parse(args); err != nil {
		return exitcode.Usage
	}
	if *role == "" || fs.NArg() > 0 {
		fmt.Fprintf(stderr, "jit: --role is required and nothing else\nTry: %s --role ROLE\n", BinaryName)
		return exitcode.Usage
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	st := Settings{Getenv: getenv, Now: time.Now, Server: *server, Keyring: *keyring}
	hit, err := Cached(ctx, st, *role, stdout)
	switch {
	case err != nil:
		return Report(err, stderr)
	case hit:
		return exitcode.OK
	}
	return miss(args)
}

// Cached prints role's credentials when the keyring holds servable ones and
// reports whether it did. Anything else (a miss) is for the full path; only
// a broken setup (no server, no keyring) is an error here.
func Cached(ctx context.Context, st Settings, role string, stdout io.Writer) (bool, error) {
	cfg, err := LoadConfig(st.Getenv)
	if err != nil {
		return false, err
	}
	server, err := ServerURL(st.Server, st.Getenv, cfg)
	if err != nil {
		return false, noServer(err)
	}
	kr, err := ChooseKeyring(st, cfg)
	if err != nil {
		return false, err
	}
	key, err := cacheitem.CredentialsKey(server, role)
	if err != nil {
		return false, nil // the full path says what is wrong with the role
	}
	// Anything but servable credentials is a miss: the full path reads the
	// item again under the lock, wipes it when it has ended and re-vends.
	data, found, _, err := keyread.Get(ctx, keyread.Config{Backend: kr.Backend, FileDir: kr.FileDir,
		Passphrase: func() (string, error) { return kr.Passphrase("") }, Timeout: kr.Timeout, Getenv: st.Getenv}, key)
	if err != nil || !found {
		return false, nil
	}
	c, err := cacheitem.DecodeCredentials(data, server, role)
	if err != nil || !freshness.Servable(c, st.Now(), 0) {
		return false, nil
	}
	if err := credprocess.Write(stdout, credprocess.FromCredentials(c)); err != nil {
		return false, err
	}
	return true, nil
}

func noServer(err error) error {
	if errors.Is(err, ErrNoServer) {
		return &exitcode.HintError{Err: err, Code: exitcode.LoginRequired, Hint: "run: jit login --server https://jit.example.com (or set JIT_SERVER)"}
	}
	return err
}

// Report writes err for a person the way jit does and returns the exit code.
// The credential_process contract wants a message on stderr and a non-zero
// exit; never a secret (no error here carries one).
func Report(err error, w io.Writer) int {
	if err == nil {
		return exitcode.OK
	}
	var hint *exitcode.HintError
	if errors.As(err, &hint) {
		fmt.Fprintf(w, "jit: %s\nTry: %s\n", hint.Err, hint.Hint)
		return hint.ExitCode()
	}
	fmt.Fprintf(w, "jit: %s\n", err)
	return exitcode.Error
}
