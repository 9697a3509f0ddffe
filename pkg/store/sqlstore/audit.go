package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

// Append implements store.Store.
func (s *Store) Append(ctx context.Context, events ...audit.Event) error {
	return s.submit(&op{ctx: ctx, kind: opAppend, events: events})
}

// Audit implements store.Store.
func (s *Store) Audit(ctx context.Context, f store.AuditFilter) ([]api.AuditEvent, error) {
	q, a := auditQuery(f)
	rows, err := s.db.Query(ctx, q, a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []api.AuditEvent
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		e, err := decodeRecord(body)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// auditQuery is Audit's statement and its arguments.
func auditQuery(f store.AuditFilter) (string, []any) {
	where := []string{"seq > ?"}
	a := []any{f.AfterSeq}
	if !f.Since.IsZero() {
		where = append(where, "time >= ?")
		a = append(a, f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		where = append(where, "time < ?")
		a = append(a, f.Until.UnixNano())
	}
	if f.User != "" {
		where = append(where, "(actor = ? OR subject = ?)")
		a = append(a, f.User, f.User)
	}
	for _, c := range []struct{ col, v string }{{"role", f.Role}, {"request_id", f.RequestID}, {"type", f.Type}} {
		if c.v != "" {
			where = append(where, c.col+" = ?")
			a = append(a, c.v)
		}
	}
	a = append(a, f.AuditLimit())
	return "SELECT body FROM audit WHERE " + strings.Join(where, " AND ") + " ORDER BY seq LIMIT ?", a
}

func decodeRecord(body []byte) (api.AuditEvent, error) {
	var e api.AuditEvent
	if err := json.Unmarshal(body, &e); err != nil {
		return e, fmt.Errorf("decode audit record: %w", err)
	}
	return e, nil
}

// AuditTreeSize implements store.TreeReader.
func (s *Store) AuditTreeSize(ctx context.Context) (int64, error) { return treeSize(ctx, s.db) }

// ReadTreeHashes implements store.TreeReader.
func (s *Store) ReadTreeHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	return readHashes(ctx, s.db, indexes)
}

func treeSize(ctx context.Context, q Querier) (int64, error) {
	var count int64
	if _, err := queryRow(ctx, q, `SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_tree`, nil, &count); err != nil {
		return 0, err
	}
	return store.TreeSizeForHashCount(count)
}

// readHashes reads stored tree hashes through q (the database, or a write
// transaction, which sees its own uncommitted rows).
func readHashes(ctx context.Context, q Querier, indexes []int64) ([]tlog.Hash, error) {
	got := make(store.HashRows, len(indexes))
	for rest := indexes; len(rest) > 0; {
		chunk := rest[:min(len(rest), 500)]
		rest = rest[len(chunk):]
		rows, err := q.Query(ctx, "SELECT idx, hash FROM audit_tree WHERE idx IN ("+marks(len(chunk))+")", args(chunk)...)
		if err != nil {
			return nil, fmt.Errorf("read audit tree: %w", err)
		}
		for rows.Next() {
			var idx int64
			var b []byte
			if err := rows.Scan(&idx, &b); err != nil {
				rows.Close()
				return nil, err
			}
			got[idx] = b
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return got.Ordered(indexes)
}

// buildTree adds the tree hashes of records older than the tree (a log
// written before the tree existed), in chunks of one write transaction each.
func (s *Store) buildTree(ctx context.Context) error {
	for {
		done, err := s.buildTreeChunk(ctx)
		if err != nil || done {
			return err
		}
	}
}

// buildTreeChunk adds the tree hashes of up to 5,000 records in one
// transaction, reading the tree's size inside it under the write lock:
// another process on the same database then sees the tree complete instead
// of racing to add the same rows.
func (s *Store) buildTreeChunk(ctx context.Context) (done bool, err error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // nothing after Commit
	if s.d.LockWrites != "" {
		if _, err := tx.Exec(ctx, s.d.LockWrites); err != nil {
			return false, err
		}
	}
	size, err := treeSize(ctx, tx)
	if err != nil {
		return false, fmt.Errorf("audit tree: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT seq, body FROM audit WHERE seq > ? ORDER BY seq LIMIT 5000`, size)
	if err != nil {
		return false, err
	}
	var leaves [][]byte
	next := size + 1
	for rows.Next() {
		var seq int64
		var body []byte
		if err := rows.Scan(&seq, &body); err != nil {
			rows.Close()
			return false, err
		}
		if seq != next {
			rows.Close()
			return false, fmt.Errorf("audit tree: record %d follows %d: the log has a gap, run jit audit verify --store", seq, next-1)
		}
		next++
		e, err := decodeRecord(body)
		if err != nil {
			rows.Close()
			return false, err
		}
		b, err := audit.RecordBytes(e)
		if err != nil {
			rows.Close()
			return false, err
		}
		leaves = append(leaves, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, err
	}
	if len(leaves) == 0 {
		return true, nil
	}
	a := store.NewTreeAppender(size, func(idx []int64) ([]tlog.Hash, error) { return readHashes(ctx, tx, idx) })
	if err := a.Prefetch(); err != nil {
		return false, err
	}
	for _, b := range leaves {
		if err := a.Append(b); err != nil {
			return false, err
		}
	}
	if err := tx.Send(ctx, s.treeRows(a.Added)); err != nil {
		return false, fmt.Errorf("append audit tree: %w", err)
	}
	return false, tx.Commit(ctx)
}
