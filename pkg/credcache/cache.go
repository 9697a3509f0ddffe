// Package credcache is the CLI's keyring-backed cache of STS credentials and
// OIDC tokens (docs/concepts.md, "The local cache"): one keyring item per (server, role) and one for
// the tokens, read by a known key, wiped when expired, every keyring call
// time-limited. The cross-process lock that makes a burst of
// credential_process calls refresh once is pkg/filelock.
package credcache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/99designs/keyring"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/freshness"
)

// Backend names accepted in Config.Backend (and shown by `jit doctor`).
const (
	BackendKeyctl        = "keyctl"
	BackendSecretService = "secret-service"
	BackendFile          = "file"
	BackendPass          = "pass"
	BackendKWallet       = "kwallet"
	BackendKeychain      = "keychain"
	BackendWinCred       = "wincred"
	// BackendNone keeps nothing: items live in the process's memory only
	// (CI jobs that present a workload token; credentials go to jit exec
	// or jit assume and are gone when jit exits).
	BackendNone = "none"
)

// Defaults for Config.
const (
	DefaultServiceName = "jit"
	DefaultCallTimeout = 5 * time.Second
)

// secretServiceCollection is the collection every desktop unlocks at login;
// creating another one needs a GUI prompter, which headless machines lack.
const secretServiceCollection = "login"

// Config chooses and tunes the keyring.
type Config struct {
	// Backend is one of the Backend* names; "" picks the OS default (the first
	// that opens, in the keyring library's order: wincred, keychain,
	// secret-service, kwallet, keyctl, pass, file).
	Backend string
	// FileDir is the file backend's directory ("" = <user config dir>/jit/keyring).
	FileDir string
	// FilePassphrase supplies the file backend's passphrase. It is called at
	// most once per Cache, outside the CallTimeout, and only when the file
	// backend is used. nil means no passphrase can be had.
	FilePassphrase func(prompt string) (string, error)
	// ServiceName names jit's keyring, collection label or kernel keyring ("" = "jit").
	ServiceName string
	// CallTimeout bounds every keyring call (0 = 5s).
	CallTimeout time.Duration
	// Now is the clock used for expiry (nil = time.Now).
	Now func() time.Time
}

// Cache is the credential and token cache. Its methods are safe for
// concurrent use; keyring calls are serialised.
type Cache struct {
	kr      keyring.Keyring
	backend string
	now     func() time.Time
	timeout time.Duration
	sem     chan struct{} // one keyring call at a time; backends are not all goroutine-safe
	// keyctl is set on the keyctl backend: kernel key timeouts and a listing
	// that tolerates keys the kernel has expired.
	keyctl *keyctlRing
	// passphrase is the file backend's unlock step, run outside the timeout.
	passphrase func(ctx context.Context) error
}

var backendNames = []string{BackendKeyctl, BackendSecretService, BackendFile, BackendPass, BackendKWallet, BackendKeychain, BackendWinCred}

// ErrUnknownBackend reports a Config.Backend that is not a backend name.
var ErrUnknownBackend = errors.New("unknown keyring backend")

// ErrNoPassphrase reports that the file backend needs a passphrase and none was supplied.
var ErrNoPassphrase = errors.New("the file keyring needs a passphrase: set JIT_FILE_PASSPHRASE or run in a terminal")

