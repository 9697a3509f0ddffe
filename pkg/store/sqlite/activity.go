package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"

	"time"
)

var _ store.ActivityStore = (*Store)(nil)

// RememberKey implements store.ActivityStore.
func (s *Store) RememberKey(ctx context.Context, k store.KeyGrant, at time.Time) error {
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) ([]audit.Event, error) {
		_, err := tx.ExecContext(ctx, `INSERT INTO access_keys (access_key_id, request_id, requester, role, vended_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (access_key_id) DO NOTHING`, k.AccessKeyID, k.RequestID, k.Requester, k.Role, at.UnixNano())
		return nil, err
	})
	if err != nil {
		return fmt.Errorf("remember access key of %s: %w", k.RequestID, err)
	}
	return nil
}

// GrantForKey implements store.ActivityStore.
func (s *Store) GrantForKey(ctx context.Context, accessKeyID string) (store.KeyGrant, error) {
	k := store.KeyGrant{AccessKeyID: accessKeyID}
	err := s.read.QueryRowContext(ctx, `SELECT request_id, requester, role FROM access_keys WHERE access_key_id = ?`, accessKeyID).
		Scan(&k.RequestID, &k.Requester, &k.Role)
	if errors.Is(err, sql.ErrNoRows) {
		return k, store.ErrNotFound
	}
	return k, err
}

func loadAggregate(ctx context.Context, tx *sql.Tx, id string) (*store.Aggregate, error) {
	var body string
	err := tx.QueryRowContext(ctx, `SELECT body FROM grant_activity WHERE request_id = ?`, id).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return &store.Aggregate{RequestID: id}, nil
	}
	if err != nil {
		return nil, err
	}
	var a store.Aggregate
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		return nil, fmt.Errorf("decode activity of %s: %w", id, err)
	}
	return &a, nil
}

func saveAggregate(ctx context.Context, tx *sql.Tx, a *store.Aggregate) error {
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO grant_activity (request_id, window_start, body) VALUES (?, ?, ?)
		ON CONFLICT (request_id) DO UPDATE SET window_start = excluded.window_start, body = excluded.body`,
		a.RequestID, nanos(a.Window.Start), string(body))
	return err
}

// RecordActivity implements store.ActivityStore.
func (s *Store) RecordActivity(ctx context.Context, calls []store.Call) (int, error) {
	var n int
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) ([]audit.Event, error) {
		n = 0
		aggs := map[string]*store.Aggregate{}
		var order []string
		for _, c := range calls {
			res, err := tx.ExecContext(ctx, `INSERT INTO activity_seen (event_id, seen_at) VALUES (?, ?) ON CONFLICT (event_id) DO NOTHING`,
				c.EventID, c.Time.UnixNano())
			if err != nil {
				return nil, err
			}
			if k, _ := res.RowsAffected(); k == 0 {
				continue
			}
			a, ok := aggs[c.RequestID]
			if !ok {
				if a, err = loadAggregate(ctx, tx, c.RequestID); err != nil {
					return nil, err
				}
				aggs[c.RequestID] = a
				order = append(order, c.RequestID)
			}
			a.Merge(c)
			n++
		}
		for _, id := range order {
			if err := saveAggregate(ctx, tx, aggs[id]); err != nil {
				return nil, err
			}
		}
		return nil, nil
	})
	if err != nil {
		return 0, fmt.Errorf("record activity: %w", err)
	}
	return n, nil
}

// Activity implements store.ActivityStore.
func (s *Store) Activity(ctx context.Context, ids ...string) (map[string]api.Activity, error) {
	out := map[string]api.Activity{}
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 500)]
		ids = ids[len(chunk):]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := s.read.QueryContext(ctx, `SELECT body FROM grant_activity WHERE request_id IN (`+placeholders(len(chunk))+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var body string
			if err := rows.Scan(&body); err != nil {
				rows.Close()
				return nil, err
			}
			var a store.Aggregate
			if err := json.Unmarshal([]byte(body), &a); err != nil {
				rows.Close()
				return nil, fmt.Errorf("decode activity: %w", err)
			}
			if a.Calls > 0 {
				out[a.RequestID] = a.API()
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// FlushActivity implements store.ActivityStore.
func (s *Store) FlushActivity(ctx context.Context, now, startedBefore, forgetBefore time.Time, ended ...string) (int, error) {
	var n int
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) ([]audit.Event, error) {
		n = 0
		args := []any{startedBefore.UnixNano()}
		q := `SELECT body FROM grant_activity WHERE window_start > 0 AND (window_start <= ?`
		if len(ended) > 0 {
			q += ` OR request_id IN (` + placeholders(len(ended)) + `)`
			for _, id := range ended {
				args = append(args, id)
			}
		}
		rows, err := tx.QueryContext(ctx, q+`) ORDER BY window_start, request_id LIMIT 1000`, args...)
		if err != nil {
			return nil, err
		}
		var aggs []*store.Aggregate
		for rows.Next() {
			var body string
			if err := rows.Scan(&body); err != nil {
				rows.Close()
				return nil, err
			}
			a := &store.Aggregate{}
			if err := json.Unmarshal([]byte(body), a); err != nil {
				rows.Close()
				return nil, fmt.Errorf("decode activity: %w", err)
			}
			aggs = append(aggs, a)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		var events []audit.Event
		for _, a := range aggs {
			events = append(events, a.WindowEvent(now))
			a.ResetWindow()
			if err := saveAggregate(ctx, tx, a); err != nil {
				return nil, err
			}
		}
		if !forgetBefore.IsZero() {
			if _, err := tx.ExecContext(ctx, `DELETE FROM activity_seen WHERE seen_at < ?`, forgetBefore.UnixNano()); err != nil {
				return nil, err
			}
		}
		n = len(events)
		return events, nil
	})
	if err != nil {
		return 0, fmt.Errorf("flush activity: %w", err)
	}
	return n, nil
}
