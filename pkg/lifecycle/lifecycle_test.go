package lifecycle

import (
	"errors"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
)

var t0 = time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)

func pending(needed int) *api.Request {
	r, _ := New(NewInput{ID: "req_1", Requester: "alice@example.com", Create: api.CreateRequest{Role: "prod", Reason: "incident"},
		Duration: time.Hour, ApprovalsNeeded: needed, PendingTimeout: 30 * time.Minute}, t0)
	return r
}

func TestGrantClockStartsAtApprovalNotRequest(t *testing.T) {
	r := pending(1)
	at := t0.Add(10 * time.Minute)
	events, err := Approve(r, who("bob@example.com"), "ok", at)
	if err != nil {
		t.Fatal(err)
	}
	if r.State != api.StateApproved || !r.StartsAt.Equal(at) || !r.EndsAt.Equal(at.Add(time.Hour)) {
		t.Fatalf("state %s starts %s ends %s; want approved at %s for 1h", r.State, r.StartsAt, r.EndsAt, at)
	}
	if len(events) != 2 || events[0].Type != audit.TypeRequestApproval || events[1].Type != audit.TypeRequestApproved {
		t.Fatalf("events = %+v", events)
	}
}

func TestNOfMNeedsDistinctApprovers(t *testing.T) {
	r := pending(2)
	if _, err := Approve(r, who("bob"), "", t0); err != nil {
		t.Fatal(err)
	}
	if r.State != api.StatePending {
		t.Fatalf("one of two approvals made it %s", r.State)
	}
	if _, err := Approve(r, who("bob"), "", t0); err == nil {
		t.Fatal("the same approver counted twice")
	}
	if _, err := Approve(r, who("carol"), "", t0); err != nil || r.State != api.StateApproved {
		t.Fatalf("second distinct approval: state %s err %v", r.State, err)
	}
}

func TestAutoApprovedAndBreakGlassStartAtOnce(t *testing.T) {
	for _, in := range []NewInput{{AutoApproved: true}, {BreakGlass: true}} {
		in.ID, in.Requester, in.Duration, in.Create.Role = "req", "alice", 15*time.Minute, "ro"
		r, events := New(in, t0)
		if r.State != api.StateApproved || !r.EndsAt.Equal(t0.Add(15*time.Minute)) || len(events) != 2 {
			t.Errorf("%+v: state %s ends %s events %d", in, r.State, r.EndsAt, len(events))
		}
	}
}

func TestIllegalTransitionsAreErrors(t *testing.T) {
	type step func(r *api.Request) error
	approve := func(r *api.Request) error { _, err := Approve(r, who("x"), "", t0); return err }
	deny := func(r *api.Request) error { _, err := Deny(r, who("x"), "no", t0); return err }
	cancel := func(r *api.Request) error { _, err := Cancel(r, "x", "", t0); return err }
	revoke := func(r *api.Request) error { _, err := Revoke(r, "x", "", t0); return err }
	extend := func(r *api.Request) error { _, err := Extend(r, "x", time.Minute, "", t0); return err }
	vended := func(r *api.Request) error { _, err := Vended(r, "x", "AKIA", t0.Add(time.Hour), t0); return err }
	for _, tc := range []struct {
		name  string
		state api.State
		steps []step
	}{
		{"denied", api.StateDenied, []step{approve, deny, cancel, revoke, extend, vended}},
		{"cancelled", api.StateCancelled, []step{approve, deny, cancel, revoke, extend, vended}},
		{"expired", api.StateExpired, []step{approve, deny, cancel, revoke, extend, vended}},
		{"revoked", api.StateRevoked, []step{approve, deny, cancel, revoke, extend, vended}},
		{"timed out", api.StateTimedOut, []step{approve, deny, cancel, revoke, extend, vended}},
		{"pending", api.StatePending, []step{revoke, extend, vended}},
		{"approved", api.StateApproved, []step{approve, deny, cancel}},
	} {
		for i, s := range tc.steps {
			r := pending(1)
			r.State = tc.state
			r.EndsAt = t0.Add(time.Hour)
			before := *r
			err := s(r)
			var te *TransitionError
			if !errors.As(err, &te) {
				t.Errorf("%s step %d: err = %v, want a TransitionError", tc.name, i, err)
			}
			if r.State != before.State || r.Version != before.Version {
				t.Errorf("%s step %d changed the request", tc.name, i)
			}
		}
	}
}

func TestApproveAfterPendingTimeoutRefused(t *testing.T) {
	r := pending(1)
	if _, err := Approve(r, who("bob"), "", r.PendingUntil); err == nil {
		t.Fatal("approved a request at its timeout")
	}
}

func TestSweepExpiresAndTimesOutOnlyWhenDue(t *testing.T) {
	r := pending(1)
	if _, err := Sweep(r, t0.Add(29*time.Minute)); !errors.Is(err, ErrNotDue) {
		t.Fatalf("early sweep: %v", err)
	}
	if _, err := Sweep(r, t0.Add(30*time.Minute)); err != nil || r.State != api.StateTimedOut {
		t.Fatalf("timeout sweep: state %s err %v", r.State, err)
	}
	g := pending(1)
	if _, err := Approve(g, who("bob"), "", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := Vended(g, "alice", "AKIA", t0.Add(time.Hour), t0.Add(time.Minute)); err != nil || g.State != api.StateActive {
		t.Fatalf("vend: %s %v", g.State, err)
	}
	if _, err := Sweep(g, g.EndsAt.Add(-time.Nanosecond)); !errors.Is(err, ErrNotDue) {
		t.Fatal("expired a grant before its end")
	}
	if _, err := Sweep(g, g.EndsAt); err != nil || g.State != api.StateExpired {
		t.Fatalf("expiry sweep: %s %v", g.State, err)
	}
	if _, err := Sweep(g, g.EndsAt.Add(time.Hour)); !errors.Is(err, ErrNotDue) {
		t.Fatal("expired twice")
	}
}

func TestVendRefusedOnceTheGrantHasEnded(t *testing.T) {
	g := pending(1)
	_, _ = Approve(g, who("bob"), "", t0)
	_, err := Vended(g, "alice", "AKIA", t0.Add(2*time.Hour), g.EndsAt)
	var te *TransitionError
	if !errors.As(err, &te) || te.State != api.StateExpired {
		t.Fatalf("vend at end: %v", err)
	}
}

func TestExtendMovesTheEnd(t *testing.T) {
	g := pending(1)
	_, _ = Approve(g, who("bob"), "", t0)
	if _, err := Extend(g, "alice", 30*time.Minute, "more", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if !g.EndsAt.Equal(t0.Add(90*time.Minute)) || g.Extensions != 1 {
		t.Fatalf("ends %s ext %d", g.EndsAt, g.Extensions)
	}
	if _, err := Extend(g, "alice", -time.Minute, "", t0); err == nil {
		t.Fatal("negative extension accepted")
	}
}

// who is a person of the test issuer, named by subject.
func who(subject string) api.User {
	return api.User{Issuer: "https://idp.example.com", Subject: subject}
}
