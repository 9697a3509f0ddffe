package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/postgres"
	"github.com/jit-access/jit/pkg/store/sqlite"
	"github.com/jit-access/jit/pkg/store/sqlstore"
	"github.com/jit-access/jit/pkg/store/storetest"
)

// The migrations each store had before the one numbering (each dialect its
// own list; SQLite's 0002 was the notify tables, PostgreSQL's json bodies)
// are kept in testdata/legacy as the old runner applied them. A database
// left at any of their levels must open with today's code, end with
// today's versions recorded once each, keep its rows and work.

// legacyLevels returns the old migrations of dialect.
func legacyLevels(t *testing.T, dialect string) []sqlstore.Migration {
	t.Helper()
	ms, err := sqlstore.Migrations(os.DirFS(filepath.Join("testdata", "legacy", dialect)), dialect)
	if err != nil || len(ms) == 0 {
		t.Fatalf("legacy migrations of %s: %v (%d)", dialect, err, len(ms))
	}
	return ms
}

// oldRecord is the first record of an old log, chained as the old code did.
func oldRecord(at time.Time) (api.AuditEvent, []byte) {
	e := api.AuditEvent{Seq: 1, Time: at, Type: audit.TypeRequestCreated, Actor: "alice", Subject: "alice", Role: "dev", RequestID: "old",
		PrevHash: audit.GenesisHash}
	e.Hash = audit.Hash(e)
	b, err := audit.RecordBytes(e)
	if err != nil {
		panic(err)
	}
	return e, b
}

func oldRequest(at time.Time) (*api.Request, []byte) {
	r := storetest.NewRequest("old", "Alice@example.com", "dev", at)
	r.Version = 1
	store.NormalizeTimes(r)
	b, err := encode(r)
	if err != nil {
		panic(err)
	}
	return r, b
}

// checkUpgraded opens s's database's result: today's versions, the old
// rows, and every part of the store working on it.
func checkUpgraded(t *testing.T, s store.Store, versions []int, want []int, at time.Time) {
	t.Helper()
	if !slices.Equal(versions, want) {
		t.Fatalf("schema_migrations = %v, want today's %v", versions, want)
	}
	old, err := s.Get(t.Context(), "old")
	if err != nil || old.Requester != "Alice@example.com" {
		t.Fatalf("the old request after the upgrade: %+v, %v", old, err)
	}
	if _, err := s.Update(t.Context(), "old", storetest.Approve("bob", at)); err != nil {
		t.Fatalf("update the old request: %v", err)
	}
	page, _, err := s.List(t.Context(), store.Filter{RequesterIssuer: "https://idp", RequesterSubject: "u-alice", LegacyRequesters: []string{"alice@example.com"}})
	if err != nil || len(page) != 1 || page[0].ID != "old" {
		t.Fatalf("list the old request by its legacy name: %+v, %v", page, err)
	}
	storetest.VerifyChain(t, s, 2)
	n, root, err := store.TreeHead(t.Context(), s)
	if err != nil || n != 2 {
		t.Fatalf("tree head after the upgrade: %d, %v", n, err)
	}
	var leaves []tlog.Hash
	for _, e := range storetest.AllAudit(t, s) {
		b, _ := audit.RecordBytes(e)
		leaves = append(leaves, tlog.RecordHash(b))
	}
	if want := tlog.NodeHash(leaves[0], leaves[1]); root != want {
		t.Fatalf("tree root %x, want %x", root, want)
	}
	if err := s.SetDeliveryCursor(t.Context(), "sink", 2); err != nil {
		t.Fatal(err)
	}
	if seq, err := s.DeliveryCursor(t.Context(), "sink"); err != nil || seq != 2 {
		t.Fatalf("delivery cursor = %d, %v", seq, err)
	}
	if first, err := s.FirstUse(t.Context(), "k", at.Add(time.Hour), at); err != nil || !first {
		t.Fatalf("FirstUse = %v, %v", first, err)
	}
	if n, err := s.RecordActivity(t.Context(), []store.Call{{EventID: "e1", RequestID: "old", Requester: "alice", Role: "dev", Time: at, Action: "s3:GetObject"}}); err != nil || n != 1 {
		t.Fatalf("RecordActivity = %d, %v", n, err)
	}
}

func todaysVersions(t *testing.T, dialect string) []int {
	t.Helper()
	ms, err := sqlstore.Migrations(os.DirFS("."), dialect)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, m := range ms {
		out = append(out, m.Version)
	}
	return out
}

