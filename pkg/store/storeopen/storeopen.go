// Package storeopen opens the store a DSN names: PostgreSQL for
// postgres:// and postgresql:// URLs, SQLite for sqlite://PATH, file:PATH or a
// plain path.
package storeopen

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/postgres"
	"github.com/jit-access/jit/pkg/store/sqlite"
)

// Open opens and migrates the store named by dsn.
func Open(ctx context.Context, dsn string, logger *slog.Logger) (store.Store, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return postgres.Open(ctx, dsn, logger)
	case strings.HasPrefix(dsn, "sqlite://"):
		return sqlite.Open(ctx, strings.TrimPrefix(dsn, "sqlite://"))
	case strings.HasPrefix(dsn, "file:"):
		return sqlite.Open(ctx, strings.TrimPrefix(dsn, "file:"))
	case dsn != "" && !strings.Contains(dsn, "://"):
		return sqlite.Open(ctx, dsn)
	}
	return nil, fmt.Errorf("store dsn %q: use postgres://USER@HOST/DB, sqlite:///var/lib/jit/jit.db, or a file path", dsn)
}
