//go:build !linux

package credcache

import "errors"

// keyctlScopeName is unused off Linux; the keyctl backend does not exist there.
const keyctlScopeName = "user"

// keyctlRing is Linux-only; off Linux it is never constructed.
type keyctlRing struct{}

func newKeyctlRing(string) *keyctlRing { return nil }

var errNoKeyctl = errors.New("keyctl is only available on linux")

func (*keyctlRing) setTimeout(string, uint) error { return errNoKeyctl }
func (*keyctlRing) keys() ([]string, error)       { return nil, errNoKeyctl }

func isDeadKey(error) bool { return false }
