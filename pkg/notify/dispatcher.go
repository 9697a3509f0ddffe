package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/metrics"
	"github.com/jit-access/jit/pkg/store"
)

// Sink is one destination of notifications.
type Sink interface {
	// Name identifies the sink's cursor and lease; it must stay the same
	// across restarts and never contain a secret.
	Name() string
	// Wants reports whether the sink delivers events of this type.
	Wants(typ string) bool
	// Deliver sends one event. An error wrapped by Permanent is not
	// retried; any other error is, after a backoff (RetryAfter may ask
	// for a longer one).
	Deliver(ctx context.Context, e *api.AuditEvent, key string) error
}

// PermanentError is a delivery the receiver refused for good (a 4xx other
// than 408 and 429, an unknown Slack channel): retrying cannot help.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent marks err as not worth retrying.
func Permanent(err error) error { return &PermanentError{Err: err} }

// RetryAfterError asks for at least After before the next attempt (HTTP
// Retry-After, Slack's rate limit).
type RetryAfterError struct {
	Err   error
	After time.Duration
}

func (e *RetryAfterError) Error() string { return e.Err.Error() }
func (e *RetryAfterError) Unwrap() error { return e.Err }

// DispatcherOptions configure a Dispatcher. Defaults are in brackets.
type DispatcherOptions struct {
	Store  store.Store
	Sink   Sink
	Now    func() time.Time // [time.Now]
	Logger *slog.Logger
	// Metrics counts outcomes (optional).
	Metrics *Metrics
	// BaseDelay is the first retry's wait; it doubles per failed attempt
	// up to MaxDelay [1s, 5m]. A failing event is retried until it is
	// delivered or refused for good: the events behind it wait, in order.
	BaseDelay, MaxDelay time.Duration
	// Batch bounds the events read per round [100].
	Batch int
	// LeaseTTL is how long the sink's lease lasts without renewal [30s];
	// a round stops delivering after half of it and renews. A dispatcher
	// that dies without releasing delays its successor by up to LeaseTTL.
	LeaseTTL time.Duration
	// PollInterval is how often the log is read when nothing nudges [2s].
	PollInterval time.Duration
	// AttemptTimeout bounds one delivery attempt [10s].
	AttemptTimeout time.Duration
	// Holder names this dispatcher in the lease [random].
	Holder string
}

// Dispatcher delivers one sink's events from the audit log. Create it with
// NewDispatcher; run it with Run.
type Dispatcher struct {
	o    DispatcherOptions
	wake chan struct{}
	// The event being retried, its failed attempts and the next try.
	retrySeq int64
	attempts int
	retryAt  time.Time
}

// NewDispatcher checks the options.
func NewDispatcher(o DispatcherOptions) (*Dispatcher, error) {
	if o.Store == nil || o.Sink == nil {
		return nil, errors.New("notify: dispatcher needs a store and a sink")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = time.Second
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = 5 * time.Minute
	}
	if o.Batch <= 0 {
		o.Batch = 100
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 30 * time.Second
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 2 * time.Second
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = 10 * time.Second
	}
	if o.Holder == "" {
		h, err := randomHolder()
		if err != nil {
			return nil, err
		}
		o.Holder = h
	}
	return &Dispatcher{o: o, wake: make(chan struct{}, 1)}, nil
}

func randomHolder() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// Nudge makes Run look at the log now (server.Options.Events calls it).
func (d *Dispatcher) Nudge() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *Dispatcher) lease() string { return "notify:" + d.o.Sink.Name() }

