package sqlstore

import "context"

// This file is what the store needs of a database driver. Each dialect
// adapts its driver to it (database/sql for SQLite, pgx for PostgreSQL);
// statements use ? placeholders, which an adapter rewrites if its database
// wants others.

// Rows is a query's result.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Querier runs statements.
type Querier interface {
	Query(ctx context.Context, q string, args ...any) (Rows, error)
	// Exec runs a statement and returns the number of rows it changed.
	// Without args it may hold several statements (a migration).
	Exec(ctx context.Context, q string, args ...any) (int64, error)
}

// Stmt is one statement of Tx.Send. Scan, when set, reads its rows.
type Stmt struct {
	SQL  string
	Args []any
	Scan func(Rows) error
}

// Tx is a write transaction.
type Tx interface {
	Querier
	// Send runs stmts in order and stops at the first error. PostgreSQL
	// pipelines them (one round trip for them all).
	Send(ctx context.Context, stmts []Stmt) error
	Commit(ctx context.Context) error
	// Rollback ends the transaction unless it was committed.
	Rollback(ctx context.Context) error
}

// DB is a database: reads through Querier, writes in a Tx.
type DB interface {
	Querier
	Begin(ctx context.Context) (Tx, error)
	Ping(ctx context.Context) error
	Close() error
}

// JSON marks an argument as a JSON document (a stored body): SQLite keeps
// it as TEXT, PostgreSQL as json. Adapters convert it for their driver.
type JSON []byte

// queryRow runs q and scans its first row into dest; found is false when
// there is none.
func queryRow(ctx context.Context, db Querier, q string, args []any, dest ...any) (found bool, err error) {
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return false, rows.Err()
	}
	if err := rows.Scan(dest...); err != nil {
		return false, err
	}
	return true, rows.Err()
}

// ScanFirst returns a Stmt.Scan that scans the first row into dest and
// sets *found.
func scanFirst(found *bool, dest ...any) func(Rows) error {
	return func(rows Rows) error {
		*found = false
		if !rows.Next() {
			return rows.Err()
		}
		*found = true
		return rows.Scan(dest...)
	}
}

// args turns a slice of values into statement arguments.
func args[T any](vs []T) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v
	}
	return out
}

// marks is n comma-separated placeholders.
func marks(n int) string {
	if n == 0 {
		return ""
	}
	b := make([]byte, 0, 2*n)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '?')
	}
	return string(b)
}

// in is "col IN (?, …)" for n values; with none it is false (PostgreSQL
// refuses an empty list).
func in(col string, n int) string {
	if n == 0 {
		return "1 = 0"
	}
	return col + " IN (" + marks(n) + ")"
}
