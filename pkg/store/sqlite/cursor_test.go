package sqlite_test

import (
	"testing"

	"github.com/jit-access/jit/pkg/notify/notifytest"
	"github.com/jit-access/jit/pkg/store"
)

func TestOutboxBookkeeping(t *testing.T) {
	notifytest.RunStoreChecks(t, func(t *testing.T) store.Store { return open(t) })
}
