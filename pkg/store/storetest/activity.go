package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

// RunActivity runs the store.ActivityStore suite. open must return a new,
// empty store; RunActivity closes it.
func RunActivity(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store, a store.ActivityStore)
	}{
		{"VendedKeyMapsToItsGrant", testRememberKey},
		{"RecordAggregatesPerGrant", testRecordAggregates},
		{"RedeliveredEventIsCountedOnce", testRecordDedupes},
		{"DedupeWindowRunsFromReceipt", testDedupeFromReceipt},
		{"ConcurrentDeliveriesOfOneBatchCountOnce", testRecordConcurrentDedupe},
		{"ActionSetIsBounded", testActionsBounded},
		{"FlushWritesOneRecordPerGrantAndWindow", testFlush},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tt.fn(t, s, s)
		})
	}
}

func call(id, grant string, at time.Time, action string, failed bool) store.Call {
	return store.Call{EventID: id, RequestID: grant, Requester: "alice", Role: "prod", Time: at, Action: action, Error: failed, Received: at}
}

// testDedupeFromReceipt: an event already 23h59m old when it arrives, sent
// again 2 minutes later after a flush that forgot the ids received more than
// a day before, counts once: its id is remembered from its receipt.
func testDedupeFromReceipt(t *testing.T, _ store.Store, a store.ActivityStore) {
	arrived := t0.Add(48 * time.Hour)
	c := call("late", "r1", arrived.Add(-23*time.Hour-59*time.Minute), "s3:GetObject", false)
	c.Received = arrived
	if n, err := a.RecordActivity(ctx(t), []store.Call{c}); err != nil || n != 1 {
		t.Fatalf("first delivery = %d, %v; want 1", n, err)
	}
	retry := arrived.Add(2 * time.Minute)
	if _, err := a.FlushActivity(ctx(t), retry, retry, retry.Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	c.Received = retry
	if n, err := a.RecordActivity(ctx(t), []store.Call{c}); err != nil || n != 0 {
		t.Fatalf("the retry 2 minutes later after a flush = %d, %v; want 0", n, err)
	}
	if got, _ := a.Activity(ctx(t), "r1"); got["r1"].Calls != 1 {
		t.Fatalf("calls = %d, want 1", got["r1"].Calls)
	}
}

func testRememberKey(t *testing.T, _ store.Store, a store.ActivityStore) {
	k := store.KeyGrant{AccessKeyID: "ASIAKEY1", RequestID: "r1", Requester: "alice", Role: "prod"}
	if err := a.RememberKey(ctx(t), k, t0); err != nil {
		t.Fatal(err)
	}
	// A second remember of the same key keeps the first grant.
	if err := a.RememberKey(ctx(t), store.KeyGrant{AccessKeyID: "ASIAKEY1", RequestID: "r2", Requester: "mallory", Role: "prod"}, t0); err != nil {
		t.Fatal(err)
	}
	got, err := a.GrantForKey(ctx(t), "ASIAKEY1")
	if err != nil || got != k {
		t.Fatalf("GrantForKey = %+v, %v; want %+v", got, err, k)
	}
	if _, err := a.GrantForKey(ctx(t), "ASIAOTHER"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown key: %v, want ErrNotFound", err)
	}
}

func testRecordAggregates(t *testing.T, _ store.Store, a store.ActivityStore) {
	n, err := a.RecordActivity(ctx(t), []store.Call{
		call("e1", "r1", t0.Add(2*time.Minute), "s3:GetObject", false),
		call("e2", "r1", t0.Add(time.Minute), "s3:ListBucket", false),
		call("e3", "r1", t0.Add(3*time.Minute), "s3:GetObject", true),
		call("e4", "r2", t0.Add(5*time.Minute), "s3:PutObject", false),
	})
	if err != nil || n != 4 {
		t.Fatalf("RecordActivity = %d, %v; want 4", n, err)
	}
	got, err := a.Activity(ctx(t), "r1", "r2", "r3")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got["r3"]; ok || len(got) != 2 {
		t.Fatalf("Activity returned %v; want r1 and r2 only", got)
	}
	r1 := got["r1"]
	if r1.Calls != 3 || r1.Errors != 1 || !r1.FirstUse.Equal(t0.Add(time.Minute)) || !r1.LastUse.Equal(t0.Add(3*time.Minute)) {
		t.Fatalf("r1 = %+v", r1)
	}
	if len(r1.Actions) != 2 || r1.Actions[0].Action != "s3:GetObject" || r1.Actions[0].Calls != 2 || r1.Actions[1].Action != "s3:ListBucket" {
		t.Fatalf("r1 actions = %+v (most used first)", r1.Actions)
	}
	if got["r2"].Calls != 1 || got["r2"].Actions[0].Action != "s3:PutObject" {
		t.Fatalf("r2 = %+v", got["r2"])
	}
}

func testRecordDedupes(t *testing.T, _ store.Store, a store.ActivityStore) {
	batch := []store.Call{call("e1", "r1", t0, "s3:GetObject", false), call("e1", "r1", t0, "s3:GetObject", false)}
	if n, err := a.RecordActivity(ctx(t), batch); err != nil || n != 1 {
		t.Fatalf("first delivery = %d, %v; want 1 (one event twice in a batch)", n, err)
	}
	if n, err := a.RecordActivity(ctx(t), batch[:1]); err != nil || n != 0 {
		t.Fatalf("redelivery = %d, %v; want 0", n, err)
	}
	got, _ := a.Activity(ctx(t), "r1")
	if got["r1"].Calls != 1 {
		t.Fatalf("calls = %d after a redelivery, want 1", got["r1"].Calls)
	}
	// Forgotten ids (older than the dedupe window) count again: the window
	// bounds the table, and it is far longer than any sender's retries.
	if _, err := a.FlushActivity(ctx(t), t0.Add(time.Hour), t0, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, err := a.RecordActivity(ctx(t), batch[:1]); err != nil || n != 1 {
		t.Fatalf("after the id was forgotten = %d, %v; want 1", n, err)
	}
}

func testRecordConcurrentDedupe(t *testing.T, _ store.Store, a store.ActivityStore) {
	var batch []store.Call
	for i := range 20 {
		batch = append(batch, call(fmt.Sprintf("e%02d", i), fmt.Sprintf("r%d", i%3), t0.Add(time.Duration(i)*time.Second), "s3:GetObject", false))
	}
	var wg sync.WaitGroup
	counts := make([]int, 4)
	for i := range counts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := a.RecordActivity(ctx(t), batch)
			if err != nil {
				t.Error(err)
			}
			counts[i] = n
		}()
	}
	wg.Wait()
	total := 0
	for _, n := range counts {
		total += n
	}
	got, _ := a.Activity(ctx(t), "r0", "r1", "r2")
	if sum := got["r0"].Calls + got["r1"].Calls + got["r2"].Calls; total != 20 || sum != 20 {
		t.Fatalf("4 concurrent deliveries of 20 events: recorded %d, stored %d; want 20 and 20", total, sum)
	}
}

