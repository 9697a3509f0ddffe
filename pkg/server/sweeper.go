package server

import (
	"context"
	"errors"
	"time"

	"github.com/jit-access/jit/pkg/api"
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
		ids, err := s.opts.Store.Due(ctx, now, 500)
		if err != nil {
			return err
		}
		for _, id := range ids {
			var lag time.Duration
			_, err := s.update(ctx, id, func(r *api.Request) ([]store.Event, error) {
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
