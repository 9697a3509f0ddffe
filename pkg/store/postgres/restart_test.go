package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

func ev(i int) audit.Event {
	return audit.Event{Time: time.Now(), Type: audit.TypeVended, Actor: "alice", RequestID: fmt.Sprintf("r%d", i)}
}

// While PostgreSQL is down, reads and writes fail as store.ErrUnavailable
// (which the API answers with 503), not as an internal error; a write made
// while it restarts waits for it and lands once. Before, every such error
// was a 500 with the driver's message, and a write on a connection the
// restart had closed failed although the server was back.
func TestWritesRideOutARestartAndFailAsUnavailableWhileDown(t *testing.T) {
	pg := testenv.StartPostgres(t)
	st := openDSN(t, pg.CreateDatabase(t, "jit"))
	defer st.Close()
	ctx := context.Background()
	if err := st.Append(ctx, ev(0)); err != nil {
		t.Fatal(err)
	}
	if err := pg.Stop("immediate"); err != nil {
		t.Fatal(err)
	}
	var u *store.UnavailableError
	if _, err := st.Get(ctx, "nope"); !errors.Is(err, store.ErrUnavailable) || !errors.As(err, &u) || u.Reason == "" {
		t.Fatalf("a read with PostgreSQL down: %v, want store.ErrUnavailable with a reason", err)
	}
	t0 := time.Now()
	if err := st.Append(ctx, ev(1)); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("a write with PostgreSQL down: %v, want store.ErrUnavailable", err)
	}
	if d := time.Since(t0); d > 10*time.Second {
		t.Errorf("a write with PostgreSQL down took %s to fail", d)
	}
	// Down for a second while a write is in flight: it lands once.
	done := make(chan error, 1)
	go func() { done <- st.Append(ctx, ev(2)) }()
	time.Sleep(time.Second)
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("a write during a 1s restart: %v, want it to wait for PostgreSQL and land", err)
	}
	evs, err := st.Audit(ctx, store.AuditFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range evs {
		ids = append(ids, e.RequestID)
	}
	if fmt.Sprint(ids) != "[r0 r2]" {
		t.Fatalf("records after the restart: %v, want [r0 r2] (the refused write absent, the waiting one once)", ids)
	}
	if _, err := st.Get(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a read after the restart: %v", err)
	}
}
