package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

// testConcurrentAbortsAreIsolated mixes, at once, mutations that fail after
// changing the request and returning events, mutations that succeed, and
// Creates of one id racing each other. A store that commits several callers'
// writes together (SQLite's group commit) must undo exactly the failed ones.
func testConcurrentAbortsAreIsolated(t *testing.T, s store.Store) {
	const n = 32
	for i := range n {
		mustCreate(t, s, NewRequest(fmt.Sprintf("r%02d", i), "alice", "dev", t0))
	}
	boom := errors.New("refused")
	var wg sync.WaitGroup
	var mu sync.Mutex
	var dupOK int
	errs := make(chan error, 2*n)
	start := make(chan struct{}) // release every caller at once, so writes overlap
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			id := fmt.Sprintf("r%02d", i)
			fail := i%2 == 1
			_, err := s.Update(ctx(t), id, func(r *api.Request) ([]audit.Event, error) {
				r.State, r.VendCount = api.StateRevoked, 99
				ev := []audit.Event{{Time: t0, Type: audit.TypeRevoked, Actor: "bob", Subject: r.Requester, RequestID: id}}
				if fail {
					return ev, boom
				}
				return ev, nil
			})
			if fail != errors.Is(err, boom) || (!fail && err != nil) {
				errs <- fmt.Errorf("%s: Update returned %v (fail %v)", id, err, fail)
			}
		}()
		go func() {
			defer wg.Done()
			<-start
			dup := NewRequest("dup", fmt.Sprintf("user%02d", i), "dev", t0)
			if err := s.Create(ctx(t), dup, []audit.Event{CreatedEvent(dup)}); err == nil {
				mu.Lock()
				dupOK++
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if dupOK != 1 {
		t.Errorf("%d Creates of one id succeeded, want 1", dupOK)
	}
	for i := range n {
		id := fmt.Sprintf("r%02d", i)
		got, err := s.Get(ctx(t), id)
		if err != nil {
			t.Fatal(err)
		}
		evs, err := s.Audit(ctx(t), store.AuditFilter{RequestID: id, Type: audit.TypeRevoked})
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 1 {
			if got.State != api.StatePending || got.VendCount != 0 || got.Version != 1 || len(evs) != 0 {
				t.Errorf("%s: a failed mutation left state %s, vend count %d, version %d, %d events",
					id, got.State, got.VendCount, got.Version, len(evs))
			}
		} else if got.State != api.StateRevoked || got.VendCount != 99 || got.Version != 2 || len(evs) != 1 {
			t.Errorf("%s: a successful mutation left state %s, vend count %d, version %d, %d events",
				id, got.State, got.VendCount, got.Version, len(evs))
		}
	}
	dups, err := s.Audit(ctx(t), store.AuditFilter{RequestID: "dup"})
	if err != nil {
		t.Fatal(err)
	}
	if len(dups) != 1 {
		t.Errorf("%d audit events for the raced id, want 1", len(dups))
	}
	VerifyChain(t, s, n+n/2+1)
}
