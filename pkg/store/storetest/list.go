package storetest

// Listing requests and finding the grants that are due to end.

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/store"
)

func testList(t *testing.T, s store.Store) {
	const n = 25
	var ids []string // newest first
	for i := range n {
		id := fmt.Sprintf("r%02d", i)
		r := NewRequest(id, []string{"alice", "bob"}[i%2], []string{"dev", "prod", "ops"}[i%3], t0.Add(time.Duration(i)*time.Second))
		if i%5 == 0 {
			r.State = api.StateDenied
		}
		mustCreate(t, s, r)
		ids = append([]string{id}, ids...)
	}
	// Two requests created at the same instant still page deterministically.
	same := NewRequest("r99", "carol", "dev", t0.Add(24*time.Second))
	mustCreate(t, s, same)
	ids = append([]string{"r99"}, ids...)

	var got []string
	cursor := ""
	pages := 0
	for {
		page, next, err := s.List(ctx(t), store.Filter{Limit: 10, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(page) > 10 {
			t.Fatalf("page of %d, limit 10", len(page))
		}
		for _, r := range page {
			got = append(got, r.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if pages != 3 || !slices.Equal(got, ids) {
		t.Fatalf("paged %d pages: %v\nwant newest first: %v", pages, got, ids)
	}

	check := func(name string, f store.Filter, keep func(i int) bool) {
		t.Helper()
		f.Limit = 500
		page, next, err := s.List(ctx(t), f)
		if err != nil {
			t.Fatal(err)
		}
		var want, have []string
		for i := n - 1; i >= 0; i-- {
			if keep(i) {
				want = append(want, fmt.Sprintf("r%02d", i))
			}
		}
		for _, r := range page {
			have = append(have, r.ID)
		}
		if next != "" || !slices.Equal(have, want) {
			t.Errorf("%s: got %v (next %q), want %v", name, have, next, want)
		}
	}
	check("requester", store.Filter{Requester: "bob"}, func(i int) bool { return i%2 == 1 })
	check("roles", store.Filter{Roles: []string{"prod", "ops"}}, func(i int) bool { return i%3 != 0 })
	check("states", store.Filter{States: []api.State{api.StateDenied}}, func(i int) bool { return i%5 == 0 })
	check("all three", store.Filter{Requester: "alice", Roles: []string{"dev"}, States: []api.State{api.StatePending}},
		func(i int) bool { return i%2 == 0 && i%3 == 0 && i%5 != 0 })
	check("no match", store.Filter{Requester: "nobody"}, func(int) bool { return false })

	all, _, err := s.List(ctx(t), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != n+1 {
		t.Errorf("default limit returned %d, want all %d (under 50)", len(all), n+1)
	}
	if _, _, err := s.List(ctx(t), store.Filter{Cursor: "not a cursor!"}); err == nil {
		t.Error("a garbage cursor was accepted")
	}
}

func testDue(t *testing.T, s store.Store) {
	now := t0.Add(2 * time.Hour)
	mk := func(id string, st api.State, pendingUntil, endsAt time.Time) {
		t.Helper()
		r := NewRequest(id, "alice", "dev", t0)
		r.State, r.PendingUntil, r.EndsAt = st, pendingUntil, endsAt
		if !endsAt.IsZero() {
			r.StartsAt = t0
		}
		mustCreate(t, s, r)
	}
	mk("pending-late", api.StatePending, now.Add(-time.Second), time.Time{})
	mk("pending-exact", api.StatePending, now, time.Time{})
	mk("pending-ok", api.StatePending, now.Add(time.Second), time.Time{})
	mk("approved-ended", api.StateApproved, t0, now.Add(-time.Minute))
	mk("active-ended", api.StateActive, t0, now)
	mk("active-ok", api.StateActive, t0, now.Add(time.Minute))
	mk("denied", api.StateDenied, t0, time.Time{})
	mk("expired", api.StateExpired, t0, t0)
	mk("revoked", api.StateRevoked, t0, now.Add(-time.Hour))

	ids, err := s.Due(ctx(t), now, 100)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	want := []string{"active-ended", "approved-ended", "pending-exact", "pending-late"}
	if !slices.Equal(ids, want) {
		t.Fatalf("Due = %v, want %v", ids, want)
	}
	ids, err = s.Due(ctx(t), now, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 {
		t.Fatalf("Due with limit 2 returned %v", ids)
	}
}
