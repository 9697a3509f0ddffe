// Package sqlstore is jit's one SQL implementation of store.Store: the
// write path (group commit, audit hash chaining, the Merkle tree's rows),
// the request and audit queries, the migration runner, delivery cursors,
// leases, Slack references, replay keys and activity are written once here
// and run on SQLite (store/sqlite) and PostgreSQL (store/postgres).
//
// What differs stays in a Dialect, and is thin:
//   - the driver: a DB adapter (database/sql for modernc SQLite, pgx for
//     PostgreSQL, which keeps pgx's pipelining: a write batch's statements
//     go in one round trip, which database/sql cannot do) and its
//     placeholders;
//   - locking: PostgreSQL opens every write transaction with a transaction
//     advisory lock and reads rows FOR UPDATE, so replicas serialise; SQLite
//     has one writer connection;
//   - coordination (Listen, TryLead, WithLock): LISTEN/NOTIFY and session
//     advisory locks across replicas, or in-process channels and mutexes on
//     a single node;
//   - a few SQL spellings (ASCII lower-casing, bulk inserts), the columns
//     one schema has and the other derives, and per-dialect migration files
//     where the DDL differs (migrations/).
//
// Every write, of any kind, goes through one group-commit queue: a batch of
// operations shares one transaction (write.go). There is no second path.
package sqlstore

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

// Dialect is what one database does differently.
type Dialect struct {
	// Name picks the migration files (NNNN_what.NAME.sql beside the
	// shared NNNN_what.sql): "sqlite" or "postgres".
	Name string
	DB   DB
	// SingleWriter: only this process writes, so the chain head and the
	// tree's frontier can be kept in memory between batches.
	SingleWriter bool
	// LockWrites opens every write transaction ("" for none): with it,
	// one writer at a time appends to the chain, across processes.
	LockWrites string
	// ForUpdate is appended to a batch's read of the rows it changes.
	ForUpdate string
	// AnyArray: the batch reads its rows with "id = ANY(?)" and one array
	// argument (one statement text whatever the batch's size), not IN.
	AnyArray bool
	// DerivedColumns: requests' requester_iss, requester_sub and
	// awaits_review are written (PostgreSQL); otherwise the schema derives
	// them from the body.
	DerivedColumns bool
	// AuditHashColumn: the audit table keeps each record's hash in a column.
	AuditHashColumn bool
	// Explain is the statement prefix that shows a query's plan, and
	// ExplainColumns how many columns its rows have (the plan's text is
	// the last): "EXPLAIN QUERY PLAN ", 4 on SQLite; "EXPLAIN ", 1 on
	// PostgreSQL.
	Explain        string
	ExplainColumns int
	// LowerASCII lower-cases the ASCII letters of a column, and no others.
	LowerASCII func(col string) string
	// BulkInsert returns the statements inserting rows, their values one
	// row after the other in vals (nil: multi-row VALUES, which every
	// database takes).
	BulkInsert func(table string, cols []string, vals []any) []Stmt
	// Migrations: the schema_migrations table, the statement recording a
	// version (arguments: version, applied at in Unix nanoseconds), and
	// versions renumbered since (an old database's version → today's).
	MigrationsTable, RecordMigration string
	Renumbered                       map[int]int
	// LockMigrations holds off other processes' migrations until unlock.
	LockMigrations func(ctx context.Context) (unlock func(), err error)
	// Announce returns the statements that tell other processes, on
	// commit, that requests changed (nil for none); Committed is called
	// after the commit with the same ids (nil for nothing).
	Announce  func(ids []string) []Stmt
	Committed func(ids []string)
	// Unavailable says why err is the database's failure rather than the
	// operation's (a restart, a lost connection, a full disk), in words for
	// the caller, or "" when it is not; the store returns such errors as
	// store.UnavailableError and retries a batch that failed so before its
	// COMMIT (nil: no error is).
	Unavailable func(err error) string
	// Coordinator is Listen, TryLead and WithLock.
	Coordinator
}

