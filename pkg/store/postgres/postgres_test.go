package postgres_test

import (
	"context"
	"testing"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/postgres"
	"github.com/jit-access/jit/pkg/store/storetest"
)

func openDSN(t testing.TB, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStoreSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openDSN(t, testenv.Postgres(t)) })
}

func BenchmarkCycle(b *testing.B) {
	s := openDSN(b, testenv.Postgres(b))
	defer s.Close()
	storetest.BenchCycle(b, s)
}

func TestActivitySuite(t *testing.T) {
	storetest.RunActivity(t, func(t *testing.T) store.Store { return openDSN(t, testenv.Postgres(t)) })
}
