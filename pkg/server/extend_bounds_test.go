package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

func (e *env) extend(user, id string, by time.Duration) (int, api.Request, api.Error) {
	e.t.Helper()
	var raw map[string]any
	code := e.call(user, "POST", "/v1/requests/"+id+"/extend", api.ExtendBody{DurationSeconds: int64(by / time.Second), Reason: "still on it"}, &raw)
	var r api.Request
	var ae api.Error
	if code/100 == 2 {
		e.call(user, "GET", "/v1/requests/"+id, nil, &r)
	} else {
		ae.Message, _ = raw["message"].(string)
		ae.Hint, _ = raw["hint"].(string)
	}
	return code, r, ae
}

func auditTypes(t *testing.T, st store.Store, id string) []string {
	t.Helper()
	evs, err := st.Audit(context.Background(), store.AuditFilter{RequestID: id, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Type+"/"+e.Actor)
	}
	return out
}

// TestBreakGlassGrantCannotBeStretchedAloneBeyondItsLimit: a requester used
// to extend their own break-glass grant with no approver up to the role's
// max_total_duration (a 30m break-glass limit became 4h). Now they extend it
// alone only up to break_glass.max_duration; past it the extension waits for
// an approver (not themselves), who approves or denies it like a request.
func TestBreakGlassGrantCannotBeStretchedAloneBeyondItsLimit(t *testing.T) {
	e := newEnv(t)
	bg := e.create("alice", api.CreateRequest{Role: "oncall", BreakGlass: true, Reason: "site down", DurationSeconds: 1200})
	if !bg.BreakGlass || bg.State != api.StateApproved {
		t.Fatalf("break-glass fixture: %+v", bg)
	}
	end := bg.EndsAt
	// Within the break-glass limit (20m + 10m = 30m): alone, at once.
	code, r, ae := e.extend("alice", bg.ID, 10*time.Minute)
	if code != http.StatusOK || !r.EndsAt.Equal(end.Add(10*time.Minute)) || r.PendingExtension != nil {
		t.Fatalf("extend within the limit: HTTP %d %+v %+v", code, r, ae)
	}
	end = r.EndsAt
	// Past it: accepted as a request for approval; the end does not move.
	for try := range 4 { // the attack: stretching again and again
		code, r, ae = e.extend("alice", bg.ID, time.Hour)
		if try == 0 {
			if code != http.StatusAccepted || r.PendingExtension == nil || !r.EndsAt.Equal(end) ||
				!strings.Contains(r.PendingExtension.Why, "break_glass.max_duration of 30m") || r.PendingExtension.ApprovalsNeeded != 1 {
				t.Fatalf("extend past the break-glass limit: HTTP %d %+v %+v", code, r, ae)
			}
			continue
		}
		if code != http.StatusConflict || !strings.Contains(ae.Message, "waiting for approval") {
			t.Fatalf("another extension while one waits: HTTP %d %+v", code, ae)
		}
	}
	var now api.Request
	e.call("alice", "GET", "/v1/requests/"+bg.ID, nil, &now)
	if r := now; !r.EndsAt.Equal(end) {
		t.Fatalf("the grant was stretched without an approver: ends %s, want %s", r.EndsAt, end)
	}
	// Nobody approves their own extension; a non-approver cannot either.
	if code, ae := e.errorOf("alice", "POST", "/v1/requests/"+bg.ID+"/approve", nil); code != http.StatusForbidden || !strings.Contains(ae.Message, "own extension") {
		t.Fatalf("self-approval of the extension: HTTP %d %+v", code, ae)
	}
	if code, _ := e.errorOf("dave", "POST", "/v1/requests/"+bg.ID+"/approve", nil); code != http.StatusNotFound {
		t.Fatalf("a developer approving the extension: HTTP %d", code)
	}
	// Approvers see it in their review list.
	var review api.RequestList
	e.call("bob", "GET", "/v1/requests?scope=review", nil, &review)
	found := false
	for _, q := range review.Requests {
		found = found || (q.ID == bg.ID && q.PendingExtension != nil)
	}
	if !found {
		t.Fatalf("the waiting extension is not in bob's review list: %+v", review.Requests)
	}
	// bob approves: the end moves by the hour asked for.
	var approved api.Request
	if code := e.call("bob", "POST", "/v1/requests/"+bg.ID+"/approve", api.DecisionBody{Comment: "ok", Version: now.Version}, &approved); code != http.StatusOK {
		t.Fatalf("approver approves the extension: HTTP %d", code)
	}
	if !approved.EndsAt.Equal(end.Add(time.Hour)) || approved.PendingExtension != nil || approved.Extensions != 2 {
		t.Fatalf("after approval: %+v", approved)
	}
	// The next one waits again (the total is past the limit), and a denial
	// leaves the end where it is.
	code, second, _ := e.extend("alice", bg.ID, 30*time.Minute)
	if code != http.StatusAccepted || second.PendingExtension == nil {
		t.Fatalf("second extension past the limit: HTTP %d %+v", code, second)
	}
	var denied api.Request
	if code := e.call("carol", "POST", "/v1/requests/"+bg.ID+"/deny", api.DecisionBody{Comment: "enough", Version: second.Version}, &denied); code != http.StatusOK {
		t.Fatalf("deny the extension: HTTP %d", code)
	}
	if !denied.EndsAt.Equal(approved.EndsAt) || denied.PendingExtension != nil || !denied.State.Granted() {
		t.Fatalf("after denial: %+v", denied)
	}
	want := []string{
		audit.TypeRequestCreated + "/alice@example.com", audit.TypeBreakGlass + "/alice@example.com",
		audit.TypeExtended + "/alice@example.com",
		audit.TypeExtensionRequested + "/alice@example.com", audit.TypeExtensionApproval + "/bob@example.com", audit.TypeExtended + "/bob@example.com",
		audit.TypeExtensionRequested + "/alice@example.com", audit.TypeExtensionDenied + "/carol@example.com",
	}
	if got := auditTypes(t, e.store, bg.ID); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("audit\n got %v\nwant %v", got, want)
	}
}

