package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

// The notification outbox's bookkeeping (pkg/notify): delivery cursors,
// named leases and Slack message references. Writes go through the group
// committer like every other write; reads use the read pool.

// DeliveryCursor implements store.Store.
func (s *Store) DeliveryCursor(ctx context.Context, sink string) (int64, error) {
	var seq int64
	err := s.read.QueryRowContext(ctx, `SELECT seq FROM delivery_cursors WHERE sink = ?`, sink).Scan(&seq)
	if err == nil {
		return seq, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	err = s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) ([]audit.Event, error) {
		// "WHERE true" resolves SQLite's INSERT … SELECT … ON CONFLICT ambiguity.
		if _, err := tx.ExecContext(ctx, `INSERT INTO delivery_cursors (sink, seq, updated_at)
			SELECT ?, coalesce(max(seq), 0), ? FROM audit WHERE true ON CONFLICT (sink) DO NOTHING`, sink, s.now().UnixNano()); err != nil {
			return nil, err
		}
		return nil, tx.QueryRowContext(ctx, `SELECT seq FROM delivery_cursors WHERE sink = ?`, sink).Scan(&seq)
	})
	return seq, err
}

// SetDeliveryCursor implements store.Store.
func (s *Store) SetDeliveryCursor(ctx context.Context, sink string, seq int64) error {
	return s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) ([]audit.Event, error) {
		_, err := tx.ExecContext(ctx, `INSERT INTO delivery_cursors (sink, seq, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (sink) DO UPDATE SET seq = max(delivery_cursors.seq, excluded.seq), updated_at = excluded.updated_at`,
			sink, seq, s.now().UnixNano())
		return nil, err
	})
}

// TryLease implements store.Store.
func (s *Store) TryLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	var got bool
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) ([]audit.Event, error) {
		var h string
		err := tx.QueryRowContext(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
			WHERE leases.holder = excluded.holder OR leases.expires_at <= ?
			RETURNING holder`, name, holder, now.Add(ttl).UnixNano(), now.UnixNano()).Scan(&h)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		got = err == nil && h == holder
		return nil, err
	})
	return got, err
}

// ReleaseLease implements store.Store.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	return s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) ([]audit.Event, error) {
		_, err := tx.ExecContext(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder)
		return nil, err
	})
}

// SlackMessage implements store.Store.
func (s *Store) SlackMessage(ctx context.Context, requestID string) (string, string, error) {
	var channel, ts string
	err := s.read.QueryRowContext(ctx, `SELECT channel, ts FROM slack_messages WHERE request_id = ?`, requestID).Scan(&channel, &ts)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", store.ErrNotFound
	}
	return channel, ts, err
}

// SetSlackMessage implements store.Store.
func (s *Store) SetSlackMessage(ctx context.Context, requestID, channel, ts string) error {
	return s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) ([]audit.Event, error) {
		_, err := tx.ExecContext(ctx, `INSERT INTO slack_messages (request_id, channel, ts) VALUES (?, ?, ?)
			ON CONFLICT (request_id) DO UPDATE SET channel = excluded.channel, ts = excluded.ts`, requestID, channel, ts)
		return nil, err
	})
}

// FirstUse implements store.Store.
func (s *Store) FirstUse(ctx context.Context, key string, expires, now time.Time) (bool, error) {
	var first bool
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) ([]audit.Event, error) {
		if _, err := tx.ExecContext(ctx, `DELETE FROM used_keys WHERE expires_at <= ?`, now.UnixNano()); err != nil {
			return nil, err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO used_keys (key, expires_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`,
			key, expires.UnixNano())
		if err != nil {
			return nil, err
		}
		n, err := res.RowsAffected()
		first = n == 1
		return nil, err
	})
	return first, err
}
