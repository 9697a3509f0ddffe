package policy

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
)

func TestExtensionApprovalBoundsSelfExtensionOfGrantsThatSkippedApprovers(t *testing.T) {
	p := mustParse(t, testPolicy)
	sre := api.User{Subject: "s", Email: "sre@example.com", Groups: []string{"developers", "sre"}}
	dev := api.User{Subject: "d", Email: "dev@example.com", Groups: []string{"developers"}}
	start := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	grant := func(d time.Duration, bg, auto bool, who api.User) *api.Request {
		return &api.Request{ID: "r", Role: "prod-admin", Requester: who.ID(), State: api.StateActive, BreakGlass: bg, AutoApproved: auto,
			StartsAt: start, EndsAt: start.Add(d), DurationSeconds: int64(d / time.Second)}
	}
	for _, tc := range []struct {
		name   string
		req    *api.Request
		u      api.User
		by     time.Duration
		needed int
		why    string
	}{
		{"break-glass within its max", grant(30*time.Minute, true, false, dev), dev, 30 * time.Minute, 0, ""},
		{"break-glass past its max", grant(30*time.Minute, true, false, dev), dev, 31 * time.Minute, 2, "break_glass.max_duration of 1h"},
		{"auto-approved within its max", grant(15*time.Minute, false, true, sre), sre, 15 * time.Minute, 0, ""},
		{"auto-approved past its max", grant(15*time.Minute, false, true, sre), sre, 16 * time.Minute, 2, "auto_approve.max_duration of 30m"},
		{"auto-approved, requester no longer in auto_approve", grant(15*time.Minute, false, true, dev), dev, time.Minute, 2, "would not auto-approve"},
		{"approved by approvers", grant(time.Hour, false, false, dev), dev, 2 * time.Hour, 0, ""},
	} {
		needed, why := p.ExtensionApproval(tc.u, tc.req, tc.by)
		if needed != tc.needed || !strings.Contains(why, tc.why) {
			t.Errorf("%s: needed %d (%q), want %d (%q)", tc.name, needed, why, tc.needed, tc.why)
		}
	}
}

func TestCanDecideExtensionRefusesSelfNonApproverAndRepeats(t *testing.T) {
	p := mustParse(t, testPolicy)
	dev := api.User{Subject: "d", Email: "dev@example.com", Groups: []string{"developers", "approvers"}}
	bob := api.User{Subject: "b", Email: "bob@example.com", Groups: []string{"approvers"}}
	eve := api.User{Subject: "e", Email: "eve@example.com", Groups: []string{"developers"}}
	req := &api.Request{ID: "r", Role: "prod-admin", Requester: dev.ID(), State: api.StateActive,
		PendingExtension: &api.Extension{DurationSeconds: 600, ApprovalsNeeded: 2}}
	var denied *DeniedError
	if err := p.CanDecideExtension(dev, req); !errors.As(err, &denied) {
		t.Errorf("requester (also an approver): %v, want denied", err)
	}
	if err := p.CanDecideExtension(eve, req); !errors.As(err, &denied) {
		t.Errorf("non-approver: %v, want denied", err)
	}
	if err := p.CanDecideExtension(bob, req); err != nil {
		t.Errorf("approver: %v", err)
	}
	req.PendingExtension.Approvals = []api.Decision{{By: "BOB@example.com", Approve: true}}
	var conflict *ConflictError
	if err := p.CanDecideExtension(bob, req); !errors.As(err, &conflict) {
		t.Errorf("second approval by the same approver: %v, want conflict", err)
	}
	req.PendingExtension = nil
	if err := p.CanDecideExtension(bob, req); !errors.As(err, &conflict) {
		t.Errorf("nothing waiting: %v, want conflict", err)
	}
}
