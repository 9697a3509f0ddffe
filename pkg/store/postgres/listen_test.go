package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store/storetest"
)

func TestListenReconnectsAfterItsConnectionIsKilled(t *testing.T) {
	dsn := testenv.Postgres(t)
	s := openDSN(t, dsn)
	defer s.Close()
	t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	if err := s.Create(t.Context(), storetest.NewRequest("r1", "alice", "dev", t0), nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	heard := make(chan string, 100)
	go s.Listen(ctx, func(id string) { //nolint:errcheck // ends with ctx
		select {
		case heard <- id:
		default:
		}
	})
	waitHeard := func(what string) {
		t.Helper()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		deadline := time.After(30 * time.Second)
		for i := 0; ; i++ {
			if _, err := s.Update(t.Context(), "r1", func(r *api.Request) ([]audit.Event, error) {
				r.VendCount = i
				return nil, nil
			}); err != nil {
				t.Fatal(err)
			}
			select {
			case <-heard:
				return
			case <-tick.C:
			case <-deadline:
				t.Fatalf("never heard an update %s", what)
			}
		}
	}
	waitHeard("before the kill")

	admin, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var killed int
	err = admin.QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`).Scan(&killed)
	if err != nil || killed != 1 {
		t.Fatalf("terminated %d LISTEN sessions (err %v), want 1", killed, err)
	}
	for len(heard) > 0 {
		<-heard
	}
	waitHeard("after the LISTEN connection was killed")
}
