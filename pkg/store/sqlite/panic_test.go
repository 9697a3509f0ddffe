package sqlite_test

import (
	"sync"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store/storetest"
)

// TestPanickingMutationFailsOnlyItself: a mutation that panics becomes its
// Update's error, whichever goroutine ran it in a group commit; the other
// writes land and the store keeps working.
func TestPanickingMutationFailsOnlyItself(t *testing.T) {
	s := open(t)
	t.Cleanup(func() { s.Close() })
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	for _, id := range []string{"a", "b", "c", "d"} {
		r, evs := storetest.NewPending(id, "alice", "dev", 1, now)
		if err := s.Create(t.Context(), r, evs); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := map[string]error{}
	var mu sync.Mutex
	for _, id := range []string{"a", "b", "c", "d"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := s.Update(t.Context(), id, func(r *api.Request) ([]audit.Event, error) {
				if id == "b" {
					panic("a bug in a mutation")
				}
				return storetest.Approved("bob", now)(r)
			})
			mu.Lock()
			errs[id] = err
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	for id, err := range errs {
		if (id == "b") != (err != nil) {
			t.Errorf("Update %s: %v", id, err)
		}
	}
	got, err := s.Get(t.Context(), "b")
	if err != nil || got.State != api.StatePending || got.Version != 1 {
		t.Fatalf("the panicking update left %+v, %v", got, err)
	}
	if _, err := s.Update(t.Context(), "b", storetest.Approved("bob", now)); err != nil {
		t.Fatalf("the store is stuck after a panic: %v", err)
	}
	storetest.VerifyChain(t, s, 4+3*2+2)
}
