// Package storeopen opens the store a DSN names: PostgreSQL for
// postgres:// and postgresql:// URLs, SQLite for sqlite://PATH, file:PATH or a
// plain path.
package storeopen

import (
	"context"
	"log/slog"
	"strings"

	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/postgres"
	"github.com/jit-access/jit/pkg/store/sqlite"
)

// Open opens and migrates the store named by dsn.
func Open(ctx context.Context, dsn string, logger *slog.Logger) (store.Store, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return postgres.Open(ctx, dsn, logger)
	}
	path, err := sqlitePath(dsn)
	if err != nil {
		return nil, err
	}
	return sqlite.Open(ctx, path)
}
