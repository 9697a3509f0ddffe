package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
)

// TestStaleApproveDoesNotApproveALaterExtension: a decision is bound to the
// version of the request the approver was shown. Bob looks at alice's
// break-glass grant while a first extension waits; carol denies it and
// alice asks for another of the same length. Bob's Approve (and Deny) of
// what he saw, a version from before the grant existed, no version at all
// and a version never shown are all refused with 409, naming what waits
// now; the grant's end does not move. Looking again and deciding works.
func TestStaleApproveDoesNotApproveALaterExtension(t *testing.T) {
	e := newEnv(t)
	bg := e.create("alice", api.CreateRequest{Role: "oncall", BreakGlass: true, Reason: "site down", DurationSeconds: 1800})
	end := bg.EndsAt
	code, first, ae := e.extend("alice", bg.ID, time.Hour)
	if code != http.StatusAccepted || first.PendingExtension == nil {
		t.Fatalf("first extension: HTTP %d %+v %+v", code, first, ae)
	}
	var shown api.Request // what bob's page (or Slack message) shows
	if code := e.call("bob", "GET", "/v1/requests/"+bg.ID, nil, &shown); code != http.StatusOK || shown.PendingExtension == nil {
		t.Fatalf("bob looks: HTTP %d %+v", code, shown)
	}
	if code := e.call("carol", "POST", "/v1/requests/"+bg.ID+"/deny", api.DecisionBody{Comment: "no", Version: shown.Version}, nil); code != http.StatusOK {
		t.Fatalf("carol denies the first extension: HTTP %d", code)
	}
	code, second, ae := e.extend("alice", bg.ID, time.Hour)
	if code != http.StatusAccepted || second.PendingExtension == nil {
		t.Fatalf("second extension: HTTP %d %+v %+v", code, second, ae)
	}

	for _, try := range []struct {
		name, verb string
		body       any
	}{
		{"the version bob saw", "approve", api.DecisionBody{Comment: "ok", Version: shown.Version}},
		{"a deny of the version bob saw", "deny", api.DecisionBody{Comment: "no", Version: shown.Version}},
		{"the version before the grant existed", "approve", api.DecisionBody{Version: bg.Version}},
		{"no version", "approve", nil},
		{"a version never shown", "approve", api.DecisionBody{Version: second.Version + 5}},
	} {
		code, ae := e.errorOf("bob", "POST", "/v1/requests/"+bg.ID+"/"+try.verb, try.body)
		if code != http.StatusConflict || !strings.Contains(ae.Message, "changed since you looked") ||
			!strings.Contains(ae.Message, "it now asks for an extension") || !strings.Contains(ae.Hint, "jit show "+bg.ID) {
			t.Errorf("%s: HTTP %d %+v, want 409 naming the waiting extension", try.name, code, ae)
		}
	}
	var now api.Request
	e.call("alice", "GET", "/v1/requests/"+bg.ID, nil, &now)
	if !now.EndsAt.Equal(end) || now.PendingExtension == nil || len(now.PendingExtension.Approvals) != 0 {
		t.Fatalf("a refused decision changed the grant: ends %s (want %s), extension %+v", now.EndsAt, end, now.PendingExtension)
	}

	// A vend between looking and deciding leaves the extension as shown:
	// the decision stands.
	if code := e.call("alice", "POST", "/v1/requests/"+bg.ID+"/credentials", nil, nil); code != http.StatusOK {
		t.Fatalf("vend: HTTP %d", code)
	}
	var approved api.Request
	if code := e.call("bob", "POST", "/v1/requests/"+bg.ID+"/approve", api.DecisionBody{Comment: "ok", Version: now.Version}, &approved); code != http.StatusOK {
		t.Fatalf("approve after looking again: HTTP %d", code)
	}
	if !approved.EndsAt.Equal(end.Add(time.Hour)) || approved.PendingExtension != nil {
		t.Fatalf("after the approval: ends %s, want %s; extension %+v", approved.EndsAt, end.Add(time.Hour), approved.PendingExtension)
	}
}

// TestApproveWithoutAVersionStillDecidesAPendingRequest: a pending request
// waits for its decision from its first version, so an older client that
// names no version (or the version before another approver's approval)
// still decides it.
func TestApproveWithoutAVersionStillDecidesAPendingRequest(t *testing.T) {
	e := newEnv(t)
	r := e.create("alice", api.CreateRequest{Role: "prod-admin", Reason: "deploy"})
	var after api.Request
	if code := e.call("bob", "POST", "/v1/requests/"+r.ID+"/approve", nil, &after); code != http.StatusOK || after.State != api.StateApproved {
		t.Fatalf("approve without a version: HTTP %d %+v", code, after)
	}
}
