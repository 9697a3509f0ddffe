// Package postgres is jit's store for several server replicas on one
// PostgreSQL database (jackc/pgx). Updates lock the request row (SELECT …
// FOR UPDATE); audit appends serialise on a transaction advisory lock so
// replicas never fork the chain; changes are announced with pg_notify in the
// same transaction (delivered on commit) and heard with LISTEN; the sweeper
// lease is a session advisory lock.
package postgres

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

const (
	channel     = "jit_requests"
	lockAudit   = 0x6a69745f61756474 // "jit_audt": serialises chain appends
	lockSweeper = 0x6a69745f73776570 // "jit_swep": the sweeper lease
	lockMigrate = 0x6a69745f6d696772 // "jit_migr": one migrator at a time
	// lockKeyed is the first key of WithLock's two-key advisory locks.
	lockKeyed int32 = 0x6a69746b // "jitk"
)

// Store is the PostgreSQL store.
type Store struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	now  func() time.Time

	group   store.GroupCommit[*gop] // group.go
	noGroup bool                    // WithoutGroupCommit
}

// WithoutGroupCommit makes every write its own transaction holding the
// audit lock through its commit (the behaviour before group commit; kept
// to measure one against the other).
func WithoutGroupCommit() Option { return func(s *Store) { s.noGroup = true } }

// Option configures Open.
type Option func(*Store)

// WithClock sets the clock that stamps an audit event whose Time is zero
// (default time.Now), as the SQLite store does.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

var _ store.Store = (*Store)(nil)

// Open connects, migrates and returns the store.
func Open(ctx context.Context, dsn string, logger *slog.Logger, opts ...Option) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres dsn: %w", err)
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		// pgxpool's default (4 on a 2-CPU host) queues requests behind
		// commits waiting on the WAL flush, and the sweeper's lease holds a
		// connection while it sweeps. Set pool_max_conns in the DSN to change.
		cfg.MaxConns = max(16, cfg.MaxConns)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	s := &Store{pool: pool, log: logger, now: time.Now, group: store.GroupCommit[*gop]{Max: maxBatch}}
	for _, o := range opts {
		o(s)
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if err := s.buildTree(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("build the audit tree: %w", err)
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, lockMigrate); err != nil {
		return err
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, lockMigrate) //nolint:errcheck
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		return err
	}
	ms, err := store.Migrations(migrations)
	if err != nil {
		return err
	}
	for _, m := range ms {
		var done bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.Version).Scan(&done); err != nil {
			return err
		}
		if done {
			continue
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("%s: %w", m.Name, err)
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, m.Version)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// appendEvents chains events after the current head, under the audit lock
// (held until the transaction ends).
func (s *Store) appendEvents(ctx context.Context, tx pgx.Tx, events []audit.Event) error {
	if len(events) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockAudit); err != nil {
		return err
	}
	var seq int64
	prev := audit.GenesisHash
	err := tx.QueryRow(ctx, `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prev)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	size := seq
	bodies := make([][]byte, 0, len(events))
	for _, ev := range events {
		seq++
		if ev.Time.IsZero() {
			ev.Time = s.now()
		}
		e := api.AuditEvent{Seq: seq, Time: ev.Time.UTC().Round(0), Type: ev.Type, Actor: ev.Actor, Subject: ev.Subject, Role: ev.Role,
			RequestID: ev.RequestID, Reason: ev.Reason, Detail: ev.Detail, PrevHash: prev}
		e.Hash = audit.Hash(e)
		body, err := audit.RecordBytes(e)
		if err != nil {
			return err
		}
		bodies = append(bodies, body)
		if _, err := tx.Exec(ctx, `INSERT INTO audit (seq, time, type, actor, subject, role, request_id, hash, body) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
			e.Seq, e.Time.UnixNano(), e.Type, e.Actor, e.Subject, e.Role, e.RequestID, e.Hash, body); err != nil {
			return fmt.Errorf("append audit: %w", err)
		}
		prev = e.Hash
	}
	return appendTree(ctx, tx, size, bodies)
}

func putRequest(ctx context.Context, tx pgx.Tx, r *api.Request, insert bool) error {
	q, args, _, err := requestRow(r, insert)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, q, args...); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, channel, r.ID)
	return err
}

// requestRow is the one statement that writes a request's row (insert or
// update), with its arguments and the stored body: both the direct path and
// the group committer use it, so the indexed columns cannot drift apart.
func requestRow(r *api.Request, insert bool) (q string, args []any, body []byte, err error) {
	store.NormalizeTimes(r)
	body, err = json.Marshal(r)
	if err != nil {
		return "", nil, nil, fmt.Errorf("encode request: %w", err)
	}
	q = `UPDATE requests SET requester = $2, role = $3, state = $4, created_at = $5, pending_until = $6, ends_at = $7, version = $8, body = $9, requester_iss = $10, requester_sub = $11 WHERE id = $1`
	if insert {
		q = `INSERT INTO requests (id, requester, role, state, created_at, pending_until, ends_at, version, body, requester_iss, requester_sub) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`
	}
	args = []any{r.ID, r.Requester, r.Role, string(r.State), nanos(r.CreatedAt), nanos(r.PendingUntil), nanos(r.EndsAt), r.Version, body,
		r.RequesterIssuer, r.RequesterSubject}
	return q, args, body, nil
}