// Open opens the configured keyring backend. Opening does no listing and
// reads no item; on the file backend the passphrase is asked for on first use.
func Open(cfg Config) (*Cache, error) {
	cfg = withDefaults(cfg)
	if cfg.Backend == BackendNone {
		return New(keyring.NewArrayKeyring(nil), BackendNone, cfg), nil
	}
	var candidates []keyring.BackendType
	if cfg.Backend == "" {
		candidates = keyring.AvailableBackends()
	} else {
		if !knownBackend(cfg.Backend) {
			return nil, fmt.Errorf("%w %q (want one of %s, or none)", ErrUnknownBackend, cfg.Backend, strings.Join(backendNames, ", "))
		}
		candidates = []keyring.BackendType{keyring.BackendType(cfg.Backend)}
	}
	if cfg.FileDir == "" {
		dir, err := os.UserConfigDir()
		if err != nil {
			return nil, fmt.Errorf("file keyring directory: %w", err)
		}
		cfg.FileDir = filepath.Join(dir, "jit", "keyring")
	}

	pp := &passphrase{ask: cfg.FilePassphrase, dir: cfg.FileDir}
	kcfg := keyring.Config{
		ServiceName:             cfg.ServiceName,
		KeyCtlScope:             keyctlScopeName,
		LibSecretCollectionName: secretServiceCollection,
		KWalletAppID:            cfg.ServiceName,
		KWalletFolder:           cfg.ServiceName,
		PassPrefix:              cfg.ServiceName,
		FileDir:                 cfg.FileDir,
		FilePasswordFunc:        pp.get,
	}

	var errs []error
	for _, b := range candidates {
		kcfg.AllowedBackends = []keyring.BackendType{b}
		c := New(nil, string(b), cfg)
		// Opening Secret Service or KWallet talks to D-Bus, which can hang.
		err := c.call(context.Background(), "open", func() error {
			kr, err := keyring.Open(kcfg)
			c.kr = kr
			return err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", b, err))
			continue
		}
		if b == keyring.FileBackend {
			c.passphrase = pp.resolve
		}
		if b == keyring.KeyCtlBackend {
			c.keyctl = newKeyctlRing(cfg.ServiceName)
		}
		return c, nil
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("open keyring %q: %w", cfg.Backend, keyring.ErrNoAvailImpl)
	}
	return nil, fmt.Errorf("open keyring: %w", errors.Join(errs...))
}

// New wraps an already-open keyring, for tests (keyring.NewArrayKeyring) and
// embedders. backend is the name Backend reports.
func New(kr keyring.Keyring, backend string, cfg Config) *Cache {
	cfg = withDefaults(cfg)
	return &Cache{
		kr:      kr,
		backend: backend,
		now:     cfg.Now,
		timeout: cfg.CallTimeout,
		sem:     make(chan struct{}, 1),
	}
}

func withDefaults(cfg Config) Config {
	if cfg.ServiceName == "" {
		cfg.ServiceName = DefaultServiceName
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg
}

func knownBackend(name string) bool {
	for _, b := range backendNames {
		if b == name {
			return true
		}
	}
	return false
}

// Backend is the name of the backend in use, for `jit doctor`.
func (c *Cache) Backend() string { return c.backend }

// expired reports whether creds are unusable at now (freshness.Ended).
func expired(creds api.Credentials, now time.Time) bool { return freshness.Ended(creds, now) }

// GetCredentials returns the cached credentials for (server, role). It reads
// one item by its known key and lists nothing. An item expired at now (or one
// that cannot be decoded) is deleted and reported as a miss; whether the
// credentials are fresh enough to hand out is the caller's call (Fresh).
func (c *Cache) GetCredentials(ctx context.Context, server, role string) (api.Credentials, bool, error) {
	key, err := CredentialsKey(server, role)
	if err != nil {
		return api.Credentials{}, false, err
	}
	data, ok, err := c.get(ctx, key)
	if err != nil {
		return api.Credentials{}, false, fmt.Errorf("read cached credentials for %s: %w", role, err)
	}
	if !ok {
		return api.Credentials{}, false, nil
	}
	creds, err := decodeCredentials(data, server, role)
	if err != nil || expired(creds, c.now()) {
		if _, rerr := c.remove(ctx, key); rerr != nil {
			return api.Credentials{}, false, fmt.Errorf("delete stale cached credentials for %s: %w", role, rerr)
		}
		return api.Credentials{}, false, nil
	}
	return creds, true, nil
}

// ErrExpired is returned by PutCredentials for credentials already expired at now.
var ErrExpired = errors.New("credentials already expired")

// PutCredentials caches creds for (server, role), replacing what was there.
// On keyctl the kernel key gets a timeout at the credentials' expiry, so they
// vanish even if jit never runs again. On error nothing usable is cached.
func (c *Cache) PutCredentials(ctx context.Context, server, role string, creds api.Credentials) error {
	key, err := CredentialsKey(server, role)
	if err != nil {
		return err
	}
	now := c.now()
	if expired(creds, now) {
		return fmt.Errorf("cache credentials for %s: %w", role, ErrExpired)
	}
	data, err := encodeCredentials(server, role, creds)
	if err != nil {
		return err
	}
	if err := c.set(ctx, key, "jit credentials for "+role, data); err != nil {
		return fmt.Errorf("cache credentials for %s: %w", role, err)
	}
	if c.keyctl != nil {
		exp := freshness.Ends(creds)
		secs := uint(exp.Sub(now) / time.Second)
		if exp.Sub(now)%time.Second != 0 {
			secs++ // a key may outlive its credentials by under a second, never die early
		}
		err := c.call(ctx, "set timeout", func() error { return c.keyctl.setTimeout(key, secs) })
		if err != nil {
			_, _ = c.remove(ctx, key)
			return fmt.Errorf("set kernel expiry on cached credentials for %s: %w", role, err)
		}
	}
	return nil
}

// DeleteCredentials removes the cached credentials for (server, role), if any.
func (c *Cache) DeleteCredentials(ctx context.Context, server, role string) error {
	key, err := CredentialsKey(server, role)
	if err != nil {
		return err
	}
	if _, err := c.remove(ctx, key); err != nil {
		return fmt.Errorf("delete cached credentials for %s: %w", role, err)
	}
	return nil
}

// GetTokens returns the OIDC tokens cached for server. Tokens are not wiped
// when the ID token expires: the refresh token usually outlives it.
func (c *Cache) GetTokens(ctx context.Context, server string) (Tokens, bool, error) {
	key := TokensKey(server)
	data, ok, err := c.get(ctx, key)
	if err != nil {
		return Tokens{}, false, fmt.Errorf("read cached login: %w", err)
	}
	if !ok {
		return Tokens{}, false, nil
	}
	t, err := decodeTokens(data, server)
	if err != nil {
		if _, rerr := c.remove(ctx, key); rerr != nil {
			return Tokens{}, false, fmt.Errorf("delete unreadable cached login: %w", rerr)
		}
		return Tokens{}, false, nil
	}
	return t, true, nil
}

// PutTokens caches the OIDC tokens for server, replacing what was there.
func (c *Cache) PutTokens(ctx context.Context, server string, t Tokens) error {
	data, err := encodeTokens(server, t)
	if err != nil {
		return err
	}
	if err := c.set(ctx, TokensKey(server), "jit login", data); err != nil {
		return fmt.Errorf("cache login: %w", err)
	}
	return nil
}

// DeleteTokens removes the OIDC tokens cached for server, if any.
func (c *Cache) DeleteTokens(ctx context.Context, server string) error {
	if _, err := c.remove(ctx, TokensKey(server)); err != nil {
		return fmt.Errorf("delete cached login: %w", err)
	}
	return nil
}

// WipeAll deletes every jit item on the keyring (all servers, credentials and
// tokens) and returns how many it deleted. It is `jit logout --all`.
func (c *Cache) WipeAll(ctx context.Context) (int, error) {
	keys, err := c.keys(ctx, keyPrefix)
	if err != nil {
		return 0, fmt.Errorf("list cached items: %w", err)
	}
	n := 0
	for _, k := range keys {
		deleted, err := c.remove(ctx, k)
		if err != nil {
			return n, fmt.Errorf("delete cached item: %w", err)
		}
		if deleted {
			n++
		}
	}
	return n, nil
}

// WipeExpired deletes every cached credentials item expired at now (or that
// cannot be decoded) and returns how many it deleted; `jit status` and
// `jit logout` run it. It lists, so it is never on the credential_process path.
func (c *Cache) WipeExpired(ctx context.Context) (int, error) {
	keys, err := c.keys(ctx, credsPrefix)
	if err != nil {
		return 0, fmt.Errorf("list cached credentials: %w", err)
	}
	now := c.now()
	n := 0
	for _, k := range keys {
		data, ok, err := c.get(ctx, k)
		if err != nil {
			return n, fmt.Errorf("read cached credentials: %w", err)
		}
		if !ok {
			continue
		}
		creds, err := decodeCredentials(data, "", "")
		if err == nil && !expired(creds, now) {
			continue
		}
		deleted, err := c.remove(ctx, k)
		if err != nil {
			return n, fmt.Errorf("delete expired credentials: %w", err)
		}
		if deleted {
			n++
		}
	}
	return n, nil
}
