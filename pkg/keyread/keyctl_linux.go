//go:build linux

package keyread

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// keyctlGet reads key from jit's named keyring under the user keyring, as
// the library (KeyCtlScope "user") and credcache keep it.
func keyctlGet(service, key string) ([]byte, bool, error) {
	ring, err := unix.KeyctlSearch(unix.KEY_SPEC_USER_KEYRING, "keyring", service, 0)
	if gone(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("find kernel keyring %q: %w", service, err)
	}
	id, err := unix.KeyctlSearch(ring, "user", key, 0)
	if gone(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("find kernel key: %w", err)
	}
	buf := make([]byte, 4096)
	for {
		n, err := unix.KeyctlBuffer(unix.KEYCTL_READ, id, buf, 0)
		if gone(err) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("read kernel key: %w", err)
		}
		if n <= len(buf) {
			return buf[:n], true, nil
		}
		buf = make([]byte, n)
	}
}

// gone is a key that is not there, or that the kernel expired or revoked.
func gone(err error) bool {
	return errors.Is(err, syscall.ENOKEY) || errors.Is(err, syscall.EKEYEXPIRED) || errors.Is(err, syscall.EKEYREVOKED)
}
