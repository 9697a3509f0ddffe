package credcache

import (
	"runtime"
	"slices"
	"testing"
)

func TestMissingNative(t *testing.T) {
	for _, tc := range []struct {
		goos     string
		compiled []string
		missing  bool
	}{
		// What a darwin binary built with CGO_ENABLED=0 has: no Keychain.
		{"darwin", []string{BackendPass, BackendFile}, true},
		{"darwin", []string{BackendKeychain, BackendPass, BackendFile}, false},
		{"windows", []string{BackendFile}, true},
		{"windows", []string{BackendWinCred, BackendFile}, false},
		{"linux", []string{BackendSecretService, BackendFile}, false},
		{"linux", []string{BackendKeyctl, BackendFile}, false},
		{"linux", []string{BackendPass, BackendFile}, true},
		{"plan9", []string{BackendFile}, false},
	} {
		if got := MissingNative(tc.goos, tc.compiled); got != tc.missing {
			t.Errorf("MissingNative(%s, %v) = %t, want %t", tc.goos, tc.compiled, got, tc.missing)
		}
	}
}

func TestCompiledBackendsHaveThisPlatformsNativeStore(t *testing.T) {
	compiled := CompiledBackends()
	if !slices.Contains(compiled, BackendFile) {
		t.Errorf("CompiledBackends() = %v lacks the file backend", compiled)
	}
	// The test binary is built like the release for this platform (linux:
	// keyctl and Secret Service need no cgo).
	if runtime.GOOS == "linux" && MissingNative(runtime.GOOS, compiled) {
		t.Errorf("CompiledBackends() = %v has no native linux store", compiled)
	}
}
