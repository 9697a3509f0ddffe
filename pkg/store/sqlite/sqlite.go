// Package sqlite is jit's embedded store: one SQLite file (modernc.org/sqlite,
// no cgo) in WAL mode, for a single server process. Writes go through one
// connection under a mutex, so every Update is atomic and the audit chain's
// head can be kept in memory; reads use a pool.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the SQLite store.
type Store struct {
	write *sql.DB // one connection: the only writer
	read  *sql.DB

	// group runs the write batches (batch.go); its commit lock guards the
	// chain head, the frontier and op.done.
	group    store.GroupCommit[*op]
	headSeq  int64
	headHash string
	frontier map[int64]tlog.Hash // the audit tree's frontier at headSeq (store.FrontierIndexes)

	lead sync.Mutex // the sweeper lease, within this process

	kmu   sync.Mutex               // guards keyed
	keyed map[string]chan struct{} // WithLock: one token per held key

	// Prepared once on the writer connection; tx.StmtContext reuses them.
	stmtSelect, stmtInsertReq, stmtUpdateReq, stmtUpdateState, stmtInsertAudit *sql.Stmt

	now func() time.Time

	lmu       sync.Mutex
	listeners map[int]*listener
	nextL     int
	closed    chan struct{} // closed by Close: ends every Listen
	closeOnce sync.Once
}

// Option configures Open.
type Option func(*Store)

