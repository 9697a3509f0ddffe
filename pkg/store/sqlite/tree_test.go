package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/sqlite"
)

func TestAuditTreeIsBuiltForALogWrittenBeforeIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jit.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := s.Append(t.Context(), store.Event{Time: time.Unix(int64(i), 0), Type: audit.TypePolicyLoaded, Actor: "server"}); err != nil {
			t.Fatal(err)
		}
	}
	_, want, err := store.TreeHead(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	// As an existing log looks after the 0030 migration: records, no tree.
	if _, err := db.Exec(`DELETE FROM audit_tree`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err = sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	size, got, err := store.TreeHead(t.Context(), s)
	if err != nil || size != 50 || got != want {
		t.Fatalf("rebuilt tree: size %d root %s (%v), want 50 and %s", size, got, err, want)
	}
}
