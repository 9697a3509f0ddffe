package credcache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/99designs/keyring"
)

// This file is every call to the keyring: time-limited, the file backend's
// passphrase asked for once, and the plain get/set/remove/keys the items use.

// passphrase asks for the file backend's passphrase once, before the first
// keyring call, so a person typing it never races the CallTimeout.
type passphrase struct {
	ask func(prompt string) (string, error)
	dir string
	mu  sync.Mutex
	pw  string
}

func (p *passphrase) resolve(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pw != "" {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.ask == nil {
		return ErrNoPassphrase
	}
	pw, err := p.ask(fmt.Sprintf("Passphrase for the jit file keyring at %s", p.dir))
	if err != nil {
		return fmt.Errorf("file keyring passphrase: %w", err)
	}
	if pw == "" {
		return fmt.Errorf("file keyring passphrase: %w", ErrNoPassphrase)
	}
	p.pw = pw
	return nil
}

// get is what the keyring library calls; resolve has always run before.
func (p *passphrase) get(string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pw == "" {
		return "", ErrNoPassphrase
	}
	return p.pw, nil
}

// TimeoutError says a keyring call did not answer in time and what to do.
type TimeoutError struct {
	Backend string
	Op      string
	After   time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("keyring did not answer within %s (backend %s, %s); try --keyring file or JIT_KEYRING_BACKEND", e.After, e.Backend, e.Op)
}

// call runs fn, one keyring call, bounded by the CallTimeout and ctx. A call
// that hangs is abandoned (its goroutine finishes whenever the backend does);
// a call still queued behind it when abandoned never runs.
func (c *Cache) call(ctx context.Context, op string, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.passphrase != nil {
		if err := c.passphrase(ctx); err != nil {
			return err
		}
	}
	if c.backend == BackendKeyctl {
		// A system call on an in-kernel key: it cannot hang on another
		// process, so it runs inline. Sparing the goroutine (and the thread
		// it tends to start) is measurable on credential_process's path.
		return fn()
	}
	done := make(chan error, 1)
	abandoned := make(chan struct{})
	go func() {
		select {
		case c.sem <- struct{}{}:
		case <-abandoned:
			return
		}
		defer func() { <-c.sem }()
		select {
		case <-abandoned:
			return
		default:
		}
		done <- fn()
	}()
	timer := time.NewTimer(c.timeout)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		close(abandoned)
		return &TimeoutError{Backend: c.backend, Op: op, After: c.timeout}
	case <-ctx.Done():
		close(abandoned)
		return fmt.Errorf("keyring %s: %w", op, ctx.Err())
	}
}

func (c *Cache) get(ctx context.Context, key string) ([]byte, bool, error) {
	var it keyring.Item
	err := c.call(ctx, "get", func() error {
		var err error
		it, err = c.kr.Get(key)
		return err
	})
	switch {
	case err == nil:
		return it.Data, true, nil
	case errors.Is(err, keyring.ErrKeyNotFound), isDeadKey(err):
		return nil, false, nil
	}
	return nil, false, err
}

func (c *Cache) set(ctx context.Context, key, label string, data []byte) error {
	return c.call(ctx, "set", func() error {
		return c.kr.Set(keyring.Item{Key: key, Data: data, Label: label, Description: "jit"})
	})
}

// remove deletes key; a missing key is not an error. It reports whether
// something was deleted when the backend can tell.
func (c *Cache) remove(ctx context.Context, key string) (bool, error) {
	err := c.call(ctx, "remove", func() error { return c.kr.Remove(key) })
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, keyring.ErrKeyNotFound), isDeadKey(err), errors.Is(err, os.ErrNotExist):
		return false, nil
	}
	return false, err
}

// keys lists jit's items with prefix. Only wipes and sweeps list.
func (c *Cache) keys(ctx context.Context, prefix string) ([]string, error) {
	var all []string
	err := c.call(ctx, "list", func() error {
		var err error
		if c.keyctl != nil {
			all, err = c.keyctl.keys()
		} else {
			all, err = c.kr.Keys()
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, k := range all {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out, nil
}
