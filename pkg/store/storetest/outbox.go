package storetest

// The outbox bookkeeping every store keeps for pkg/notify: delivery
// cursors, leases and Slack message references.

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

func outboxTests() []suiteTest {
	return []suiteTest{
		{"NewSinkStartsAtHeadAndCursorNeverMovesBack", testCursor},
		{"LeaseHasOneHolderUntilItExpires", testLease},
		{"SlackMessageRoundTrips", testSlack},
	}
}

func testCursor(t *testing.T, s store.Store) {
	ctx := context.Background()
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if c, err := s.DeliveryCursor(ctx, "empty"); err != nil || c != 0 {
		t.Fatalf("cursor on an empty log = %d, %v; want 0", c, err)
	}
	for i := range 3 {
		if err := s.Append(ctx, audit.Event{Time: t0.Add(time.Duration(i) * time.Second), Type: "test.event", Actor: "a"}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := s.DeliveryCursor(ctx, "webhook:a")
	if err != nil || c != 3 {
		t.Fatalf("a new sink's cursor = %d, %v; want the head 3", c, err)
	}
	if err := s.Append(ctx, audit.Event{Time: t0, Type: "test.event", Actor: "a"}); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.DeliveryCursor(ctx, "webhook:a"); c != 3 {
		t.Fatalf("cursor moved by itself to %d", c)
	}
	if c, _ := s.DeliveryCursor(ctx, "empty"); c != 0 {
		t.Fatalf("the first sink's cursor moved to %d", c)
	}
	if err := s.SetDeliveryCursor(ctx, "webhook:a", 4); err != nil {
		t.Fatal(err)
	}
	if err := s.SetDeliveryCursor(ctx, "webhook:a", 2); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.DeliveryCursor(ctx, "webhook:a"); c != 4 {
		t.Fatalf("cursor = %d after setting 4 then 2; want 4 (never back)", c)
	}
	if err := s.SetDeliveryCursor(ctx, "fresh", 7); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.DeliveryCursor(ctx, "fresh"); c != 7 {
		t.Fatalf("cursor set before first read = %d; want 7", c)
	}
}

func testLease(t *testing.T, s store.Store) {
	ctx := context.Background()
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	try := func(holder string, at time.Duration, want bool) {
		t.Helper()
		got, err := s.TryLease(ctx, "notify:x", holder, t0.Add(at), 10*time.Second)
		if err != nil || got != want {
			t.Fatalf("TryLease(%s, +%s) = %t, %v; want %t", holder, at, got, err, want)
		}
	}
	try("h1", 0, true)
	try("h2", 5*time.Second, false)
	try("h1", 9*time.Second, true) // renews until +19s
	try("h2", 15*time.Second, false)
	try("h2", 19*time.Second, true) // expired: taken over
	try("h1", 20*time.Second, false)
	if ok, _ := s.TryLease(ctx, "notify:y", "h1", t0, time.Second); !ok {
		t.Fatal("leases of other names are independent")
	}
	if err := s.ReleaseLease(ctx, "notify:x", "h1"); err != nil {
		t.Fatal(err)
	}
	try("h1", 21*time.Second, false) // h1 could not release h2's lease
	if err := s.ReleaseLease(ctx, "notify:x", "h2"); err != nil {
		t.Fatal(err)
	}
	try("h1", 21*time.Second, true)
}

func testSlack(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, _, err := s.SlackMessage(ctx, "req_1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown message: err = %v, want ErrNotFound", err)
	}
	if err := s.SetSlackMessage(ctx, "req_1", "C1", "1700000000.000100"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSlackMessage(ctx, "req_1", "C2", "1700000000.000200"); err != nil {
		t.Fatal(err)
	}
	ch, ts, err := s.SlackMessage(ctx, "req_1")
	if err != nil || ch != "C2" || ts != "1700000000.000200" {
		t.Fatalf("SlackMessage = %q %q %v", ch, ts, err)
	}
}
