package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store/sqlite"
	"github.com/jit-access/jit/pkg/store/sqlstore"
	"github.com/jit-access/jit/pkg/store/storetest"
)

func TestReopenKeepsStateAndContinuesTheChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jit.db")
	t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	r := storetest.NewRequest("r1", "alice", "dev", t0)
	if err := s.Create(t.Context(), r, []audit.Event{storetest.CreatedEvent(r)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Migrations run again at open and are a no-op; the chain head is
	// read back, so the next record links to the last one on disk.
	s, err = sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Update(t.Context(), "r1", storetest.Approve("bob", t0)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(t.Context(), "r1")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != api.StateApproved || got.Version != 2 {
		t.Fatalf("after reopen: %+v", got)
	}
	storetest.VerifyChain(t, s, 2)

	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	var distinct, latest int
	// Versions are not contiguous (each branch of work is given its own
	// range), so compare with the migration files, not with max(version).
	ms, err := sqlstore.Migrations(os.DirFS("../sqlstore"), "sqlite")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT count(*), count(DISTINCT version), max(version) FROM schema_migrations`).Scan(&n, &distinct, &latest); err != nil ||
		n != distinct || n != len(ms) || latest != ms[len(ms)-1].Version {
		t.Fatalf("schema_migrations has %d rows for %d versions up to %d (err %v): want each migration recorded once",
			n, distinct, latest, err)
	}
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q (err %v), want wal", mode, err)
	}
}

func TestZeroEventTimeTakesTheInjectedClock(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "jit.db"),
		sqlite.WithClock(func() time.Time { return at }))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Append(t.Context(), audit.Event{Type: audit.TypePolicyLoaded, Actor: "system"}); err != nil {
		t.Fatal(err)
	}
	evs := storetest.AllAudit(t, s)
	if len(evs) != 1 || !evs[0].Time.Equal(at) {
		t.Fatalf("events = %+v, want one at %s", evs, at)
	}
}
