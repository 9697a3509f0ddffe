package credcache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/keyring"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/freshness"
)

const (
	serverA = "https://jit.example.com"
	serverB = "https://jit.other.example"
)

func credsFor(role string, exp time.Time) api.Credentials {
	return api.Credentials{
		AccessKeyID:     "ASIA" + strings.ToUpper(role),
		SecretAccessKey: "secret-" + role,
		SessionToken:    "token-" + role,
		Expiration:      exp,
		STSExpiration:   exp,
		GrantEndsAt:     exp,
		RequestID:       "req-" + role,
		Role:            role,
		Region:          "eu-west-1",
	}
}

func sameCreds(t *testing.T, got, want api.Credentials) {
	t.Helper()
	if got.AccessKeyID != want.AccessKeyID || got.SecretAccessKey != want.SecretAccessKey ||
		got.SessionToken != want.SessionToken || !got.Expiration.Equal(want.Expiration) ||
		!got.GrantEndsAt.Equal(want.GrantEndsAt) || got.RequestID != want.RequestID || got.Role != want.Role {
		t.Fatalf("got %v want %v", got, want)
	}
}

// runCacheSuite checks the cache's behaviour on one backend. open must return
// a cache on an empty store using the given clock.
func runCacheSuite(t *testing.T, open func(t *testing.T, now func() time.Time) *Cache) {
	ctx := context.Background()
	t0 := time.Now().Truncate(time.Second)

	t.Run("MissIsNotAnError", func(t *testing.T) {
		c := open(t, testenv.NewClock(t0).Now)
		if _, ok, err := c.GetCredentials(ctx, serverA, "none"); ok || err != nil {
			t.Fatalf("ok=%v err=%v", ok, err)
		}
		if _, ok, err := c.GetTokens(ctx, serverA); ok || err != nil {
			t.Fatalf("tokens ok=%v err=%v", ok, err)
		}
		if err := c.DeleteCredentials(ctx, serverA, "none"); err != nil {
			t.Fatalf("delete missing: %v", err)
		}
		if err := c.DeleteTokens(ctx, serverA); err != nil {
			t.Fatalf("delete missing tokens: %v", err)
		}
	})

	t.Run("RoundTripIsPerServerAndRole", func(t *testing.T) {
		c := open(t, testenv.NewClock(t0).Now)
		want := credsFor("admin", t0.Add(time.Hour))
		if err := c.PutCredentials(ctx, serverA, "admin", want); err != nil {
			t.Fatal(err)
		}
		got, ok, err := c.GetCredentials(ctx, serverA+"/", "admin") // trailing slash: same server
		if err != nil || !ok {
			t.Fatalf("ok=%v err=%v", ok, err)
		}
		sameCreds(t, got, want)
		if _, ok, _ := c.GetCredentials(ctx, serverB, "admin"); ok {
			t.Fatal("another server sees the credentials")
		}
		if _, ok, _ := c.GetCredentials(ctx, serverA, "reader"); ok {
			t.Fatal("another role sees the credentials")
		}
		// Replacing keeps one item with the new value.
		newer := credsFor("admin", t0.Add(2*time.Hour))
		newer.AccessKeyID = "ASIANEWER"
		if err := c.PutCredentials(ctx, serverA, "admin", newer); err != nil {
			t.Fatal(err)
		}
		got, _, _ = c.GetCredentials(ctx, serverA, "admin")
		sameCreds(t, got, newer)
		if err := c.DeleteCredentials(ctx, serverA, "admin"); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := c.GetCredentials(ctx, serverA, "admin"); ok {
			t.Fatal("deleted credentials still read")
		}
	})

	t.Run("ExpiredItemIsWipedOnTouch", func(t *testing.T) {
		clk := testenv.NewClock(t0)
		c := open(t, clk.Now)
		exp := t0.Add(30 * time.Minute)
		if err := c.PutCredentials(ctx, serverA, "ops", credsFor("ops", exp)); err != nil {
			t.Fatal(err)
		}
		clk.Set(exp.Add(-time.Second))
		got, ok, err := c.GetCredentials(ctx, serverA, "ops")
		if err != nil || !ok {
			t.Fatalf("one second before expiry: ok=%v err=%v", ok, err)
		}
		if freshness.Fresh(got, clk.Now(), 5*time.Minute) {
			t.Fatal("credentials with 1s left are fresh for a 5m window")
		}
		clk.Set(exp) // expired at exactly the expiration instant
		if _, ok, err := c.GetCredentials(ctx, serverA, "ops"); ok || err != nil {
			t.Fatalf("at expiry: ok=%v err=%v", ok, err)
		}
		// Deleted, not just hidden: going back in time does not bring it back.
		clk.Set(t0)
		if _, ok, _ := c.GetCredentials(ctx, serverA, "ops"); ok {
			t.Fatal("expired item was not deleted")
		}
	})

	t.Run("GrantEndBeatsLaterExpiration", func(t *testing.T) {
		clk := testenv.NewClock(t0)
		c := open(t, clk.Now)
		cr := credsFor("short", t0.Add(time.Hour))
		cr.GrantEndsAt = t0.Add(10 * time.Minute)
		if err := c.PutCredentials(ctx, serverA, "short", cr); err != nil {
			t.Fatal(err)
		}
		clk.Set(cr.GrantEndsAt)
		if _, ok, _ := c.GetCredentials(ctx, serverA, "short"); ok {
			t.Fatal("credentials served past the grant's end")
		}
	})

	t.Run("PutRefusesExpired", func(t *testing.T) {
		c := open(t, testenv.NewClock(t0).Now)
		err := c.PutCredentials(ctx, serverA, "old", credsFor("old", t0))
		if !errors.Is(err, ErrExpired) {
			t.Fatalf("err = %v", err)
		}
		if _, ok, _ := c.GetCredentials(ctx, serverA, "old"); ok {
			t.Fatal("expired credentials were stored")
		}
	})

	t.Run("Tokens", func(t *testing.T) {
		clk := testenv.NewClock(t0)
		c := open(t, clk.Now)
		tok := Tokens{IDToken: "id.jwt.sig", RefreshToken: "refresh", AccessToken: "access", Expiry: t0.Add(time.Minute),
			Issuer: "https://idp.example", Subject: "u1", Email: "u1@example.com"}
		if err := c.PutTokens(ctx, serverA, tok); err != nil {
			t.Fatal(err)
		}
		clk.Set(t0.Add(24 * time.Hour)) // ID token long expired: the refresh token still counts
		got, ok, err := c.GetTokens(ctx, serverA)
		if err != nil || !ok {
			t.Fatalf("ok=%v err=%v", ok, err)
		}
		if got.IDToken != tok.IDToken || got.RefreshToken != tok.RefreshToken || got.AccessToken != tok.AccessToken ||
			!got.Expiry.Equal(tok.Expiry) || got.Issuer != tok.Issuer || got.Subject != tok.Subject || got.Email != tok.Email {
			t.Fatalf("got %v", got)
		}
		if _, ok, _ := c.GetTokens(ctx, serverB); ok {
			t.Fatal("another server sees the tokens")
		}
		if err := c.DeleteTokens(ctx, serverA); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := c.GetTokens(ctx, serverA); ok {
			t.Fatal("deleted tokens still read")
		}
	})

	t.Run("CorruptItemIsAMissAndDeleted", func(t *testing.T) {
		c := open(t, testenv.NewClock(t0).Now)
		key, _ := CredentialsKey(serverA, "bad")
		if err := c.set(ctx, key, "bad", []byte(`{"v":1,"credentials":{"secret_access_key":"SUPERSECRET"`)); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := c.GetCredentials(ctx, serverA, "bad"); ok || err != nil {
			t.Fatalf("ok=%v err=%v", ok, err)
		}
		if _, ok, _ := c.get(ctx, key); ok {
			t.Fatal("corrupt item left behind")
		}
	})

	t.Run("WipeExpiredKeepsLiveItems", func(t *testing.T) {
		clk := testenv.NewClock(t0)
		c := open(t, clk.Now)
		for i, role := range []string{"a", "b", "c"} {
			if err := c.PutCredentials(ctx, serverA, role, credsFor(role, t0.Add(time.Duration(i+1)*time.Hour))); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.PutTokens(ctx, serverA, Tokens{IDToken: "x", Expiry: t0}); err != nil {
			t.Fatal(err)
		}
		clk.Set(t0.Add(2 * time.Hour)) // a and b expired, c live
		n, err := c.WipeExpired(ctx)
		if err != nil || n != 2 {
			t.Fatalf("wiped %d, err %v; want 2", n, err)
		}
		clk.Set(t0) // look without the clock hiding anything
		for _, role := range []string{"a", "b"} {
			if _, ok, _ := c.GetCredentials(ctx, serverA, role); ok {
				t.Fatalf("%s survived the sweep", role)
			}
		}
		if _, ok, _ := c.GetCredentials(ctx, serverA, "c"); !ok {
			t.Fatal("live credentials were swept")
		}
		if _, ok, _ := c.GetTokens(ctx, serverA); !ok {
			t.Fatal("tokens were swept")
		}
	})

	t.Run("WipeAllCounts", func(t *testing.T) {
		c := open(t, testenv.NewClock(t0).Now)
		for _, s := range []string{serverA, serverB} {
			for _, role := range []string{"r1", "r2"} {
				if err := c.PutCredentials(ctx, s, role, credsFor(role, t0.Add(time.Hour))); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.PutTokens(ctx, s, Tokens{IDToken: "id-" + s}); err != nil {
				t.Fatal(err)
			}
		}
		n, err := c.WipeAll(ctx)
		if err != nil || n != 6 {
			t.Fatalf("wiped %d, err %v; want 6", n, err)
		}
		for _, s := range []string{serverA, serverB} {
			if _, ok, _ := c.GetCredentials(ctx, s, "r1"); ok {
				t.Fatal("credentials survived WipeAll")
			}
			if _, ok, _ := c.GetTokens(ctx, s); ok {
				t.Fatal("tokens survived WipeAll")
			}
		}
		if n, err := c.WipeAll(ctx); err != nil || n != 0 {
			t.Fatalf("second wipe: %d, %v", n, err)
		}
	})
}

func TestCacheArray(t *testing.T) {
	runCacheSuite(t, func(t *testing.T, now func() time.Time) *Cache {
		return New(keyring.NewArrayKeyring(nil), "array", Config{Now: now})
	})
}

func TestCacheFile(t *testing.T) {
	runCacheSuite(t, func(t *testing.T, now func() time.Time) *Cache {
		return openFile(t, t.TempDir(), now)
	})
}

func openFile(t testing.TB, dir string, now func() time.Time) *Cache {
	t.Helper()
	c, err := Open(Config{Backend: BackendFile, FileDir: dir, Now: now,
		FilePassphrase: func(string) (string, error) { return "correct horse", nil }})
	if err != nil {
		t.Fatal(err)
	}
	if c.Backend() != BackendFile {
		t.Fatalf("backend %q", c.Backend())
	}
	return c
}

func TestCacheKeyctl(t *testing.T) {
	runCacheSuite(t, func(t *testing.T, now func() time.Time) *Cache {
		return openKeyctl(t, now)
	})
}

// openKeyctl opens the kernel keyring under a ring of its own, unlinked at
// the end of the test.
func openKeyctl(t testing.TB, now func() time.Time) *Cache {
	t.Helper()
	service := fmt.Sprintf("jit-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	c, err := Open(Config{Backend: BackendKeyctl, ServiceName: service, Now: now})
	if err != nil {
		testenv.MissingPeer(t, fmt.Sprintf("kernel keyring unavailable here: %v", err))
	}
	if c.Backend() != BackendKeyctl {
		t.Fatalf("backend %q", c.Backend())
	}
	t.Cleanup(func() { unlinkKeyctlRing(t, service) })
	return c
}

func requireSecretService(t testing.TB) {
	t.Helper()
	if os.Getenv("JIT_TEST_SECRET_SERVICE") != "1" {
		testenv.MissingPeer(t, "Secret Service needs a session bus with gnome-keyring unlocked; set JIT_TEST_SECRET_SERVICE=1 inside dbus-run-session (CI does)")
	}
}

func openSecretService(t testing.TB, now func() time.Time) *Cache {
	t.Helper()
	c, err := Open(Config{Backend: BackendSecretService, Now: now})
	if err != nil {
		t.Fatalf("open secret service: %v", err)
	}
	// The login collection is shared: start from no jit items and leave none.
	if _, err := c.WipeAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = c.WipeAll(context.Background()) })
	return c
}

func TestCacheSecretService(t *testing.T) {
	requireSecretService(t)
	runCacheSuite(t, func(t *testing.T, now func() time.Time) *Cache {
		return openSecretService(t, now)
	})
}

func TestOpenDefaultPicksABackend(t *testing.T) {
	service := fmt.Sprintf("jit-test-default-%d", os.Getpid())
	t.Cleanup(func() { unlinkKeyctlRing(t, service) })
	c, err := Open(Config{ServiceName: service, FileDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if !knownBackend(c.Backend()) {
		t.Fatalf("backend %q", c.Backend())
	}
	t.Logf("OS default backend here: %s", c.Backend())
}

func TestOpenRejectsUnknownBackend(t *testing.T) {
	_, err := Open(Config{Backend: "floppy"})
	if !errors.Is(err, ErrUnknownBackend) || !strings.Contains(err.Error(), "keyctl") {
		t.Fatalf("err = %v", err)
	}
}

func TestFileBackendWithoutPassphrase(t *testing.T) {
	c, err := Open(Config{Backend: BackendFile, FileDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.GetCredentials(context.Background(), serverA, "admin")
	if !errors.Is(err, ErrNoPassphrase) {
		t.Fatalf("err = %v", err)
	}
}

func TestFileBackendAsksPassphraseOnceAndChecksIt(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t0 := time.Now()
	asked := 0
	c, err := Open(Config{Backend: BackendFile, FileDir: dir, Now: func() time.Time { return t0 },
		FilePassphrase: func(prompt string) (string, error) {
			asked++
			if !strings.Contains(prompt, dir) {
				t.Errorf("prompt %q does not name the directory", prompt)
			}
			return "right", nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if asked != 0 {
		t.Fatal("Open asked for the passphrase")
	}
	for range 3 {
		if err := c.PutCredentials(ctx, serverA, "admin", credsFor("admin", t0.Add(time.Hour))); err != nil {
			t.Fatal(err)
		}
	}
	if asked != 1 {
		t.Fatalf("asked %d times", asked)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, _ := os.ReadFile(dir + "/" + e.Name())
		if strings.Contains(string(b), "secret-admin") {
			t.Fatal("secret stored in clear")
		}
	}
	wrong, err := Open(Config{Backend: BackendFile, FileDir: dir, Now: func() time.Time { return t0 },
		FilePassphrase: func(string) (string, error) { return "wrong", nil }})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := wrong.GetCredentials(ctx, serverA, "admin"); err == nil || ok {
		t.Fatalf("wrong passphrase read the item: ok=%v err=%v", ok, err)
	}
}

// fake is a keyring whose calls block until release is closed.
type fake struct {
	keyring.Keyring
	release chan struct{}
	mu      sync.Mutex
	sets    int
}

func (f *fake) Get(key string) (keyring.Item, error) {
	<-f.release
	return f.Keyring.Get(key)
}

func (f *fake) Set(it keyring.Item) error {
	f.mu.Lock()
	f.sets++
	f.mu.Unlock()
	return f.Keyring.Set(it)
}

func TestHungBackendHitsCallTimeout(t *testing.T) {
	ctx := context.Background()
	f := &fake{Keyring: keyring.NewArrayKeyring(nil), release: make(chan struct{})}
	c := New(f, "fake", Config{CallTimeout: 50 * time.Millisecond})

	_, _, err := c.GetCredentials(ctx, serverA, "admin")
	var te *TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v, want a TimeoutError", err)
	}
	want := "keyring did not answer within 50ms (backend fake, get); try --keyring file or JIT_KEYRING_BACKEND"
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %q, want it to contain %q", err, want)
	}

	// A call queued behind the hung one times out too, and never runs later.
	err = c.PutCredentials(ctx, serverA, "admin", credsFor("admin", time.Now().Add(time.Hour)))
	if !errors.As(err, &te) {
		t.Fatalf("queued put: err = %v", err)
	}

	// A cancelled context wins over the wait.
	cctx, cancel := context.WithCancel(ctx)
	go cancel()
	if _, _, err := c.GetCredentials(cctx, serverA, "admin"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: err = %v", err)
	}

	close(f.release) // the backend answers again
	if _, ok, err := c.GetCredentials(ctx, serverA, "admin"); err != nil || ok {
		t.Fatalf("after release: ok=%v err=%v", ok, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sets != 0 {
		t.Fatalf("an abandoned put ran %d times", f.sets)
	}
}

func TestKeysAreVersionedAndValidated(t *testing.T) {
	k, err := CredentialsKey("https://jit.example.com/", "prod-admin")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(k, "jit/v1/creds/") || !strings.HasSuffix(k, "/prod-admin") || len(k) != len("jit/v1/creds/")+12+len("/prod-admin") {
		t.Fatalf("key %q", k)
	}
	if TokensKey(serverA) != "jit/v1/tokens/"+ServerHash(serverA+"/") {
		t.Fatal("tokens key does not ignore the trailing slash")
	}
	for _, bad := range []string{"", "a/b", `a\b`, "..", "a b", "a\nb", strings.Repeat("x", 129)} {
		if _, err := CredentialsKey(serverA, bad); !errors.Is(err, ErrBadRole) {
			t.Errorf("role %q: err = %v", bad, err)
		}
	}
}

func TestTokensNeverPrinted(t *testing.T) {
	tok := Tokens{IDToken: "IDTOKEN", RefreshToken: "REFRESH", AccessToken: "ACCESS", Subject: "sub"}
	for _, s := range []string{tok.String(), fmt.Sprintf("%v %+v %#v", tok, tok, tok), tok.LogValue().String()} {
		if strings.Contains(s, "IDTOKEN") || strings.Contains(s, "REFRESH") || strings.Contains(s, "ACCESS") {
			t.Fatalf("token shown: %s", s)
		}
	}
}

func TestDecodeErrorsNeverQuoteData(t *testing.T) {
	for _, data := range []string{
		`{"v":1,"credentials":{"secret_access_key":"SUPERSECRET"`,
		`{"v":1,"credentials":{"secret_access_key":SUPERSECRET}}`,
		`{"v":"SUPERSECRET"}`,
		`SUPERSECRET`,
		`{"v":1} SUPERSECRET`,
	} {
		_, err := decodeCredentials([]byte(data), "", "")
		if !errors.Is(err, ErrBadItem) {
			t.Fatalf("%s: err = %v", data, err)
		}
		if strings.Contains(err.Error(), "SUPER") || strings.Contains(err.Error(), "SECRET") {
			t.Fatalf("data quoted in error: %v", err)
		}
	}
}

func FuzzDecodeCacheItem(f *testing.F) {
	good, _ := encodeCredentials(serverA, "admin", credsFor("admin", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)))
	tok, _ := encodeTokens(serverA, Tokens{IDToken: "x", RefreshToken: "y"})
	for _, s := range [][]byte{good, tok, []byte(`{}`), []byte(`{"v":2}`), []byte(`null`), []byte(`[]`), nil} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := decodeCredentials(data, "", "")
		if err != nil {
			if !errors.Is(err, ErrBadItem) {
				t.Fatalf("unclassified error: %v", err)
			}
		} else if c.AccessKeyID == "" || c.SecretAccessKey == "" || c.Expiration.IsZero() {
			t.Fatalf("accepted incomplete credentials")
		}
		if _, err := decodeTokens(data, ""); err != nil && !errors.Is(err, ErrBadItem) {
			t.Fatalf("unclassified error: %v", err)
		}
	})
}

// keyctlTool runs the keyctl(1) command, to look at the kernel keyring the
// way a person would.
func keyctlTool(args ...string) (string, error) {
	out, err := exec.Command("keyctl", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}