func TestSQLiteDatabaseAtEveryOldMigrationLevelUpgrades(t *testing.T) {
	old := legacyLevels(t, "sqlite")
	want := todaysVersions(t, "sqlite")
	at := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	for level := 1; level <= len(old); level++ {
		t.Run(fmt.Sprintf("after_%04d", old[level-1].Version), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "jit.db")
			db, err := sql.Open("sqlite", "file:"+path)
			if err != nil {
				t.Fatal(err)
			}
			// The old runner: its table, each file, each version row.
			mustExec(t, db, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`)
			for _, m := range old[:level] {
				mustExec(t, db, m.SQL)
				mustExec(t, db, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, m.Version, at.UnixNano())
			}
			r, body := oldRequest(at)
			mustExec(t, db, `INSERT INTO requests (id, requester, role, state, created_at, pending_until, ends_at, version, body) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)`,
				r.ID, r.Requester, r.Role, string(r.State), r.CreatedAt.UnixNano(), r.PendingUntil.UnixNano(), 0, string(body))
			e, rec := oldRecord(at)
			mustExec(t, db, `INSERT INTO audit (seq, time, type, actor, subject, role, request_id, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				e.Seq, e.Time.UnixNano(), e.Type, e.Actor, e.Subject, e.Role, e.RequestID, string(rec))
			if hasTree(old[:level]) {
				h := tlog.RecordHash(rec)
				mustExec(t, db, `INSERT INTO audit_tree (idx, hash) VALUES (0, ?)`, h[:])
			}
			db.Close()

			s, err := sqlite.Open(t.Context(), path)
			if err != nil {
				t.Fatalf("open a database at level %d: %v", level, err)
			}
			defer s.Close()
			db, err = sql.Open("sqlite", "file:"+path+"?mode=ro")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			checkUpgraded(t, s, sqliteVersions(t, db), want, at)
		})
	}
}

func TestPostgresDatabaseAtEveryOldMigrationLevelUpgrades(t *testing.T) {
	old := legacyLevels(t, "postgres")
	want := todaysVersions(t, "postgres")
	at := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	for level := 1; level <= len(old); level++ {
		t.Run(fmt.Sprintf("after_%04d", old[level-1].Version), func(t *testing.T) {
			dsn := testenv.Postgres(t)
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			pgExec(t, conn, `CREATE TABLE IF NOT EXISTS schema_migrations (version INT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`)
			for _, m := range old[:level] {
				pgExec(t, conn, m.SQL)
				pgExec(t, conn, `INSERT INTO schema_migrations (version) VALUES ($1)`, m.Version)
			}
			r, body := oldRequest(at)
			pgExec(t, conn, `INSERT INTO requests (id, requester, role, state, created_at, pending_until, ends_at, version, body) VALUES ($1, $2, $3, $4, $5, $6, 0, 1, $7)`,
				r.ID, r.Requester, r.Role, string(r.State), r.CreatedAt.UnixNano(), r.PendingUntil.UnixNano(), body)
			e, rec := oldRecord(at)
			pgExec(t, conn, `INSERT INTO audit (seq, time, type, actor, subject, role, request_id, hash, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
				e.Seq, e.Time.UnixNano(), e.Type, e.Actor, e.Subject, e.Role, e.RequestID, e.Hash, rec)
			if hasTree(old[:level]) {
				h := tlog.RecordHash(rec)
				pgExec(t, conn, `INSERT INTO audit_tree (idx, hash) VALUES (0, $1)`, h[:])
			}
			if hasNotify(old[:level]) {
				// A cursor written by the old code (updated_at a timestamptz).
				pgExec(t, conn, `INSERT INTO delivery_cursors (sink, seq) VALUES ('old-sink', 1)`)
			}

			s, err := postgres.Open(ctx, dsn, nil)
			if err != nil {
				t.Fatalf("open a database at level %d: %v", level, err)
			}
			defer s.Close()
			rows, err := conn.Query(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
			if err != nil {
				t.Fatal(err)
			}
			versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
			if err != nil {
				t.Fatal(err)
			}
			checkUpgraded(t, s, versions, want, at)
			if hasNotify(old[:level]) {
				if seq, err := s.DeliveryCursor(t.Context(), "old-sink"); err != nil || seq != 1 {
					t.Fatalf("the old cursor after the upgrade: %d, %v", seq, err)
				}
			}
		})
	}
}

func hasTree(ms []sqlstore.Migration) bool {
	return slices.ContainsFunc(ms, func(m sqlstore.Migration) bool { return m.Version == 30 })
}

func hasNotify(ms []sqlstore.Migration) bool {
	return slices.ContainsFunc(ms, func(m sqlstore.Migration) bool { return m.Version == 3 })
}

func mustExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func pgExec(t *testing.T, conn *pgx.Conn, q string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func sqliteVersions(t *testing.T, db *sql.DB) []int {
	t.Helper()
	rows, err := db.Query(`SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}
