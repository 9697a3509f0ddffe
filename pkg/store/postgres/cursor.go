package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jit-access/jit/pkg/store"
)

// The notification outbox's bookkeeping (pkg/notify): delivery cursors,
// named leases and Slack message references.

// DeliveryCursor implements store.Store.
func (s *Store) DeliveryCursor(ctx context.Context, sink string) (int64, error) {
	var seq int64
	err := s.pool.QueryRow(ctx, `SELECT seq FROM delivery_cursors WHERE sink = $1`, sink).Scan(&seq)
	if err == nil {
		return seq, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, err
	}
	// A new sink starts at the head. Appends commit in seq order (they hold
	// the audit lock until commit), so nothing after max(seq) is skipped.
	if _, err := s.pool.Exec(ctx, `INSERT INTO delivery_cursors (sink, seq)
		SELECT $1, coalesce(max(seq), 0) FROM audit ON CONFLICT (sink) DO NOTHING`, sink); err != nil {
		return 0, err
	}
	err = s.pool.QueryRow(ctx, `SELECT seq FROM delivery_cursors WHERE sink = $1`, sink).Scan(&seq)
	return seq, err
}

// SetDeliveryCursor implements store.Store.
func (s *Store) SetDeliveryCursor(ctx context.Context, sink string, seq int64) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO delivery_cursors (sink, seq) VALUES ($1, $2)
		ON CONFLICT (sink) DO UPDATE SET seq = greatest(delivery_cursors.seq, excluded.seq), updated_at = now()`, sink, seq)
	return err
}

// TryLease implements store.Store.
func (s *Store) TryLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	var h string
	err := s.pool.QueryRow(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= $4
		RETURNING holder`, name, holder, now.Add(ttl).UnixNano(), now.UnixNano()).Scan(&h)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return h == holder, nil
}

// ReleaseLease implements store.Store.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2`, name, holder)
	return err
}

// SlackMessage implements store.Store.
func (s *Store) SlackMessage(ctx context.Context, requestID string) (string, string, error) {
	var channel, ts string
	err := s.pool.QueryRow(ctx, `SELECT channel, ts FROM slack_messages WHERE request_id = $1`, requestID).Scan(&channel, &ts)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", store.ErrNotFound
	}
	return channel, ts, err
}

// SetSlackMessage implements store.Store.
func (s *Store) SetSlackMessage(ctx context.Context, requestID, channel, ts string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO slack_messages (request_id, channel, ts) VALUES ($1, $2, $3)
		ON CONFLICT (request_id) DO UPDATE SET channel = excluded.channel, ts = excluded.ts`, requestID, channel, ts)
	return err
}

// FirstUse implements store.Store. The insert is atomic across replicas: of
// two racing with one key, exactly one inserts it.
func (s *Store) FirstUse(ctx context.Context, key string, expires, now time.Time) (bool, error) {
	if _, err := s.pool.Exec(ctx, `DELETE FROM used_keys WHERE expires_at <= $1`, now.UnixNano()); err != nil {
		return false, err
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO used_keys (key, expires_at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`,
		key, expires.UnixNano())
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}
