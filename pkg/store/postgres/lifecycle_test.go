package postgres_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/lifecycle"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/storetest"
)

// race runs fn(a) and fn(b) at once, many rounds, and returns each round's
// two errors.
func race(t *testing.T, rounds int, a, b store.Store, fn func(round int, s store.Store) error) [][2]error {
	t.Helper()
	out := make([][2]error, rounds)
	for round := range rounds {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, s := range []store.Store{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				out[round][i] = fn(round, s)
			}()
		}
		close(start)
		wg.Wait()
	}
	return out
}

// TestReplicasLifecycleApproveOnce: two replicas approve the same pending
// request (one approval needed) through lifecycle.Approve at the same time.
// The row lock makes the second see the first's result, so exactly one
// succeeds and the other gets the state machine's TransitionError.
func TestReplicasLifecycleApproveOnce(t *testing.T) {
	a, b := replicas(t)
	const rounds = 30
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	for i := range rounds {
		r, evs := storetest.NewPending(fmt.Sprintf("r%02d", i), "alice", "prod", 1, now)
		if err := a.Create(t.Context(), r, evs); err != nil {
			t.Fatal(err)
		}
	}
	results := race(t, rounds, a, b, func(round int, s store.Store) error {
		by := fmt.Sprintf("approver-%p", s) // distinct approvers: only the state can refuse
		_, err := s.Update(t.Context(), fmt.Sprintf("r%02d", round), storetest.Approved(by, now.Add(time.Minute)))
		return err
	})
	for round, errs := range results {
		id := fmt.Sprintf("r%02d", round)
		ok, refused := 0, 0
		for _, err := range errs {
			var te *lifecycle.TransitionError
			switch {
			case err == nil:
				ok++
			case errors.As(err, &te) && te.State == api.StateApproved:
				refused++
			default:
				t.Errorf("%s: unexpected error %v", id, err)
			}
		}
		if ok != 1 || refused != 1 {
			t.Errorf("%s: %d approvals succeeded and %d were refused, want 1 and 1 (%v)", id, ok, refused, errs)
		}
		got, err := b.Get(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != api.StateApproved || len(got.Approvals) != 1 || got.Version != 2 {
			t.Errorf("%s after the race: state %s, %d approvals, version %d", id, got.State, len(got.Approvals), got.Version)
		}
		for _, typ := range []string{audit.TypeRequestApproval, audit.TypeRequestApproved} {
			evs, err := a.Audit(t.Context(), store.AuditFilter{RequestID: id, Type: typ})
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 1 {
				t.Errorf("%s: %d %s events, want 1", id, len(evs), typ)
			}
		}
	}
	storetest.VerifyChain(t, a, rounds*3)
}

// TestReplicasSweepExpiresOnce: both replicas' sweepers find the same due
// grant (Due is a plain read) and sweep it at once; the second sees the
// first's expiry and gets lifecycle.ErrNotDue, so one expiry is recorded.
func TestReplicasSweepExpiresOnce(t *testing.T) {
	a, b := replicas(t)
	const rounds = 30
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	for i := range rounds {
		id := fmt.Sprintf("g%02d", i)
		r, evs := storetest.NewPending(id, "alice", "prod", 1, now)
		if err := a.Create(t.Context(), r, evs); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Update(t.Context(), id, storetest.Approved("bob", now)); err != nil {
			t.Fatal(err)
		}
	}
	end := now.Add(2 * time.Hour)
	for _, s := range []store.Store{a, b} {
		due, err := s.Due(t.Context(), end, 500)
		if err != nil {
			t.Fatal(err)
		}
		if len(due) != rounds {
			t.Fatalf("Due found %d grants, want %d", len(due), rounds)
		}
	}
	results := race(t, rounds, a, b, func(round int, s store.Store) error {
		_, err := s.Update(t.Context(), fmt.Sprintf("g%02d", round), storetest.Swept(end))
		return err
	})
	for round, errs := range results {
		id := fmt.Sprintf("g%02d", round)
		ok, notDue := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, lifecycle.ErrNotDue):
				notDue++
			default:
				t.Errorf("%s: unexpected error %v", id, err)
			}
		}
		if ok != 1 || notDue != 1 {
			t.Errorf("%s: %d sweeps succeeded, %d were not due, want 1 and 1", id, ok, notDue)
		}
		evs, err := b.Audit(t.Context(), store.AuditFilter{RequestID: id, Type: audit.TypeExpired})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 {
			t.Errorf("%s: %d expiry events, want exactly 1", id, len(evs))
		}
	}
	if due, err := a.Due(t.Context(), end, 500); err != nil || len(due) != 0 {
		t.Fatalf("after the sweeps Due = %v, %v", due, err)
	}
	storetest.VerifyChain(t, b, rounds*4)
}
