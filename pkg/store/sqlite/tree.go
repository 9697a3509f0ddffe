package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// readHashes reads stored tree hashes through q (the pool, or the writer's
// transaction, which sees its own uncommitted rows).
func readHashes(ctx context.Context, q querier, indexes []int64) ([]tlog.Hash, error) {
	if len(indexes) == 0 {
		return nil, nil
	}
	args := make([]any, len(indexes))
	for i, x := range indexes {
		args[i] = x
	}
	rows, err := q.QueryContext(ctx, "SELECT idx, hash FROM audit_tree WHERE idx IN ("+placeholders(len(indexes))+")", args...)
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

// AuditTreeSize implements store.TreeReader.
func (s *Store) AuditTreeSize(ctx context.Context) (int64, error) {
	return treeSize(ctx, s.read)
}

func treeSize(ctx context.Context, q querier) (int64, error) {
	rows, err := q.QueryContext(ctx, `SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_tree`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var count int64
	if rows.Next() {
		if err := rows.Scan(&count); err != nil {
			return 0, err
		}
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	return store.TreeSizeForHashCount(count)
}

// ReadTreeHashes implements store.TreeReader.
func (s *Store) ReadTreeHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	return readHashes(ctx, s.read, indexes)
}

// appendTree stores the tree hashes of records appended in tx after a tree
// of size records.
func (s *Store) appendTree(ctx context.Context, tx *sql.Tx, size int64, bodies [][]byte) error {
	a := store.NewTreeAppender(size, func(idx []int64) ([]tlog.Hash, error) { return readHashes(ctx, tx, idx) })
	if err := a.Prefetch(); err != nil {
		return err
	}
	for _, b := range bodies {
		if err := a.Append(b); err != nil {
			return err
		}
	}
	return insertTree(ctx, tx, a.Added)
}

// insertTree writes stored hashes with multi-row INSERTs (one statement per
// 400 rows, well under SQLite's bound on parameters).
func insertTree(ctx context.Context, tx *sql.Tx, hs []store.StoredHash) error {
	for len(hs) > 0 {
		n := min(len(hs), 400)
		args := make([]any, 0, 2*n)
		for _, h := range hs[:n] {
			args = append(args, h.Index, h.Hash[:])
		}
		q := "INSERT INTO audit_tree (idx, hash) VALUES " + strings.TrimSuffix(strings.Repeat("(?,?),", n), ",")
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("append audit tree: %w", err)
		}
		hs = hs[n:]
	}
	return nil
}

// buildTree adds the tree hashes of records older than the tree (a log
// written before the tree existed), in chunks of one transaction each.
func (s *Store) buildTree(ctx context.Context) error {
	for {
		done, err := s.buildTreeChunk(ctx)
		if err != nil || done {
			return err
		}
	}
}

// buildTreeChunk adds the tree hashes of up to 5,000 records in one
// transaction, reading the tree's size inside it: another process on the
// same file (jit audit verify --store beside a running server) then sees
// the tree complete instead of racing to add the same rows.
func (s *Store) buildTreeChunk(ctx context.Context) (done bool, err error) {
	tx, err := s.write.BeginTx(ctx, nil) // _txlock=immediate: the write lock
	if err != nil {
		return false, err
	}
	defer func() {
		if err != nil || done {
			tx.Rollback()
		}
	}()
	size, err := treeSize(ctx, tx)
	if err != nil {
		return false, fmt.Errorf("audit tree: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT seq, body FROM audit WHERE seq > ? ORDER BY seq LIMIT 5000`, size)
	if err != nil {
		return false, err
	}
	var bodies [][]byte
	next := size + 1
	for rows.Next() {
		var seq int64
		var body string
		if err := rows.Scan(&seq, &body); err != nil {
			rows.Close()
			return false, err
		}
		if seq != next {
			rows.Close()
			return false, fmt.Errorf("audit tree: record %d follows %d: the log has a gap, run jit audit verify --store", seq, next-1)
		}
		next++
		b, err := canonical(body)
		if err != nil {
			rows.Close()
			return false, err
		}
		bodies = append(bodies, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, err
	}
	if len(bodies) == 0 {
		return true, nil
	}
	if err := s.appendTree(ctx, tx, size, bodies); err != nil {
		return false, err
	}
	return false, tx.Commit()
}

// canonical re-encodes a stored body as audit.RecordBytes.
func canonical(body string) ([]byte, error) {
	var e api.AuditEvent
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		return nil, fmt.Errorf("decode audit record: %w", err)
	}
	return audit.RecordBytes(e)
}
