// Package storetest is the one behaviour suite every store.Store
// implementation passes (store/sqlite, store/postgres): call Run from the
// implementation's tests with a function that opens a fresh, empty store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

// T0 is the suite's fixed clock origin; no test reads the wall clock.
var t0 = time.Date(2026, 5, 1, 9, 0, 0, 123456789, time.UTC)

// Run runs the suite. open must return a new, empty store; Run closes it.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	fresh := func(t *testing.T) store.Store {
		t.Helper()
		s := open(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
		return s
	}
	tests := []suiteTest{
		{"CreateThenGetRoundTrips", testCreateGet},
		{"RequestsRoundTripExactlyInUTC", testRoundTrip},
		{"CreateRejectsDuplicateID", testCreateDuplicate},
		{"GetUnknownIsNotFound", testGetUnknown},
		{"UpdateStoresMutationAndBumpsVersion", testUpdate},
		{"UpdateUnknownIsNotFound", testUpdateUnknown},
		{"MutationErrorWritesNothing", testMutationErrorAborts},
		{"ConcurrentAbortsAreIsolated", testConcurrentAbortsAreIsolated},
		{"ConcurrentUpdatesAreSerialised", testConcurrentUpdates},
		{"ListPagesNewestFirstAndFilters", testList},
		{"ListFilterEdges", testListFilterEdges},
		{"ListByPrincipalWithLegacyRows", testListByPrincipal},
		{"ZeroEventTimeIsStamped", testZeroEventTimeIsStamped},
		{"DueSelectsTimedOutAndEndedOnly", testDue},
		{"AuditQueriesFilterAndPage", testAuditQuery},
		{"AuditChainVerifiesAfterConcurrentWrites", testChainConcurrent},
		{"ConcurrentLifecyclesChainAndSweep", testLifecycleConcurrent},
		{"ListenHearsUpdates", testListen},
		{"TryLeadIsExclusive", testTryLead},
		{"WithLockIsExclusivePerKey", testWithLock},
		{"FirstUseIsOnceUntilExpiry", testFirstUse},
		{"PingAnswers", func(t *testing.T, s store.Store) {
			if err := s.Ping(ctx(t)); err != nil {
				t.Fatal(err)
			}
		}},
	}
	tests = append(tests, treeTests()...)
	tests = append(tests, outboxTests()...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, fresh(t)) })
	}
}

// suiteTest is one named check of the suite.
type suiteTest struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	return t.Context()
}

// NewRequest returns a pending request created at created.
func NewRequest(id, requester, role string, created time.Time) *api.Request {
	return &api.Request{
		ID: id, Requester: requester, Role: role, Reason: "deploy " + id,
		DurationSeconds: 3600, State: api.StatePending, ApprovalsNeeded: 1,
		CreatedAt: created, UpdatedAt: created, PendingUntil: created.Add(time.Hour),
	}
}

// CreatedEvent is the audit event of a new request.
func CreatedEvent(r *api.Request) store.Event {
	return store.Event{Time: r.CreatedAt, Type: audit.TypeRequestCreated, Actor: r.Requester,
		Subject: r.Requester, Role: r.Role, RequestID: r.ID, Reason: r.Reason}
}

// Approve is a mutation that approves a pending request and refuses
// anything else, as the server's state machine does.
func Approve(by string, at time.Time) store.Mutation {
	return func(r *api.Request) ([]store.Event, error) {
		if r.State != api.StatePending {
			return nil, fmt.Errorf("request %s is %s, not pending", r.ID, r.State)
		}
		r.State = api.StateApproved
		r.Approvals = append(r.Approvals, api.Decision{By: by, Approve: true, At: at})
		r.StartsAt, r.EndsAt, r.UpdatedAt = at, at.Add(r.Duration()), at
		return []store.Event{{Time: at, Type: audit.TypeRequestApproved, Actor: by, Subject: r.Requester,
			Role: r.Role, RequestID: r.ID}}, nil
	}
}

