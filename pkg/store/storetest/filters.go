package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

// testListFilterEdges: an empty, non-nil Roles or States list matches
// nothing (it is "none of these", not "no filter": an approver of no roles
// reviews nothing), and a cursor pages correctly through a filtered list.
func testListFilterEdges(t *testing.T, s store.Store) {
	var want []string // bob's pending requests, newest first
	for i := range 20 {
		id := fmt.Sprintf("r%02d", i)
		r, evs := NewPending(id, []string{"alice", "bob"}[i%2], "dev", 1, t0.Add(time.Duration(i)*time.Second))
		if err := s.Create(ctx(t), r, evs); err != nil {
			t.Fatal(err)
		}
		if i%4 == 1 {
			if _, err := s.Update(ctx(t), id, Approved("carol", r.CreatedAt)); err != nil {
				t.Fatal(err)
			}
		} else if i%2 == 1 {
			want = append([]string{id}, want...)
		}
	}
	for name, f := range map[string]store.Filter{
		"empty roles":  {Roles: []string{}},
		"empty states": {States: []api.State{}},
	} {
		got, next, err := s.List(ctx(t), f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) != 0 || next != "" {
			t.Errorf("%s matched %d requests (next %q), want none", name, len(got), next)
		}
	}
	var got []string
	cursor := ""
	for range 10 {
		page, next, err := s.List(ctx(t), store.Filter{Requester: "bob", States: []api.State{api.StatePending}, Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page {
			got = append(got, r.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if !slices.Equal(got, want) {
		t.Errorf("filtered pages gave %v, want %v", got, want)
	}
}

// testZeroEventTimeIsStamped: an event appended without a Time gets the
// store's clock, not the zero time (which would sort before every Since and
// overflow the nanosecond columns), and still chains.
func testZeroEventTimeIsStamped(t *testing.T, s store.Store) {
	if err := s.Append(ctx(t), audit.Event{Type: "policy.loaded", Actor: "system"}); err != nil {
		t.Fatal(err)
	}
	evs := AllAudit(t, s)
	if len(evs) != 1 || evs[0].Time.IsZero() || evs[0].Time.Location() != time.UTC {
		t.Fatalf("zero-time event stored as %+v", evs)
	}
	since, err := s.Audit(ctx(t), store.AuditFilter{Since: evs[0].Time})
	if err != nil || len(since) != 1 {
		t.Fatalf("Since its own stamp found %d events (%v)", len(since), err)
	}
	VerifyChain(t, s, 1)
}

// testListEndsAtOrAfter: EndsAtOrAfter keeps the requests whose end is at or
// after it (the report's grants that started since), however old the
// request, and no request that was never approved.
func testListEndsAtOrAfter(t *testing.T, s store.Store) {
	for i, id := range []string{"old-ask", "ended-before", "pending"} {
		r, evs := NewPending(id, "alice", "dev", 1, t0.Add(time.Duration(i)*time.Minute))
		r.PendingUntil = t0.Add(168 * time.Hour) // the longest pending timeout
		if err := s.Create(ctx(t), r, evs); err != nil {
			t.Fatal(err)
		}
	}
	// Asked first, approved 30 hours later: it ends last.
	if _, err := s.Update(ctx(t), "old-ask", Approved("bob", t0.Add(30*time.Hour))); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx(t), "ended-before", Approved("bob", t0.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.List(ctx(t), store.Filter{EndsAtOrAfter: t0.Add(30 * time.Hour)})
	if err != nil || len(got) != 1 || got[0].ID != "old-ask" {
		t.Fatalf("EndsAtOrAfter = %+v, %v; want old-ask only", got, err)
	}
}

// testListAwaitingReview: AwaitingReview keeps the grants that started,
// need a review and have none: not one still pending, not one reviewed,
// not one that needs none; and the column behind it follows every update.
func testListAwaitingReview(t *testing.T, s store.Store) {
	for i, id := range []string{"pending", "started", "reviewed", "no-review"} {
		r, evs := NewPending(id, "alice", "dev", 1, t0.Add(time.Duration(i)*time.Minute))
		r.ReviewRequired = id != "no-review"
		r.PendingUntil = t0.Add(168 * time.Hour)
		if err := s.Create(ctx(t), r, evs); err != nil {
			t.Fatal(err)
		}
		if id != "pending" {
			if _, err := s.Update(ctx(t), id, Approved("bob", t0.Add(time.Hour))); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := s.Update(ctx(t), "reviewed", func(r *api.Request) ([]audit.Event, error) {
		r.Review = &api.Review{By: "carol", Verdict: api.VerdictOK, At: t0.Add(2 * time.Hour)}
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.List(ctx(t), store.Filter{AwaitingReview: true})
	if err != nil || len(got) != 1 || got[0].ID != "started" {
		t.Fatalf("AwaitingReview = %+v, %v; want started only", got, err)
	}
}
