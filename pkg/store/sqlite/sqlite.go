// Package sqlite is jit's embedded store: one SQLite file (modernc.org/sqlite,
// no cgo) in WAL mode, for a single server process. It is store/sqlstore's
// one implementation with SQLite's dialect: writes go through one connection
// (the only writer, so the audit chain's head is kept in memory), reads use
// a pool, and Listen, TryLead and WithLock are in-process (local.go).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/sqlstore"
)

// Store is the SQLite store.
type Store struct {
	*sqlstore.Store
}

var _ store.Store = (*Store)(nil)

// Option configures Open.
type Option func(*sqlstore.Options)

// WithClock sets the clock used for an audit event whose Time is zero and
// for migration timestamps (default time.Now).
func WithClock(now func() time.Time) Option { return func(o *sqlstore.Options) { o.Now = now } }

// maxBatch bounds how many writes share one transaction.
const maxBatch = 64

// Open opens (creating if needed) the database at path and migrates it.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=temp_store(MEMORY)&_txlock=immediate"
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// The writer: one transaction at a time (the group commit's), on up to
	// two connections so that a statement can be prepared while one holds
	// the transaction (database.stmt).
	w.SetMaxOpenConns(2)
	r, err := sql.Open("sqlite", dsn)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r.SetMaxOpenConns(8)
	o := sqlstore.Options{MaxBatch: maxBatch}
	for _, opt := range opts {
		opt(&o)
	}
	l := newLocal()
	db := &database{write: w, read: r, closed: l.close, stmts: map[string]*sql.Stmt{}}
	s, err := sqlstore.Open(ctx, dialect(db, l), o)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &Store{s}, nil
}

// dialect is SQLite's: one writer, in-process coordination, requester
// principal columns generated from the body, the hash only in the body.
func dialect(db sqlstore.DB, l *local) sqlstore.Dialect {
	return sqlstore.Dialect{
		Name:            "sqlite",
		DB:              db,
		SingleWriter:    true,
		Explain:         "EXPLAIN QUERY PLAN ",
		ExplainColumns:  4,
		LowerASCII:      func(col string) string { return "lower(" + col + ")" }, // SQLite's lower() folds ASCII only
		MigrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`,
		RecordMigration: `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
		// Before one numbering, SQLite's 0002 was the notify tables, which
		// are 0003 now (0002 is PostgreSQL's json bodies, nothing here).
		Renumbered:  map[int]int{2: 3},
		Committed:   l.notify,
		Unavailable: unavailable,
		Coordinator: l,
	}
}

// database adapts the writer connection and the read pool to sqlstore.DB.
type database struct {
	write, read *sql.DB
	closed      func()

	// The write path's statements, prepared once and reused by every
	// transaction (tx.StmtContext keeps them per connection). Only the
	// committer uses them, one transaction at a time.
	smu   sync.Mutex
	stmts map[string]*sql.Stmt
}

// stmt returns q prepared on the writer, or nil (too many kinds already:
// multi-row inserts vary in length; or it does not prepare, which running
// it will report).
func (d *database) stmt(ctx context.Context, q string) *sql.Stmt {
	d.smu.Lock()
	defer d.smu.Unlock()
	if st, ok := d.stmts[q]; ok {
		return st
	}
	if len(d.stmts) >= 256 {
		return nil
	}
	st, err := d.write.PrepareContext(ctx, q)
	if err != nil {
		return nil
	}
	d.stmts[q] = st
	return st
}

func (d *database) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	rows, err := d.read.QueryContext(ctx, q, conv(args)...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (d *database) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	return rowsAffected(d.write.ExecContext(ctx, q, conv(args)...))
}

func (d *database) Begin(ctx context.Context) (sqlstore.Tx, error) {
	tx, err := d.write.BeginTx(ctx, nil) // _txlock=immediate: the write lock
	if err != nil {
		return nil, err
	}
	return &sqlTx{tx, d}, nil
}

func (d *database) Ping(ctx context.Context) error { return d.read.PingContext(ctx) }

func (d *database) Close() error {
	d.closed()
	// A batch still committing may prepare a statement meanwhile: close
	// them under the same lock, and leave none for it to reuse.
	d.smu.Lock()
	for q, st := range d.stmts {
		st.Close()
		delete(d.stmts, q)
	}
	d.smu.Unlock()
	return errors.Join(d.write.Close(), d.read.Close())
}

// sqlTx is a write transaction. Its statements run detached from
// cancellation: they take microseconds under the write lock, and the
// driver would start a goroutine per statement to watch the context, only
// to interrupt one halfway and risk a commit whose outcome is unknown.
type sqlTx struct {
	tx *sql.Tx
	db *database
}

func (t *sqlTx) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	ctx = context.WithoutCancel(ctx)
	var rows *sql.Rows
	var err error
	if st := t.db.stmt(ctx, q); st != nil {
		rows, err = t.tx.StmtContext(ctx, st).QueryContext(ctx, conv(args)...)
	} else {
		rows, err = t.tx.QueryContext(ctx, q, conv(args)...)
	}
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (t *sqlTx) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	ctx = context.WithoutCancel(ctx)
	if len(args) == 0 { // a migration: maybe several statements
		return rowsAffected(t.tx.ExecContext(ctx, q))
	}
	if st := t.db.stmt(ctx, q); st != nil {
		return rowsAffected(t.tx.StmtContext(ctx, st).ExecContext(ctx, conv(args)...))
	}
	return rowsAffected(t.tx.ExecContext(ctx, q, conv(args)...))
}

// Send runs stmts one after the other: SQLite is in this process, a
// statement costs no round trip.
func (t *sqlTx) Send(ctx context.Context, stmts []sqlstore.Stmt) error {
	for _, st := range stmts {
		if st.Scan == nil {
			if _, err := t.Exec(ctx, st.SQL, st.Args...); err != nil {
				return err
			}
			continue
		}
		rows, err := t.Query(ctx, st.SQL, st.Args...)
		if err != nil {
			return err
		}
		err = st.Scan(rows)
		rows.Close()
		if err := errors.Join(err, rows.Err()); err != nil {
			return err
		}
	}
	return nil
}

func (t *sqlTx) Commit(context.Context) error { return t.tx.Commit() }

func (t *sqlTx) Rollback(context.Context) error {
	if err := t.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return err
	}
	return nil
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }

func rowsAffected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// conv stores JSON documents as TEXT (json_extract reads a BLOB as JSONB).
func conv(args []any) []any {
	for i, a := range args {
		if j, ok := a.(sqlstore.JSON); ok {
			args[i] = string(j)
		}
	}
	return args
}