func testActionsBounded(t *testing.T, _ store.Store, a store.ActivityStore) {
	var batch []store.Call
	for i := range 150 {
		batch = append(batch, call(fmt.Sprintf("e%03d", i), "r1", t0, fmt.Sprintf("svc:Action%03d", i), false))
	}
	if _, err := a.RecordActivity(ctx(t), batch); err != nil {
		t.Fatal(err)
	}
	got, _ := a.Activity(ctx(t), "r1")
	if r := got["r1"]; r.Calls != 150 || len(r.Actions) != 100 || r.OtherCalls != 50 {
		t.Fatalf("150 distinct actions: calls %d, kept %d, other %d; want 150, 100, 50", r.Calls, len(r.Actions), r.OtherCalls)
	}
}

func testFlush(t *testing.T, s store.Store, a store.ActivityStore) {
	if _, err := a.RecordActivity(ctx(t), []store.Call{
		call("e1", "r1", t0, "s3:GetObject", false),
		call("e2", "r1", t0.Add(time.Minute), "s3:GetObject", false),
		call("e3", "r2", t0.Add(10*time.Minute), "s3:ListBucket", false),
	}); err != nil {
		t.Fatal(err)
	}
	// Windows that began by t0+5m: r1 only.
	n, err := a.FlushActivity(ctx(t), t0.Add(15*time.Minute), t0.Add(5*time.Minute), time.Time{})
	if err != nil || n != 1 {
		t.Fatalf("flush = %d, %v; want 1", n, err)
	}
	if n, _ := a.FlushActivity(ctx(t), t0.Add(15*time.Minute), t0.Add(5*time.Minute), time.Time{}); n != 0 {
		t.Fatalf("second flush wrote %d records, want 0: the window was reported", n)
	}
	// A grant that ended is flushed whatever its window's age.
	if n, _ := a.FlushActivity(ctx(t), t0.Add(16*time.Minute), t0, time.Time{}, "r2"); n != 1 {
		t.Fatalf("flush of an ended grant wrote %d records, want 1", n)
	}
	evs, err := s.Audit(ctx(t), store.AuditFilter{Type: audit.TypeActivity})
	if err != nil || len(evs) != 2 {
		t.Fatalf("audit has %d grant.activity records (%v), want 2", len(evs), err)
	}
	e := evs[0]
	if e.RequestID != "r1" || e.Subject != "alice" || e.Role != "prod" || e.Detail["calls"] != "2" || e.Detail["actions"] != "s3:GetObject=2" {
		t.Fatalf("first record = %+v", e)
	}
	// Totals survive the flush.
	got, _ := a.Activity(ctx(t), "r1")
	if got["r1"].Calls != 2 {
		t.Fatalf("calls after flush = %d, want 2", got["r1"].Calls)
	}
	VerifyChain(t, s, 2)
}
