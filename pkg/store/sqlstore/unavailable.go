package sqlstore

import (
	"context"
	"errors"

	"github.com/jit-access/jit/pkg/store"
)

// The database's own failures (a restart, a cut network, a full disk) leave
// the store as store.UnavailableError, which the API answers with 503, so
// that a client is told to retry instead of seeing an internal error. The
// dialect says which of its driver's errors they are (Dialect.Unavailable);
// guardDB wraps every error of the driver with it.

// unavailable wraps err when the dialect calls it the database's failure.
func unavailable(classify func(error) string, err error) error {
	if err == nil {
		return nil
	}
	var u *store.UnavailableError
	if errors.As(err, &u) {
		return err
	}
	if reason := classify(err); reason != "" {
		return &store.UnavailableError{Reason: reason, Err: err}
	}
	return err
}

type guardDB struct {
	db       DB
	classify func(error) string
}

func (g guardDB) Query(ctx context.Context, q string, args ...any) (Rows, error) {
	rows, err := g.db.Query(ctx, q, args...)
	if err != nil {
		return nil, unavailable(g.classify, err)
	}
	return guardRows{rows, g.classify}, nil
}

func (g guardDB) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	n, err := g.db.Exec(ctx, q, args...)
	return n, unavailable(g.classify, err)
}

func (g guardDB) Begin(ctx context.Context) (Tx, error) {
	tx, err := g.db.Begin(ctx)
	if err != nil {
		return nil, unavailable(g.classify, err)
	}
	return guardTx{tx, g.classify}, nil
}

func (g guardDB) Ping(ctx context.Context) error { return unavailable(g.classify, g.db.Ping(ctx)) }
func (g guardDB) Close() error                   { return g.db.Close() }

type guardTx struct {
	tx       Tx
	classify func(error) string
}

func (g guardTx) Query(ctx context.Context, q string, args ...any) (Rows, error) {
	rows, err := g.tx.Query(ctx, q, args...)
	if err != nil {
		return nil, unavailable(g.classify, err)
	}
	return guardRows{rows, g.classify}, nil
}

func (g guardTx) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	n, err := g.tx.Exec(ctx, q, args...)
	return n, unavailable(g.classify, err)
}

func (g guardTx) Send(ctx context.Context, stmts []Stmt) error {
	return unavailable(g.classify, g.tx.Send(ctx, stmts))
}

func (g guardTx) Commit(ctx context.Context) error { return unavailable(g.classify, g.tx.Commit(ctx)) }

func (g guardTx) Rollback(ctx context.Context) error {
	return unavailable(g.classify, g.tx.Rollback(ctx))
}

type guardRows struct {
	rows     Rows
	classify func(error) string
}

func (g guardRows) Next() bool             { return g.rows.Next() }
func (g guardRows) Scan(dest ...any) error { return unavailable(g.classify, g.rows.Scan(dest...)) }
func (g guardRows) Err() error             { return unavailable(g.classify, g.rows.Err()) }
func (g guardRows) Close()                 { g.rows.Close() }
