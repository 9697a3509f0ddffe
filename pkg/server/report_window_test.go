package server_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/store/storetest"
)

// TestReportIncludesAGrantApprovedDaysAfterItsRequest: a request pending for
// 30 hours (pending timeouts allow up to a week) and then approved starts in
// the report's window and is in the report, however old its request is.
func TestReportIncludesAGrantApprovedDaysAfterItsRequest(t *testing.T) {
	e := newActivityEnv(t)
	now := e.clock.Now()
	asked := now.Add(-30 * time.Hour)
	r, evs := storetest.NewPending("slow-approval", "alice@example.com", "readonly", 1, asked)
	r.PendingUntil = asked.Add(168 * time.Hour)
	if err := e.store.Create(context.Background(), r, evs); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Update(context.Background(), r.ID, storetest.Approved("bob", now.Add(-time.Hour))); err != nil {
		t.Fatal(err)
	}
	var rep api.Report
	q := url.Values{"since": {now.Add(-2 * time.Hour).UTC().Format(time.RFC3339)}}
	if code := e.call("carol", "GET", "/v1/report?"+q.Encode(), nil, &rep); code != http.StatusOK {
		t.Fatalf("report: HTTP %d", code)
	}
	for _, g := range rep.Grants {
		if g.ID == r.ID {
			return
		}
	}
	t.Fatalf("the grant that started 1h ago (requested 30h ago) is missing from the report since 2h ago: %+v", rep.Grants)
}

// TestActivityEventRetriedAfterASweepCountsOnce: an event already 23h59m
// old when first delivered, delivered again 2 minutes later after a sweep
// (which forgets the event ids of more than a day ago), counts once: its id
// is remembered from when it was received, not from its own time.
func TestActivityEventRetriedAfterASweepCountsOnce(t *testing.T) {
	e := newActivityEnv(t)
	r, c := e.grant("alice", api.CreateRequest{Role: "readonly", Reason: "logs"})
	body := mustJSON(t, minioEntry(c.AccessKeyID, "GetObject", 200, e.clock.Now().Add(-23*time.Hour-59*time.Minute), "OLD"))
	if code, res, _ := e.deliver("minio", body, bearer()); code != 200 || res.Recorded != 1 {
		t.Fatalf("first delivery: HTTP %d, recorded %d", code, res.Recorded)
	}
	e.clock.Add(2 * time.Minute)
	if _, err := e.srv.SweepOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code, res, _ := e.deliver("minio", body, bearer()); code != 200 || res.Recorded != 0 {
		t.Fatalf("the retry after the sweep: HTTP %d, recorded %d, want 0", code, res.Recorded)
	}
	if a := e.get("alice", r.ID).Activity; a.Calls != 1 {
		t.Fatalf("calls = %d after one event was retried, want 1", a.Calls)
	}
}
