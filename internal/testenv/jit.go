package testenv

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jit-access/jit/pkg/vend"
)

// Clock is a settable clock for servers under test: expiry and sweeping
// are tested by moving it, never by sleeping.
type Clock struct{ ns atomic.Int64 }

// NewClock returns a clock standing at t.
func NewClock(t time.Time) *Clock {
	c := &Clock{}
	c.ns.Store(t.UnixNano())
	return c
}

// Now is the clock's time.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()) }

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) { c.ns.Add(int64(d)) }

// Set puts the clock at t.
func (c *Clock) Set(t time.Time) { c.ns.Store(t.UnixNano()) }

// FakeVendor stands in for STS where a test is about jit, not AWS (STS
// itself is tested against MinIO in pkg/vend and internal/e2e). It records
// every call and returns made-up credentials, or Err when set.
type FakeVendor struct {
	mu    sync.Mutex
	calls []vend.Input
	Err   error
}

// Vend implements vend.Vendor.
func (f *FakeVendor) Vend(_ context.Context, in vend.Input, now time.Time) (vend.Credentials, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, in)
	if f.Err != nil {
		return vend.Credentials{}, f.Err
	}
	return vend.Credentials{AccessKeyID: "ASIAFAKE" + in.RequestID[max(0, len(in.RequestID)-4):], SecretAccessKey: "fake-secret-" + in.RequestID,
		SessionToken: "fake-token-" + in.RequestID, Expiration: now.Add(time.Hour)}, nil
}

// Calls returns the inputs of every Vend so far.
func (f *FakeVendor) Calls() []vend.Input {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]vend.Input(nil), f.calls...)
}

// SetErr makes the next Vends fail with err (nil: succeed again).
func (f *FakeVendor) SetErr(err error) {
	f.mu.Lock()
	f.Err = err
	f.mu.Unlock()
}
