package storeopen

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"iter"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jit-access/jit/pkg/api"
)

// ReadAuditReadOnly yields the audit records at or after since, in sequence
// order, from the store dsn names, without migrating it or writing to it:
// SQLite is opened read-only (mode=ro, query_only; immutable when no
// server has it open, so not even a -wal or -shm file appears), PostgreSQL in a
// read-only session (default_transaction_read_only). For tools that must
// never change the log they read (jit server replay).
func ReadAuditReadOnly(ctx context.Context, dsn string, since time.Time) iter.Seq2[api.AuditEvent, error] {
	return func(yield func(api.AuditEvent, error) bool) {
		rows, done, err := queryAudit(ctx, dsn, since)
		if err != nil {
			yield(api.AuditEvent{}, err)
			return
		}
		defer done()
		for rows.Next() {
			var body string
			if err := rows.Scan(&body); err != nil {
				yield(api.AuditEvent{}, fmt.Errorf("read audit record: %w", err))
				return
			}
			var e api.AuditEvent
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				yield(api.AuditEvent{}, fmt.Errorf("decode audit record: %w", err))
				return
			}
			if !yield(e, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(api.AuditEvent{}, fmt.Errorf("read audit records: %w", err))
		}
	}
}

// auditRows is what both drivers' rows have in common.
type auditRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

const auditSince = "SELECT body FROM audit WHERE time >= %s ORDER BY seq"

func queryAudit(ctx context.Context, dsn string, since time.Time) (auditRows, func(), error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, nil, fmt.Errorf("store dsn: %w", err)
		}
		cfg.RuntimeParams["default_transaction_read_only"] = "on"
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return nil, nil, fmt.Errorf("open store: %w", err)
		}
		rows, err := conn.Query(ctx, fmt.Sprintf(auditSince, "$1"), since.UnixNano())
		if err != nil {
			conn.Close(ctx)
			return nil, nil, fmt.Errorf("read audit records: %w", err)
		}
		return rows, func() { rows.Close(); conn.Close(context.WithoutCancel(ctx)) }, nil
	}
	path, err := sqlitePath(dsn)
	if err != nil {
		return nil, nil, err
	}
	// mode=ro never creates the file; a missing one is an error, not a new
	// empty database.
	if _, err := os.Stat(path); err != nil {
		return nil, nil, fmt.Errorf("open store: %w", err)
	}
	// With no write-ahead log beside it, nobody has the database open (a
	// clean close checkpoints and removes it): immutable=1 reads the file
	// alone and creates nothing (no -wal, no -shm). With one, a server may
	// be writing: read through its log, read-only.
	mode := "mode=ro&immutable=1"
	if _, err := os.Stat(path + "-wal"); err == nil {
		mode = "mode=ro"
	}
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+mode+"&_pragma=query_only(1)&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, nil, fmt.Errorf("open store: %w", err)
	}
	rows, err := db.QueryContext(ctx, fmt.Sprintf(auditSince, "?"), since.UnixNano())
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("read audit records from %s: %w", path, err)
	}
	return rows, func() { rows.Close(); db.Close() }, nil
}

// sqlitePath is the file a SQLite dsn names.
func sqlitePath(dsn string) (string, error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite://"):
		return strings.TrimPrefix(dsn, "sqlite://"), nil
	case strings.HasPrefix(dsn, "file:"):
		return strings.TrimPrefix(dsn, "file:"), nil
	case dsn != "" && !strings.Contains(dsn, "://"):
		return dsn, nil
	}
	return "", fmt.Errorf("store dsn %q: use postgres://USER@HOST/DB, sqlite:///var/lib/jit/jit.db, or a file path", dsn)
}