// Run delivers until ctx ends, then releases the lease.
func (d *Dispatcher) Run(ctx context.Context) error {
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = d.o.Store.ReleaseLease(rctx, d.lease(), d.o.Holder)
	}()
	for {
		r, err := d.Once(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			d.o.Logger.Warn("notify: round failed", "sink", d.o.Sink.Name(), "err", err)
		}
		wait := d.o.PollInterval
		switch {
		case !r.RetryAt.IsZero():
			wait = r.RetryAt.Sub(d.o.Now())
		case r.More:
			wait = 0
		}
		t := time.NewTimer(max(wait, 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-d.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// Round is what one call of Once did.
type Round struct {
	Delivered int       // events delivered
	Failed    int       // events refused for good (audited as notify.failed)
	More      bool      // events are left: call again at once
	RetryAt   time.Time // a delivery failed: not before this
}

// Once reads the events after the sink's cursor and delivers them in order,
// under the sink's lease, until one fails, the batch ends or half the lease
// has passed.
func (d *Dispatcher) Once(ctx context.Context) (Round, error) {
	var r Round
	now := d.o.Now()
	if now.Before(d.retryAt) {
		r.RetryAt = d.retryAt
		return r, nil
	}
	name := d.o.Sink.Name()
	cur, err := d.o.Store.DeliveryCursor(ctx, name)
	if err != nil {
		return r, fmt.Errorf("read cursor: %w", err)
	}
	events, err := d.o.Store.Audit(ctx, store.AuditFilter{AfterSeq: cur, Limit: d.o.Batch})
	if err != nil || len(events) == 0 {
		return r, err
	}
	ok, err := d.o.Store.TryLease(ctx, d.lease(), d.o.Holder, now, d.o.LeaseTTL)
	if err != nil || !ok {
		return r, err // another replica delivers
	}
	deadline := now.Add(d.o.LeaseTTL / 2)
	saved := cur // the cursor as stored
	done := cur  // the last event dealt with
	save := func() error {
		if done == saved {
			return nil
		}
		if err := d.o.Store.SetDeliveryCursor(context.WithoutCancel(ctx), name, done); err != nil {
			return fmt.Errorf("move cursor: %w", err)
		}
		saved = done
		return nil
	}
	r.More = len(events) == d.o.Batch
	for i := range events {
		e := &events[i]
		if !Outbound(e.Type) || !d.o.Sink.Wants(e.Type) {
			done = e.Seq
			continue
		}
		if d.o.Now().After(deadline) {
			r.More = true
			break
		}
		if e.Seq != d.retrySeq {
			d.retrySeq, d.attempts = e.Seq, 0
		}
		key := IdempotencyKey(name, e.Seq)
		actx, cancel := context.WithTimeout(ctx, d.o.AttemptTimeout)
		err := d.o.Sink.Deliver(actx, e, key)
		cancel()
		d.attempts++
		if err != nil && ctx.Err() != nil {
			return r, errors.Join(ctx.Err(), save())
		}
		var perm *PermanentError
		switch {
		case err == nil:
			done = e.Seq
			if err := save(); err != nil {
				return r, err
			}
			r.Delivered++
			d.outcome(ctx, e, key, audit.TypeNotifyDelivered, "")
		case errors.As(err, &perm):
			done = e.Seq
			if err := save(); err != nil {
				return r, err
			}
			r.Failed++
			d.o.Logger.Warn("notify: delivery refused; skipping the event", "sink", name, "seq", e.Seq, "type", e.Type, "err", err)
			d.outcome(ctx, e, key, audit.TypeNotifyFailed, err.Error())
		default:
			d.retryLater(&r, name, e, err)
			return r, save()
		}
	}
	d.retryAt = time.Time{}
	return r, save()
}

// retryLater schedules the next attempt at e after a failed delivery: the
// backoff for this attempt, or the sink's Retry-After when that is longer
// (capped at MaxDelay).
func (d *Dispatcher) retryLater(r *Round, name string, e *api.AuditEvent, err error) {
	wait := d.backoff(d.attempts)
	var ra *RetryAfterError
	if errors.As(err, &ra) && ra.After > wait {
		wait = min(ra.After, d.o.MaxDelay)
	}
	d.retryAt = d.o.Now().Add(wait)
	r.RetryAt, r.More = d.retryAt, true
	d.o.Metrics.count(name, "retry")
	d.o.Logger.Warn("notify: delivery failed; will retry", "sink", name, "seq", e.Seq, "type", e.Type,
		"attempt", d.attempts, "retry_in", wait, "err", err)
}

// backoff is the wait after the n-th failed attempt: BaseDelay·2^(n-1),
// capped at MaxDelay.
func (d *Dispatcher) backoff(n int) time.Duration {
	w := d.o.BaseDelay
	for i := 1; i < n && w < d.o.MaxDelay; i++ {
		w *= 2
	}
	return min(w, d.o.MaxDelay)
}

// outcome audits a delivery's result (notify.* events are never delivered
// themselves) and counts it.
func (d *Dispatcher) outcome(ctx context.Context, e *api.AuditEvent, key, typ, reason string) {
	outcome := "delivered"
	if typ == audit.TypeNotifyFailed {
		outcome = "failed"
	}
	d.o.Metrics.count(d.o.Sink.Name(), outcome)
	err := d.o.Store.Append(context.WithoutCancel(ctx), audit.Event{
		Time: d.o.Now(), Type: typ, Actor: "server", Subject: e.Subject, Role: e.Role, RequestID: e.RequestID, Reason: reason,
		Detail: map[string]string{"sink": d.o.Sink.Name(), "seq": strconv.FormatInt(e.Seq, 10), "event": e.Type,
			"idempotency_key": key, "attempts": strconv.Itoa(d.attempts)},
	})
	if err != nil {
		d.o.Logger.Warn("notify: audit of a delivery failed", "sink", d.o.Sink.Name(), "seq", e.Seq, "err", err)
	}
}

// Metrics are notify's Prometheus series, on a registry of its own.
type Metrics struct {
	Registry   *metrics.Registry
	deliveries *metrics.CounterVec
}

// NewMetrics makes the registry (the server serves it with its own at /metrics).
func NewMetrics() *Metrics {
	r := metrics.NewRegistry()
	return &Metrics{Registry: r, deliveries: r.NewCounterVec("jit_notify_deliveries_total",
		"Notification delivery attempts by sink and outcome (delivered, retry, failed).", "sink", "outcome")}
}

// Deliveries returns the count of one sink's outcome (tests, status).
func (m *Metrics) Deliveries(sink, outcome string) float64 {
	if m == nil {
		return 0
	}
	return m.deliveries.With(sink, outcome).Value()
}

func (m *Metrics) count(sink, outcome string) {
	if m != nil {
		m.deliveries.With(sink, outcome).Inc()
	}
}
