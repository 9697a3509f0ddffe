package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/postgres"
	"github.com/jit-access/jit/pkg/store/storetest"
)

// The suite again in the mode without group commit, which the benchmark
// measures against group commit.
func TestStoreSuiteWithoutGroupCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the suite already ran with group commit")
	}
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := postgres.Open(context.Background(), testenv.Postgres(t), nil, postgres.WithoutGroupCommit())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// rootFromRecords recomputes the tree from the records and compares it
// with the stored tree.
func rootFromRecords(t *testing.T, s store.Store) int64 {
	t.Helper()
	size, root, err := store.TreeHead(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	var m audit.MemoryTree
	v := audit.NewVerifier()
	err = store.EachAudit(t.Context(), s, store.AuditFilter{}, func(e api.AuditEvent) (bool, error) {
		if err := v.Add(e); err != nil {
			return false, err
		}
		leaf, err := audit.LeafHash(e)
		if err != nil {
			return false, err
		}
		return true, m.Append(leaf)
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Root(m.Size())
	if err != nil {
		t.Fatal(err)
	}
	if m.Size() != size || got != root {
		t.Fatalf("records give a tree of %d with root %s; the stored tree has %d with %s", m.Size(), got, size, root)
	}
	return size
}

func TestReplicasGroupCommitKeepOneChainAndOneTree(t *testing.T) {
	a, b := replicas(t)
	t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := []store.Store{a, b}[w%2]
			other := []store.Store{a, b}[(w+1)%2]
			for i := range 20 {
				r := storetest.NewRequest(fmt.Sprintf("r%d_%d", w, i), "alice", "prod", t0)
				if err := st.Create(t.Context(), r, []audit.Event{storetest.CreatedEvent(r)}); err != nil {
					t.Error(err)
					return
				}
				_, err := other.Update(t.Context(), r.ID, func(r *api.Request) ([]audit.Event, error) {
					r.State = api.StateCancelled
					return []audit.Event{{Time: t0, Type: audit.TypeCancelled, Actor: "alice", RequestID: r.ID}, {Time: t0, Type: audit.TypeNotifyDelivered, Actor: "server"}}, nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := rootFromRecords(t, a); n != 8*20*3 {
		t.Fatalf("%d records, want %d", n, 8*20*3)
	}
}

func TestAuditTreeIsBuiltForALogWrittenBeforeIt(t *testing.T) {
	dsn := testenv.Postgres(t)
	storetest.RunTreeRebuild(t, func(t *testing.T) store.Store { return openDSN(t, dsn) }, func(t *testing.T) {
		conn, err := pgx.Connect(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(t.Context())
		if _, err := conn.Exec(t.Context(), `DELETE FROM audit_tree`); err != nil {
			t.Fatal(err)
		}
	})
}
