package testenv

import (
	"os"
	"strconv"
	"testing"
)

// InCI reports whether the tests run under CI: CI=true (or 1), which
// .ci/run sets and CI services set on their own.
func InCI(getenv func(string) string) bool {
	on, err := strconv.ParseBool(getenv("CI"))
	return err == nil && on
}

// SkipPeerInShortMode skips a test that needs peer under -short. `make unit`
// (go test -short) is the quick loop: it runs every test that needs no peer
// (no PostgreSQL, MinIO, node, browser or built jit binary) and skips, by
// name, the ones that do; `make test` runs them all. Every peer's starter
// in this package calls it, so a test that starts a peer through testenv
// needs no -short check of its own.
func SkipPeerInShortMode(t testing.TB, peer string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("needs %s; skipped with -short (make unit), run by make test", peer)
	}
}

// MissingPeer is the one rule for a test peer (a server, a tool, a keyring,
// a browser) that is not there: under CI it fails the test, so CI can
// never pass by skipping; elsewhere it skips it. Both say msg, which names
// the install command.
func MissingPeer(t testing.TB, msg string) {
	t.Helper()
	if InCI(os.Getenv) {
		t.Fatalf("missing test peer (CI must run this test): %s", msg)
		return
	}
	t.Skipf("missing test peer (skipped outside CI; with CI=true it fails): %s", msg)
}
