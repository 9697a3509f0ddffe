package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/note"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/apiclient"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/server"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/postgres"
	"github.com/jit-access/jit/pkg/store/sqlite"
	"github.com/jit-access/jit/pkg/witness"
)

func checkpointKey(t *testing.T, name string) *audit.Key {
	t.Helper()
	skey, _, err := audit.GenerateKey(name)
	if err != nil {
		t.Fatal(err)
	}
	k, err := audit.ParseKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// serveFile runs a jit server on the SQLite file at path, signing
// checkpoints with key, until t ends: a subtest is one server's lifetime.
func serveFile(t *testing.T, path string, key *audit.Key) (*apiclient.Client, store.Store) {
	t.Helper()
	idp, tokens := identities(t)
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	js := testenv.StartJitServer(t, testenv.JitServerOptions{Issuer: idp.Issuer(), ClientID: idp.ClientID(), Policy: testPolicy,
		Tweak: func(o *server.Options, _ string) { o.Store = st; o.CheckpointKey = key }})
	c, err := apiclient.New(js.URL, nil, func(context.Context) (string, error) { return tokens["alice"], nil })
	if err != nil {
		t.Fatal(err)
	}
	return c, st
}

func createN(t *testing.T, c *apiclient.Client, n int, reason string) {
	t.Helper()
	for i := range n {
		if _, err := c.Create(t.Context(), api.CreateRequest{Role: "readonly", Reason: fmt.Sprintf("%s %d", reason, i)}); err != nil {
			t.Fatal(err)
		}
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

// The attack: an operator with database access stops the server, restores
// an older copy of its database and writes different events until the log
// is longer than before, so that its length looks right and its chain
// verifies. A client that witnessed the longer log before catches it.
func TestRolledBackAndRewrittenSQLiteLogIsCaughtByAWitness(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "jit.db")
	key := checkpointKey(t, "jit.example.com")
	w := &witness.Witness{Dir: filepath.Join(dir, "witness")}
	const server = "https://jit.example.com" // the name clients know the server by; its test port changes per start
	var before *witness.Result

	t.Run("honest", func(t *testing.T) {
		c, _ := serveFile(t, db, key)
		createN(t, c, 3, "first")
		if _, err := w.Observe(t.Context(), server, c, ""); err != nil {
			t.Fatal(err)
		}
	})
	copyFile(t, db, filepath.Join(dir, "old.db")) // the operator's older copy
	t.Run("grows", func(t *testing.T) {
		c, _ := serveFile(t, db, key)
		createN(t, c, 4, "second")
		var err error
		if before, err = w.Observe(t.Context(), server, c, ""); err != nil {
			t.Fatalf("honest growth refused: %v", err)
		}
		if before.First || before.Current.Size <= before.Previous.Size {
			t.Fatalf("second observation: %+v", before)
		}
		var warn bytes.Buffer
		witness.Background(t.Context(), func() (string, error) { return w.Dir, nil }, server, c, &warn)()
		if warn.Len() != 0 {
			t.Fatalf("an honest log drew a warning: %s", warn.String())
		}
	})
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(db + suffix)
	}
	copyFile(t, filepath.Join(dir, "old.db"), db)
	t.Run("rolled back and rewritten", func(t *testing.T) {
		c, st := serveFile(t, db, key)
		for {
			n, err := st.AuditTreeSize(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if n > before.Current.Size {
				break
			}
			createN(t, c, 1, "rewritten")
		}
		if rep := verifyStoreChain(t, st); !rep.OK {
			t.Fatalf("the rewritten log's chain should verify on its own (that is the attack): %v", rep.Err)
		}
		_, err := w.Observe(t.Context(), server, c, "")
		var inc *witness.InconsistentError
		if !errors.As(err, &inc) || !errors.Is(err, audit.ErrInconsistent) {
			t.Fatalf("rewritten log: err %v, want an InconsistentError", err)
		}
		if inc.Previous != before.Current || inc.Current.Size <= before.Current.Size {
			t.Fatalf("the error carries %v and %v, want the witnessed checkpoint %v and the longer rewritten one", inc.Previous, inc.Current, before.Current)
		}
		// The ordinary commands' background check warns.
		var warn bytes.Buffer
		witness.Background(t.Context(), func() (string, error) { return w.Dir, nil }, server, c, &warn)()
		if !strings.Contains(warn.String(), "WARNING") || !strings.Contains(warn.String(), before.Current.String()) {
			t.Fatalf("background check printed %q", warn.String())
		}
		// The witness keeps the checkpoint it verified, not the bad one.
		v, _ := note.NewVerifier(before.Key)
		kept, _, _, err := w.Load(server, v)
		if err != nil || kept != before.Current {
			t.Fatalf("witness now holds %v (%v), want %v", kept, err, before.Current)
		}
	})
}

func verifyStoreChain(t *testing.T, st store.Store) audit.Report {
	t.Helper()
	v := audit.NewVerifier()
	if err := store.EachAudit(t.Context(), st, store.AuditFilter{}, func(e api.AuditEvent) (bool, error) { return v.Add(e) == nil, nil }); err != nil {
		t.Fatal(err)
	}
	return v.Result()
}

// witnessedOnce serves a fresh database file with a signing key, makes a
// request and has a new witness observe the signed checkpoint, in a
// subtest named step; it returns the file and the witness.
func witnessedOnce(t *testing.T, step string) (string, *witness.Witness) {
	t.Helper()
	dir := t.TempDir()
	db := filepath.Join(dir, "jit.db")
	w := &witness.Witness{Dir: filepath.Join(dir, "witness")}
	t.Run(step, func(t *testing.T) {
		c, _ := serveFile(t, db, checkpointKey(t, "jit.example.com"))
		createN(t, c, 1, "x")
		if _, err := w.Observe(t.Context(), "https://jit.example.com", c, ""); err != nil {
			t.Fatal(err)
		}
	})
	return db, w
}

func TestCheckpointSignedByAnotherKeyIsRefusedByTheWitness(t *testing.T) {
	db, w := witnessedOnce(t, "pinned")
	const server = "https://jit.example.com"
	t.Run("new key", func(t *testing.T) {
		// Same name, another key: what someone holding the database but not
		// the signing key would have to do to sign a rewritten history.
		c, _ := serveFile(t, db, checkpointKey(t, "jit.example.com"))
		_, err := w.Observe(t.Context(), server, c, "")
		if !errors.Is(err, audit.ErrCheckpointSignature) {
			t.Fatalf("checkpoint by another key: err %v, want ErrCheckpointSignature", err)
		}
		if err := w.CheckKey(t.Context(), server, c, ""); !errors.Is(err, witness.ErrKeyChanged) {
			t.Fatalf("CheckKey: %v", err)
		}
	})
}

func TestCheckpointAndProofsAreForAnyUserRecordsStayAdminOnly(t *testing.T) {
	key := checkpointKey(t, "jit.example.com")
	e := newEnvWith(t, func(o *server.Options) { o.CheckpointKey = key })
	for range 5 {
		e.create("alice", api.CreateRequest{Role: "readonly", Reason: "r"})
	}
	if code := e.call("", "GET", "/v1/audit/checkpoint", nil, nil); code != http.StatusUnauthorized {
		t.Fatalf("anonymous checkpoint: HTTP %d, want 401", code)
	}
	var k api.AuditKey
	if code := e.call("", "GET", "/v1/audit/key", nil, &k); code != http.StatusOK || k.VerifierKey != key.VerifierKey {
		t.Fatalf("anonymous key: HTTP %d %q, want the verifier key", code, k.VerifierKey)
	}
	var cp api.AuditCheckpoint
	if code := e.call("alice", "GET", "/v1/audit/checkpoint", nil, &cp); code != http.StatusOK {
		t.Fatalf("alice's checkpoint: HTTP %d", code)
	}
	v, _ := note.NewVerifier(key.VerifierKey)
	c, err := audit.OpenCheckpoint([]byte(cp.Checkpoint), v)
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := e.errorOf("alice", "GET", "/v1/audit", nil); code != http.StatusForbidden {
		t.Fatalf("alice reading records: HTTP %d, want 403", code)
	}
	var list api.AuditList
	if code := e.call("carol", "GET", "/v1/audit?limit=1000", nil, &list); code != http.StatusOK || int64(len(list.Events)) < c.Size {
		t.Fatalf("admin records: HTTP %d, %d records for a tree of %d", code, len(list.Events), c.Size)
	}
	for _, ev := range list.Events[:c.Size] {
		var p api.AuditProof
		if code := e.call("alice", "GET", fmt.Sprintf("/v1/audit/proof/inclusion?seq=%d&size=%d", ev.Seq, c.Size), nil, &p); code != http.StatusOK {
			t.Fatalf("inclusion proof %d: HTTP %d", ev.Seq, code)
		}
		if err := audit.CheckInclusion(c, ev, p.Proof); err != nil {
			t.Fatal(err)
		}
	}
	var p api.AuditProof
	if code := e.call("alice", "GET", fmt.Sprintf("/v1/audit/proof/consistency?from=2&size=%d", c.Size), nil, &p); code != http.StatusOK || len(p.Proof) == 0 {
		t.Fatalf("consistency proof: HTTP %d, %d hashes", code, len(p.Proof))
	}
	if code, _ := e.errorOf("alice", "GET", fmt.Sprintf("/v1/audit/proof/inclusion?seq=1&size=%d", c.Size+1000), nil); code != http.StatusNotFound {
		t.Fatalf("proof beyond the log: HTTP %d, want 404", code)
	}
}

func TestServerWithoutSigningKeySaysHowToTurnCheckpointsOn(t *testing.T) {
	e := newEnv(t)
	code, ae := e.errorOf("alice", "GET", "/v1/audit/checkpoint", nil)
	if code != http.StatusNotFound || !strings.Contains(ae.Hint, "signing_key_file") {
		t.Fatalf("HTTP %d %+v", code, ae)
	}
}

// An operator who rewrote the log could try to escape witnesses by turning
// checkpoints off; a witness that saw checkpoints before refuses that.
func TestWitnessCatchesAServerThatStopsSigningCheckpoints(t *testing.T) {
	db, w := witnessedOnce(t, "signing")
	const server = "https://jit.example.com"
	t.Run("not signing", func(t *testing.T) {
		c, _ := serveFile(t, db, nil)
		_, err := w.Observe(t.Context(), server, c, "")
		var inc *witness.InconsistentError
		if !errors.As(err, &inc) {
			t.Fatalf("err %v, want an InconsistentError", err)
		}
	})
}

// serveStore is serveFile for any store opened by open.
func serveStore(t *testing.T, open func(t *testing.T) store.Store, key *audit.Key) (*apiclient.Client, store.Store) {
	t.Helper()
	idp, tokens := identities(t)
	st := open(t)
	t.Cleanup(func() { st.Close() })
	js := testenv.StartJitServer(t, testenv.JitServerOptions{Issuer: idp.Issuer(), ClientID: idp.ClientID(), Policy: testPolicy,
		Tweak: func(o *server.Options, _ string) { o.Store = st; o.CheckpointKey = key }})
	c, err := apiclient.New(js.URL, nil, func(context.Context) (string, error) { return tokens["alice"], nil })
	if err != nil {
		t.Fatal(err)
	}
	return c, st
}

// The same attack on PostgreSQL: the operator keeps a copy of the database
// (CREATE DATABASE … TEMPLATE, as a restored dump would be), lets the log
// grow, stops the server, restores the copy and writes other events until
// the log is longer than before.
func TestRolledBackAndRewrittenPostgresLogIsCaughtByAWitness(t *testing.T) {
	dsn := testenv.Postgres(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	dbName := strings.TrimPrefix(u.Path, "/")
	admin, err := pgx.Connect(t.Context(), os.Getenv(testenv.PostgresDSNEnv))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	exec := func(q string) {
		t.Helper()
		if _, err := admin.Exec(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	backup := dbName + "_old"
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+backup) })
	open := func(t *testing.T) store.Store {
		s, err := postgres.Open(context.Background(), dsn, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	key := checkpointKey(t, "jit.example.com")
	w := &witness.Witness{Dir: t.TempDir()}
	const name = "https://jit.example.com"
	var longer int64
	t.Run("honest", func(t *testing.T) {
		c, _ := serveStore(t, open, key)
		createN(t, c, 3, "first")
		if _, err := w.Observe(t.Context(), name, c, ""); err != nil {
			t.Fatal(err)
		}
	})
	exec("CREATE DATABASE " + backup + " TEMPLATE " + dbName)
	t.Run("grows", func(t *testing.T) {
		c, _ := serveStore(t, open, key)
		createN(t, c, 4, "second")
		res, err := w.Observe(t.Context(), name, c, "")
		if err != nil {
			t.Fatal(err)
		}
		longer = res.Current.Size
	})
	exec("DROP DATABASE " + dbName)
	exec("CREATE DATABASE " + dbName + " TEMPLATE " + backup)
	t.Run("rolled back and rewritten", func(t *testing.T) {
		c, st := serveStore(t, open, key)
		for {
			n, err := st.AuditTreeSize(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if n > longer {
				break
			}
			createN(t, c, 1, "rewritten")
		}
		if rep := verifyStoreChain(t, st); !rep.OK {
			t.Fatalf("the rewritten chain should verify on its own: %v", rep.Err)
		}
		_, err := w.Observe(t.Context(), name, c, "")
		if !errors.Is(err, audit.ErrInconsistent) {
			t.Fatalf("rewritten PostgreSQL log: err %v, want ErrInconsistent", err)
		}
	})
}
