package cmdutil

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/jit-access/jit/pkg/browser"
	"github.com/jit-access/jit/pkg/cliconfig"
	"github.com/jit-access/jit/pkg/credcache"
	"github.com/jit-access/jit/pkg/credpath"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/secureurl"
	"github.com/jit-access/jit/pkg/session"
)

// GlobalFlags are the persistent flags every command shares.
type GlobalFlags struct {
	Server  string
	Keyring string
	Debug   bool
}

// Factory builds the CLI's dependencies lazily, so a command pays only for
// what it uses (credential-process opens the keyring and nothing else).
type Factory struct {
	IO         *iostreams.IOStreams
	Env        func(string) string
	Now        func() time.Time
	Flags      GlobalFlags
	Executable func() (string, error)

	Logger     func() *slog.Logger
	HTTPClient func() *http.Client
	Browser    func() browser.Opener
	Config     func() (*cliconfig.Config, error)
	ConfigPath func() (string, error)
	Cache      func() (*credcache.Cache, error)
	// Session is the logged-in use of the server (tokens, API, credentials).
	Session func() (*session.Session, error)
}

// New returns the production Factory.
func New(io *iostreams.IOStreams) *Factory {
	f := &Factory{IO: io, Env: os.Getenv, Now: time.Now, Executable: os.Executable}
	f.Logger = sync.OnceValue(func() *slog.Logger {
		level := slog.LevelWarn
		if f.Flags.Debug {
			level = slog.LevelDebug
		}
		return slog.New(slog.NewTextHandler(f.IO.ErrOut, &slog.HandlerOptions{Level: level}))
	})
	f.HTTPClient = sync.OnceValue(func() *http.Client {
		// Every CLI call (server, IdP, refresh) refuses a redirect to plain
		// http off loopback.
		return &http.Client{Timeout: 60 * time.Second, Transport: http.DefaultTransport, CheckRedirect: secureurl.CheckRedirect}
	})
	f.Browser = sync.OnceValue(func() browser.Opener { return browser.New(f.IO.ErrOut, f.Env) })
	f.ConfigPath = func() (string, error) { return cliconfig.Path(f.Env) }
	f.Config = sync.OnceValues(func() (*cliconfig.Config, error) {
		path, err := f.ConfigPath()
		if err != nil {
			return nil, err
		}
		return cliconfig.Load(path)
	})
	f.Cache = sync.OnceValues(func() (*credcache.Cache, error) { return f.openCache() })
	f.Session = sync.OnceValues(func() (*session.Session, error) { return f.newSession() })
	return f
}

// ServerURL resolves the server: --server, then JIT_SERVER, then the config.
// A plain-http URL is refused unless its host is loopback (secureurl).
func (f *Factory) ServerURL() (string, error) {
	if f.Flags.Server != "" {
		return checkServer("--server", f.Flags.Server)
	}
	if s := f.Env("JIT_SERVER"); s != "" {
		return checkServer("JIT_SERVER", s)
	}
	cfg, err := f.Config()
	if err != nil {
		return "", err
	}
	if cfg.Server == "" {
		return "", WithHint(errors.New("no jit server configured"), ExitLoginRequired,
			"run: jit login --server https://jit.example.com (or set JIT_SERVER)")
	}
	path, _ := f.ConfigPath()
	return checkServer("server in "+path, cfg.Server)
}

// checkServer trims raw and refuses a URL that would send tokens in clear
// text, naming where it came from.
func checkServer(source, raw string) (string, error) {
	server := strings.TrimRight(raw, "/")
	if _, err := secureurl.Check("jit server URL", server); err != nil {
		return "", WithHint(err, ExitUsage, "set %s to the server's https:// URL, e.g. jit login --server https://jit.example.com", source)
	}
	return server, nil
}

func (f *Factory) openCache() (*credcache.Cache, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	kr, err := credpath.ChooseKeyring(credpath.Settings{Getenv: f.Env, Now: f.Now, Keyring: f.Flags.Keyring, Passphrase: f.filePassphrase}, cfg)
	if err != nil {
		return nil, err
	}
	c, err := credcache.Open(credcache.Config{Backend: kr.Backend, FileDir: kr.FileDir, FilePassphrase: kr.Passphrase,
		CallTimeout: kr.Timeout, Now: f.Now})
	if err != nil {
		return nil, WithHint(fmt.Errorf("open keyring: %w", err), ExitError, "%s", credpath.KeyringHint)
	}
	return c, nil
}

// filePassphrase comes from JIT_FILE_PASSPHRASE or, on a real terminal
// only, a prompt; never from a prompt that nobody can answer.
func (f *Factory) filePassphrase(prompt string) (string, error) {
	if p := f.Env("JIT_FILE_PASSPHRASE"); p != "" {
		return p, nil
	}
	if !f.IO.CanPrompt() {
		return "", noPassphraseError(runtime.GOOS)
	}
	fmt.Fprint(f.IO.ErrOut, prompt+": ")
	b, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(f.IO.ErrOut)
	if err != nil {
		return "", fmt.Errorf("read passphrase: %w", err)
	}
	return string(b), nil
}

// noPassphraseError says how a caller that cannot prompt (credential_process,
// scripts) unlocks the file keyring, or avoids it with the OS's own store.
func noPassphraseError(goos string) error {
	native := credcache.NativeBackends(goos)
	if len(native) == 0 {
		native = []string{credcache.BackendPass}
	}
	return WithHint(credcache.ErrNoPassphrase, ExitError,
		"export JIT_FILE_PASSPHRASE in the environment that runs jit (credential_process cannot prompt), "+
			"or use the OS keyring instead: `keyring: %s` in the jit config, JIT_KEYRING_BACKEND=%s or --keyring %s (see jit doctor)",
		native[0], native[0], native[0])
}

func (f *Factory) newSession() (*session.Session, error) {
	server, err := f.ServerURL()
	if err != nil {
		return nil, err
	}
	cache, err := f.Cache()
	if err != nil {
		return nil, err
	}
	s := session.New(server, cache, f.HTTPClient(), f.Now)
	// A token presented in the environment (a CI job's workload token)
	// stands in for the keyring's login, for this process only.
	if src, err := session.PresentedFromEnv(f.Env); err == nil {
		s.Cache = session.Presented(s.Cache, src)
	}
	return s, nil
}
