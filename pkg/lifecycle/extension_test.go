package lifecycle

import (
	"errors"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
)

func TestApprovalGatedExtensionNeedsNDistinctApprovers(t *testing.T) {
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	r, _ := New(NewInput{ID: "r", Requester: "alice", Create: api.CreateRequest{Role: "oncall"}, Duration: 30 * time.Minute, BreakGlass: true, RequesterUser: who("alice")}, now)
	end := r.EndsAt
	if _, err := RequestExtension(r, "alice", time.Hour, "still down", 2, "past break-glass", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	var te *TransitionError
	if _, err := RequestExtension(r, "alice", time.Hour, "again", 2, "", now.Add(time.Minute)); !errors.As(err, &te) {
		t.Fatalf("second waiting extension: %v", err)
	}
	if _, err := ApproveExtension(r, who("alice"), "mine", now.Add(2*time.Minute)); err == nil {
		t.Fatal("the requester approved their own extension")
	}
	if _, err := ApproveExtension(r, api.User{Issuer: "https://idp.example.com", Subject: "alice", Email: "alice@example.com"}, "mine, no email scope", now.Add(2*time.Minute)); err == nil {
		t.Fatal("the requester approved their own extension with a second token")
	}
	ev, err := ApproveExtension(r, who("bob"), "ok", now.Add(2*time.Minute))
	if err != nil || len(ev) != 1 || ev[0].Type != audit.TypeExtensionApproval || !r.EndsAt.Equal(end) || r.PendingExtension == nil {
		t.Fatalf("first of two approvals: %v %+v, ends %s", err, ev, r.EndsAt)
	}
	if _, err := ApproveExtension(r, who("bob"), "again", now.Add(3*time.Minute)); err == nil {
		t.Fatal("one approver counted twice")
	}
	ev, err = ApproveExtension(r, who("carol"), "ok", now.Add(4*time.Minute))
	if err != nil || len(ev) != 2 || ev[1].Type != audit.TypeExtended || ev[1].Detail["approved_by"] != "bob,carol" {
		t.Fatalf("second approval: %v %+v", err, ev)
	}
	if !r.EndsAt.Equal(end.Add(time.Hour)) || r.PendingExtension != nil || r.Extensions != 1 {
		t.Fatalf("after approval: %+v", r)
	}
	// Denied: the end stays; a grant that has ended takes no approval.
	if _, err := RequestExtension(r, "alice", time.Hour, "more", 1, "", now.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := DenyExtension(r, who("carol"), "no", now.Add(6*time.Minute)); err != nil || r.PendingExtension != nil || !r.EndsAt.Equal(end.Add(time.Hour)) {
		t.Fatalf("deny: %v %+v", err, r)
	}
	if _, err := RequestExtension(r, "alice", time.Hour, "more", 1, "", now.Add(7*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := ApproveExtension(r, who("bob"), "late", r.EndsAt); !errors.As(err, &te) {
		t.Fatalf("approval after the grant ended: %v", err)
	}
}
