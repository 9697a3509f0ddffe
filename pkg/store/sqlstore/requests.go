package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

// statements are the SQL texts that depend on the dialect's columns, built
// once at Open.
type statements struct {
	insertRequest, updateRequest, updateState string
	readHead                                  string
	auditCols                                 []string
}

func newStatements(d Dialect) statements {
	cols := []string{"id", "requester", "role", "state", "created_at", "pending_until", "ends_at", "version", "body"}
	if d.PrincipalColumns {
		cols = append(cols, "requester_iss", "requester_sub")
	}
	set := make([]string, len(cols)-1)
	for i, c := range cols[1:] {
		set[i] = c + " = ?"
	}
	st := statements{
		insertRequest: "INSERT INTO requests (" + join(cols) + ") VALUES (" + marks(len(cols)) + ")",
		updateRequest: "UPDATE requests SET " + strings.Join(set, ", ") + " WHERE id = ?",
		// SQLite rewrites every index holding a column named in SET, changed
		// or not; the lifecycle never changes requester, role, created_at or
		// the principal, so the usual update leaves their indexes alone.
		updateState: "UPDATE requests SET state = ?, pending_until = ?, ends_at = ?, version = ?, body = ? WHERE id = ?",
		readHead:    "SELECT seq, body FROM audit ORDER BY seq DESC LIMIT 1",
		auditCols:   []string{"seq", "time", "type", "actor", "subject", "role", "request_id"},
	}
	if d.AuditHashColumn {
		st.readHead = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"
		st.auditCols = append(st.auditCols, "hash")
	}
	st.auditCols = append(st.auditCols, "body")
	return st
}

// requestRow is the one statement that writes a request's row: an insert
// when before is nil, else an update of the row before held. It returns the
// stored body too.
func (s *Store) requestRow(r *api.Request, before *api.Request) (Stmt, []byte, error) {
	store.NormalizeTimes(r)
	body, err := json.Marshal(r)
	if err != nil {
		return Stmt{}, nil, fmt.Errorf("encode request: %w", err)
	}
	row := []any{r.Requester, r.Role, string(r.State), nanos(r.CreatedAt), nanos(r.PendingUntil), nanos(r.EndsAt), r.Version, JSON(body)}
	if s.d.PrincipalColumns {
		row = append(row, r.RequesterIssuer, r.RequesterSubject)
	}
	switch {
	case before == nil:
		return Stmt{SQL: s.sql.insertRequest, Args: append([]any{r.ID}, row...)}, body, nil
	case r.Requester == before.Requester && r.Role == before.Role && r.CreatedAt.Equal(before.CreatedAt) &&
		r.RequesterIssuer == before.RequesterIssuer && r.RequesterSubject == before.RequesterSubject:
		return Stmt{SQL: s.sql.updateState, Args: []any{string(r.State), nanos(r.PendingUntil), nanos(r.EndsAt), r.Version, JSON(body), r.ID}}, body, nil
	}
	return Stmt{SQL: s.sql.updateRequest, Args: append(row, r.ID)}, body, nil
}

func decodeRequest(body []byte) (*api.Request, error) {
	var r api.Request
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decode stored request: %w", err)
	}
	return &r, nil
}

// Create implements store.Store.
func (s *Store) Create(ctx context.Context, r *api.Request, events []audit.Event) error {
	r.Version = 1
	if err := s.submit(&op{ctx: ctx, kind: opCreate, req: r, events: events}); err != nil {
		return fmt.Errorf("create request %s: %w", r.ID, err)
	}
	return nil
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, id string) (*api.Request, error) {
	var body []byte
	found, err := queryRow(ctx, s.db, `SELECT body FROM requests WHERE id = ?`, []any{id}, &body)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, store.ErrNotFound
	}
	return decodeRequest(body)
}

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, id string, m store.Mutation) (*api.Request, error) {
	o := &op{ctx: ctx, kind: opUpdate, id: id, m: m}
	if err := s.submit(o); err != nil {
		return nil, err
	}
	return o.out, nil
}

// List implements store.Store.
func (s *Store) List(ctx context.Context, f store.Filter) ([]api.Request, string, error) {
	limit := f.ListLimit()
	var where []string
	var a []any
	if f.Requester != "" {
		where = append(where, "requester = ?")
		a = append(a, f.Requester)
	}
	if f.RequesterSubject != "" {
		clause := "(requester_sub = ? AND requester_iss = ?)"
		a = append(a, f.RequesterSubject, f.RequesterIssuer)
		if len(f.LegacyRequesters) > 0 {
			clause = "(" + clause + " OR (requester_sub = '' AND " + in(s.d.LowerASCII("requester"), len(f.LegacyRequesters)) + "))"
			for _, n := range f.LegacyRequesters {
				a = append(a, api.LowerASCII(n))
			}
		}
		where = append(where, clause)
	}
	if f.Roles != nil {
		where = append(where, in("role", len(f.Roles)))
		a = append(a, args(f.Roles)...)
	}
	if f.States != nil {
		where = append(where, in("state", len(f.States)))
		for _, st := range f.States {
			a = append(a, string(st))
		}
	}
	if !f.EndsAtOrAfter.IsZero() {
		where = append(where, "ends_at >= ?")
		a = append(a, f.EndsAtOrAfter.UnixNano())
	}
	if f.Cursor != "" {
		ts, id, err := store.DecodeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		// Spelled so that both planners scan the (created_at, id) index
		// from the cursor on.
		where = append(where, "created_at <= ? AND (created_at < ? OR id < ?)")
		a = append(a, ts, ts, id)
	}
	q := "SELECT body FROM requests"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY created_at DESC, id DESC LIMIT ?"
	a = append(a, limit+1)
	rows, err := s.db.Query(ctx, q, a...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var out []api.Request
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			return nil, "", err
		}
		r, err := decodeRequest(body)
		if err != nil {
			return nil, "", err
		}
		out = append(out, *r)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	out, next := store.Page(out, limit)
	return out, next, nil
}

// Due implements store.Store.
func (s *Store) Due(ctx context.Context, now time.Time, limit int) ([]string, error) {
	n := now.UnixNano()
	return queryStrings(ctx, s.db, `
		SELECT id FROM requests WHERE state = 'pending' AND pending_until <= ?
		UNION ALL
		SELECT id FROM requests WHERE state IN ('approved', 'active') AND ends_at <= ?
		LIMIT ?`, n, n, limit)
}

// queryStrings returns the first column of q's rows.
func queryStrings(ctx context.Context, db Querier, q string, a ...any) ([]string, error) {
	rows, err := db.Query(ctx, q, a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
