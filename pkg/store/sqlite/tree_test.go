package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/sqlite"
	"github.com/jit-access/jit/pkg/store/storetest"
)

func TestAuditTreeIsBuiltForALogWrittenBeforeIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jit.db")
	storetest.RunTreeRebuild(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, func(t *testing.T) {
		db, err := sql.Open("sqlite", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(`DELETE FROM audit_tree`); err != nil {
			t.Fatal(err)
		}
	})
}
