package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/credcache"
)

// TestParallelCredentialProcessRefreshesOnce starts 50 credential-process
// processes at once while the cached credentials are inside the refresh
// window: exactly one re-vends (the others wait on the lock and read what
// it stored), none prints expired credentials, none hangs.
func TestParallelCredentialProcessRefreshesOnce(t *testing.T) {
	w := newWorld(t)
	alice, carol := w.user("alice"), w.user("carol")
	alice.login()
	carol.login()
	alice.must("request", "readonly", "--reason", "parallel")
	vends := func() int {
		out := carol.must("audit", "query", "--type", "credentials.vended", "-o", "json")
		var events []struct{ Type string }
		if err := json.Unmarshal([]byte(out), &events); err != nil {
			t.Fatalf("audit query: %v\n%s", err, out)
		}
		return len(events)
	}
	if n := vends(); n != 1 {
		t.Fatalf("vends after jit request: %d", n)
	}

	// Age the cached item: its STS session ends in a minute while the grant
	// lives on, so the next use must re-vend.
	cache := alice.cache(t)
	ctx := context.Background()
	c, ok, err := cache.GetCredentials(ctx, w.server, "readonly")
	if err != nil || !ok {
		t.Fatalf("cached credentials: %v %v", ok, err)
	}
	old := c.AccessKeyID
	c.STSExpiration = time.Now().Add(time.Minute)
	c.Expiration = c.STSExpiration
	if err := cache.PutCredentials(ctx, w.server, "readonly", c); err != nil {
		t.Fatal(err)
	}

	const n = 50
	type result struct {
		out, errOut string
		code        int
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, errOut, code := alice.run("credential-process", "--role", "readonly", "--timeout", "60s")
			results[i] = result{out, errOut, code}
		}()
	}
	wg.Wait()
	keys := map[string]int{}
	for i, r := range results {
		if r.code != 0 {
			t.Fatalf("process %d: exit %d: %s", i, r.code, r.errOut)
		}
		var o struct {
			Version         int
			AccessKeyID     string `json:"AccessKeyId"`
			SecretAccessKey string
			SessionToken    string
			Expiration      time.Time
		}
		if err := json.Unmarshal([]byte(r.out), &o); err != nil || o.Version != 1 || o.SessionToken == "" {
			t.Fatalf("process %d printed %q: %v", i, r.out, err)
		}
		if !o.Expiration.After(time.Now()) {
			t.Fatalf("process %d served credentials that expired at %s", i, o.Expiration)
		}
		if r.errOut != "" && strings.Contains(r.errOut, o.SecretAccessKey) {
			t.Fatalf("process %d put a secret on stderr", i)
		}
		keys[o.AccessKeyID]++
	}
	if got := vends(); got != 2 {
		t.Fatalf("%d vends in all; want exactly one re-vend for 50 parallel processes", got)
	}
	if len(keys) != 1 || keys[old] != 0 {
		t.Fatalf("the processes served %v (old key %s); want one new key for all", keys, old)
	}

	// jit logout wipes every item (tokens and credentials) and says how many;
	// afterwards nothing is served and the next step is named.
	if out := alice.must("logout"); !strings.Contains(out, "Removed 2 item(s)") {
		t.Fatalf("logout: %q", out)
	}
	if _, errOut, code := alice.run("credential-process", "--role", "readonly"); code != 4 || !strings.Contains(errOut, "jit login") {
		t.Fatalf("after logout: exit %d %q", code, errOut)
	}
}

func (u *user) cache(t *testing.T) *credcache.Cache {
	t.Helper()
	env := u.envMap()
	c, err := credcache.Open(credcache.Config{Backend: "file", FileDir: env["JIT_KEYRING_FILE_DIR"],
		FilePassphrase: func(string) (string, error) { return env["JIT_FILE_PASSPHRASE"], nil }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (u *user) envMap() map[string]string {
	env := map[string]string{}
	for _, kv := range u.env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return env
}