// TestAutoApprovedGrantCannotBeStretchedAloneBeyondAutoApproveMax: the same
// hole for auto-approved grants: extended alone up to max_total_duration
// (3h) although auto_approve.max_duration is 1h.
func TestAutoApprovedGrantCannotBeStretchedAloneBeyondAutoApproveMax(t *testing.T) {
	e := newEnv(t)
	g := e.create("alice", api.CreateRequest{Role: "readonly", Reason: "logs", DurationSeconds: 2700})
	if !g.AutoApproved {
		t.Fatalf("auto-approve fixture: %+v", g)
	}
	if code, r, ae := e.extend("alice", g.ID, 15*time.Minute); code != http.StatusOK || !r.EndsAt.Equal(g.EndsAt.Add(15*time.Minute)) {
		t.Fatalf("extend to exactly the auto-approve max: HTTP %d %+v %+v", code, r, ae)
	}
	code, r, ae := e.extend("alice", g.ID, 2*time.Hour)
	if code != http.StatusAccepted || r.PendingExtension == nil || !r.EndsAt.Equal(g.EndsAt.Add(15*time.Minute)) ||
		!strings.Contains(r.PendingExtension.Why, "auto_approve.max_duration of 1h") {
		t.Fatalf("extend past the auto-approve max: HTTP %d %+v %+v", code, r, ae)
	}
	// The approval re-checks the role's own limits: 1h + 2h = 3h fits.
	var approved api.Request
	if code := e.call("bob", "POST", "/v1/requests/"+g.ID+"/approve", api.DecisionBody{Version: r.Version}, &approved); code != http.StatusOK ||
		!approved.EndsAt.Equal(g.EndsAt.Add(2*time.Hour+15*time.Minute)) {
		t.Fatalf("approve: HTTP %d %+v", code, approved)
	}
	// A grant approvers gave (prod-admin) still extends alone within its
	// role's extension limits, as before.
	p := e.create("alice", api.CreateRequest{Role: "prod-admin", Reason: "r"})
	if code := e.call("bob", "POST", "/v1/requests/"+p.ID+"/approve", nil, nil); code != http.StatusOK {
		t.Fatalf("approve prod-admin: %d", code)
	}
	if code, r, _ := e.extend("alice", p.ID, time.Hour); code != http.StatusOK || r.PendingExtension != nil {
		t.Fatalf("approver-given grant extended: HTTP %d %+v", code, r)
	}
}

