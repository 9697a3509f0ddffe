package policy

import (
	"errors"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
)

func TestIdleTimeoutAndReviewAreRead(t *testing.T) {
	p := mustParse(t, testPolicy+`    idle_timeout: 20m
    review: required
`)
	dev, _ := p.Role("dev")
	prod, _ := p.Role("prod-admin")
	if dev.IdleTimeout != 20*time.Minute || !dev.ReviewRequired {
		t.Fatalf("dev: idle %s, review %v", dev.IdleTimeout, dev.ReviewRequired)
	}
	if prod.IdleTimeout != 0 || prod.ReviewRequired {
		t.Fatalf("prod-admin has no idle_timeout nor review, got %s %v", prod.IdleTimeout, prod.ReviewRequired)
	}
	if !p.NeedsReview("dev", false) || p.NeedsReview("prod-admin", false) || !p.NeedsReview("prod-admin", true) {
		t.Fatal("NeedsReview: review: required and break-glass need one, others not")
	}
}

func TestCanReview(t *testing.T) {
	p := mustParse(t, testPolicy)
	start := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	grant := func(by string) *api.Request {
		return &api.Request{ID: "req_1", Requester: by, Role: "prod-admin", State: api.StateExpired,
			BreakGlass: true, ReviewRequired: true, StartsAt: start, EndsAt: start.Add(time.Hour)}
	}
	var denied *DeniedError
	var conflict *ConflictError
	if err := p.CanReview(approver, grant("oncall@example.com")); err != nil {
		t.Fatalf("an approver reviewing another's grant: %v", err)
	}
	if err := p.CanReview(devAppr, grant("devappr@example.com")); !errors.As(err, &denied) {
		t.Fatalf("self-review: %v, want DeniedError", err)
	}
	if err := p.CanReview(admin, grant("oncall@example.com")); !errors.As(err, &denied) {
		t.Fatalf("an admin who is no approver: %v, want DeniedError (reviewers are the role's approvers)", err)
	}
	r := grant("oncall@example.com")
	r.Review = &api.Review{By: "appr2@example.com", Verdict: api.VerdictOK}
	if err := p.CanReview(approver, r); !errors.As(err, &conflict) {
		t.Fatalf("second review: %v, want ConflictError", err)
	}
	r = grant("oncall@example.com")
	r.ReviewRequired = false
	if err := p.CanReview(approver, r); !errors.As(err, &conflict) {
		t.Fatalf("a grant needing no review: %v, want ConflictError", err)
	}
	r = grant("oncall@example.com")
	r.StartsAt, r.State = time.Time{}, api.StateDenied
	if err := p.CanReview(approver, r); !errors.As(err, &conflict) {
		t.Fatalf("a request never granted: %v, want ConflictError", err)
	}
}
