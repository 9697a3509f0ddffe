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
	if d.DerivedColumns {
		cols = append(cols, "requester_iss", "requester_sub", "awaits_review")
	}
	set := make([]string, len(cols)-1)
	for i, c := range cols[1:] {
		set[i] = c + " = ?"
	}
	derivedState := ""
	if d.DerivedColumns {
		derivedState = ", awaits_review = ?"
	}
	st := statements{
		insertRequest: "INSERT INTO requests (" + join(cols) + ") VALUES (" + marks(len(cols)) + ")",
		updateRequest: "UPDATE requests SET " + strings.Join(set, ", ") + " WHERE id = ?",
		// SQLite rewrites every index holding a column named in SET, changed
		// or not; the lifecycle never changes requester, role, created_at or
		// the principal, so the usual update leaves their indexes alone.
		updateState: "UPDATE requests SET state = ?, pending_until = ?, ends_at = ?, version = ?, body = ?" + derivedState + " WHERE id = ?",
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
	if s.d.DerivedColumns {
		row = append(row, r.RequesterIssuer, r.RequesterSubject, awaitsReview(r))
	}
	switch {
	case before == nil:
		return Stmt{SQL: s.sql.insertRequest, Args: append([]any{r.ID}, row...)}, body, nil
	case r.Requester == before.Requester && r.Role == before.Role && r.CreatedAt.Equal(before.CreatedAt) &&
		r.RequesterIssuer == before.RequesterIssuer && r.RequesterSubject == before.RequesterSubject:
		a := []any{string(r.State), nanos(r.PendingUntil), nanos(r.EndsAt), r.Version, JSON(body)}
		if s.d.DerivedColumns {
			a = append(a, awaitsReview(r))
		}
		return Stmt{SQL: s.sql.updateState, Args: append(a, r.ID)}, body, nil
	}
	return Stmt{SQL: s.sql.updateRequest, Args: append(row, r.ID)}, body, nil
}

// awaitsReview is the awaits_review column: 1 for a grant waiting for its
// review.
func awaitsReview(r *api.Request) int64 {
	if r.AwaitsReview() {
		return 1
	}
	return 0
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
	q, a, err := s.listQuery(f, limit)
	if err != nil {
		return nil, "", err
	}
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

// listQuery is List's statement and its arguments (limit+1 rows).
func (s *Store) listQuery(f store.Filter, limit int) (string, []any, error) {
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
	// A filter of live states or of grants awaiting review is served by a
	// partial index holding only those few rows (requests_live,
	// requests_awaiting_review). Its role and state terms are then spelled
	// "role || ''" and "state || ''", which no index serves, so that no planner
	// reads every row of a role from (role, state, …) instead; the live
	// term is spelled as the index's condition is, word for word (SQLite
	// uses a partial index only for a query holding its terms).
	partial := f.AwaitingReview || live(f.States)
	role, state := "role", "state"
	if partial {
		role, state = "(role || '')", "(state || '')"
	}
	if f.Roles != nil {
		where = append(where, in(role, len(f.Roles)))
		a = append(a, args(f.Roles)...)
	}
	if f.States != nil {
		where = append(where, in(state, len(f.States)))
		for _, st := range f.States {
			a = append(a, string(st))
		}
		if live(f.States) {
			where = append(where, liveTerm)
		}
	}
	if f.AwaitingReview {
		where = append(where, "awaits_review = 1")
	}
	// created names the column the rows are ordered and paged by. The
	// access report's window is a range of ends_at (requests_ends): there
	// "created_at + 0", which no index orders, keeps a planner from walking the
	// whole (created_at, id) index for the window's rows instead.
	created := "created_at"
	if !f.EndsAtOrAfter.IsZero() {
		where = append(where, "ends_at >= ?")
		a = append(a, f.EndsAtOrAfter.UnixNano())
		created = "(created_at + 0)"
	}
	if f.Cursor != "" {
		ts, id, err := store.DecodeCursor(f.Cursor)
		if err != nil {
			return "", nil, err
		}
		// Spelled so that both planners scan the (created_at, id) index
		// from the cursor on.
		where = append(where, created+" <= ? AND ("+created+" < ? OR id < ?)")
		a = append(a, ts, ts, id)
	}
	q := "SELECT body FROM requests"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY " + created + " DESC, id DESC LIMIT ?"
	return q, append(a, limit+1), nil
}

// liveTerm is the condition of the partial index requests_live, word for
// word.
const liveTerm = "state IN ('pending', 'approved', 'active')"

// live reports whether every state of states is live (pending, approved or
// active).
func live(states []api.State) bool {
	for _, st := range states {
		switch st {
		case api.StatePending, api.StateApproved, api.StateActive:
		default:
			return false
		}
	}
	return len(states) > 0
}

// Due implements store.Store.
func (s *Store) Due(ctx context.Context, now time.Time, limit int) ([]string, error) {
	n := now.UnixNano()
	return queryStrings(ctx, s.db, dueQuery, n, n, limit)
}

const dueQuery = `
		SELECT id FROM requests WHERE state = 'pending' AND pending_until <= ?
		UNION ALL
		SELECT id FROM requests WHERE state IN ('approved', 'active') AND ends_at <= ?
		LIMIT ?`

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
