package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jit-access/jit/pkg/store/sqlstore"
)

// database adapts a pgx pool to sqlstore.DB. pgx rather than database/sql:
// Tx.Send pipelines a write batch's statements (pgx.Batch), so a batch of
// any size costs about three round trips.
type database struct{ pool *pgxpool.Pool }

func (d database) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	return d.pool.Query(ctx, rebind(q, args), conv(args)...)
}

func (d database) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := d.pool.Exec(ctx, rebind(q, args), conv(args)...)
	return tag.RowsAffected(), err
}

func (d database) Begin(ctx context.Context) (sqlstore.Tx, error) {
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return pgTx{tx}, nil
}

func (d database) Ping(ctx context.Context) error { return d.pool.Ping(ctx) }

func (d database) Close() error {
	d.pool.Close()
	return nil
}

type pgTx struct{ tx pgx.Tx }

func (t pgTx) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	return t.tx.Query(ctx, rebind(q, args), conv(args)...)
}

// Exec runs q; without arguments pgx uses the simple protocol, which takes
// several statements (a migration).
func (t pgTx) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := t.tx.Exec(ctx, rebind(q, args), conv(args)...)
	return tag.RowsAffected(), err
}

// Send pipelines stmts: one round trip for them all.
func (t pgTx) Send(ctx context.Context, stmts []sqlstore.Stmt) error {
	if len(stmts) == 0 {
		return nil
	}
	var b pgx.Batch
	for _, st := range stmts {
		b.Queue(rebind(st.SQL, st.Args), conv(st.Args)...)
	}
	br := t.tx.SendBatch(ctx, &b)
	for _, st := range stmts {
		if st.Scan == nil {
			if _, err := br.Exec(); err != nil {
				br.Close()
				return err
			}
			continue
		}
		rows, err := br.Query()
		if err != nil {
			br.Close()
			return err
		}
		err = st.Scan(rows)
		rows.Close()
		if err := errors.Join(err, rows.Err()); err != nil {
			br.Close()
			return err
		}
	}
	return br.Close()
}

func (t pgTx) Commit(ctx context.Context) error { return t.tx.Commit(ctx) }

func (t pgTx) Rollback(ctx context.Context) error {
	if err := t.tx.Rollback(ctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		return err
	}
	return nil
}

// rebind numbers q's ? placeholders ($1, $2, …); a statement without
// arguments is left alone (a migration's text is not a template).
func rebind(q string, args []any) string {
	if len(args) == 0 || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 2*len(args))
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// conv passes JSON documents to pgx as raw bytes (json columns).
func conv(args []any) []any {
	for i, a := range args {
		if j, ok := a.(sqlstore.JSON); ok {
			args[i] = []byte(j)
		}
	}
	return args
}

// unnestInsert inserts rows in one statement from one array per column,
// whatever their number: one statement text, prepared once.
func unnestInsert(table string, cols []string, vals []any) []sqlstore.Stmt {
	n, w := len(vals)/len(cols), len(cols)
	arrays := make([]any, w)
	from := make([]string, w)
	sel := make([]string, w)
	for c := range cols {
		sel[c] = "u." + cols[c]
		switch vals[c].(type) {
		case int64:
			a := make([]int64, n)
			for i := range a {
				a[i] = vals[i*w+c].(int64)
			}
			arrays[c], from[c] = a, "?::bigint[]"
		case string:
			a := make([]string, n)
			for i := range a {
				a[i] = vals[i*w+c].(string)
			}
			arrays[c], from[c] = a, "?::text[]"
		case sqlstore.JSON:
			a := make([]string, n)
			for i := range a {
				a[i] = string(vals[i*w+c].(sqlstore.JSON))
			}
			arrays[c], from[c] = a, "?::text[]"
			sel[c] += "::json"
		case []byte:
			a := make([][]byte, n)
			for i := range a {
				a[i] = vals[i*w+c].([]byte)
			}
			arrays[c], from[c] = a, "?::bytea[]"
		default:
			panic(fmt.Sprintf("unnestInsert: column %s holds %T", cols[c], vals[c]))
		}
	}
	q := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") SELECT " + strings.Join(sel, ", ") +
		" FROM unnest(" + strings.Join(from, ", ") + ") AS u(" + strings.Join(cols, ", ") + ")"
	return []sqlstore.Stmt{{SQL: q, Args: arrays}}
}
