// Package postgres is jit's store for several server replicas on one
// PostgreSQL database (jackc/pgx). It is store/sqlstore's one implementation
// with PostgreSQL's dialect: every write transaction starts with a
// transaction advisory lock (replicas never fork the chain) and locks the
// rows it updates (SELECT … FOR UPDATE); a write batch's statements are
// pipelined in one round trip (db.go); changes are announced with pg_notify
// in the same transaction (delivered on commit) and heard with LISTEN; the
// sweeper lease and WithLock are session advisory locks (listen.go).
package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/sqlstore"
)

const (
	channel     = "jit_requests"
	lockAudit   = 0x6a69745f61756474 // "jit_audt": serialises writes (chain appends)
	lockSweeper = 0x6a69745f73776570 // "jit_swep": the sweeper lease
	lockMigrate = 0x6a69745f6d696772 // "jit_migr": one migrator at a time
	// lockKeyed is the first key of WithLock's two-key advisory locks.
	lockKeyed int32 = 0x6a69746b // "jitk"
)

// Store is the PostgreSQL store.
type Store struct {
	*sqlstore.Store
}

var _ store.Store = (*Store)(nil)

// maxBatch bounds how many writes share one transaction.
const maxBatch = 128

// Option configures Open.
type Option func(*config)

type config struct {
	sql    sqlstore.Options
	tracer pgx.QueryTracer
}

// WithClock sets the clock that stamps an audit event whose Time is zero
// (default time.Now), as the SQLite store does.
func WithClock(now func() time.Time) Option { return func(c *config) { c.sql.Now = now } }

// WithoutGroupCommit makes every write its own transaction holding the
// write lock through its commit: the same write path with batches of one
// (kept to measure one against the other).
func WithoutGroupCommit() Option { return func(c *config) { c.sql.MaxBatch = 1 } }

// WithTracer traces every statement and batch the pool's connections send
// (the benchmarks count round trips with it).
func WithTracer(t pgx.QueryTracer) Option { return func(c *config) { c.tracer = t } }

// Open connects, migrates and returns the store.
func Open(ctx context.Context, dsn string, logger *slog.Logger, opts ...Option) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres dsn: %w", err)
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		// pgxpool's default (4 on a 2-CPU host) queues requests behind
		// commits waiting on the WAL flush, and the sweeper's lease holds a
		// connection while it sweeps. Set pool_max_conns in the DSN to change.
		cfg.MaxConns = max(16, cfg.MaxConns)
	}
	o := config{sql: sqlstore.Options{MaxBatch: maxBatch}}
	for _, opt := range opts {
		opt(&o)
	}
	if o.tracer != nil {
		cfg.ConnConfig.Tracer = o.tracer
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	c := &coordinator{pool: pool, log: logger}
	s, err := sqlstore.Open(ctx, dialect(database{pool}, c), o.sql)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{s}, nil
}

// dialect is PostgreSQL's: a write lock and row locks shared by replicas,
// pg_notify, real principal and hash columns, bulk inserts from arrays.
func dialect(db database, c *coordinator) sqlstore.Dialect {
	return sqlstore.Dialect{
		Name:            "postgres",
		DB:              db,
		LockWrites:      fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d)`, lockAudit),
		ForUpdate:       " FOR UPDATE",
		AnyArray:        true,
		DerivedColumns:  true,
		AuditHashColumn: true,
		// lower() folds non-ASCII letters too; the API compares ASCII only.
		Explain:        "EXPLAIN ",
		ExplainColumns: 1,
		LowerASCII: func(col string) string {
			return "translate(" + col + ", 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
		},
		BulkInsert:      unnestInsert,
		MigrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (version INT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
		RecordMigration: `INSERT INTO schema_migrations (version, applied_at) VALUES (?, to_timestamp(CAST(? AS BIGINT) / 1e9))`,
		LockMigrations:  c.lockMigrations,
		Announce: func(ids []string) []sqlstore.Stmt {
			out := make([]sqlstore.Stmt, len(ids))
			for i, id := range ids {
				out[i] = sqlstore.Stmt{SQL: `SELECT pg_notify('` + channel + `', ?)`, Args: []any{id}}
			}
			return out
		},
		Unavailable: unavailable,
		Coordinator: c,
	}
}
