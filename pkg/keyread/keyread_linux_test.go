//go:build linux

package keyread_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/99designs/keyring"
	"golang.org/x/sys/unix"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/credcache"
	"github.com/jit-access/jit/pkg/keyread"
)

// Every item here is written by the keyring library itself (the writer jit
// uses) and read back by keyread, so the two cannot drift apart.

const passphrase = "keyread-test-pass"

func uniqueName() string {
	return fmt.Sprintf("jit-keyread-test-%d-%d", os.Getpid(), time.Now().UnixNano())
}

// libraryKeyctl opens the library's keyctl backend on a named keyring of
// its own under the user keyring, removed when the test ends.
func libraryKeyctl(t *testing.T) (keyring.Keyring, string) {
	t.Helper()
	service := uniqueName()
	kr, err := keyring.Open(keyring.Config{ServiceName: service, KeyCtlScope: "user", AllowedBackends: []keyring.BackendType{keyring.KeyCtlBackend}})
	if err != nil {
		testenv.MissingPeer(t, fmt.Sprintf("kernel keyring unavailable here: %v", err))
	}
	t.Cleanup(func() {
		if id, err := unix.KeyctlSearch(unix.KEY_SPEC_USER_KEYRING, "keyring", service, 0); err == nil {
			_, _ = unix.KeyctlInt(unix.KEYCTL_UNLINK, id, unix.KEY_SPEC_USER_KEYRING, 0, 0)
		}
	})
	return kr, service
}

func TestKeyctlItemWrittenByTheLibraryReadsBackByteForByte(t *testing.T) {
	kr, service := libraryKeyctl(t)
	data := bytes.Repeat([]byte(`{"v":1,"x":"é;"}`), 400) // over the first 4 KiB read
	if err := kr.Set(keyring.Item{Key: "jit/v1/creds/abc/prod", Data: data}); err != nil {
		t.Fatal(err)
	}
	cfg := keyread.Config{Backend: keyread.BackendKeyctl, ServiceName: service}
	got, found, backend, err := keyread.Get(context.Background(), cfg, "jit/v1/creds/abc/prod")
	if err != nil || !found || backend != keyread.BackendKeyctl || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, found %t, backend %q, err %v; want the %d bytes written", len(got), found, backend, err, len(data))
	}
	if _, found, _, err := keyread.Get(context.Background(), cfg, "jit/v1/creds/abc/other"); found || err != nil {
		t.Fatalf("a key never written: found %t, err %v", found, err)
	}
	// No named keyring at all (nothing was ever cached) is a miss, not an error.
	if _, found, _, err := keyread.Get(context.Background(), keyread.Config{Backend: keyread.BackendKeyctl, ServiceName: service + "-none"}, "k"); found || err != nil {
		t.Fatalf("no keyring: found %t, err %v", found, err)
	}
}

