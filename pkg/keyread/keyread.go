// Package keyread reads one of jit's keyring items by its key, for the slim
// credential path (pkg/credpath), without linking the keyring library
// (99designs/keyring): that library's Secret Service and KWallet backends
// connect to the D-Bus session bus in package init, so every program that
// links it pays for a bus connection on start, whichever backend it uses.
//
// It reads the backends the library writes, in the library's own format:
// the kernel keyring (keyctl, a system call), the encrypted file backend
// (JOSE, as the library writes it) and Secret Service (D-Bus, only when that
// backend is in use). For the OS default it picks the backend the library
// would pick. Every other backend (kwallet, pass, keychain, wincred) is
// ErrNotSlim: the caller hands the call to the full jit, which links the
// library. It only reads; writes, deletes and listings stay with
// pkg/credcache.
package keyread

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Backend names, as credcache (and the --keyring flag) spells them.
const (
	BackendKeyctl        = "keyctl"
	BackendSecretService = "secret-service"
	BackendFile          = "file"
)

// ErrNotSlim says the backend cannot be read here: ask the full jit.
var ErrNotSlim = errors.New("keyring backend not readable by the slim reader")

// ErrNoPassphrase says the file backend needs a passphrase and none was given.
var ErrNoPassphrase = errors.New("the file keyring needs a passphrase: set JIT_FILE_PASSPHRASE or run in a terminal")

// Config says where the item lives; it mirrors credcache.Config.
type Config struct {
	// Backend is a backend name; "" is the OS default, resolved as the
	// keyring library resolves it.
	Backend string
	// ServiceName is jit's kernel keyring's name ("" = "jit").
	ServiceName string
	// FileDir is the file backend's directory ("" = DefaultFileDir()).
	FileDir string
	// Passphrase gives the file backend's passphrase (nil: none).
	Passphrase func() (string, error)
	// Timeout bounds a call that talks to another process (0 = 5s).
	Timeout time.Duration
	// Getenv reads the environment (nil = os.Getenv).
	Getenv func(string) string
}

// DefaultFileDir is the file backend's directory when none is configured:
// <user config dir>/jit/keyring, as credcache opens it.
func DefaultFileDir() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("file keyring directory: %w", err)
	}
	return filepath.Join(dir, "jit", "keyring"), nil
}

// Get returns the data of the item stored under key and the backend it
// read. found is false when there is no such item. An error is ErrNotSlim
// (read it with the full jit), a timeout, or a backend failure.
func Get(ctx context.Context, cfg Config, key string) (data []byte, found bool, backend string, err error) {
	if cfg.ServiceName == "" {
		cfg.ServiceName = "jit"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	backend = cfg.Backend
	var ss *secretService
	if backend == "" {
		if backend, ss, err = resolveDefault(ctx, cfg); err != nil {
			return nil, false, backend, err
		}
	}
	switch backend {
	case BackendKeyctl:
		data, found, err = keyctlGet(cfg.ServiceName, key)
	case BackendFile:
		data, found, err = fileGet(cfg, key)
	case BackendSecretService:
		err = bounded(ctx, cfg.Timeout, func() error {
			if ss == nil {
				var oerr error
				if ss, oerr = openSecretService(); oerr != nil {
					return oerr
				}
			}
			var gerr error
			data, found, gerr = ss.get(key)
			return gerr
		})
	default:
		err = fmt.Errorf("%w: %s", ErrNotSlim, backend)
	}
	return data, found, backend, err
}

// resolveDefault is the keyring library's choice among the OS's backends:
// on linux Secret Service when the session bus answers and the service
// opens, else KWallet when its daemon is on the bus (ErrNotSlim), else the
// kernel keyring.
func resolveDefault(ctx context.Context, cfg Config) (string, *secretService, error) {
	var (
		ss      *secretService
		backend string
	)
	err := bounded(ctx, cfg.Timeout, func() error {
		var err error
		backend, ss, err = pickDefault(cfg.Getenv)
		return err
	})
	return backend, ss, err
}

// bounded runs fn, which may wait on another process, for at most d.
func bounded(ctx context.Context, d time.Duration, fn func() error) error {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		return fmt.Errorf("keyring did not answer within %s", d)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// libraryItem is how the keyring library stores an item in the file and
// Secret Service backends: the item itself as JSON (Data is base64).
type libraryItem struct {
	Key  string
	Data []byte
}

func decodeLibraryItem(raw []byte, key string) ([]byte, error) {
	var it libraryItem
	if err := json.Unmarshal(raw, &it); err != nil {
		return nil, fmt.Errorf("keyring item is not the keyring library's format: %w", err)
	}
	if it.Key != key {
		return nil, fmt.Errorf("keyring item is stored under another key")
	}
	return it.Data, nil
}
