package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

var _ store.ActivityStore = (*Store)(nil)

// RememberKey implements store.ActivityStore.
func (s *Store) RememberKey(ctx context.Context, k store.KeyGrant, at time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO access_keys (access_key_id, request_id, requester, role, vended_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (access_key_id) DO NOTHING`, k.AccessKeyID, k.RequestID, k.Requester, k.Role, at.UnixNano())
	if err != nil {
		return fmt.Errorf("remember access key of %s: %w", k.RequestID, err)
	}
	return nil
}

// GrantForKey implements store.ActivityStore.
func (s *Store) GrantForKey(ctx context.Context, accessKeyID string) (store.KeyGrant, error) {
	k := store.KeyGrant{AccessKeyID: accessKeyID}
	err := s.pool.QueryRow(ctx, `SELECT request_id, requester, role FROM access_keys WHERE access_key_id = $1`, accessKeyID).
		Scan(&k.RequestID, &k.Requester, &k.Role)
	if errors.Is(err, pgx.ErrNoRows) {
		return k, store.ErrNotFound
	}
	return k, err
}

// lockAggregates reads the aggregates of ids (sorted) and locks their rows
// until the transaction ends, creating empty ones first, in three
// statements whatever the number of grants.
func lockAggregates(ctx context.Context, tx pgx.Tx, ids []string) (map[string]*store.Aggregate, error) {
	if _, err := tx.Exec(ctx, `INSERT INTO grant_activity (request_id, window_start, body)
		SELECT id, 0, '{}' FROM unnest($1::text[]) AS id ORDER BY id ON CONFLICT DO NOTHING`, ids); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, `SELECT request_id, body FROM grant_activity WHERE request_id = ANY($1) ORDER BY request_id FOR UPDATE`, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]*store.Aggregate, len(ids))
	for rows.Next() {
		var id string
		var body []byte
		if err := rows.Scan(&id, &body); err != nil {
			return nil, err
		}
		a := &store.Aggregate{}
		if err := json.Unmarshal(body, a); err != nil {
			return nil, fmt.Errorf("decode activity of %s: %w", id, err)
		}
		a.RequestID = id
		out[id] = a
	}
	return out, rows.Err()
}

func saveAggregate(ctx context.Context, tx pgx.Tx, a *store.Aggregate) error {
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE grant_activity SET window_start = $2, body = $3 WHERE request_id = $1`, a.RequestID, nanos(a.Window.Start), body)
	return err
}

// RecordActivity implements store.ActivityStore. Calls are taken in event-id
// order and grants locked in id order, so concurrent deliveries on several
// replicas cannot deadlock.
func (s *Store) RecordActivity(ctx context.Context, calls []store.Call) (int, error) {
	sorted := slices.Clone(calls)
	slices.SortStableFunc(sorted, func(a, b store.Call) int { return strings.Compare(a.EventID, b.EventID) })
	var n int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		n = 0
		// One statement marks every id seen and returns the new ones.
		evIDs := make([]string, len(sorted))
		times := make([]int64, len(sorted))
		for i, c := range sorted {
			evIDs[i], times[i] = c.EventID, c.Time.UnixNano()
		}
		rows, err := tx.Query(ctx, `INSERT INTO activity_seen (event_id, seen_at)
			SELECT * FROM unnest($1::text[], $2::bigint[]) ON CONFLICT (event_id) DO NOTHING RETURNING event_id`, evIDs, times)
		if err != nil {
			return err
		}
		fresh, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		isNew := make(map[string]bool, len(fresh))
		for _, id := range fresh {
			isNew[id] = true
		}
		byGrant := map[string][]store.Call{}
		for _, c := range sorted {
			if !isNew[c.EventID] {
				continue
			}
			delete(isNew, c.EventID) // an id twice in one delivery counts once
			byGrant[c.RequestID] = append(byGrant[c.RequestID], c)
			n++
		}
		if len(byGrant) == 0 {
			return nil
		}
		ids := make([]string, 0, len(byGrant))
		for id := range byGrant {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		aggs, err := lockAggregates(ctx, tx, ids)
		if err != nil {
			return err
		}
		bodies := make([]string, len(ids))
		starts := make([]int64, len(ids))
		for i, id := range ids {
			a := aggs[id]
			cs := byGrant[id]
			slices.SortStableFunc(cs, func(a, b store.Call) int { return a.Time.Compare(b.Time) })
			for _, c := range cs {
				a.Merge(c)
			}
			b, err := json.Marshal(a)
			if err != nil {
				return err
			}
			bodies[i], starts[i] = string(b), nanos(a.Window.Start)
		}
		_, err = tx.Exec(ctx, `UPDATE grant_activity g SET window_start = u.ws, body = u.body::json
			FROM unnest($1::text[], $2::bigint[], $3::text[]) AS u(id, ws, body) WHERE g.request_id = u.id`, ids, starts, bodies)
		if err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("record activity: %w", err)
	}
	return n, nil
}

// Activity implements store.ActivityStore.
func (s *Store) Activity(ctx context.Context, ids ...string) (map[string]api.Activity, error) {
	out := map[string]api.Activity{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT request_id, body FROM grant_activity WHERE request_id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var body []byte
		if err := rows.Scan(&id, &body); err != nil {
			return nil, err
		}
		var a store.Aggregate
		if err := json.Unmarshal(body, &a); err != nil {
			return nil, fmt.Errorf("decode activity: %w", err)
		}
		if a.Calls > 0 {
			out[id] = a.API()
		}
	}
	return out, rows.Err()
}

// FlushActivity implements store.ActivityStore.
func (s *Store) FlushActivity(ctx context.Context, now, startedBefore, forgetBefore time.Time, ended ...string) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		n = 0
		if ended == nil {
			ended = []string{}
		}
		rows, err := tx.Query(ctx, `SELECT body FROM grant_activity WHERE window_start > 0 AND (window_start <= $1 OR request_id = ANY($2))
			ORDER BY request_id LIMIT 1000 FOR UPDATE SKIP LOCKED`, startedBefore.UnixNano(), ended)
		if err != nil {
			return err
		}
		bodies, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
		if err != nil {
			return err
		}
		var events []audit.Event
		for _, body := range bodies {
			a := &store.Aggregate{}
			if err := json.Unmarshal(body, a); err != nil {
				return fmt.Errorf("decode activity: %w", err)
			}
			events = append(events, a.WindowEvent(now))
			a.ResetWindow()
			if err := saveAggregate(ctx, tx, a); err != nil {
				return err
			}
		}
		if !forgetBefore.IsZero() {
			if _, err := tx.Exec(ctx, `DELETE FROM activity_seen WHERE seen_at < $1`, forgetBefore.UnixNano()); err != nil {
				return err
			}
		}
		n = len(events)
		return s.appendEvents(ctx, tx, events)
	})
	if err != nil {
		return 0, fmt.Errorf("flush activity: %w", err)
	}
	return n, nil
}