func TestKeyctlItemTheKernelExpiredIsAMiss(t *testing.T) {
	kr, service := libraryKeyctl(t)
	if err := kr.Set(keyring.Item{Key: "k", Data: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	ring, err := unix.KeyctlSearch(unix.KEY_SPEC_USER_KEYRING, "keyring", service, 0)
	if err != nil {
		t.Fatal(err)
	}
	id, err := unix.KeyctlSearch(ring, "user", "k", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.KeyctlInt(unix.KEYCTL_SET_TIMEOUT, id, 1, 0, 0); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, func() bool {
		_, err := unix.KeyctlBuffer(unix.KEYCTL_READ, id, nil, 0)
		return errors.Is(err, syscall.EKEYEXPIRED) || errors.Is(err, syscall.ENOKEY)
	}, "the kernel to expire the key")
	if _, found, _, err := keyread.Get(context.Background(), keyread.Config{Backend: keyread.BackendKeyctl, ServiceName: service}, "k"); found || err != nil {
		t.Fatalf("an expired key: found %t, err %v", found, err)
	}
}

func libraryFile(t *testing.T) (keyring.Keyring, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "keyring")
	kr, err := keyring.Open(keyring.Config{FileDir: dir, FilePasswordFunc: func(string) (string, error) { return passphrase, nil },
		AllowedBackends: []keyring.BackendType{keyring.FileBackend}})
	if err != nil {
		t.Fatal(err)
	}
	return kr, dir
}

func TestFileItemWrittenByTheLibraryDecryptsWithThePassphraseOnly(t *testing.T) {
	kr, dir := libraryFile(t)
	key := "jit/v1/creds/0123456789ab/prod%admin" // '/' and '%' are escaped in the file name
	data := []byte(`{"v":1,"role":"prod%admin"}`)
	if err := kr.Set(keyring.Item{Key: key, Data: data, Label: "jit credentials"}); err != nil {
		t.Fatal(err)
	}
	pass := func(p string) func() (string, error) { return func() (string, error) { return p, nil } }
	got, found, _, err := keyread.Get(context.Background(), keyread.Config{Backend: keyread.BackendFile, FileDir: dir, Passphrase: pass(passphrase)}, key)
	if err != nil || !found || !bytes.Equal(got, data) {
		t.Fatalf("read %q, found %t, err %v", got, found, err)
	}
	if _, found, _, err := keyread.Get(context.Background(), keyread.Config{Backend: keyread.BackendFile, FileDir: dir, Passphrase: pass("wrong")}, key); found || err == nil || !strings.Contains(err.Error(), "wrong passphrase") {
		t.Fatalf("the wrong passphrase: found %t, err %v", found, err)
	}
	if _, _, _, err := keyread.Get(context.Background(), keyread.Config{Backend: keyread.BackendFile, FileDir: dir}, key); !errors.Is(err, keyread.ErrNoPassphrase) {
		t.Fatalf("no passphrase: %v", err)
	}
	// A missing item needs no passphrase: nothing to decrypt.
	if _, found, _, err := keyread.Get(context.Background(), keyread.Config{Backend: keyread.BackendFile, FileDir: dir}, "jit/v1/creds/0123456789ab/none"); found || err != nil {
		t.Fatalf("a missing item: found %t, err %v", found, err)
	}
}

func TestFileItemMovedUnderAnotherKeyIsRefused(t *testing.T) {
	kr, dir := libraryFile(t)
	if err := kr.Set(keyring.Item{Key: "jit/v1/creds/aaa/dev", Data: []byte("dev creds")}); err != nil {
		t.Fatal(err)
	}
	// Someone with write access to the directory renames dev's item to prod's.
	if err := os.Rename(filepath.Join(dir, "jit%2Fv1%2Fcreds%2Faaa%2Fdev"), filepath.Join(dir, "jit%2Fv1%2Fcreds%2Faaa%2Fprod")); err != nil {
		t.Fatal(err)
	}
	_, found, _, err := keyread.Get(context.Background(), keyread.Config{Backend: keyread.BackendFile, FileDir: dir,
		Passphrase: func() (string, error) { return passphrase, nil }}, "jit/v1/creds/aaa/prod")
	if found || err == nil || !strings.Contains(err.Error(), "another key") {
		t.Fatalf("an item under another key's name: found %t, err %v", found, err)
	}
}

func TestOtherBackendsAreLeftToTheFullJit(t *testing.T) {
	for _, b := range []string{"kwallet", "pass", "keychain", "wincred"} {
		if _, _, _, err := keyread.Get(context.Background(), keyread.Config{Backend: b}, "k"); !errors.Is(err, keyread.ErrNotSlim) {
			t.Errorf("%s: %v, want ErrNotSlim", b, err)
		}
	}
}

// TestDefaultBackendIsTheOneTheLibraryPicks: with no backend named, keyread
// reads where credcache (the keyring library) writes. Run without a bus
// (DBUS_SESSION_BUS_ADDRESS=disabled:) both pick keyctl; inside a D-Bus
// session where gnome-keyring answers or is activated, Secret Service.
func TestDefaultBackendIsTheOneTheLibraryPicks(t *testing.T) {
	c, err := credcache.Open(credcache.Config{Backend: ""})
	if err != nil {
		t.Fatalf("credcache's default: %v", err)
	}
	_, _, got, err := keyread.Get(context.Background(), keyread.Config{ServiceName: uniqueName()}, "jit/v1/none")
	if err != nil || got != c.Backend() {
		t.Fatalf("keyread's default %q (err %v), the library's %q", got, err, c.Backend())
	}
}

func TestSecretServiceItemWrittenByTheLibraryReadsBack(t *testing.T) {
	if os.Getenv("JIT_TEST_SECRET_SERVICE") != "1" {
		testenv.MissingPeer(t, "Secret Service needs a session bus with gnome-keyring unlocked; set JIT_TEST_SECRET_SERVICE=1 inside dbus-run-session (CI does)")
	}
	kr, err := keyring.Open(keyring.Config{ServiceName: "jit", LibSecretCollectionName: "login",
		AllowedBackends: []keyring.BackendType{keyring.SecretServiceBackend}})
	if err != nil {
		t.Fatal(err)
	}
	// Not under jit/: credcache's tests wipe jit's items in the shared collection.
	key := "keyread-test/" + uniqueName()
	t.Cleanup(func() { _ = kr.Remove(key) })
	data := []byte(`{"v":1,"secret":"s"}`)
	if err := kr.Set(keyring.Item{Key: key, Data: data, Label: "keyread test"}); err != nil {
		t.Fatal(err)
	}
	got, found, backend, err := keyread.Get(context.Background(), keyread.Config{Backend: keyread.BackendSecretService}, key)
	if err != nil || !found || backend != keyread.BackendSecretService || !bytes.Equal(got, data) {
		t.Fatalf("read %q, found %t, backend %q, err %v", got, found, backend, err)
	}
	if _, found, _, err := keyread.Get(context.Background(), keyread.Config{Backend: keyread.BackendSecretService}, key+"-none"); found || err != nil {
		t.Fatalf("a missing item: found %t, err %v", found, err)
	}
}
