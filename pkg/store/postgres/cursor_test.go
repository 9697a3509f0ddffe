package postgres_test

import (
	"testing"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/notify/notifytest"
	"github.com/jit-access/jit/pkg/store"
)

func TestOutboxBookkeeping(t *testing.T) {
	notifytest.RunStoreChecks(t, func(t *testing.T) store.Store { return openDSN(t, testenv.Postgres(t)) })
}
