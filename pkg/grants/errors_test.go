package grants_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/grants"
	"github.com/jit-access/jit/pkg/store"
)

// A store that is down (a restart, a cut network, a full disk) is told to
// every door as "unavailable, try again" (HTTP 503), with the reason and
// without the driver's words (hosts, accounts); before, it was a 500
// "internal error" carrying the driver's message.
func TestUnavailableStoreIsATryAgainNotAnInternalError(t *testing.T) {
	driver := errors.New("failed to connect to `user=postgres database=jit`: 10.0.0.5:5432: connection refused")
	err := fmt.Errorf("create request r1: %w", &store.UnavailableError{Reason: "PostgreSQL cannot be reached", Err: driver})
	e := grants.APIError(err)
	if e == nil {
		t.Fatal("no API error for an unavailable store: it would be a 500 internal error")
	}
	if e.Code != api.CodeUnavailable || api.HTTPStatus(e.Code) != 503 {
		t.Fatalf("code %q (HTTP %d), want unavailable (503)", e.Code, api.HTTPStatus(e.Code))
	}
	if !strings.Contains(e.Message, "PostgreSQL cannot be reached") || strings.Contains(e.Message, "10.0.0.5") || e.Hint == "" {
		t.Fatalf("message %q hint %q: want the reason, no host, and what to do", e.Message, e.Hint)
	}
}