func mustCreate(t *testing.T, s store.Store, r *api.Request) {
	t.Helper()
	if err := s.Create(ctx(t), r, []store.Event{CreatedEvent(r)}); err != nil {
		t.Fatalf("create %s: %v", r.ID, err)
	}
}

// AllAudit reads the whole audit log, page by page.
func AllAudit(t *testing.T, s store.Store) []api.AuditEvent {
	t.Helper()
	var out []api.AuditEvent
	var after int64
	for {
		page, err := s.Audit(ctx(t), store.AuditFilter{AfterSeq: after, Limit: 1000})
		if err != nil {
			t.Fatalf("audit: %v", err)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		after = page[len(page)-1].Seq
	}
}

// VerifyChain fails the test unless the store's whole audit log is an
// intact chain of want records.
func VerifyChain(t *testing.T, s store.Store, want int) {
	t.Helper()
	evs := AllAudit(t, s)
	r := audit.Verify(evs)
	if !r.OK {
		t.Fatalf("audit chain broken: %v", r.Err)
	}
	if r.Count != want {
		t.Fatalf("audit log has %d records, want %d", r.Count, want)
	}
}

func testCreateGet(t *testing.T, s store.Store) {
	r := NewRequest("r1", "alice@example.com", "prod-admin", t0)
	r.Ticket = "OPS-1"
	r.BreakGlass = true
	mustCreate(t, s, r)
	if r.Version != 1 {
		t.Errorf("Create set Version %d, want 1", r.Version)
	}
	got, err := s.Get(ctx(t), "r1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 1 || got.Requester != r.Requester || got.Role != r.Role || got.Ticket != "OPS-1" ||
		!got.BreakGlass || got.State != api.StatePending || !got.CreatedAt.Equal(t0) ||
		!got.PendingUntil.Equal(r.PendingUntil) || got.DurationSeconds != 3600 {
		t.Fatalf("Get = %+v, want %+v", got, r)
	}
	evs := AllAudit(t, s)
	if len(evs) != 1 {
		t.Fatalf("%d audit events, want 1", len(evs))
	}
	e := evs[0]
	if e.Seq != 1 || e.PrevHash != audit.GenesisHash || e.Hash != audit.Hash(e) || !e.Time.Equal(t0) ||
		e.Type != audit.TypeRequestCreated || e.RequestID != "r1" || e.Reason != r.Reason {
		t.Fatalf("audit event = %+v", e)
	}
}

func testCreateDuplicate(t *testing.T, s store.Store) {
	mustCreate(t, s, NewRequest("r1", "alice", "dev", t0))
	dup := NewRequest("r1", "mallory", "prod-admin", t0)
	if err := s.Create(ctx(t), dup, []store.Event{CreatedEvent(dup)}); err == nil {
		t.Fatal("second Create with the same id succeeded")
	}
	got, err := s.Get(ctx(t), "r1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Requester != "alice" {
		t.Fatalf("duplicate Create overwrote the request: %+v", got)
	}
	VerifyChain(t, s, 1)
}

func testGetUnknown(t *testing.T, s store.Store) {
	if _, err := s.Get(ctx(t), "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get unknown: %v, want ErrNotFound", err)
	}
}

func testUpdate(t *testing.T, s store.Store) {
	mustCreate(t, s, NewRequest("r1", "alice", "dev", t0))
	at := t0.Add(time.Minute)
	got, err := s.Update(ctx(t), "r1", Approve("bob", at))
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || got.State != api.StateApproved || !got.EndsAt.Equal(at.Add(time.Hour)) {
		t.Fatalf("Update returned %+v", got)
	}
	again, err := s.Get(ctx(t), "r1")
	if err != nil {
		t.Fatal(err)
	}
	if again.Version != 2 || again.State != api.StateApproved || len(again.Approvals) != 1 || again.Approvals[0].By != "bob" {
		t.Fatalf("Get after Update = %+v", again)
	}
	// An illegal transition is an error, never a silent no-op.
	if _, err := s.Update(ctx(t), "r1", Approve("carol", at)); err == nil {
		t.Fatal("second approval of an approved request succeeded")
	}
	VerifyChain(t, s, 2)
	evs := AllAudit(t, s)
	if evs[1].Type != audit.TypeRequestApproved || evs[1].Actor != "bob" || evs[1].PrevHash != evs[0].Hash {
		t.Fatalf("approval event = %+v", evs[1])
	}
}

func testUpdateUnknown(t *testing.T, s store.Store) {
	called := false
	_, err := s.Update(ctx(t), "nope", func(*api.Request) ([]store.Event, error) {
		called = true
		return nil, nil
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Update unknown: %v, want ErrNotFound", err)
	}
	if called {
		t.Fatal("mutation ran for an unknown request")
	}
}

func testMutationErrorAborts(t *testing.T, s store.Store) {
	mustCreate(t, s, NewRequest("r1", "alice", "dev", t0))
	boom := errors.New("refused")
	_, err := s.Update(ctx(t), "r1", func(r *api.Request) ([]store.Event, error) {
		r.State = api.StateDenied // changed, then refused: must not be stored
		return []store.Event{{Time: t0, Type: audit.TypeRequestDenied, Actor: "bob", RequestID: r.ID}}, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want the mutation's error", err)
	}
	got, err := s.Get(ctx(t), "r1")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != api.StatePending || got.Version != 1 {
		t.Fatalf("aborted mutation was stored: %+v", got)
	}
	VerifyChain(t, s, 1)
	// The chain continues correctly after the abort.
	if _, err := s.Update(ctx(t), "r1", Approve("bob", t0)); err != nil {
		t.Fatal(err)
	}
	VerifyChain(t, s, 2)
}

func testConcurrentUpdates(t *testing.T, s store.Store) {
	r := NewRequest("r1", "alice", "dev", t0)
	r.ApprovalsNeeded = 100
	mustCreate(t, s, r)
	const n = 20
	var mu sync.Mutex
	seen := map[int64]int{} // version the mutation saw → how many times it committed
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			by := fmt.Sprintf("approver%02d", i)
			var saw int64
			got, err := s.Update(ctx(t), "r1", func(r *api.Request) ([]store.Event, error) {
				saw = r.Version
				if int64(len(r.Approvals)) != r.Version-1 {
					return nil, fmt.Errorf("version %d with %d approvals: a lost update", r.Version, len(r.Approvals))
				}
				r.Approvals = append(r.Approvals, api.Decision{By: by, Approve: true, At: t0})
				return []store.Event{{Time: t0, Type: audit.TypeRequestApproval, Actor: by, RequestID: r.ID}}, nil
			})
			if err != nil {
				errs <- err
				return
			}
			if got.Version != saw+1 {
				errs <- fmt.Errorf("mutation saw version %d but the result is %d", saw, got.Version)
			}
			mu.Lock()
			seen[saw]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for v := int64(1); v <= n; v++ {
		if seen[v] != 1 {
			t.Errorf("version %d was committed on %d times, want once", v, seen[v])
		}
	}
	got, err := s.Get(ctx(t), "r1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != n+1 || len(got.Approvals) != n {
		t.Fatalf("final version %d with %d approvals, want %d and %d", got.Version, len(got.Approvals), n+1, n)
	}
	VerifyChain(t, s, n+1)
}

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

func testAuditQuery(t *testing.T, s store.Store) {
	evs := []store.Event{
		{Time: t0, Type: audit.TypePolicyLoaded, Actor: "system"},
		{Time: t0.Add(1 * time.Minute), Type: audit.TypeVended, Actor: "alice", Subject: "alice", Role: "dev", RequestID: "r1",
			Detail: map[string]string{"access_key_id": "AKIA1", "z": "last", "a": "first"}},
		{Time: t0.Add(2 * time.Minute), Type: audit.TypeRequestApproved, Actor: "bob", Subject: "alice", Role: "dev", RequestID: "r1"},
		{Time: t0.Add(3 * time.Minute), Type: audit.TypeForbidden, Actor: "mallory", Role: "prod", Reason: "not eligible"},
		{Time: t0.Add(4 * time.Minute), Type: audit.TypeVended, Actor: "carol", Subject: "carol", Role: "prod", RequestID: "r2"},
	}
	if err := s.Append(ctx(t), evs[:2]...); err != nil {
		t.Fatal(err)
	}
	for _, e := range evs[2:] {
		if err := s.Append(ctx(t), e); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Append(ctx(t)); err != nil {
		t.Fatalf("empty Append: %v", err)
	}
	all := AllAudit(t, s)
	if len(all) != len(evs) {
		t.Fatalf("%d events, want %d", len(all), len(evs))
	}
	for i, e := range all {
		if e.Seq != int64(i+1) || !e.Time.Equal(evs[i].Time) || e.Type != evs[i].Type || e.Actor != evs[i].Actor ||
			e.Reason != evs[i].Reason || len(e.Detail) != len(evs[i].Detail) {
			t.Fatalf("event %d = %+v, want %+v", i, e, evs[i])
		}
	}
	if all[1].Detail["access_key_id"] != "AKIA1" {
		t.Errorf("detail lost: %v", all[1].Detail)
	}
	seqs := func(f store.AuditFilter) []int64 {
		t.Helper()
		got, err := s.Audit(ctx(t), f)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, e := range got {
			out = append(out, e.Seq)
		}
		return out
	}
	tests := []struct {
		name string
		f    store.AuditFilter
		want []int64
	}{
		{"all", store.AuditFilter{}, []int64{1, 2, 3, 4, 5}},
		{"since is inclusive", store.AuditFilter{Since: t0.Add(2 * time.Minute)}, []int64{3, 4, 5}},
		{"until is exclusive", store.AuditFilter{Until: t0.Add(2 * time.Minute)}, []int64{1, 2}},
		{"window", store.AuditFilter{Since: t0.Add(time.Minute), Until: t0.Add(3 * time.Minute)}, []int64{2, 3}},
		{"user as actor or subject", store.AuditFilter{User: "alice"}, []int64{2, 3}},
		{"user as actor", store.AuditFilter{User: "bob"}, []int64{3}},
		{"role", store.AuditFilter{Role: "prod"}, []int64{4, 5}},
		{"request", store.AuditFilter{RequestID: "r1"}, []int64{2, 3}},
		{"type", store.AuditFilter{Type: audit.TypeVended}, []int64{2, 5}},
		{"combined", store.AuditFilter{Type: audit.TypeVended, Role: "prod"}, []int64{5}},
		{"after seq", store.AuditFilter{AfterSeq: 3}, []int64{4, 5}},
		{"limit", store.AuditFilter{Limit: 2}, []int64{1, 2}},
		{"limit after seq", store.AuditFilter{AfterSeq: 2, Limit: 2}, []int64{3, 4}},
		{"no match", store.AuditFilter{User: "nobody"}, nil},
	}
	for _, tt := range tests {
		if got := seqs(tt.f); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got seqs %v, want %v", tt.name, got, tt.want)
		}
	}
	VerifyChain(t, s, len(evs))
}

func testChainConcurrent(t *testing.T, s store.Store) {
	const workers, each = 6, 15
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				at := t0.Add(time.Duration(w*each+i) * time.Millisecond)
				r := NewRequest(fmt.Sprintf("w%d-%d", w, i), fmt.Sprintf("user%d", w), "dev", at)
				if err := s.Create(ctx(t), r, []store.Event{CreatedEvent(r)}); err != nil {
					errs <- err
					continue
				}
				if _, err := s.Update(ctx(t), r.ID, Approve("boss", at)); err != nil {
					errs <- err
				}
				if err := s.Append(ctx(t), store.Event{Time: at, Type: audit.TypeVended, Actor: r.Requester, RequestID: r.ID}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	VerifyChain(t, s, workers*each*3)
}

func testListen(t *testing.T, s store.Store) {
	mustCreate(t, s, NewRequest("r1", "alice", "dev", t0))
	lctx, cancel := context.WithCancel(ctx(t))
	heard := make(chan string, 1000)
	done := make(chan error, 1)
	go func() {
		done <- s.Listen(lctx, func(id string) {
			select {
			case heard <- id:
			default:
			}
		})
	}()
	// Listen gives no signal when it is subscribed, so keep changing the
	// request until a change is heard (each Update is a real change).
	waitHeard(t, heard, "r1", func(i int) {
		if _, err := s.Update(ctx(t), "r1", touch(i)); err != nil {
			t.Fatal(err)
		}
	})
	// A change committed after the listener is known to be subscribed
	// arrives without repeats being needed.
	r2 := NewRequest("r2", "bob", "dev", t0)
	mustCreate(t, s, r2)
	waitHeard(t, heard, "r2", nil)
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Listen ended with %v", err)
	}
}

func touch(i int) store.Mutation {
	return func(r *api.Request) ([]store.Event, error) {
		r.VendCount = i
		return nil, nil
	}
}

// waitHeard waits for id on heard, calling poke (when not nil) before each
// wait of a short retry tick. It fails after a generous deadline: that is a
// hang guard, not a timing assertion.
func waitHeard(t *testing.T, heard <-chan string, id string, poke func(i int)) {
	t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		if poke != nil {
			poke(i)
		}
		for {
			select {
			case got := <-heard:
				if got == id {
					return
				}
				continue
			case <-tick.C:
			case <-deadline.C:
				t.Fatalf("Listen never delivered %s", id)
			}
			break
		}
	}
}

func testTryLead(t *testing.T, s store.Store) {
	ran := false
	ok, err := s.TryLead(ctx(t), func(ctx context.Context) error {
		ran = true
		inner, err := s.TryLead(ctx, func(context.Context) error {
			t.Error("a second leader ran while the first held the lease")
			return nil
		})
		if err != nil {
			return err
		}
		if inner {
			t.Error("TryLead succeeded while the lease was held")
		}
		return nil
	})
	if err != nil || !ok || !ran {
		t.Fatalf("TryLead = %v, %v (ran %v)", ok, err, ran)
	}
	// The lease is released afterwards, and fn's error comes back.
	boom := errors.New("sweep failed")
	ok, err = s.TryLead(ctx(t), func(context.Context) error { return boom })
	if !ok || !errors.Is(err, boom) {
		t.Fatalf("TryLead after release = %v, %v; want true and fn's error", ok, err)
	}
	ok, err = s.TryLead(ctx(t), func(context.Context) error { return nil })
	if !ok || err != nil {
		t.Fatalf("TryLead after a failed fn = %v, %v", ok, err)
	}
}

// testWithLock: holders of one key never overlap; another key is not held up.
func testWithLock(t *testing.T, s store.Store) {
	var mu sync.Mutex
	inside, maxInside := 0, 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			err := s.WithLock(ctx(t), "arn:aws:iam::111122223333:role/a", func(context.Context) error {
				mu.Lock()
				inside++
				maxInside = max(maxInside, inside)
				mu.Unlock()
				time.Sleep(5 * time.Millisecond) // widen the window a second holder would use
				mu.Lock()
				inside--
				mu.Unlock()
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if maxInside != 1 {
		t.Fatalf("%d holders of one key at once, want 1", maxInside)
	}
	// While one key is held, another key is free, and a waiter for the held
	// key gives up when its context ends.
	held := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.WithLock(ctx(t), "k1", func(context.Context) error { close(held); <-release; return nil })
	}()
	<-held
	if err := s.WithLock(ctx(t), "k2", func(context.Context) error { return nil }); err != nil {
		t.Fatalf("other key: %v", err)
	}
	short, cancel := context.WithTimeout(ctx(t), 50*time.Millisecond)
	defer cancel()
	if err := s.WithLock(short, "k1", func(context.Context) error { t.Error("ran while k1 was held"); return nil }); err == nil {
		t.Fatal("waiting for a held key ignored its context")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := s.WithLock(ctx(t), "k1", func(context.Context) error { return nil }); err != nil {
		t.Fatalf("k1 after release: %v", err)
	}
	want := errors.New("fn failed")
	if err := s.WithLock(ctx(t), "k1", func(context.Context) error { return want }); !errors.Is(err, want) {
		t.Fatalf("err = %v, want fn's error", err)
	}
}
