package sqlstore_test

import (
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jit-access/jit/internal/history"
	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/postgres"
	"github.com/jit-access/jit/pkg/store/sqlite"
)

// explainer is the sqlstore.Store every dialect's store embeds.
type explainer interface {
	ExplainList(ctx context.Context, f store.Filter) (string, error)
	ExplainDue(ctx context.Context, now time.Time, limit int) (string, error)
	ExplainAudit(ctx context.Context, f store.AuditFilter) (string, error)
}

// The scans that must not grow with the history (docs/benchmarks.md
// "Growth with history") use their indexes on both databases: a dropped
// index, or a query a planner no longer serves from it, fails here. The
// store holds a seeded history; PostgreSQL has its statistics and may not
// scan a whole table (at this small size a sequential scan would be
// cheapest, so the test asks which index it takes when it must use one).
func TestQueryPlansUseTheirIndexes(t *testing.T) {
	end := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	me := history.Users("dev", 1, "developers")[0]
	granted := []api.State{api.StateApproved, api.StateActive, api.StateExpired, api.StateRevoked}
	roles := []string{"prod-admin", "s3-readonly", "oncall"}
	after := store.EncodeCursor(end.Add(-48*time.Hour).UnixNano(), "req_zz")
	type scan struct {
		name  string
		plan  func(ctx context.Context, e explainer) (string, error)
		index string // the index's name, as both dialects print it
	}
	list := func(f store.Filter) func(context.Context, explainer) (string, error) {
		return func(ctx context.Context, e explainer) (string, error) { return e.ExplainList(ctx, f) }
	}
	scans := []scan{
		{"jit requests --pending", list(store.Filter{Roles: roles, States: []api.State{api.StatePending, api.StateApproved, api.StateActive}}), "requests_live"},
		{"jit requests --mine", list(store.Filter{RequesterIssuer: me.Issuer, RequesterSubject: me.Subject, LegacyRequesters: []string{me.Email}}), "requests_principal"},
		{"the review queue", list(store.Filter{Roles: roles, States: granted, AwaitingReview: true, Limit: 500}), "requests_awaiting_review"},
		{"jit report", list(store.Filter{States: granted, EndsAtOrAfter: end.Add(-30 * 24 * time.Hour), Limit: 500}), "requests_ends"},
		{"jit report, next page", list(store.Filter{States: granted, EndsAtOrAfter: end.Add(-30 * 24 * time.Hour), Limit: 500, Cursor: after}), "requests_ends"},
		{"the idle sweep", list(store.Filter{Roles: []string{"s3-readonly"}, States: []api.State{api.StateApproved, api.StateActive}, Limit: 500}), "requests_live"},
		{"the due sweep, pending", func(ctx context.Context, e explainer) (string, error) { return e.ExplainDue(ctx, end, 500) }, "requests_due_pending"},
		{"the due sweep, grants", func(ctx context.Context, e explainer) (string, error) { return e.ExplainDue(ctx, end, 500) }, "requests_due_grant"},
		{"a request's timeline", func(ctx context.Context, e explainer) (string, error) {
			return e.ExplainAudit(ctx, store.AuditFilter{RequestID: "req_x"})
		}, "audit_request"},
	}
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			ctx := t.Context()
			type explainStore interface {
				store.Store
				explainer
				history.Batcher
			}
			var reopen func() explainStore
			var analyze func()
			var exec func(q string)
			switch kind {
			case "sqlite":
				path := filepath.Join(t.TempDir(), "jit.db")
				reopen = func() explainStore {
					s, err := sqlite.Open(ctx, path)
					if err != nil {
						t.Fatal(err)
					}
					return s
				}
				db, err := sql.Open("sqlite", "file:"+path)
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				exec = func(q string) {
					if _, err := db.ExecContext(ctx, q); err != nil {
						t.Fatal(err)
					}
				}
			case "postgres":
				dsn := testenv.Postgres(t)
				conn, err := pgx.Connect(ctx, dsn)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close(context.Background())
				var db string
				if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
					t.Fatal(err)
				}
				if _, err := conn.Exec(ctx, "ALTER DATABASE "+db+" SET enable_seqscan = off"); err != nil {
					t.Fatal(err)
				}
				reopen = func() explainStore {
					s, err := postgres.Open(ctx, dsn, slog.New(slog.DiscardHandler))
					if err != nil {
						t.Fatal(err)
					}
					return s
				}
				exec = func(q string) {
					if _, err := conn.Exec(ctx, q); err != nil {
						t.Fatal(err)
					}
				}
				analyze = func() { exec("ANALYZE") }
			}
			st := reopen()
			defer func() { st.Close() }()
			if _, err := history.Seed(ctx, st, history.Options{Requests: 300, PerDay: 100, End: end}); err != nil {
				t.Fatal(err)
			}
			if analyze != nil {
				analyze()
			}
			uses := func(sc scan) (bool, string) {
				plan, err := sc.plan(ctx, st)
				if err != nil {
					t.Fatalf("%s: %v", sc.name, err)
				}
				return strings.Contains(plan, sc.index) && !wholeTable(plan), plan
			}
			for _, sc := range scans {
				if ok, plan := uses(sc); !ok {
					t.Errorf("%s does not read %s:\n%s", sc.name, sc.index, plan)
				}
			}
			// The check can fail: without its index, no scan passes it. (The
			// store reopens: SQLite does not plan a prepared EXPLAIN again
			// after a schema change.)
			for _, sc := range scans {
				exec("DROP INDEX IF EXISTS " + sc.index)
				st.Close()
				st = reopen()
				if ok, plan := uses(sc); ok {
					t.Errorf("%s passes without %s:\n%s", sc.name, sc.index, plan)
				}
			}
		})
	}
}

// wholeTable reports whether a plan reads a whole table or index: SQLite's
// SCAN of a table or of an index other than a partial one, PostgreSQL's
// sequential scan.
func wholeTable(plan string) bool {
	for _, line := range strings.Split(plan, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.Contains(line, "Seq Scan"):
			return true
		case strings.HasPrefix(line, "SCAN requests") &&
			!strings.Contains(line, "requests_live") && !strings.Contains(line, "requests_awaiting_review"):
			return true
		}
	}
	return false
}
