package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/sqlite"
	"github.com/jit-access/jit/pkg/store/storetest"
)

// TestPrincipalMigrationKeepsExistingRows applies migration 0010 to a
// database that already holds requests (one stored before principals, one
// with a NUL escape in its body) and checks that both still load and that
// "my requests" finds them by principal or by legacy name.
func TestPrincipalMigrationKeepsExistingRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jit.db")
	t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	legacy := storetest.NewRequest("legacy", "alice@example.com", "dev", t0)
	legacy.Reason = "nul \x00 inside"
	modern := storetest.NewRequest("modern", "alice@example.com", "dev", t0.Add(time.Second))
	modern.RequesterIssuer, modern.RequesterSubject = "https://idp.example.com", "u-alice"
	for _, req := range []*api.Request{legacy, modern} {
		if err := s.Create(t.Context(), req, []audit.Event{storetest.CreatedEvent(req)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Take the database back to before 0010, rows and all.
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP INDEX requests_principal`, `ALTER TABLE requests DROP COLUMN requester_sub`,
		`ALTER TABLE requests DROP COLUMN requester_iss`, `DELETE FROM schema_migrations WHERE version = 10`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s, err = sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("migrate a database with rows: %v", err)
	}
	defer s.Close()
	page, _, err := s.List(t.Context(), store.Filter{RequesterIssuer: "https://idp.example.com", RequesterSubject: "u-alice",
		LegacyRequesters: []string{"Alice@example.com"}})
	if err != nil || len(page) != 2 || page[0].ID != "modern" || page[1].ID != "legacy" || page[1].Reason != legacy.Reason {
		t.Fatalf("after migration: %+v %v", page, err)
	}
}
