//go:build linux

package credcache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// keyctlScopeName is the keyctl scope jit uses: the user keyring, shared by
// all of the user's sessions, so every terminal sees the same cache.
const keyctlScopeName = "user"

// keyctlRing reaches the named kernel keyring the keyring library keeps jit's
// keys in (ServiceName under the user keyring), for what the library lacks:
// key timeouts, and a listing that skips keys the kernel has expired.
type keyctlRing struct {
	scope   int
	service string
}

func newKeyctlRing(service string) *keyctlRing {
	return &keyctlRing{scope: unix.KEY_SPEC_USER_KEYRING, service: service}
}

// ring finds the named keyring the same way the library does.
func (k *keyctlRing) ring() (int, error) {
	id, err := unix.KeyctlSearch(k.scope, "keyring", k.service, 0)
	if err != nil {
		return 0, fmt.Errorf("find kernel keyring %q: %w", k.service, err)
	}
	return id, nil
}

// serial finds the kernel key holding item key.
func (k *keyctlRing) serial(key string) (int, error) {
	ring, err := k.ring()
	if err != nil {
		return 0, err
	}
	id, err := unix.KeyctlSearch(ring, "user", key, 0)
	if err != nil {
		return 0, fmt.Errorf("find kernel key: %w", err)
	}
	return id, nil
}

// setTimeout makes the kernel expire item key secs seconds from now.
func (k *keyctlRing) setTimeout(key string, secs uint) error {
	id, err := k.serial(key)
	if err != nil {
		return err
	}
	if _, err := unix.KeyctlInt(unix.KEYCTL_SET_TIMEOUT, id, int(secs), 0, 0); err != nil {
		return fmt.Errorf("keyctl set timeout: %w", err)
	}
	return nil
}

// keys lists the user keys in the named keyring, skipping keys the kernel has
// expired or revoked but not yet collected (the library's listing fails on them).
func (k *keyctlRing) keys() ([]string, error) {
	ring, err := k.ring()
	if errors.Is(err, syscall.ENOKEY) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var buf []byte
	for {
		n, err := unix.KeyctlBuffer(unix.KEYCTL_READ, ring, buf, 0)
		if err != nil {
			return nil, fmt.Errorf("read kernel keyring: %w", err)
		}
		if n <= len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, n)
	}
	var out []string
	for i := 0; i+4 <= len(buf); i += 4 {
		id := int(int32(binary.NativeEndian.Uint32(buf[i:])))
		desc, err := unix.KeyctlString(unix.KEYCTL_DESCRIBE, id)
		if err != nil {
			if isDeadKey(err) || errors.Is(err, syscall.ENOKEY) {
				continue
			}
			return nil, fmt.Errorf("describe kernel key: %w", err)
		}
		// type;uid;gid;perm;description — the description may contain ';'.
		parts := strings.SplitN(desc, ";", 5)
		if len(parts) == 5 && parts[0] == "user" {
			out = append(out, parts[4])
		}
	}
	return out, nil
}

// isDeadKey reports a key the kernel has expired or revoked but not yet
// collected: for jit, a key that is gone.
func isDeadKey(err error) bool {
	return errors.Is(err, syscall.EKEYEXPIRED) || errors.Is(err, syscall.EKEYREVOKED)
}
