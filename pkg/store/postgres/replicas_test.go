package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/postgres"
	"github.com/jit-access/jit/pkg/store/storetest"
)

type postgresStore = postgres.Store

// Two Store values on one database stand for two server replicas: each has
// its own pool, LISTEN connection and sweeper lease session.
func replicas(t *testing.T) (a, b *postgresStore) {
	t.Helper()
	dsn := testenv.Postgres(t)
	// Open both at once: concurrent migrations must not collide.
	var wg sync.WaitGroup
	var st [2]*postgresStore
	var errs [2]error
	for i := range st {
		wg.Add(1)
		go func() { defer wg.Done(); st[i], errs[i] = postgres.Open(context.Background(), dsn, nil) }()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, s := range st {
			if s != nil {
				s.Close()
			}
		}
	})
	if err := errors.Join(errs[:]...); err != nil {
		t.Fatalf("open two replicas at once: %v", err)
	}
	return st[0], st[1]
}

func TestReplicasApproveOnce(t *testing.T) {
	a, b := replicas(t)
	t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	const rounds = 10
	for i := range rounds {
		r := storetest.NewRequest("r"+string(rune('a'+i)), "alice", "prod", t0)
		if err := a.Create(t.Context(), r, []audit.Event{storetest.CreatedEvent(r)}); err != nil {
			t.Fatal(err)
		}
		// Both replicas approve the same request at once; the mutation
		// refuses a request that is no longer pending.
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for j := range errs {
			st := a
			if j%2 == 1 {
				st = b
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[j] = st.Update(t.Context(), r.ID, storetest.Approve("approver", t0))
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if errors.Is(err, store.ErrNotFound) {
				t.Fatal(err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d approvals succeeded, want exactly 1 (errors %v)", i, ok, errs)
		}
		got, err := b.Get(t.Context(), r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != api.StateApproved || got.Version != 2 || len(got.Approvals) != 1 {
			t.Fatalf("round %d: stored %+v", i, got)
		}
	}
	evs := storetest.AllAudit(t, a)
	if r := audit.Verify(evs); !r.OK || r.Count != 2*rounds {
		t.Fatalf("chain from both replicas: %+v", r)
	}
}

func TestReplicasChainNeverForks(t *testing.T) {
	a, b := replicas(t)
	t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	const per = 40
	var wg sync.WaitGroup
	for _, st := range []*postgresStore{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				if err := st.Append(t.Context(), audit.Event{Time: t0.Add(time.Duration(i)), Type: audit.TypeVended, Actor: "alice"}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	storetest.VerifyChain(t, b, 4*per)
}

func TestReplicaHearsTheOthersUpdates(t *testing.T) {
	a, b := replicas(t)
	t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	r := storetest.NewRequest("r1", "alice", "dev", t0)
	if err := b.Create(t.Context(), r, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	heard := make(chan string, 100)
	go a.Listen(ctx, func(id string) { //nolint:errcheck // ends with ctx
		select {
		case heard <- id:
		default:
		}
	})
	// Until a's LISTEN is in place, b's changes are not heard: keep
	// changing the request until one is (a hang guard, not a timing test).
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for i := 0; ; i++ {
		if _, err := b.Update(t.Context(), "r1", func(r *api.Request) ([]audit.Event, error) {
			r.VendCount = i
			return nil, nil
		}); err != nil {
			t.Fatal(err)
		}
		select {
		case id := <-heard:
			if id != "r1" {
				t.Fatalf("heard %q, want r1", id)
			}
			return
		case <-tick.C:
		case <-deadline:
			t.Fatal("replica a never heard replica b's update")
		}
	}
}

func TestReplicaLeaseExcludesTheOther(t *testing.T) {
	a, b := replicas(t)
	inside := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		ok, err := a.TryLead(t.Context(), func(context.Context) error {
			close(inside)
			<-release
			return nil
		})
		if err == nil && !ok {
			err = errors.New("replica a did not get the lease")
		}
		done <- err
	}()
	<-inside
	ok, err := b.TryLead(t.Context(), func(context.Context) error {
		t.Error("replica b led while a held the lease")
		return nil
	})
	if err != nil || ok {
		t.Fatalf("b.TryLead while a leads = %v, %v; want false, nil", ok, err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ran := false
	ok, err = b.TryLead(t.Context(), func(context.Context) error { ran = true; return nil })
	if err != nil || !ok || !ran {
		t.Fatalf("b.TryLead after a released = %v, %v (ran %v)", ok, err, ran)
	}
}
