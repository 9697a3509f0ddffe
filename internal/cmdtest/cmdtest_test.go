package cmdtest

import (
	"net/http"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/apiclient"
)

func TestServerAnswersRoutesFailuresAndNotFound(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	srv := Server(t, Routes{
		"GET /v1/whoami": api.User{Email: "alice@example.com"},
		"GET /v1/roles":  Fail(http.StatusForbidden, api.CodeForbidden, "no roles for you"),
	})
	s := Session(t, srv, "alice@example.com", func() time.Time { return now })
	c, err := s.API()
	if err != nil {
		t.Fatal(err)
	}
	me, err := c.WhoAmI(t.Context())
	if err != nil || me.Email != "alice@example.com" {
		t.Fatalf("whoami %+v, %v", me, err)
	}
	if _, err := c.Roles(t.Context()); !apiclient.IsCode(err, api.CodeForbidden) || err.Error() != "no roles for you" {
		t.Fatalf("roles err = %v, want the forbidden api.Error", err)
	}
	if _, err := c.Discovery(t.Context()); !apiclient.IsCode(err, api.CodeNotFound) {
		t.Fatalf("unrouted discovery err = %v, want not_found", err)
	}
}
