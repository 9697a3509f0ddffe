// Package filelock takes cross-process locks on this machine: flock(2) on a
// file per name, which the kernel drops when the holder dies (so a crashed
// jit never leaves a stale lock), with a record of the holder for the "held
// by" message. The CLI's session uses it so that a burst of credential_process
// calls re-vends a role's credentials once.
package filelock

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gofrs/flock"
)

// retry is how often a waiting Acquire retries flock(2) (flock cannot be
// waited on with a deadline or cancelled, so the library polls).
const retry = 10 * time.Millisecond

// Locker takes cross-process locks: flock(2) on a file per name in Dir. The
// kernel drops a lock when its holder dies, so a crashed jit never leaves a
// stale lock behind. The file records the holder (pid, command, since) for
// the "held by" message.
type Locker struct {
	// Dir holds the lock files ("" = DefaultDir()).
	Dir string
	// Now stamps "since" in the holder record (nil = time.Now).
	Now func() time.Time
}

// DefaultDir is $XDG_CACHE_HOME/jit/locks (or the OS's user cache dir).
func DefaultDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("lock directory: %w", err)
	}
	return filepath.Join(dir, "jit", "locks"), nil
}

// Acquire takes the lock name with Locker{} (the default directory).
func Acquire(ctx context.Context, name string, timeout time.Duration) (release func(), err error) {
	return Locker{}.Acquire(ctx, name, timeout)
}

// TimeoutError says who holds a lock that could not be taken in time.
type TimeoutError struct {
	Name    string
	Timeout time.Duration
	// Holder is the holder's record ("pid N (command) since T"), or "" if unknown.
	Holder string
}

func (e *TimeoutError) Error() string {
	holder := e.Holder
	if holder == "" {
		holder = "another process"
	}
	return fmt.Sprintf("lock %s not acquired within %s: held by %s", e.Name, e.Timeout, holder)
}

// Acquire takes the lock name, waiting up to timeout (0: one try) or until
// ctx ends. release unlocks; calling it more than once is harmless.
func (l Locker) Acquire(ctx context.Context, name string, timeout time.Duration) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	dir := l.Dir
	if dir == "" {
		if dir, err = DefaultDir(); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create lock directory: %w", err)
	}
	path := filepath.Join(dir, fileName(name))
	fl := flock.New(path, flock.SetFlag(os.O_CREATE|os.O_RDWR), flock.SetPermissions(0o600))

	ok, err := fl.TryLock()
	if err == nil && !ok && timeout > 0 {
		wctx, cancel := context.WithTimeout(ctx, timeout)
		ok, err = fl.TryLockContext(wctx, retry)
		cancel()
		if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			err = nil // our own timeout: report the holder below
		}
	}
	if err != nil {
		_ = fl.Close()
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	if !ok {
		_ = fl.Close()
		return nil, &TimeoutError{Name: name, Timeout: timeout, Holder: readHolder(path)}
	}

	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	writeHolder(path, now())
	released := false
	return func() {
		if released {
			return
		}
		released = true
		_ = os.Truncate(path, 0)
		_ = fl.Unlock()
		_ = fl.Close()
	}, nil
}

// fileName keeps simple names readable and hashes the rest.
func fileName(name string) string {
	ok := name != "" && len(name) <= 64 && !strings.HasPrefix(name, ".")
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			ok = false
			break
		}
	}
	if ok {
		return name + ".lock"
	}
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:12]) + ".lock"
}

// writeHolder records who holds the lock. Best effort: the lock is what
// matters, the record only improves a message.
func writeHolder(path string, since time.Time) {
	rec := strconv.Itoa(os.Getpid()) + "\n" + holderCommand() + "\n" + since.UTC().Format(time.RFC3339) + "\n"
	_ = os.WriteFile(path, []byte(rec), 0o600) // truncates, then writes
}

// holderCommand is the program and its subcommand ("jit credential-process"),
// never further arguments, which could carry a reason text.
func holderCommand() string {
	if len(os.Args) == 0 {
		return "unknown"
	}
	cmd := filepath.Base(os.Args[0])
	if len(os.Args) > 1 && !strings.HasPrefix(os.Args[1], "-") {
		cmd += " " + os.Args[1]
	}
	return cmd
}

// readHolder formats the record as "pid N (command) since T".
func readHolder(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) > 4096 {
		return ""
	}
	parts := strings.SplitN(strings.TrimRight(string(b), "\n"), "\n", 3)
	if len(parts) != 3 {
		return ""
	}
	if _, err := strconv.Atoi(parts[0]); err != nil {
		return ""
	}
	return fmt.Sprintf("pid %s (%s) since %s", parts[0], parts[1], parts[2])
}
