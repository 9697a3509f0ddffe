//go:build linux

package credcache

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/jit-access/jit/internal/testenv"
)

// unlinkKeyctlRing removes a test's named kernel keyring from the user keyring.
func unlinkKeyctlRing(t testing.TB, service string) {
	t.Helper()
	id, err := unix.KeyctlSearch(unix.KEY_SPEC_USER_KEYRING, "keyring", service, 0)
	if errors.Is(err, syscall.ENOKEY) {
		return
	}
	if err != nil {
		t.Errorf("find test keyring: %v", err)
		return
	}
	if _, err := unix.KeyctlInt(unix.KEYCTL_UNLINK, id, unix.KEY_SPEC_USER_KEYRING, 0, 0); err != nil {
		t.Errorf("unlink test keyring: %v", err)
	}
}

// procKeysTimeout reads the kernel's remaining timeout for serial from
// /proc/keys ("perm" for none), in seconds.
func procKeysTimeout(t *testing.T, serial string) (secs int, perm bool) {
	t.Helper()
	b, err := os.ReadFile("/proc/keys")
	if err != nil {
		t.Skipf("no /proc/keys to read the timeout from: %v", err)
	}
	want, _ := strconv.ParseInt(serial, 10, 64)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		id, err := strconv.ParseInt(f[0], 16, 64)
		if err != nil || id != want {
			continue
		}
		if f[3] == "perm" {
			return 0, true
		}
		unit := map[byte]int{'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800}[f[3][len(f[3])-1]]
		n, err := strconv.Atoi(f[3][:len(f[3])-1])
		if err != nil || unit == 0 {
			t.Fatalf("unreadable timeout %q", f[3])
		}
		return n * unit, false
	}
	t.Fatalf("key %s not in /proc/keys", serial)
	return 0, false
}

// TestKeyctlKernelExpiresCredentials checks that the kernel itself deletes
// cached credentials at their expiry: the injected clock never moves, so only
// the kernel can make them disappear.
func TestKeyctlKernelExpiresCredentials(t *testing.T) {
	if _, err := keyctlTool("--version"); err != nil {
		testenv.MissingPeer(t, "keyctl(1) from keyutils is not installed")
	}
	ctx := context.Background()
	t0 := time.Now()
	now := func() time.Time { return t0 }
	c := openKeyctl(t, now)
	service := c.keyctl.service

	// One hour: the timeout is set to the seconds until expiry.
	if err := c.PutCredentials(ctx, serverA, "hour", credsFor("hour", t0.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	ring, err := keyctlTool("search", "@u", "keyring", service)
	if err != nil {
		t.Fatalf("keyctl search ring: %v: %s", err, ring)
	}
	hourKey, _ := CredentialsKey(serverA, "hour")
	serial, err := keyctlTool("search", ring, "user", hourKey)
	if err != nil {
		t.Fatalf("keyctl search key: %v: %s", err, serial)
	}
	if secs, perm := procKeysTimeout(t, serial); perm || secs > 3600 || secs < 60 {
		t.Fatalf("kernel timeout %ds (perm=%v), want about an hour", secs, perm)
	}

	// Two seconds: wait for the kernel to expire it.
	if err := c.PutCredentials(ctx, serverA, "brief", credsFor("brief", t0.Add(2*time.Second))); err != nil {
		t.Fatal(err)
	}
	briefKey, _ := CredentialsKey(serverA, "brief")
	if _, ok, err := c.GetCredentials(ctx, serverA, "brief"); !ok || err != nil {
		t.Fatalf("before the kernel timeout: ok=%v err=%v", ok, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := keyctlTool("search", ring, "user", briefKey)
		if err != nil {
			if !strings.Contains(out, "expired") && !strings.Contains(out, "not available") {
				t.Fatalf("keyctl search after timeout: %s", out)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the kernel never expired the key")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Gone for a fresh Get and a freshly opened cache, with the clock still at t0.
	if _, ok, err := c.GetCredentials(ctx, serverA, "brief"); ok || err != nil {
		t.Fatalf("after the kernel timeout: ok=%v err=%v", ok, err)
	}
	again, err := Open(Config{Backend: BackendKeyctl, ServiceName: service, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := again.GetCredentials(ctx, serverA, "brief"); ok || err != nil {
		t.Fatalf("fresh cache after the kernel timeout: ok=%v err=%v", ok, err)
	}
	// The kernel keeps the dead key until its garbage collector runs; listing
	// and wiping must not trip on it, and a new Put replaces it.
	if n, err := again.WipeExpired(ctx); err != nil || n != 0 {
		t.Fatalf("sweep with a dead key: %d, %v", n, err)
	}
	if err := again.PutCredentials(ctx, serverA, "brief", credsFor("brief", t0.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := again.GetCredentials(ctx, serverA, "brief"); !ok || err != nil {
		t.Fatalf("re-put after the kernel timeout: ok=%v err=%v", ok, err)
	}
	if n, err := again.WipeAll(ctx); err != nil || n != 2 {
		t.Fatalf("wipe all: %d, %v; want 2", n, err)
	}
}
