package postgres

// This file is how replicas coordinate: LISTEN for changes, named advisory
// locks (WithLock) and the sweeper lease (TryLead).

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Listen implements store.Store with LISTEN on a dedicated connection,
// reconnecting when it drops, so a change made by any replica is heard.
func (s *Store) Listen(ctx context.Context, fn func(id string)) error {
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, fn)
		if ctx.Err() != nil {
			return nil
		}
		s.log.Warn("postgres LISTEN connection lost; reconnecting", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return nil
}

func (s *Store) listenOnce(ctx context.Context, fn func(id string)) error {
	// A connection of its own, outside the pool: it is held for as long as
	// the listener lives and must not starve the pool's request traffic.
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("connect for LISTEN: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // closing ends the session and its LISTEN
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		fn(n.Payload)
	}
}

// TryLead implements store.Store with a session advisory lock held on one
// connection while fn runs: only one replica sweeps at a time.
// Should that session die while fn runs, the lease is gone and another
// replica may start a sweep alongside: harmless, since every sweep is a row-
// locked Update whose lifecycle.Sweep refuses a request no longer due.
// WithLock implements store.Store with a session advisory lock on
// (lockKeyed, hashtext(key)); two-key advisory locks never meet the one-key
// ones used for the sweeper and migrations. A hash collision only
// serialises two keys that did not need it.
func (s *Store) WithLock(ctx context.Context, key string, fn func(ctx context.Context) error) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("lock %s: %w", key, err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, hashtext($2))`, lockKeyed, key); err != nil {
		return fmt.Errorf("lock %s: %w", key, err)
	}
	defer func() {
		var released bool
		err := conn.QueryRow(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, hashtext($2))`, lockKeyed, key).Scan(&released)
		if err != nil || !released {
			// Never hand a connection that may hold the lock back to the pool.
			s.log.Warn("releasing a keyed lock failed; closing its connection", "key", key, "err", err)
			conn.Conn().Close(context.WithoutCancel(ctx)) //nolint:errcheck
		}
	}()
	return fn(ctx)
}

func (s *Store) TryLead(ctx context.Context, fn func(ctx context.Context) error) (bool, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Release()
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, lockSweeper).Scan(&ok); err != nil {
		return false, err
	}
	if !ok {
		return false, nil
	}
	defer func() {
		ctx := context.WithoutCancel(ctx)
		var released bool
		err := conn.QueryRow(ctx, `SELECT pg_advisory_unlock($1)`, lockSweeper).Scan(&released)
		if err != nil || !released {
			// The session may still hold the lease: end it rather than hand
			// it back to the pool, where it would keep every replica's
			// sweeper out (the pool drops closed connections on Release).
			s.log.Warn("releasing the sweeper lease failed; closing its connection", "err", err)
			conn.Conn().Close(ctx) //nolint:errcheck
		}
	}()
	return true, fn(ctx)
}