// Coordinator is how processes on one store hear of changes and take turns.
type Coordinator interface {
	Listen(ctx context.Context, fn func(id string)) error
	TryLead(ctx context.Context, fn func(ctx context.Context) error) (bool, error)
	WithLock(ctx context.Context, key string, fn func(ctx context.Context) error) error
}

// Options are the dialect-independent settings.
type Options struct {
	// Now stamps an audit event whose Time is zero, and migrations
	// (default time.Now).
	Now func() time.Time
	// MaxBatch bounds the operations one transaction holds (default 128;
	// 1 makes every write its own transaction).
	MaxBatch int
}

// Store is the SQL store.
type Store struct {
	d   Dialect
	db  DB
	now func() time.Time
	sql statements

	// group runs every write (write.go); its commit lock guards head.
	group store.GroupCommit[*op]
	// head is the chain head and the tree's frontier after the last
	// commit, kept for a SingleWriter dialect; nil when unknown.
	head *chainHead
}

type chainHead struct {
	seq      int64
	hash     string
	frontier map[int64]tlog.Hash
}

var (
	_ store.Store         = (*Store)(nil)
	_ store.ActivityStore = (*Store)(nil)
)

// Open migrates the database, builds the audit tree of records older than
// it, and returns the store. On error the caller closes d.DB.
func Open(ctx context.Context, d Dialect, o Options) (*Store, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 128
	}
	if d.LowerASCII == nil || d.DB == nil || d.Coordinator == nil {
		return nil, fmt.Errorf("sqlstore: dialect %q is incomplete", d.Name)
	}
	s := &Store{d: d, db: d.DB, now: o.Now, sql: newStatements(d), group: store.GroupCommit[*op]{Max: o.MaxBatch}}
	if d.Unavailable != nil {
		s.db = guardDB{db: d.DB, classify: d.Unavailable}
	}
	if err := s.migrate(ctx); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if err := s.buildTree(ctx); err != nil {
		return nil, fmt.Errorf("build the audit tree: %w", err)
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.Ping(ctx) }

// Listen implements store.Store (the dialect's Coordinator).
func (s *Store) Listen(ctx context.Context, fn func(id string)) error { return s.d.Listen(ctx, fn) }

// TryLead implements store.Store (the dialect's Coordinator).
func (s *Store) TryLead(ctx context.Context, fn func(ctx context.Context) error) (bool, error) {
	return s.d.TryLead(ctx, fn)
}

// WithLock implements store.Store (the dialect's Coordinator).
func (s *Store) WithLock(ctx context.Context, key string, fn func(ctx context.Context) error) error {
	return s.d.WithLock(ctx, key, fn)
}

// chain links events after the record (seq, prev): the one place a stored
// record's seq, time and hash are set. It returns the records and their
// canonical bytes (audit.RecordBytes), which are both the stored body and
// the tree leaf.
func chain(seq int64, prev string, events []audit.Event, now func() time.Time) ([]api.AuditEvent, [][]byte, error) {
	recs := make([]api.AuditEvent, 0, len(events))
	bodies := make([][]byte, 0, len(events))
	for _, ev := range events {
		seq++
		if ev.Time.IsZero() {
			ev.Time = now()
		}
		e := api.AuditEvent{Seq: seq, Time: ev.Time.UTC().Round(0), Type: ev.Type, Actor: ev.Actor, Subject: ev.Subject, Role: ev.Role,
			RequestID: ev.RequestID, Reason: ev.Reason, Detail: ev.Detail, PrevHash: prev}
		e.Hash = audit.Hash(e)
		body, err := audit.RecordBytes(e)
		if err != nil {
			return nil, nil, err
		}
		prev = e.Hash
		recs = append(recs, e)
		bodies = append(bodies, body)
	}
	return recs, bodies, nil
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}
