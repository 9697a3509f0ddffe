package postgres

// This file is how replicas coordinate (sqlstore.Coordinator): LISTEN for
// changes, named advisory locks (WithLock), the sweeper lease (TryLead), and
// the migration lock.

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

type coordinator struct {
	pool *pgxpool.Pool
	log  *slog.Logger
}

// Listen listens on a dedicated connection, reconnecting when it drops, so
// a change made by any replica is heard.
func (c *coordinator) Listen(ctx context.Context, fn func(id string)) error {
	for ctx.Err() == nil {
		err := c.listenOnce(ctx, fn)
		if ctx.Err() != nil {
			return nil
		}
		c.log.Warn("postgres LISTEN connection lost; reconnecting", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return nil
}

func (c *coordinator) listenOnce(ctx context.Context, fn func(id string)) error {
	// A connection of its own, outside the pool: it is held for as long as
	// the listener lives and must not starve the pool's request traffic.
	conn, err := pgx.ConnectConfig(ctx, c.pool.Config().ConnConfig.Copy())
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

// WithLock holds a session advisory lock on (lockKeyed, hashtext(key));
// two-key advisory locks never meet the one-key ones used for the sweeper
// and migrations. A hash collision only serialises two keys that did not
// need it.
func (c *coordinator) WithLock(ctx context.Context, key string, fn func(ctx context.Context) error) error {
	conn, err := c.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("lock %s: %w", key, err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, hashtext($2))`, lockKeyed, key); err != nil {
		return fmt.Errorf("lock %s: %w", key, err)
	}
	defer c.unlock(ctx, conn, "keyed lock "+key, `SELECT pg_advisory_unlock($1, hashtext($2))`, lockKeyed, key)
	return fn(ctx)
}

// TryLead runs fn holding a session advisory lock on one connection: only
// one replica sweeps at a time. Should that session die while fn runs, the
// lease is gone and another replica may start a sweep alongside: harmless,
// since every sweep is a row-locked Update whose lifecycle.Sweep refuses a
// request no longer due.
func (c *coordinator) TryLead(ctx context.Context, fn func(ctx context.Context) error) (bool, error) {
	conn, err := c.pool.Acquire(ctx)
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
	defer c.unlock(ctx, conn, "the sweeper lease", `SELECT pg_advisory_unlock($1)`, lockSweeper)
	return true, fn(ctx)
}

// lockMigrations holds off other replicas' migrations until unlock.
func (c *coordinator) lockMigrations(ctx context.Context) (func(), error) {
	conn, err := c.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, lockMigrate); err != nil {
		conn.Release()
		return nil, err
	}
	return func() {
		c.unlock(ctx, conn, "the migration lock", `SELECT pg_advisory_unlock($1)`, lockMigrate)
		conn.Release()
	}, nil
}

// unlock releases a session advisory lock. When that fails the session may
// still hold it: end the session rather than hand it back to the pool, where
// it would keep every replica out (the pool drops closed connections on
// Release).
func (c *coordinator) unlock(ctx context.Context, conn *pgxpool.Conn, what, q string, args ...any) {
	ctx = context.WithoutCancel(ctx)
	var released bool
	err := conn.QueryRow(ctx, q, args...).Scan(&released)
	if err != nil || !released {
		c.log.Warn("releasing "+what+" failed; closing its connection", "err", err)
		conn.Conn().Close(ctx) //nolint:errcheck
	}
}
