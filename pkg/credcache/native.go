package credcache

import (
	"slices"

	"github.com/99designs/keyring"
)

// CompiledBackends lists the keyring backends this binary was built with, in
// the order Open tries them. Which exist depends on the build: the macOS
// Keychain only under darwin with cgo, the Windows Credential Manager only on
// windows, keyctl only on linux.
func CompiledBackends() []string {
	var out []string
	for _, b := range keyring.AvailableBackends() {
		out = append(out, string(b))
	}
	return out
}

// NativeBackends names the operating system's own credential stores on goos:
// the Keychain on darwin, the Credential Manager on windows, Secret Service
// or the kernel keyring on linux; nil where there is none.
func NativeBackends(goos string) []string {
	switch goos {
	case "darwin":
		return []string{BackendKeychain}
	case "windows":
		return []string{BackendWinCred}
	case "linux":
		return []string{BackendSecretService, BackendKeyctl}
	}
	return nil
}

// MissingNative reports whether goos has a native store and none of them is
// among the compiled backends: such a build falls back to the file keyring
// (or pass), whose passphrase credential_process cannot ask for.
func MissingNative(goos string, compiled []string) bool {
	native := NativeBackends(goos)
	if len(native) == 0 {
		return false
	}
	for _, n := range native {
		if slices.Contains(compiled, n) {
			return false
		}
	}
	return true
}
