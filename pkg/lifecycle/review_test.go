package lifecycle

import (
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
)

func TestReviewRecordsOneVerdictAndKeepsTheEndTime(t *testing.T) {
	start := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	ended := start.Add(20 * time.Minute)
	r := &api.Request{ID: "req_1", Requester: "dev", Role: "oncall", State: api.StateRevoked, BreakGlass: true, ReviewRequired: true,
		StartsAt: start, EndsAt: start.Add(time.Hour), UpdatedAt: ended}
	if !AwaitsReview(r) {
		t.Fatal("a break-glass grant without a verdict does not await review")
	}
	if _, err := Review(r, "boss", api.VerdictConcern, "  ", start.Add(2*time.Hour)); err == nil {
		t.Fatal("a concern without a note was recorded")
	}
	if _, err := Review(r, "boss", "meh", "", start.Add(2*time.Hour)); err == nil {
		t.Fatal("an unknown verdict was recorded")
	}
	evs, err := Review(r, "boss", api.VerdictOK, " fine ", start.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if r.Review == nil || r.Review.Note != "fine" || !r.UpdatedAt.Equal(ended) || AwaitsReview(r) {
		t.Fatalf("after review: %+v, updated %s", r.Review, r.UpdatedAt)
	}
	if len(evs) != 1 || evs[0].Type != audit.TypeReviewed || evs[0].Actor != "boss" || evs[0].Detail["verdict"] != "ok" {
		t.Fatalf("events = %+v", evs)
	}
	if _, err := Review(r, "boss2", api.VerdictOK, "", start.Add(3*time.Hour)); err == nil {
		t.Fatal("a second verdict was recorded")
	}
}
