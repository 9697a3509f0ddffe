package server

import (
	"context"
	"errors"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/lifecycle"
	"github.com/jit-access/jit/pkg/store"
)

func (s *Server) sweepLoop(ctx context.Context) error {
	t := time.NewTicker(s.opts.SweepInterval)
	defer t.Stop()
	for {
		if _, err := s.SweepOnce(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("sweep failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// SweepOnce expires grants past their end and times out requests pending
// too long, on one replica at a time (the store's lease). It returns how
// many requests it changed.
func (s *Server) SweepOnce(ctx context.Context) (int, error) {
	n := 0
	_, err := s.opts.Store.TryLead(ctx, func(ctx context.Context) error {
		now := s.now()
		var ended []string
		defer func() { s.flushActivity(ctx, ended...) }()
		idle, err := s.sweepIdle(ctx, now)
		n += len(idle)
		ended = append(ended, idle...)
		if err != nil {
			return err
		}
		ids, err := s.opts.Store.Due(ctx, now, 500)
		if err != nil {
			return err
		}
		for _, id := range ids {
			var lag time.Duration
			_, err := s.update(ctx, id, func(r *api.Request) ([]audit.Event, error) {
				at := s.now()
				end := r.EndsAt
				if r.State == api.StatePending {
					end = r.PendingUntil
				}
				lag = at.Sub(end)
				return lifecycle.Sweep(r, at)
			})
			switch {
			case err == nil:
				n++
				ended = append(ended, id)
				s.metrics.sweepLag.Observe(lag.Seconds())
			case errors.Is(err, lifecycle.ErrNotDue):
				// another replica or a decision got there first
			default:
				return err
			}
		}
		return nil
	})
	return n, err
}

// sweepIdle revokes the live grants of roles with an idle_timeout that saw
// no activity for that long, counted from the grant's start or its last
// call. It returns the ids it revoked.
func (s *Server) sweepIdle(ctx context.Context, now time.Time) ([]string, error) {
	act := s.activityStore()
	p := s.Policy()
	timeouts := map[string]time.Duration{}
	var roles []string
	for _, r := range p.Roles {
		if r.IdleTimeout > 0 {
			timeouts[r.Name] = r.IdleTimeout
			roles = append(roles, r.Name)
		}
	}
	if act == nil || len(roles) == 0 {
		return nil, nil
	}
	var revoked []string
	f := store.Filter{Roles: roles, States: []api.State{api.StateApproved, api.StateActive}, Limit: 500}
	for page := 0; page < 20; page++ {
		reqs, next, err := s.opts.Store.List(ctx, f)
		if err != nil {
			return revoked, err
		}
		ids := make([]string, len(reqs))
		for i := range reqs {
			ids[i] = reqs[i].ID
		}
		used, err := act.Activity(ctx, ids...)
		if err != nil {
			return revoked, err
		}
		for _, r := range reqs {
			timeout := timeouts[r.Role]
			since := r.StartsAt
			if a, ok := used[r.ID]; ok && a.LastUse.After(since) {
				since = a.LastUse
			}
			if now.Sub(since) < timeout || !now.Before(r.EndsAt) {
				continue // still in use, or ending anyway (expiry is the due sweep's)
			}
			req, err := s.update(ctx, r.ID, func(cur *api.Request) ([]audit.Event, error) {
				if !cur.State.Granted() {
					return nil, lifecycle.ErrNotDue
				}
				at := s.now()
				evs, err := lifecycle.Revoke(cur, "sweeper", "idle: no activity for "+api.FormatDuration(timeout), at)
				for i := range evs {
					if evs[i].Detail == nil {
						evs[i].Detail = map[string]string{}
					}
					evs[i].Detail["cause"] = audit.ReasonIdle
					evs[i].Detail["idle_since"] = since.UTC().Format(time.RFC3339Nano)
					evs[i].Detail["idle_timeout"] = timeout.String()
				}
				return evs, err
			})
			switch {
			case err == nil:
				revoked = append(revoked, r.ID)
				s.metrics.idleLag.Observe(req.UpdatedAt.Sub(since.Add(timeout)).Seconds())
				if req.VendCount > 0 {
					s.enforceRevocation(ctx, *req, req.UpdatedAt)
				}
				s.log.Info("idle grant revoked", "id", r.ID, "role", r.Role, "idle_since", since)
			case errors.Is(err, lifecycle.ErrNotDue):
			default:
				return revoked, err
			}
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	return revoked, nil
}
