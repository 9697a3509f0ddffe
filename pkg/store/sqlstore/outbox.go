package sqlstore

import (
	"context"
	"time"

	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

// The notification outbox's bookkeeping (pkg/notify): delivery cursors,
// named leases, Slack message references, and one-time keys. Writes go
// through the group committer like every other write.

// DeliveryCursor implements store.Store.
func (s *Store) DeliveryCursor(ctx context.Context, sink string) (int64, error) {
	var seq int64
	found, err := queryRow(ctx, s.db, `SELECT seq FROM delivery_cursors WHERE sink = ?`, []any{sink}, &seq)
	if err != nil || found {
		return seq, err
	}
	// A new sink starts at the head. Appends commit in seq order (they hold
	// the write lock until commit), so nothing after max(seq) is skipped.
	err = s.inTx(ctx, func(ctx context.Context, tx Querier) ([]audit.Event, error) {
		// "WHERE true" resolves SQLite's INSERT … SELECT … ON CONFLICT ambiguity.
		if _, err := tx.Exec(ctx, `INSERT INTO delivery_cursors (sink, seq, updated_at)
			SELECT CAST(? AS TEXT), coalesce(max(seq), 0), CAST(? AS BIGINT) FROM audit WHERE true ON CONFLICT (sink) DO NOTHING`, sink, s.now().UnixNano()); err != nil {
			return nil, err
		}
		_, err := queryRow(ctx, tx, `SELECT seq FROM delivery_cursors WHERE sink = ?`, []any{sink}, &seq)
		return nil, err
	})
	return seq, err
}

// SetDeliveryCursor implements store.Store.
func (s *Store) SetDeliveryCursor(ctx context.Context, sink string, seq int64) error {
	return s.inTx(ctx, func(ctx context.Context, tx Querier) ([]audit.Event, error) {
		_, err := tx.Exec(ctx, `INSERT INTO delivery_cursors (sink, seq, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (sink) DO UPDATE SET seq = CASE WHEN excluded.seq > delivery_cursors.seq THEN excluded.seq ELSE delivery_cursors.seq END,
			updated_at = excluded.updated_at`, sink, seq, s.now().UnixNano())
		return nil, err
	})
}

// TryLease implements store.Store.
func (s *Store) TryLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	var got bool
	err := s.inTx(ctx, func(ctx context.Context, tx Querier) ([]audit.Event, error) {
		var h string
		found, err := queryRow(ctx, tx, `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
			WHERE leases.holder = excluded.holder OR leases.expires_at <= ?
			RETURNING holder`, []any{name, holder, now.Add(ttl).UnixNano(), now.UnixNano()}, &h)
		got = found && h == holder
		return nil, err
	})
	return got, err
}

// ReleaseLease implements store.Store.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	return s.inTx(ctx, func(ctx context.Context, tx Querier) ([]audit.Event, error) {
		_, err := tx.Exec(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder)
		return nil, err
	})
}

// SlackMessage implements store.Store.
func (s *Store) SlackMessage(ctx context.Context, requestID string) (string, string, error) {
	var channel, ts string
	found, err := queryRow(ctx, s.db, `SELECT channel, ts FROM slack_messages WHERE request_id = ?`, []any{requestID}, &channel, &ts)
	if err == nil && !found {
		err = store.ErrNotFound
	}
	return channel, ts, err
}

// SetSlackMessage implements store.Store.
func (s *Store) SetSlackMessage(ctx context.Context, requestID, channel, ts string) error {
	return s.inTx(ctx, func(ctx context.Context, tx Querier) ([]audit.Event, error) {
		_, err := tx.Exec(ctx, `INSERT INTO slack_messages (request_id, channel, ts) VALUES (?, ?, ?)
			ON CONFLICT (request_id) DO UPDATE SET channel = excluded.channel, ts = excluded.ts`, requestID, channel, ts)
		return nil, err
	})
}

// FirstUse implements store.Store. The insert is atomic across processes:
// of two racing with one key, exactly one inserts it.
func (s *Store) FirstUse(ctx context.Context, key string, expires, now time.Time) (bool, error) {
	var first bool
	err := s.inTx(ctx, func(ctx context.Context, tx Querier) ([]audit.Event, error) {
		if _, err := tx.Exec(ctx, `DELETE FROM used_keys WHERE expires_at <= ?`, now.UnixNano()); err != nil {
			return nil, err
		}
		n, err := tx.Exec(ctx, `INSERT INTO used_keys (key, expires_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, key, expires.UnixNano())
		first = n == 1
		return nil, err
	})
	return first, err
}
