package witness_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/apiclient"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/server"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/sqlite"
	"github.com/jit-access/jit/pkg/witness"
)

const name = "https://jit.example.com" // the name clients know the server by

var policy = testenv.Policy(testenv.ReadOnly.Without("default_duration").Without("auto_approve"))

// world is one signed-in user (a real zitadel-signed token) and the SQLite
// file the servers it talks to run on.
type world struct {
	db    string
	token string
	iss   string
	cid   string
	w     *witness.Witness
}

func newWorld(t *testing.T) *world {
	t.Helper()
	idp := testenv.OIDC(t)
	dir := t.TempDir()
	return &world{db: filepath.Join(dir, "jit.db"), token: testenv.DeviceToken(t, idp, "alice").Extra("id_token").(string),
		iss: idp.Issuer(), cid: idp.ClientID(), w: &witness.Witness{Dir: filepath.Join(dir, "witness")}}
}

// serve runs a jit server on the world's file with key until t ends; wrap,
// when set, stands in front of it (a proxy or a lying server).
func (wd *world) serve(t *testing.T, key *audit.Key, wrap func(http.Handler) http.Handler) (*apiclient.Client, store.Store) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), wd.db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	js := testenv.StartJitServer(t, testenv.JitServerOptions{Issuer: wd.iss, ClientID: wd.cid, Policy: policy,
		Tweak: func(o *server.Options, _ string) { o.Store = st; o.CheckpointKey = key }})
	base := js.URL
	if wrap != nil {
		u, _ := url.Parse(js.URL)
		front := httptest.NewServer(wrap(httputil.NewSingleHostReverseProxy(u)))
		t.Cleanup(front.Close)
		base = front.URL
	}
	c, err := apiclient.New(base, nil, func(context.Context) (string, error) { return wd.token, nil })
	if err != nil {
		t.Fatal(err)
	}
	return c, st
}

