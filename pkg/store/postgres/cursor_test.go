package postgres_test

import (
	"testing"

	"github.com/jit-access/jit/pkg/notify/notifytest"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/testenv"
)

func TestOutboxBookkeeping(t *testing.T) {
	notifytest.RunStoreChecks(t, func(t *testing.T) store.Store { return openDSN(t, testenv.Postgres(t)) })
}
