package grants

import (
	"context"
	"errors"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/lifecycle"
	"github.com/jit-access/jit/pkg/store"
)

// activityDedupe is how long an activity event id is remembered: far
// longer than any sender retries a delivery.
const activityDedupe = 24 * time.Hour

// SweepOnce ends idle grants, expires grants past their end and times out
// requests pending too long, on one replica at a time (the store's lease).
// It returns how many requests it changed.
func (s *Service) SweepOnce(ctx context.Context) (int, error) {
	n := 0
	_, err := s.st.TryLead(ctx, func(ctx context.Context) error {
		now := s.now()
		var ended []string
		defer func() { s.flushActivity(ctx, ended...) }()
		defer s.reconcileDue(ctx, now)
		idle, err := s.sweepIdle(ctx, now)
		n += len(idle)
		ended = append(ended, idle...)
		if err != nil {
			return err
		}
		ids, err := s.st.Due(ctx, now, 500)
		if err != nil {
			return err
		}
		for _, id := range ids {
			var lag time.Duration
			req, err := s.update(ctx, Actor{Via: ViaSweeper}, id, func(r *api.Request) ([]audit.Event, error) {
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
				if req.State == api.StateExpired {
					s.ended(ctx, req, false)
				}
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
func (s *Service) sweepIdle(ctx context.Context, now time.Time) ([]string, error) {
	p := s.Policy()
	timeouts := map[string]time.Duration{}
	var roles []string
	for _, r := range p.Roles {
		if r.IdleTimeout > 0 {
			timeouts[r.Name] = r.IdleTimeout
			roles = append(roles, r.Name)
		}
	}
	if s.o.Activity == nil || len(roles) == 0 {
		return nil, nil
	}
	var revoked []string
	f := store.Filter{Roles: roles, States: []api.State{api.StateApproved, api.StateActive}, Limit: 500}
	for page := 0; page < 20; page++ {
		reqs, next, err := s.st.List(ctx, f)
		if err != nil {
			return revoked, err
		}
		ids := make([]string, len(reqs))
		for i := range reqs {
			ids[i] = reqs[i].ID
		}
		used, err := s.o.Activity.Activity(ctx, ids...)
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
			if err := s.idleEnd(ctx, r.ID, since, timeout); err != nil {
				if errors.Is(err, lifecycle.ErrNotDue) {
					continue
				}
				return revoked, err
			}
			revoked = append(revoked, r.ID)
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	return revoked, nil
}

// idleEnd revokes one idle grant and ends its access at the target.
func (s *Service) idleEnd(ctx context.Context, id string, since time.Time, timeout time.Duration) error {
	req, err := s.update(ctx, Actor{Via: ViaSweeper}, id, func(cur *api.Request) ([]audit.Event, error) {
		if !cur.State.Granted() {
			return nil, lifecycle.ErrNotDue
		}
		evs, err := lifecycle.Revoke(cur, "sweeper", "idle: no activity for "+api.FormatDuration(timeout), s.now())
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
	if err != nil {
		return err
	}
	s.metrics.idleLag.Observe(req.UpdatedAt.Sub(since.Add(timeout)).Seconds())
	s.ended(ctx, req, true)
	s.log.Info("idle grant revoked", "id", id, "role", req.Role, "idle_since", since)
	return nil
}

// flushActivity writes the grant.activity records that are due: windows
// older than the activity window, and those of grants that just ended.
func (s *Service) flushActivity(ctx context.Context, ended ...string) {
	if s.o.Activity == nil {
		return
	}
	now := s.now()
	n, err := s.o.Activity.FlushActivity(ctx, now, now.Add(-s.o.ActivityWindow), now.Add(-activityDedupe), ended...)
	if err != nil {
		s.log.Warn("flush activity", "err", err)
		return
	}
	if n > 0 {
		s.metrics.transitions.With(audit.TypeActivity).Add(float64(n))
		if s.o.Events != nil {
			s.o.Events(audit.Event{Time: now, Type: audit.TypeActivity})
		}
	}
}
