package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

// RunTreeRebuild checks that a store opened on a log written before the
// audit tree existed builds the tree again, with the same root: it appends
// 50 records, closes the store, lets dropTree delete the tree's rows (as an
// existing log looks after the 0030 migration: records, no tree) and opens
// it again. reopen opens the same store every time.
func RunTreeRebuild(t *testing.T, reopen func(t *testing.T) store.Store, dropTree func(t *testing.T)) {
	t.Helper()
	s := reopen(t)
	for i := range 50 {
		if err := s.Append(t.Context(), audit.Event{Time: time.Unix(int64(i), 0), Type: audit.TypePolicyLoaded, Actor: "server"}); err != nil {
			t.Fatal(err)
		}
	}
	_, want, err := store.TreeHead(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	dropTree(t)
	s = reopen(t)
	defer s.Close()
	size, got, err := store.TreeHead(t.Context(), s)
	if err != nil || size != 50 || got != want {
		t.Fatalf("rebuilt tree: size %d root %s (%v), want 50 and %s", size, got, err, want)
	}
}

func treeTests() []suiteTest {
	return []suiteTest{
		{"AuditTreeInclusionProofsVerifyForEveryRecordOf10000", testTreeInclusion10000},
		{"AuditTreeRootIsRecomputedFromRecords", testTreeRootFromRecords},
		{"AuditTreeGrowsConsistently", testTreeConsistency},
	}
}

func appendN(t *testing.T, s store.Store, n, chunk int) {
	t.Helper()
	for i := 0; i < n; i += chunk {
		evs := make([]audit.Event, 0, chunk)
		for j := i; j < min(n, i+chunk); j++ {
			evs = append(evs, audit.Event{Time: t0, Type: audit.TypeVended, Actor: fmt.Sprintf("user%d", j), Role: "prod", Detail: map[string]string{"n": fmt.Sprint(j)}})
		}
		if err := s.Append(ctx(t), evs...); err != nil {
			t.Fatal(err)
		}
	}
}

func allEvents(t *testing.T, s store.Store) []api.AuditEvent {
	t.Helper()
	var out []api.AuditEvent
	if err := store.EachAudit(ctx(t), s, store.AuditFilter{}, func(e api.AuditEvent) (bool, error) {
		out = append(out, e)
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func testTreeInclusion10000(t *testing.T, s store.Store) {
	const n = 10000
	appendN(t, s, n, 100)
	size, root, err := store.TreeHead(ctx(t), s)
	if err != nil {
		t.Fatal(err)
	}
	if size != n {
		t.Fatalf("tree size %d, want %d", size, n)
	}
	cp := audit.Checkpoint{Origin: "test", Size: size, Hash: root}
	r := store.HashReader(ctx(t), s)
	events := allEvents(t, s)
	if len(events) != n {
		t.Fatalf("%d events, want %d", len(events), n)
	}
	for _, e := range events {
		p, err := tlog.ProveRecord(size, e.Seq-1, r)
		if err != nil {
			t.Fatalf("prove %d: %v", e.Seq, err)
		}
		if err := audit.CheckInclusion(cp, e, p); err != nil {
			t.Fatal(err)
		}
	}
	// The proof of one record does not prove another.
	p, err := tlog.ProveRecord(size, 0, r)
	if err != nil {
		t.Fatal(err)
	}
	if audit.CheckInclusion(cp, events[1], p) == nil {
		t.Fatal("record 2 verified with record 1's proof")
	}
}

func testTreeRootFromRecords(t *testing.T, s store.Store) {
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				id := fmt.Sprintf("req_tree_%d_%d", w, i)
				if err := s.Create(ctx(t), NewRequest(id, "alice", "prod", t0), []audit.Event{{Time: t0, Type: audit.TypeRequestCreated, Actor: "alice", RequestID: id,
					Detail: map[string]string{"html": "<a&b>", "utf8": "ü→"}}}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	size, root, err := store.TreeHead(ctx(t), s)
	if err != nil {
		t.Fatal(err)
	}
	var m audit.MemoryTree
	for _, e := range allEvents(t, s) {
		leaf, err := audit.LeafHash(e)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Append(leaf); err != nil {
			t.Fatal(err)
		}
	}
	if m.Size() != size || size != 200 {
		t.Fatalf("tree size %d, records %d, want 200", size, m.Size())
	}
	got, err := m.Root(size)
	if err != nil {
		t.Fatal(err)
	}
	if got != root {
		t.Fatalf("root recomputed from the records %s, stored tree says %s", got, root)
	}
}

func testTreeConsistency(t *testing.T, s store.Store) {
	appendN(t, s, 37, 5)
	n1, h1, err := store.TreeHead(ctx(t), s)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 100, 7)
	n2, h2, err := store.TreeHead(ctx(t), s)
	if err != nil {
		t.Fatal(err)
	}
	p, err := tlog.ProveTree(n2, n1, store.HashReader(ctx(t), s))
	if err != nil {
		t.Fatal(err)
	}
	older := audit.Checkpoint{Origin: "test", Size: n1, Hash: h1}
	newer := audit.Checkpoint{Origin: "test", Size: n2, Hash: h2}
	if err := audit.CheckConsistency(older, newer, p); err != nil {
		t.Fatal(err)
	}
	newer.Hash[0] ^= 1
	if audit.CheckConsistency(older, newer, p) == nil {
		t.Fatal("a different newer tree passed the consistency check")
	}
}
