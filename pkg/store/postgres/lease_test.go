package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/jit-access/jit/internal/testenv"
)

// TestLeaseSurvivesItsSessionBeingKilled: the leader's database session is
// terminated while it sweeps. TryLead still returns (with fn's outcome), and
// afterwards the lease is free for either replica: a dead session's lock is
// not left behind in either pool.
func TestLeaseSurvivesItsSessionBeingKilled(t *testing.T) {
	dsn := testenv.Postgres(t)
	a, b := openDSN(t, dsn), openDSN(t, dsn)
	t.Cleanup(func() { a.Close(); b.Close() })
	admin, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) })

	ok, err := a.TryLead(t.Context(), func(context.Context) error {
		// Find the session holding jit's sweeper lease and end it, waiting
		// (up to a hang guard) until it has exited: pg_terminate_backend
		// alone only signals, and the lock goes when the backend is gone.
		var killed bool
		err := admin.QueryRow(t.Context(), `
			SELECT pg_terminate_backend(pid, 30000) FROM pg_locks
			WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
			  AND ((classid::bigint << 32) | objid::bigint) = $1`, int64(0x6a69745f73776570)).Scan(&killed)
		if err != nil || !killed {
			t.Errorf("terminate the lease's session: %v (killed %v)", err, killed)
		}
		return nil
	})
	if !ok || err != nil {
		t.Fatalf("TryLead = %v, %v", ok, err)
	}
	for name, s := range map[string]*postgresStore{"A": a, "B": b, "A again": a} {
		ran := false
		ok, err := s.TryLead(t.Context(), func(context.Context) error { ran = true; return nil })
		if !ok || err != nil || !ran {
			t.Fatalf("TryLead on %s after the leader's session died = %v, %v (ran %v)", name, ok, err, ran)
		}
	}
}