// Create implements store.Store.
func (s *Store) Create(ctx context.Context, r *api.Request, events []audit.Event) error {
	r.Version = 1
	if !s.noGroup {
		if err := s.submit(&gop{ctx: ctx, kind: opCreate, req: r, events: events}); err != nil {
			return fmt.Errorf("create request %s: %w", r.ID, err)
		}
		return nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := putRequest(ctx, tx, r, true); err != nil {
			return err
		}
		return s.appendEvents(ctx, tx, events)
	})
	if err != nil {
		return fmt.Errorf("create request %s: %w", r.ID, err)
	}
	return nil
}

func decodeRequest(body []byte) (*api.Request, error) {
	var r api.Request
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decode stored request: %w", err)
	}
	return &r, nil
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, id string) (*api.Request, error) {
	var body []byte
	err := s.pool.QueryRow(ctx, `SELECT body FROM requests WHERE id = $1`, id).Scan(&body)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return decodeRequest(body)
}

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, id string, m store.Mutation) (*api.Request, error) {
	if !s.noGroup {
		o := &gop{ctx: ctx, kind: opUpdate, id: id, m: m}
		if err := s.submit(o); err != nil {
			return nil, err
		}
		return o.out, nil
	}
	var out *api.Request
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var body []byte
		err := tx.QueryRow(ctx, `SELECT body FROM requests WHERE id = $1 FOR UPDATE`, id).Scan(&body)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		r, err := decodeRequest(body)
		if err != nil {
			return err
		}
		events, err := m(r)
		if err != nil {
			return err
		}
		r.ID = id
		r.Version++
		if err := putRequest(ctx, tx, r, false); err != nil {
			return err
		}
		out = r
		return s.appendEvents(ctx, tx, events)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// List implements store.Store.
func (s *Store) List(ctx context.Context, f store.Filter) ([]api.Request, string, error) {
	limit := f.ListLimit()
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	if f.Requester != "" {
		where = append(where, "requester = "+arg(f.Requester))
	}
	if f.RequesterSubject != "" {
		clause := "(requester_sub = " + arg(f.RequesterSubject) + " AND requester_iss = " + arg(f.RequesterIssuer) + ")"
		if len(f.LegacyRequesters) > 0 {
			legacy := make([]string, len(f.LegacyRequesters))
			for i, n := range f.LegacyRequesters {
				legacy[i] = api.LowerASCII(n)
			}
			clause = "(" + clause + " OR (requester_sub = '' AND translate(requester, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') = ANY(" + arg(legacy) + ")))"
		}
		where = append(where, clause)
	}
	if f.Roles != nil {
		where = append(where, "role = ANY("+arg(f.Roles)+")")
	}
	if f.States != nil {
		states := make([]string, len(f.States))
		for i, st := range f.States {
			states[i] = string(st)
		}
		where = append(where, "state = ANY("+arg(states)+")")
	}
	if f.Cursor != "" {
		ts, id, err := store.DecodeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		where = append(where, "(created_at, id) < ("+arg(ts)+", "+arg(id)+")")
	}
	q := "SELECT body FROM requests"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY created_at DESC, id DESC LIMIT " + arg(limit+1)
	rows, err := s.pool.Query(ctx, q, args...)
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
	rows, err := s.pool.Query(ctx, `
		(SELECT id FROM requests WHERE state = 'pending' AND pending_until <= $1)
		UNION ALL
		(SELECT id FROM requests WHERE state IN ('approved', 'active') AND ends_at <= $1)
		LIMIT $2`, now.UnixNano(), limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Append implements store.Store.
func (s *Store) Append(ctx context.Context, events ...audit.Event) error {
	if !s.noGroup {
		return s.submit(&gop{ctx: ctx, kind: opAppend, events: events})
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return s.appendEvents(ctx, tx, events) })
}

// Audit implements store.Store.
func (s *Store) Audit(ctx context.Context, f store.AuditFilter) ([]api.AuditEvent, error) {
	limit := f.AuditLimit()
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	where := []string{"seq > " + arg(f.AfterSeq)}
	if !f.Since.IsZero() {
		where = append(where, "time >= "+arg(f.Since.UnixNano()))
	}
	if !f.Until.IsZero() {
		where = append(where, "time < "+arg(f.Until.UnixNano()))
	}
	if f.User != "" {
		p := arg(f.User)
		where = append(where, "(actor = "+p+" OR subject = "+p+")")
	}
	if f.Role != "" {
		where = append(where, "role = "+arg(f.Role))
	}
	if f.RequestID != "" {
		where = append(where, "request_id = "+arg(f.RequestID))
	}
	if f.Type != "" {
		where = append(where, "type = "+arg(f.Type))
	}
	rows, err := s.pool.Query(ctx, "SELECT body FROM audit WHERE "+strings.Join(where, " AND ")+" ORDER BY seq LIMIT "+arg(limit), args...)
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
		var e api.AuditEvent
		if err := json.Unmarshal(body, &e); err != nil {
			return nil, fmt.Errorf("decode audit record: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