// WithClock sets the clock used for an audit event whose Time is zero and
// for migration timestamps (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database at path and migrates it.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=temp_store(MEMORY)&_txlock=immediate"
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite", dsn)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r.SetMaxOpenConns(8)
	s := &Store{write: w, read: r, listeners: map[int]*listener{}, now: time.Now, closed: make(chan struct{}), group: store.GroupCommit[*op]{Max: maxBatch}}
	for _, o := range opts {
		o(s)
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := s.buildTree(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := s.loadHead(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return err
	}
	ms, err := store.Migrations(migrations)
	if err != nil {
		return err
	}
	for _, m := range ms {
		var n int
		if err := s.write.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		tx, err := s.write.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			tx.Rollback()
			return fmt.Errorf("%s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, m.Version, s.now().UnixNano()); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) prepare(ctx context.Context) error {
	for _, p := range []struct {
		stmt **sql.Stmt
		q    string
	}{
		{&s.stmtSelect, `SELECT body FROM requests WHERE id = ?`},
		{&s.stmtInsertReq, `INSERT INTO requests (id, requester, role, state, created_at, pending_until, ends_at, version, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)`},
		{&s.stmtUpdateReq, `UPDATE requests SET requester = ?2, role = ?3, state = ?4, created_at = ?5, pending_until = ?6, ends_at = ?7, version = ?8, body = ?9 WHERE id = ?1`},
		// SQLite rewrites every index holding a column named in SET, changed
		// or not; the lifecycle never changes requester, role or created_at,
		// so the usual update leaves their indexes alone.
		{&s.stmtUpdateState, `UPDATE requests SET state = ?4, pending_until = ?6, ends_at = ?7, version = ?8, body = ?9 WHERE id = ?1`},
		{&s.stmtInsertAudit, `INSERT INTO audit (seq, time, type, actor, subject, role, request_id, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`},
	} {
		st, err := s.write.PrepareContext(ctx, p.q)
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		*p.stmt = st
	}
	return nil
}

func (s *Store) loadHead(ctx context.Context) error {
	var body string
	err := s.write.QueryRowContext(ctx, `SELECT body FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&body)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		s.headSeq, s.headHash, s.frontier = 0, audit.GenesisHash, nil
		return nil
	case err != nil:
		return fmt.Errorf("read the audit head: %w", err)
	}
	var e api.AuditEvent
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		return fmt.Errorf("read the audit head: %w", err)
	}
	idx := store.FrontierIndexes(e.Seq)
	hs, err := readHashes(ctx, s.write, idx)
	if err != nil {
		return fmt.Errorf("read the audit tree's frontier: %w", err)
	}
	s.frontier = make(map[int64]tlog.Hash, len(idx))
	for i, x := range idx {
		s.frontier[x] = hs[i]
	}
	s.headSeq, s.headHash = e.Seq, e.Hash
	return nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	return errors.Join(s.write.Close(), s.read.Close())
}

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.read.PingContext(ctx) }

// putRequest writes r: st is one of the prepared insert or update
// statements, which all take the same parameters.
func (s *Store) putRequest(ctx context.Context, tx *sql.Tx, st *sql.Stmt, r *api.Request) error {
	store.NormalizeTimes(r)
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	_, err = tx.StmtContext(ctx, st).ExecContext(ctx, r.ID, r.Requester, r.Role, string(r.State), nanos(r.CreatedAt), nanos(r.PendingUntil), nanos(r.EndsAt), r.Version, string(body))
	return err
}

// Create implements store.Store.
func (s *Store) Create(ctx context.Context, r *api.Request, events []audit.Event) error {
	r.Version = 1
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) ([]audit.Event, error) {
		return events, s.putRequest(ctx, tx, s.stmtInsertReq, r)
	})
	if err != nil {
		return fmt.Errorf("create request %s: %w", r.ID, err)
	}
	s.notify(r.ID)
	return nil
}

func decodeRequest(body string) (*api.Request, error) {
	var r api.Request
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		return nil, fmt.Errorf("decode stored request: %w", err)
	}
	return &r, nil
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, id string) (*api.Request, error) {
	var body string
	err := s.read.QueryRowContext(ctx, `SELECT body FROM requests WHERE id = ?`, id).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return decodeRequest(body)
}

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, id string, m store.Mutation) (*api.Request, error) {
	var out *api.Request
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) ([]audit.Event, error) {
		var body string
		err := tx.StmtContext(ctx, s.stmtSelect).QueryRowContext(ctx, id).Scan(&body)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, store.ErrNotFound
		}
		if err != nil {
			return nil, err
		}
		r, err := decodeRequest(body)
		if err != nil {
			return nil, err
		}
		requester, role, created := r.Requester, r.Role, r.CreatedAt
		events, err := m(r)
		if err != nil {
			return nil, err
		}
		r.ID = id
		r.Version++
		st := s.stmtUpdateReq
		if r.Requester == requester && r.Role == role && r.CreatedAt.Equal(created) {
			st = s.stmtUpdateState
		}
		if err := s.putRequest(ctx, tx, st, r); err != nil {
			return nil, err
		}
		out = r
		return events, nil
	})
	if err != nil {
		return nil, err
	}
	s.notify(id)
	return out, nil
}

// cursor is the keyset position (created_at, id) of the last row of a page.
// List implements store.Store.
func (s *Store) List(ctx context.Context, f store.Filter) ([]api.Request, string, error) {
	limit := f.ListLimit()
	var where []string
	var args []any
	if f.Requester != "" {
		where = append(where, "requester = ?")
		args = append(args, f.Requester)
	}
	if f.RequesterSubject != "" {
		clause := "(requester_sub = ? AND requester_iss = ?)"
		args = append(args, f.RequesterSubject, f.RequesterIssuer)
		if len(f.LegacyRequesters) > 0 {
			clause = "(" + clause + " OR (requester_sub = '' AND lower(requester) IN (" + placeholders(len(f.LegacyRequesters)) + ")))"
			for _, n := range f.LegacyRequesters {
				args = append(args, api.LowerASCII(n)) // SQLite lower() folds ASCII only
			}
		}
		where = append(where, clause)
	}
	if f.Roles != nil {
		where = append(where, "role IN ("+placeholders(len(f.Roles))+")")
		for _, r := range f.Roles {
			args = append(args, r)
		}
	}
	if f.States != nil {
		where = append(where, "state IN ("+placeholders(len(f.States))+")")
		for _, st := range f.States {
			args = append(args, string(st))
		}
	}
	if f.Cursor != "" {
		ts, id, err := store.DecodeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		where = append(where, "(created_at < ? OR (created_at = ? AND id < ?))")
		args = append(args, ts, ts, id)
	}
	q := "SELECT body, created_at FROM requests"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY created_at DESC, id DESC LIMIT ?"
	args = append(args, limit+1)
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var out []api.Request
	var lastTS int64
	for rows.Next() {
		var body string
		if err := rows.Scan(&body, &lastTS); err != nil {
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

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// Due implements store.Store.
func (s *Store) Due(ctx context.Context, now time.Time, limit int) ([]string, error) {
	rows, err := s.read.QueryContext(ctx, `
		SELECT id FROM requests WHERE state = 'pending' AND pending_until <= ?1
		UNION ALL
		SELECT id FROM requests WHERE state IN ('approved', 'active') AND ends_at <= ?1
		LIMIT ?2`, now.UnixNano(), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// Append implements store.Store.
func (s *Store) Append(ctx context.Context, events ...audit.Event) error {
	return s.inTx(ctx, func(context.Context, *sql.Tx) ([]audit.Event, error) { return events, nil })
}

// Audit implements store.Store.
func (s *Store) Audit(ctx context.Context, f store.AuditFilter) ([]api.AuditEvent, error) {
	limit := f.AuditLimit()
	where := []string{"seq > ?"}
	args := []any{f.AfterSeq}
	if !f.Since.IsZero() {
		where = append(where, "time >= ?")
		args = append(args, f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		where = append(where, "time < ?")
		args = append(args, f.Until.UnixNano())
	}
	if f.User != "" {
		where = append(where, "(actor = ? OR subject = ?)")
		args = append(args, f.User, f.User)
	}
	for col, v := range map[string]string{"role": f.Role, "request_id": f.RequestID, "type": f.Type} {
		if v != "" {
			where = append(where, col+" = ?")
			args = append(args, v)
		}
	}
	args = append(args, limit)
	rows, err := s.read.QueryContext(ctx, "SELECT body FROM audit WHERE "+strings.Join(where, " AND ")+" ORDER BY seq LIMIT ?", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []api.AuditEvent
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		var e api.AuditEvent
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			return nil, fmt.Errorf("decode audit record: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// TryLead implements store.Store: one process per file, so the lease is a
// mutex that keeps two sweeps from overlapping.
// WithLock implements store.Store: SQLite serves one node, so a lock in
// this process is exclusive enough. Waiting ends with ctx.
func (s *Store) WithLock(ctx context.Context, key string, fn func(ctx context.Context) error) error {
	s.kmu.Lock()
	if s.keyed == nil {
		s.keyed = map[string]chan struct{}{}
	}
	ch, ok := s.keyed[key]
	if !ok {
		ch = make(chan struct{}, 1)
		s.keyed[key] = ch
	}
	s.kmu.Unlock()
	select {
	case ch <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("lock %s: %w", key, ctx.Err())
	}
	defer func() { <-ch }()
	return fn(ctx)
}

func (s *Store) TryLead(ctx context.Context, fn func(ctx context.Context) error) (bool, error) {
	if !s.lead.TryLock() {
		return false, nil
	}
	defer s.lead.Unlock()
	return true, fn(ctx)
}