// TestBreakGlassStretchAttemptsAroundAWaitingExtensionHold tries the ways
// around an extension that waits for approvers: topping up alone while it
// waits (only up to the break-glass limit), a second small one past the
// limit, and approving it after the grant was revoked. None moves the end
// without an approver.
func TestBreakGlassStretchAttemptsAroundAWaitingExtensionHold(t *testing.T) {
	e := newEnv(t)
	bg := e.create("alice", api.CreateRequest{Role: "oncall", BreakGlass: true, Reason: "site down", DurationSeconds: 1200})
	if code, r, ae := e.extend("alice", bg.ID, time.Hour); code != http.StatusAccepted || r.PendingExtension == nil {
		t.Fatalf("extend past the limit: HTTP %d %+v %+v", code, r, ae)
	}
	// Alone, up to the limit (20m + 10m = 30m), even while one waits.
	code, r, ae := e.extend("alice", bg.ID, 10*time.Minute)
	if code != http.StatusOK || !r.EndsAt.Equal(bg.EndsAt.Add(10*time.Minute)) {
		t.Fatalf("top-up within the limit: HTTP %d %+v %+v", code, r, ae)
	}
	end := r.EndsAt
	// One minute more is past it: refused while the other waits.
	if code, _, ae := e.extend("alice", bg.ID, time.Minute); code != http.StatusConflict {
		t.Fatalf("a small extension past the limit while one waits: HTTP %d %+v", code, ae)
	}
	// Revoked before an approver agrees: the approval finds nothing to extend.
	if code := e.call("alice", "POST", "/v1/requests/"+bg.ID+"/revoke", api.DecisionBody{Comment: "done"}, nil); code != http.StatusOK {
		t.Fatalf("revoke: HTTP %d", code)
	}
	if code, _ := e.errorOf("bob", "POST", "/v1/requests/"+bg.ID+"/approve", api.DecisionBody{Comment: "ok"}); code/100 == 2 {
		t.Fatalf("approving the extension of a revoked grant: HTTP %d", code)
	}
	var got api.Request
	e.call("alice", "GET", "/v1/requests/"+bg.ID, nil, &got)
	if !got.EndsAt.Equal(end) || got.State != api.StateRevoked {
		t.Fatalf("after the attempts: %s ends %s, want revoked ending %s", got.State, got.EndsAt, end)
	}
}

// TestExtendByOverflowingDurationRefused: duration_seconds past what a
// time.Duration holds wrapped around: 18446744074 s (584 years) became a
// 0.29 s extension that still used up one of the grant's extensions, and
// other values wrapped to whatever fit the limits. It is now a 400.
func TestExtendByOverflowingDurationRefused(t *testing.T) {
	e := newEnv(t)
	g := e.create("alice", api.CreateRequest{Role: "readonly", Reason: "logs", DurationSeconds: 900})
	for _, secs := range []string{"18446744074", "9223372037", "9223372036854775807"} {
		code, ae := e.rawCall("alice", "/v1/requests/"+g.ID+"/extend", `{"duration_seconds":`+secs+`,"reason":"x"}`)
		if code != http.StatusBadRequest {
			t.Errorf("extend by %s s: HTTP %d %+v, want 400", secs, code, ae)
		}
	}
	var now api.Request
	e.call("alice", "GET", "/v1/requests/"+g.ID, nil, &now)
	if now.Extensions != 0 || !now.EndsAt.Equal(g.EndsAt) {
		t.Fatalf("after refused extensions: %d extension(s), ends %s (was %s)", now.Extensions, now.EndsAt, g.EndsAt)
	}
}
