package notify_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/notify"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/sqlite"
	"github.com/jit-access/jit/pkg/store/storetest"
)

// newReminder is a reminder with options o on a fresh SQLite store.
func newReminder(t *testing.T, o notify.ReminderOptions) (store.Store, *notify.Reminder) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "jit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	o.Store = st
	m, err := notify.NewReminder(o)
	if err != nil {
		t.Fatal(err)
	}
	return st, m
}

func TestRemindersGoOutOncePerDeadlineBeforeItPasses(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)
	now := t0
	st, m := newReminder(t, notify.ReminderOptions{Now: func() time.Time { return now }, Before: 10 * time.Minute})
	grant := storetest.NewRequest("req_grant", "dev@example.com", "prod-admin", t0)
	pending := storetest.NewRequest("req_pending", "dev@example.com", "prod-admin", t0.Add(5*time.Minute)) // times out at 10:05
	for _, r := range []*api.Request{grant, pending} {
		if err := st.Create(ctx, r, []audit.Event{storetest.CreatedEvent(r)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Update(ctx, grant.ID, storetest.Approve("boss@example.com", t0)); err != nil { // ends 10:00
		t.Fatal(err)
	}
	step := func(at time.Duration, want int) {
		t.Helper()
		now = t0.Add(at)
		if n, err := m.Once(ctx); err != nil || n != want {
			t.Fatalf("at +%s: %d reminders, %v; want %d", at, n, err, want)
		}
	}
	step(49*time.Minute, 0)
	step(51*time.Minute, 1) // the grant's
	step(52*time.Minute, 0) // once
	step(56*time.Minute, 1) // the pending request's
	step(57*time.Minute, 0)

	ev, _ := st.Audit(ctx, store.AuditFilter{Type: notify.TypeGrantEndingSoon})
	if len(ev) != 1 || ev[0].RequestID != grant.ID || ev[0].Subject != "dev@example.com" || !strings.Contains(ev[0].Reason, "jit extend req_grant --for") {
		t.Fatalf("grant.ending_soon = %+v", ev)
	}
	ev, _ = st.Audit(ctx, store.AuditFilter{Type: notify.TypeRequestTimingOut})
	if len(ev) != 1 || ev[0].RequestID != pending.ID {
		t.Fatalf("request.timing_out = %+v", ev)
	}

	// Extended: the new end gets its own reminder.
	if _, err := st.Update(ctx, grant.ID, func(r *api.Request) ([]audit.Event, error) {
		r.EndsAt = r.EndsAt.Add(30 * time.Minute)
		return []audit.Event{{Time: now, Type: "grant.extended", Actor: r.Requester, RequestID: r.ID}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	step(58*time.Minute, 0)
	step(81*time.Minute, 1)
}

func TestReviewRemindersRepeatUntilAVerdict(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)
	now := t0
	st, m := newReminder(t, notify.ReminderOptions{Now: func() time.Time { return now }, ReviewEvery: 24 * time.Hour})
	bg := storetest.NewRequest("req_bg", "dev@example.com", "oncall", t0)
	bg.State, bg.BreakGlass, bg.ReviewRequired = api.StateApproved, true, true
	bg.StartsAt, bg.EndsAt = t0, t0.Add(time.Hour)
	plain := storetest.NewRequest("req_plain", "dev@example.com", "oncall", t0)
	plain.State, plain.StartsAt, plain.EndsAt = api.StateExpired, t0, t0.Add(time.Hour)
	for _, r := range []*api.Request{bg, plain} {
		if err := st.Create(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		ev, _ := st.Audit(ctx, store.AuditFilter{Type: notify.TypeReviewPending})
		for _, e := range ev {
			if e.RequestID != bg.ID || !strings.Contains(e.Reason, "jit review req_bg") {
				t.Fatalf("reminder %+v", e)
			}
		}
		return len(ev)
	}
	step := func(at time.Duration, want int) {
		t.Helper()
		now = t0.Add(at)
		if _, err := m.Once(ctx); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != want {
			t.Fatalf("at +%s: %d review reminders, want %d", at, n, want)
		}
	}
	step(time.Minute, 1)  // break-glass: due at once
	step(2*time.Hour, 1)  // not twice the same day
	step(25*time.Hour, 2) // the next day again
	if _, err := st.Update(ctx, bg.ID, func(r *api.Request) ([]audit.Event, error) {
		r.Review = &api.Review{By: "boss@example.com", Verdict: api.VerdictOK, At: now}
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	step(49*time.Hour, 2) // reviewed: no more
}