func create(t *testing.T, c *apiclient.Client, n int) {
	t.Helper()
	for i := range n {
		if _, err := c.Create(t.Context(), api.CreateRequest{Role: "readonly", Reason: fmt.Sprintf("r %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
}

func key(t *testing.T) *audit.Key {
	t.Helper()
	skey, _, err := audit.GenerateKey("jit.example.com")
	if err != nil {
		t.Fatal(err)
	}
	k, err := audit.ParseKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (wd *world) background(t *testing.T, c *apiclient.Client) string {
	t.Helper()
	var warn bytes.Buffer
	witness.Background(t.Context(), func() (string, error) { return wd.w.Dir, nil }, name, c, &warn)()
	return warn.String()
}

// witnessed serves the world's file, makes three requests and witnesses
// them, in a subtest (one server's lifetime).
func (wd *world) witnessed(t *testing.T, k *audit.Key) {
	t.Helper()
	t.Run("witnessed", func(t *testing.T) {
		c, _ := wd.serve(t, k, nil)
		create(t, c, 3)
		if _, err := wd.w.Observe(t.Context(), name, c, ""); err != nil {
			t.Fatal(err)
		}
		if warn := wd.background(t, c); warn != "" {
			t.Fatalf("an honest server drew a warning: %s", warn)
		}
	})
}

// A server that answers checkpoint?from=N with 503 (anything but a proof)
// silenced every witness: only a 404 drew a warning.
func TestBackgroundCheckWarnsWhenTheServerAnswersTheProofWith503(t *testing.T) {
	wd := newWorld(t)
	k := key(t)
	wd.witnessed(t, k)
	c, _ := wd.serve(t, k, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v1/audit/checkpoint" && r.URL.Query().Get("from") != "" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = io.WriteString(w, `{"code":"unavailable","message":"try again later"}`)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	create(t, c, 1)
	warn := wd.background(t, c)
	if !strings.Contains(warn, "WARNING") || !strings.Contains(warn, "did not prove") {
		t.Fatalf("background check printed %q, want a warning that the server did not prove its log", warn)
	}
	if _, err := wd.w.Observe(t.Context(), name, c, ""); !errors.Is(err, witness.ErrUnproven) {
		t.Fatalf("Observe: %v, want ErrUnproven", err)
	}
}

// A server that sends a proof from another size than the one asked for
// (which cannot prove anything about the witnessed tree), or no proof.
func TestBackgroundCheckWarnsOnAProofFromAnotherSizeOrNone(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(cp *api.AuditCheckpoint)
	}{
		{"another size", func(cp *api.AuditCheckpoint) { cp.From-- }},
		{"no proof", func(cp *api.AuditCheckpoint) { cp.From, cp.Consistency = 0, nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wd := newWorld(t)
			k := key(t)
			wd.witnessed(t, k)
			c, _ := wd.serve(t, k, func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path != "/v1/audit/checkpoint" || r.URL.Query().Get("from") == "" {
						h.ServeHTTP(w, r)
						return
					}
					from, _ := strconv.Atoi(r.URL.Query().Get("from"))
					q := r.URL.Query()
					q.Set("from", strconv.Itoa(from-1))
					r.URL.RawQuery = q.Encode()
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, r)
					var cp api.AuditCheckpoint
					if err := json.Unmarshal(rec.Body.Bytes(), &cp); err != nil {
						t.Errorf("proxy: %v", err)
					}
					tc.edit(&cp)
					w.Header().Set("Content-Type", "application/json")
					_ = json.NewEncoder(w).Encode(cp)
				})
			})
			create(t, c, 1)
			if warn := wd.background(t, c); !strings.Contains(warn, "WARNING") {
				t.Fatalf("background check printed %q, want a warning", warn)
			}
		})
	}
}

// A database operator deletes audit_tree rows: the server still signs
// checkpoints (the tree's frontier is left), but every consistency proof
// is a 500. That must not pass as "the server is having a bad day".
func TestBackgroundCheckWarnsWhenTheTreeHashesWereDeletedFromSQLite(t *testing.T) {
	wd := newWorld(t)
	k := key(t)
	wd.witnessed(t, k)
	c, st := wd.serve(t, k, nil)
	create(t, c, 2)
	n, err := st.AuditTreeSize(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", wd.db)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	keep := store.FrontierIndexes(n)
	args := make([]any, len(keep))
	for i, x := range keep {
		args[i] = x
	}
	res, err := db.Exec("DELETE FROM audit_tree WHERE idx NOT IN (?"+strings.Repeat(",?", len(keep)-1)+")", args...)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := res.RowsAffected(); m == 0 {
		t.Fatal("deleted no tree rows")
	}
	// Signing goes on.
	var cp api.AuditCheckpoint
	if got, err := c.AuditCheckpoint(t.Context(), 0); err != nil || got.Checkpoint == "" {
		t.Fatalf("the server should still sign: %v %+v", err, cp)
	}
	warn := wd.background(t, c)
	if !strings.Contains(warn, "WARNING") || !strings.Contains(warn, "did not prove") {
		t.Fatalf("background check printed %q, want a warning", warn)
	}
}

// "The key leaked, pin NEW" with a rollback at the same moment: observing
// with the new key found nothing witnessed under it, reported a first
// sighting and accepted the rewritten log. A new key is pinned only if its
// checkpoint extends the old key's newest one.
func TestNewKeyIsNotPinnedOverARolledBackLog(t *testing.T) {
	wd := newWorld(t)
	old := key(t)
	t.Run("short", func(t *testing.T) {
		c, _ := wd.serve(t, old, nil)
		create(t, c, 2)
		if _, err := wd.w.Observe(t.Context(), name, c, ""); err != nil {
			t.Fatal(err)
		}
	})
	copyFile(t, wd.db, wd.db+".old")
	var longer int64
	t.Run("longer", func(t *testing.T) {
		c, _ := wd.serve(t, old, nil)
		create(t, c, 3)
		res, err := wd.w.Observe(t.Context(), name, c, "")
		if err != nil {
			t.Fatal(err)
		}
		longer = res.Current.Size
	})
	for _, s := range []string{"", "-wal", "-shm"} {
		os.Remove(wd.db + s)
	}
	copyFile(t, wd.db+".old", wd.db)
	fresh := key(t)
	t.Run("rolled back under a new key", func(t *testing.T) {
		c, st := wd.serve(t, fresh, nil)
		for {
			n, err := st.AuditTreeSize(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if n > longer {
				break
			}
			create(t, c, 1)
		}
		_, err := wd.w.Observe(t.Context(), name, c, fresh.VerifierKey)
		if !errors.Is(err, audit.ErrInconsistent) || !strings.Contains(err.Error(), "NOT pinned") {
			t.Fatalf("observing with the new key: %v, want ErrInconsistent saying the key is not pinned", err)
		}
		if got, _ := wd.w.PinnedKey(name); got != old.VerifierKey {
			t.Fatalf("pinned key %q, want the old one", got)
		}
	})
}

// An honest rotation: the new key's log extends what the old key's
// witness saw, so one `Observe` with the new key re-pins it for good; the
// background check of ordinary commands is quiet afterwards.
func TestRepinnedKeySticksAfterAnHonestRotation(t *testing.T) {
	wd := newWorld(t)
	old := key(t)
	wd.witnessed(t, old)
	fresh := key(t)
	c, _ := wd.serve(t, fresh, nil)
	create(t, c, 2)
	warn := wd.background(t, c)
	if !strings.Contains(warn, "pinned "+old.VerifierKey+", the server publishes "+fresh.VerifierKey) {
		t.Fatalf("before re-pinning the background check printed %q, want which key is pinned and which one is published", warn)
	}
	res, err := wd.w.Observe(t.Context(), name, c, fresh.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	if res.Repinned != old.VerifierKey || res.Previous.Size == 0 || res.First {
		t.Fatalf("re-pin result %+v", res)
	}
	create(t, c, 1)
	if _, err := wd.w.Observe(t.Context(), name, c, ""); err != nil {
		t.Fatalf("a plain observation after re-pinning: %v", err)
	}
	if warn := wd.background(t, c); warn != "" {
		t.Fatalf("background check after re-pinning printed %q", warn)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// A witness that first saw a server's empty log (a fresh server: size 0)
// asked it for a consistency proof from size 0 on every later look, which
// no server can send, and called the honest server's log unproven ever
// after. Every log extends the empty one.
func TestWitnessOfAnEmptyLogFollowsItsGrowth(t *testing.T) {
	wd := newWorld(t)
	c, _ := wd.serve(t, key(t), nil)
	res, err := wd.w.Observe(t.Context(), name, c, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Current.Size != 0 {
		t.Fatalf("a fresh server's log has %d records; this test needs it empty", res.Current.Size)
	}
	create(t, c, 2)
	res, err = wd.w.Observe(t.Context(), name, c, "")
	if err != nil {
		t.Fatalf("the witness refused an honest log that grew from empty: %v", err)
	}
	if res.Current.Size == 0 || res.Previous.Size != 0 {
		t.Fatalf("witnessed %d after %d, want growth from 0", res.Current.Size, res.Previous.Size)
	}
	if warn := wd.background(t, c); warn != "" {
		t.Fatalf("an honest server drew a warning: %s", warn)
	}
}
