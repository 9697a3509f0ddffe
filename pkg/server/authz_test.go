package server_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/jit-access/jit/pkg/api"
)

// TestAuthorizationMatrix calls every endpoint as anonymous, the requester
// (alice), another developer (dave), an approver (bob) and an admin who is
// also an approver (carol), each on a fresh request where it changes one.
func TestAuthorizationMatrix(t *testing.T) {
	e := newEnv(t)
	users := []string{"", "alice", "dave", "bob", "carol"}
	pending := func() string {
		return e.create("alice", api.CreateRequest{Role: "prod-admin", Reason: "matrix"}).ID
	}
	granted := func() string {
		id := pending()
		if code := e.call("bob", "POST", "/v1/requests/"+id+"/approve", nil, nil); code != 200 {
			t.Fatalf("approve fixture: %d", code)
		}
		return id
	}
	static := func(path string) func() string { return func() string { return path } }
	for _, tc := range []struct {
		method string
		path   func() string // built per call: mutations get a fresh request
		suffix string
		body   any
		want   [5]int // anonymous, alice, dave, bob, carol
	}{
		{"GET", static("/v1/discovery"), "", nil, [5]int{200, 200, 200, 200, 200}},
		{"GET", static("/healthz"), "", nil, [5]int{200, 200, 200, 200, 200}},
		{"GET", static("/v1/whoami"), "", nil, [5]int{401, 200, 200, 200, 200}},
		{"GET", static("/v1/roles"), "", nil, [5]int{401, 200, 200, 200, 200}},
		{"POST", static("/v1/requests"), "", api.CreateRequest{Role: "readonly", Reason: "m"}, [5]int{401, 201, 201, 201, 403}},
		{"GET", static("/v1/requests?scope=mine"), "", nil, [5]int{401, 200, 200, 200, 200}},
		{"GET", static("/v1/requests?scope=review"), "", nil, [5]int{401, 200, 200, 200, 200}},
		{"GET", static("/v1/requests?scope=all"), "", nil, [5]int{401, 403, 403, 403, 200}},
		{"GET", pending, "", nil, [5]int{401, 200, 404, 200, 200}},
		{"POST", pending, "/approve", nil, [5]int{401, 403, 404, 200, 200}},
		{"POST", pending, "/deny", api.DecisionBody{Comment: "no"}, [5]int{401, 403, 404, 200, 200}},
		{"POST", pending, "/cancel", nil, [5]int{401, 200, 404, 403, 200}},
		{"POST", granted, "/revoke", nil, [5]int{401, 200, 404, 200, 200}},
		{"POST", granted, "/extend", api.ExtendBody{DurationSeconds: 600}, [5]int{401, 200, 404, 403, 403}},
		{"POST", granted, "/credentials", nil, [5]int{401, 200, 404, 403, 403}},
		{"GET", static("/v1/audit"), "", nil, [5]int{401, 403, 403, 403, 200}},
		{"GET", static("/v1/audit/export"), "", nil, [5]int{401, 403, 403, 403, 200}},
	} {
		for i, user := range users {
			path := tc.path()
			if path[0] != '/' {
				path = "/v1/requests/" + path
			}
			path += tc.suffix
			name := user
			if name == "" {
				name = "anonymous"
			}
			t.Run(fmt.Sprintf("%s %s as %s", tc.method, path, name), func(t *testing.T) {
				got := e.call(user, tc.method, path, tc.body, nil)
				if got != tc.want[i] {
					t.Errorf("HTTP %d, want %d", got, tc.want[i])
				}
			})
		}
	}
	if got := e.call("", "GET", "/v1/nope", nil, nil); got != http.StatusNotFound {
		t.Errorf("unknown path: %d", got)
	}
}
