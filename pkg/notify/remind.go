package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

// ReminderOptions configure the Reminder.
type ReminderOptions struct {
	Store store.Store
	Now   func() time.Time
	// Before is how long before a grant's end (or a pending request's
	// timeout) the reminder goes out (notify.remind_before) [10m].
	Before time.Duration
	// Interval is how often to look [30s].
	Interval time.Duration
	Logger   *slog.Logger
	// Holder names this process in the "notify:reminders" lease [random].
	Holder string
	// ReviewEvery is how often a grant waiting for its review is reminded
	// of, from its start [24h].
	ReviewEvery time.Duration
}

// Reminder writes grant.ending_soon and request.timing_out to the audit
// log, once per grant end and per pending request; the dispatchers deliver
// them like any other event. The audit record itself is what remembers,
// durably, that a reminder went out.
type Reminder struct{ o ReminderOptions }

// NewReminder checks the options.
func NewReminder(o ReminderOptions) (*Reminder, error) {
	if o.Store == nil {
		return nil, errors.New("notify: reminder needs a store")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Before <= 0 {
		o.Before = 10 * time.Minute
	}
	if o.Interval <= 0 {
		o.Interval = 30 * time.Second
	}
	if o.ReviewEvery <= 0 {
		o.ReviewEvery = 24 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Holder == "" {
		h, err := randomHolder()
		if err != nil {
			return nil, err
		}
		o.Holder = h
	}
	return &Reminder{o: o}, nil
}

// Run checks every Interval until ctx ends.
func (m *Reminder) Run(ctx context.Context) error {
	t := time.NewTicker(m.o.Interval)
	defer t.Stop()
	for {
		if _, err := m.Once(ctx); err != nil && ctx.Err() == nil {
			m.o.Logger.Warn("notify: reminder check failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Once writes the reminders due at now and returns how many. One replica
// at a time does it (a lease); a reminder already in the log for the same
// deadline is not written again, so an extended grant is reminded anew.
func (m *Reminder) Once(ctx context.Context) (int, error) {
	now := m.o.Now()
	ok, err := m.o.Store.TryLease(ctx, "notify:reminders", m.o.Holder, now, 2*m.o.Interval+time.Minute)
	if err != nil || !ok {
		return 0, err
	}
	ids, err := m.o.Store.Due(ctx, now.Add(m.o.Before), 500)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		r, err := m.o.Store.Get(ctx, id)
		if err != nil {
			return n, err
		}
		var typ, deadline, reason string
		switch {
		case r.State.Granted() && now.Before(r.EndsAt):
			typ, deadline = TypeGrantEndingSoon, r.EndsAt.UTC().Format(time.RFC3339)
			reason = fmt.Sprintf("grant ends at %s; to extend: jit extend %s --for 30m", deadline, r.ID)
		case r.State == api.StatePending && now.Before(r.PendingUntil):
			typ, deadline = TypeRequestTimingOut, r.PendingUntil.UTC().Format(time.RFC3339)
			reason = fmt.Sprintf("request times out at %s without a decision", deadline)
		default:
			continue // ended already: the sweeper's business
		}
		done, err := m.reminded(ctx, id, typ, deadline)
		if err != nil {
			return n, err
		}
		if done {
			continue
		}
		if err := m.o.Store.Append(ctx, audit.Event{Time: now, Type: typ, Actor: "server", Subject: r.Requester,
			Role: r.Role, RequestID: r.ID, Reason: reason, Detail: map[string]string{"deadline": deadline}}); err != nil {
			return n, err
		}
		n++
	}
	k, err := m.reviewReminders(ctx, now)
	return n + k, err
}

// maxReviewScan bounds the pages of granted requests one check reads.
const maxReviewScan = 10

// reviewReminders writes grant.review_pending for grants waiting for their
// post-hoc review: once when the review becomes due (at once for
// break-glass, at the grant's end otherwise), then every ReviewEvery,
// until a verdict is recorded.
func (m *Reminder) reviewReminders(ctx context.Context, now time.Time) (int, error) {
	n := 0
	f := store.Filter{States: []api.State{api.StateApproved, api.StateActive, api.StateExpired, api.StateRevoked}, Limit: 500}
	for range maxReviewScan {
		reqs, next, err := m.o.Store.List(ctx, f)
		if err != nil {
			return n, err
		}
		for _, r := range reqs {
			if !r.ReviewRequired || r.Review != nil || r.StartsAt.IsZero() {
				continue
			}
			if !r.BreakGlass && r.State.Granted() && now.Before(r.EndsAt) {
				continue // reviewed once it has ended
			}
			round := fmt.Sprint(int64(now.Sub(r.StartsAt) / m.o.ReviewEvery))
			done, err := m.reminded(ctx, r.ID, TypeReviewPending, round)
			if err != nil {
				return n, err
			}
			if done {
				continue
			}
			kind := "grant"
			if r.BreakGlass {
				kind = "break-glass grant"
			}
			if err := m.o.Store.Append(ctx, audit.Event{Time: now, Type: TypeReviewPending, Actor: "server", Subject: r.Requester,
				Role: r.Role, RequestID: r.ID, Reason: fmt.Sprintf("%s %s waits for a review: jit review %s", kind, r.ID, r.ID),
				Detail: map[string]string{"deadline": round}}); err != nil {
				return n, err
			}
			n++
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	return n, nil
}

func (m *Reminder) reminded(ctx context.Context, id, typ, deadline string) (bool, error) {
	evs, err := m.o.Store.Audit(ctx, store.AuditFilter{RequestID: id, Type: typ, Limit: 1000})
	if err != nil {
		return false, err
	}
	for _, e := range evs {
		if e.Detail["deadline"] == deadline {
			return true, nil
		}
	}
	return false, nil
}
