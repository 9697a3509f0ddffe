package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

const rememberKeySQL = `INSERT INTO access_keys (access_key_id, request_id, requester, role, vended_at) VALUES (?, ?, ?, ?, ?)
	ON CONFLICT (access_key_id) DO NOTHING`

// RememberKey implements store.ActivityStore.
func (s *Store) RememberKey(ctx context.Context, k store.KeyGrant, at time.Time) error {
	err := s.inTx(ctx, func(ctx context.Context, tx Querier) ([]audit.Event, error) {
		_, err := tx.Exec(ctx, rememberKeySQL, k.AccessKeyID, k.RequestID, k.Requester, k.Role, at.UnixNano())
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
	found, err := queryRow(ctx, s.db, `SELECT request_id, requester, role FROM access_keys WHERE access_key_id = ?`, []any{accessKeyID},
		&k.RequestID, &k.Requester, &k.Role)
	if err == nil && !found {
		err = store.ErrNotFound
	}
	return k, err
}

// aggregates reads the stored aggregates of ids (every write holds the
// write lock, so nothing changes them until the transaction ends).
func aggregates(ctx context.Context, q Querier, ids []string) (map[string]*store.Aggregate, error) {
	out := make(map[string]*store.Aggregate, len(ids))
	for rest := ids; len(rest) > 0; {
		chunk := rest[:min(len(rest), 500)]
		rest = rest[len(chunk):]
		rows, err := q.Query(ctx, `SELECT request_id, body FROM grant_activity WHERE request_id IN (`+marks(len(chunk))+`)`, args(chunk)...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			var body []byte
			if err := rows.Scan(&id, &body); err != nil {
				rows.Close()
				return nil, err
			}
			a := &store.Aggregate{}
			if err := json.Unmarshal(body, a); err != nil {
				rows.Close()
				return nil, fmt.Errorf("decode activity of %s: %w", id, err)
			}
			a.RequestID = id
			out[id] = a
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func saveAggregate(ctx context.Context, tx Querier, a *store.Aggregate) error {
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO grant_activity (request_id, window_start, body) VALUES (?, ?, ?)
		ON CONFLICT (request_id) DO UPDATE SET window_start = excluded.window_start, body = excluded.body`,
		a.RequestID, nanos(a.Window.Start), JSON(body))
	return err
}

// received is when the call reached jit, the start of its id's dedupe window.
func received(c store.Call, now func() time.Time) time.Time {
	if c.Received.IsZero() {
		return now()
	}
	return c.Received
}

// markSeen records the calls' event ids with the time they were received
// and returns those not seen before.
func markSeen(ctx context.Context, tx Querier, calls []store.Call, now func() time.Time) (map[string]bool, error) {
	fresh := map[string]bool{}
	for rest := calls; len(rest) > 0; {
		chunk := rest[:min(len(rest), 400)]
		rest = rest[len(chunk):]
		var a []any
		for _, c := range chunk {
			a = append(a, c.EventID, received(c, now).UnixNano())
		}
		rows, err := tx.Query(ctx, `INSERT INTO activity_seen (event_id, seen_at) VALUES `+
			strings.TrimSuffix(strings.Repeat("(?, ?),", len(chunk)), ",")+` ON CONFLICT (event_id) DO NOTHING RETURNING event_id`, a...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			fresh[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return fresh, nil
}

// RecordActivity implements store.ActivityStore.
func (s *Store) RecordActivity(ctx context.Context, calls []store.Call) (int, error) {
	var n int
	err := s.inTx(ctx, func(ctx context.Context, tx Querier) ([]audit.Event, error) {
		n = 0
		fresh, err := markSeen(ctx, tx, calls, s.now)
		if err != nil {
			return nil, err
		}
		byGrant := map[string][]store.Call{}
		var ids []string
		for _, c := range calls {
			if !fresh[c.EventID] {
				continue
			}
			delete(fresh, c.EventID) // an id twice in one delivery counts once
			if _, ok := byGrant[c.RequestID]; !ok {
				ids = append(ids, c.RequestID)
			}
			byGrant[c.RequestID] = append(byGrant[c.RequestID], c)
			n++
		}
		aggs, err := aggregates(ctx, tx, ids)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			a := aggs[id]
			if a == nil {
				a = &store.Aggregate{RequestID: id}
			}
			cs := byGrant[id]
			slices.SortStableFunc(cs, func(a, b store.Call) int { return a.Time.Compare(b.Time) })
			for _, c := range cs {
				a.Merge(c)
			}
			if err := saveAggregate(ctx, tx, a); err != nil {
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
	aggs, err := aggregates(ctx, s.db, ids)
	if err != nil {
		return nil, err
	}
	out := map[string]api.Activity{}
	for id, a := range aggs {
		if a.Calls > 0 {
			out[id] = a.API()
		}
	}
	return out, nil
}

// FlushActivity implements store.ActivityStore.
func (s *Store) FlushActivity(ctx context.Context, now, startedBefore, forgetBefore time.Time, ended ...string) (int, error) {
	var n int
	err := s.inTx(ctx, func(ctx context.Context, tx Querier) ([]audit.Event, error) {
		n = 0
		a := []any{startedBefore.UnixNano()}
		q := `SELECT body FROM grant_activity WHERE window_start > 0 AND (window_start <= ?`
		if len(ended) > 0 {
			q += ` OR request_id IN (` + marks(len(ended)) + `)`
			a = append(a, args(ended)...)
		}
		rows, err := tx.Query(ctx, q+`) ORDER BY window_start, request_id LIMIT 1000`, a...)
		if err != nil {
			return nil, err
		}
		var aggs []*store.Aggregate
		for rows.Next() {
			var body []byte
			if err := rows.Scan(&body); err != nil {
				rows.Close()
				return nil, err
			}
			a := &store.Aggregate{}
			if err := json.Unmarshal(body, a); err != nil {
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
			if _, err := tx.Exec(ctx, `DELETE FROM activity_seen WHERE seen_at < ?`, forgetBefore.UnixNano()); err != nil {
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
