package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func readHashes(ctx context.Context, q querier, indexes []int64) ([]tlog.Hash, error) {
	if len(indexes) == 0 {
		return nil, nil
	}
	rows, err := q.Query(ctx, `SELECT idx, hash FROM audit_tree WHERE idx = ANY($1)`, indexes)
	if err != nil {
		return nil, fmt.Errorf("read audit tree: %w", err)
	}
	defer rows.Close()
	got := make(store.HashRows, len(indexes))
	for rows.Next() {
		var idx int64
		var b []byte
		if err := rows.Scan(&idx, &b); err != nil {
			return nil, err
		}
		got[idx] = b
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return got.Ordered(indexes)
}

func treeSize(ctx context.Context, q querier) (int64, error) {
	var count int64
	if err := q.QueryRow(ctx, `SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_tree`).Scan(&count); err != nil {
		return 0, err
	}
	return store.TreeSizeForHashCount(count)
}

// AuditTreeSize implements store.TreeReader.
func (s *Store) AuditTreeSize(ctx context.Context) (int64, error) { return treeSize(ctx, s.pool) }

// ReadTreeHashes implements store.TreeReader.
func (s *Store) ReadTreeHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	return readHashes(ctx, s.pool, indexes)
}

// appendTree stores the tree hashes of records appended in tx after a tree
// of size records, in one statement.
func appendTree(ctx context.Context, tx pgx.Tx, size int64, bodies [][]byte) error {
	a := store.NewTreeAppender(size, func(idx []int64) ([]tlog.Hash, error) { return readHashes(ctx, tx, idx) })
	if err := a.Prefetch(); err != nil {
		return err
	}
	for _, b := range bodies {
		if err := a.Append(b); err != nil {
			return err
		}
	}
	idx := make([]int64, len(a.Added))
	hs := make([][]byte, len(a.Added))
	for i, h := range a.Added {
		idx[i] = h.Index
		hs[i] = h.Hash[:]
	}
	if _, err := tx.Exec(ctx, `INSERT INTO audit_tree (idx, hash) SELECT * FROM unnest($1::bigint[], $2::bytea[])`, idx, hs); err != nil {
		return fmt.Errorf("append audit tree: %w", err)
	}
	return nil
}

// buildTree adds the tree hashes of records older than the tree (a log
// written before the tree existed), under the audit lock, in chunks.
func (s *Store) buildTree(ctx context.Context) error {
	for {
		done := false
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockAudit); err != nil {
				return err
			}
			size, err := treeSize(ctx, tx)
			if err != nil {
				return fmt.Errorf("audit tree: %w", err)
			}
			rows, err := tx.Query(ctx, `SELECT seq, body FROM audit WHERE seq > $1 ORDER BY seq LIMIT 5000`, size)
			if err != nil {
				return err
			}
			var bodies [][]byte
			next := size + 1
			for rows.Next() {
				var seq int64
				var body []byte
				if err := rows.Scan(&seq, &body); err != nil {
					rows.Close()
					return err
				}
				if seq != next {
					rows.Close()
					return fmt.Errorf("audit tree: record %d follows %d: the log has a gap, run jit audit verify --store", seq, next-1)
				}
				next++
				var e api.AuditEvent
				if err := json.Unmarshal(body, &e); err != nil {
					rows.Close()
					return fmt.Errorf("decode audit record %d: %w", seq, err)
				}
				b, err := audit.RecordBytes(e)
				if err != nil {
					rows.Close()
					return err
				}
				bodies = append(bodies, b)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if len(bodies) == 0 {
				done = true
				return nil
			}
			return appendTree(ctx, tx, size, bodies)
		})
		if err != nil || done {
			return err
		}
	}
}
