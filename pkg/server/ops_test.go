package server_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/server"
)

func TestRequestCreationIsRateLimitedPerUser(t *testing.T) {
	e := newEnvWith(t, func(o *server.Options) { o.RequestsPerMinute, o.RequestBurst = 1, 2 })
	in := api.CreateRequest{Role: "readonly", Reason: "x"}
	e.create("alice", in)
	e.create("alice", in)
	code, body := e.errorOf("alice", "POST", "/v1/requests", in)
	if code != http.StatusTooManyRequests || body.Code != api.CodeRateLimited || body.Hint == "" {
		t.Fatalf("third request in a burst of 2: %d %+v", code, body)
	}
	e.create("dave", in) // another user has a bucket of their own
	e.clock.Add(time.Minute)
	e.create("alice", in) // refilled on the server's clock
}

func TestShutdownTellsWaitingClientsToRetry(t *testing.T) {
	e := newEnv(t)
	r := e.create("alice", api.CreateRequest{Role: "prod-admin", Reason: "x"})
	got := make(chan int, 1)
	go func() {
		got <- e.call("alice", "GET", fmt.Sprintf("/v1/requests/%s?wait=50s&version=%d", r.ID, r.Version), nil, nil)
	}()
	testenv.Eventually(t, 10*time.Second, e.hasWaiter, "the waiting client to subscribe")
	e.srv.BeginShutdown()
	select {
	case code := <-got:
		if code != http.StatusServiceUnavailable {
			t.Fatalf("waiter got HTTP %d during shutdown, want 503", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the waiting client was not released by the shutdown")
	}
	if code := e.call("", "GET", "/readyz", nil, nil); code != http.StatusServiceUnavailable {
		t.Fatalf("readyz during shutdown: %d", code)
	}
}
