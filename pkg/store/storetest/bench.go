package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/lifecycle"
	"github.com/jit-access/jit/pkg/store"
)

// BenchCycle measures the store's share of one full request cycle as
// the server runs it: Create (request.created), Update approve
// (request.approval + request.approved) and Update vended
// (credentials.vended), each with its audit events in the same transaction.
// It runs sequentially and under b.RunParallel (8 callers per CPU) and
// reports cycles/s.
func BenchCycle(b *testing.B, s store.Store) {
	var n atomic.Int64
	cycle := func(ctx context.Context) error {
		i := n.Add(1)
		now := t0.Add(time.Duration(i) * time.Millisecond)
		r, events := lifecycle.New(lifecycle.NewInput{
			ID: fmt.Sprintf("bench-%d", i), Requester: "alice@example.com",
			Create:   api.CreateRequest{Role: "prod-admin", Reason: "benchmark", Ticket: "OPS-1"},
			Duration: time.Hour, ApprovalsNeeded: 1, PendingTimeout: time.Hour,
		}, now)
		if err := s.Create(ctx, r, events); err != nil {
			return err
		}
		if _, err := s.Update(ctx, r.ID, func(r *api.Request) ([]audit.Event, error) {
			return lifecycle.Approve(r, api.User{Subject: "bob-sub", Email: "bob@example.com", Username: "bob@example.com"}, "ok", now)
		}); err != nil {
			return err
		}
		_, err := s.Update(ctx, r.ID, func(r *api.Request) ([]audit.Event, error) {
			return lifecycle.Vended(r, "alice@example.com", "ASIAEXAMPLE", now.Add(time.Hour), now)
		})
		return err
	}
	report := func(b *testing.B) {
		if sec := b.Elapsed().Seconds(); sec > 0 {
			b.ReportMetric(float64(b.N)/sec, "cycles/s")
		}
	}
	b.Run("Sequential", func(b *testing.B) {
		ctx := b.Context()
		b.ReportAllocs()
		for b.Loop() {
			if err := cycle(ctx); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
	// As many callers as a busy server has requests in flight.
	b.Run("Parallel", func(b *testing.B) {
		ctx := b.Context()
		b.ReportAllocs()
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := cycle(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		})
		report(b)
	})
}
