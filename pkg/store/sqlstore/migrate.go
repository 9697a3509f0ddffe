package sqlstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// migrationFiles are both dialects' migrations: migrations/NNNN_what.sql
// applies to every dialect, migrations/NNNN_what.DIALECT.sql to one. One
// numbering: a version means the same change everywhere, spelled per
// dialect only where the SQL differs, and a version may exist for one
// dialect only (PostgreSQL's json bodies).
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one versioned schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the migrations of dialect in fsys's migrations/*.sql,
// in version order.
func Migrations(fsys fs.FS, dialect string) ([]Migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, name := range names {
		base := strings.TrimSuffix(path.Base(name), ".sql")
		if i := strings.LastIndexByte(base, '.'); i >= 0 {
			if base[i+1:] != dialect {
				continue
			}
			base = base[:i]
		}
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s: the name must start with its version number", name)
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", out[i-1].Name, out[i].Name, out[i].Version)
		}
	}
	return out, nil
}

// migrate applies every migration not yet in schema_migrations, each in
// its own transaction, after renumbering the versions an older database
// recorded under another number.
func (s *Store) migrate(ctx context.Context) error {
	if s.d.LockMigrations != nil {
		unlock, err := s.d.LockMigrations(ctx)
		if err != nil {
			return err
		}
		defer unlock()
	}
	if _, err := s.db.Exec(ctx, s.d.MigrationsTable); err != nil {
		return err
	}
	ms, err := Migrations(migrationFiles, s.d.Name)
	if err != nil {
		return err
	}
	if err := s.renumber(ctx, ms); err != nil {
		return err
	}
	for _, m := range ms {
		var n int64
		if _, err := queryRow(ctx, s.db, `SELECT count(*) FROM schema_migrations WHERE version = ?`, []any{m.Version}, &n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		tx, err := s.db.Begin(ctx)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			tx.Rollback(ctx) //nolint:errcheck
			return fmt.Errorf("%s: %w", m.Name, err)
		}
		if _, err := tx.Exec(ctx, s.d.RecordMigration, m.Version, s.now().UnixNano()); err != nil {
			tx.Rollback(ctx) //nolint:errcheck
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
	}
	return nil
}

// renumber moves versions an older database recorded under another number
// to today's. An old number must not be a version of today's list, or a
// recorded row could not say which numbering it is from.
func (s *Store) renumber(ctx context.Context, ms []Migration) error {
	if len(s.d.Renumbered) == 0 {
		return nil
	}
	have := map[int]bool{}
	for _, m := range ms {
		have[m.Version] = true
	}
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // nothing after Commit
	for old, now := range s.d.Renumbered {
		if have[old] || !have[now] {
			return fmt.Errorf("migration %d renumbered to %d: %d must be no version of today's and %d one", old, now, old, now)
		}
		if _, err := tx.Exec(ctx, `UPDATE schema_migrations SET version = ? WHERE version = ?
			AND NOT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?)`, now, old, now); err != nil {
			return fmt.Errorf("renumber migration %d to %d: %w", old, now, err)
		}
	}
	return tx.Commit(ctx)
}
