package server

import (
	"context"
	"time"
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

// SweepOnce runs one sweep of the grants service (grants.Service.SweepOnce):
// idle ends, expiries and time-outs on one replica at a time. It returns how
// many requests it changed.
func (s *Server) SweepOnce(ctx context.Context) (int, error) { return s.grants.SweepOnce(ctx) }
