package storetest

// Creating, reading and updating single requests.

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

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
	if err := s.Create(ctx(t), dup, []audit.Event{CreatedEvent(dup)}); err == nil {
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
	_, err := s.Update(ctx(t), "nope", func(*api.Request) ([]audit.Event, error) {
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
	_, err := s.Update(ctx(t), "r1", func(r *api.Request) ([]audit.Event, error) {
		r.State = api.StateDenied // changed, then refused: must not be stored
		return []audit.Event{{Time: t0, Type: audit.TypeRequestDenied, Actor: "bob", RequestID: r.ID}}, boom
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
			got, err := s.Update(ctx(t), "r1", func(r *api.Request) ([]audit.Event, error) {
				saw = r.Version
				if int64(len(r.Approvals)) != r.Version-1 {
					return nil, fmt.Errorf("version %d with %d approvals: a lost update", r.Version, len(r.Approvals))
				}
				r.Approvals = append(r.Approvals, api.Decision{By: by, Approve: true, At: t0})
				return []audit.Event{{Time: t0, Type: audit.TypeRequestApproval, Actor: by, RequestID: r.ID}}, nil
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
