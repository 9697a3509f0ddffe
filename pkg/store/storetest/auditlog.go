package storetest

// Querying the audit log and its chain under concurrent writers.

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

func testAuditQuery(t *testing.T, s store.Store) {
	evs := []audit.Event{
		{Time: t0, Type: audit.TypePolicyLoaded, Actor: "system"},
		{Time: t0.Add(1 * time.Minute), Type: audit.TypeVended, Actor: "alice", Subject: "alice", Role: "dev", RequestID: "r1",
			Detail: map[string]string{"access_key_id": "AKIA1", "z": "last", "a": "first"}},
		{Time: t0.Add(2 * time.Minute), Type: audit.TypeRequestApproved, Actor: "bob", Subject: "alice", Role: "dev", RequestID: "r1"},
		{Time: t0.Add(3 * time.Minute), Type: audit.TypeForbidden, Actor: "mallory", Role: "prod", Reason: "not eligible"},
		{Time: t0.Add(4 * time.Minute), Type: audit.TypeVended, Actor: "carol", Subject: "carol", Role: "prod", RequestID: "r2"},
	}
	if err := s.Append(ctx(t), evs[:2]...); err != nil {
		t.Fatal(err)
	}
	for _, e := range evs[2:] {
		if err := s.Append(ctx(t), e); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Append(ctx(t)); err != nil {
		t.Fatalf("empty Append: %v", err)
	}
	all := AllAudit(t, s)
	if len(all) != len(evs) {
		t.Fatalf("%d events, want %d", len(all), len(evs))
	}
	for i, e := range all {
		if e.Seq != int64(i+1) || !e.Time.Equal(evs[i].Time) || e.Type != evs[i].Type || e.Actor != evs[i].Actor ||
			e.Reason != evs[i].Reason || len(e.Detail) != len(evs[i].Detail) {
			t.Fatalf("event %d = %+v, want %+v", i, e, evs[i])
		}
	}
	if all[1].Detail["access_key_id"] != "AKIA1" {
		t.Errorf("detail lost: %v", all[1].Detail)
	}
	seqs := func(f store.AuditFilter) []int64 {
		t.Helper()
		got, err := s.Audit(ctx(t), f)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, e := range got {
			out = append(out, e.Seq)
		}
		return out
	}
	tests := []struct {
		name string
		f    store.AuditFilter
		want []int64
	}{
		{"all", store.AuditFilter{}, []int64{1, 2, 3, 4, 5}},
		{"since is inclusive", store.AuditFilter{Since: t0.Add(2 * time.Minute)}, []int64{3, 4, 5}},
		{"until is exclusive", store.AuditFilter{Until: t0.Add(2 * time.Minute)}, []int64{1, 2}},
		{"window", store.AuditFilter{Since: t0.Add(time.Minute), Until: t0.Add(3 * time.Minute)}, []int64{2, 3}},
		{"user as actor or subject", store.AuditFilter{User: "alice"}, []int64{2, 3}},
		{"user as actor", store.AuditFilter{User: "bob"}, []int64{3}},
		{"role", store.AuditFilter{Role: "prod"}, []int64{4, 5}},
		{"request", store.AuditFilter{RequestID: "r1"}, []int64{2, 3}},
		{"type", store.AuditFilter{Type: audit.TypeVended}, []int64{2, 5}},
		{"combined", store.AuditFilter{Type: audit.TypeVended, Role: "prod"}, []int64{5}},
		{"after seq", store.AuditFilter{AfterSeq: 3}, []int64{4, 5}},
		{"limit", store.AuditFilter{Limit: 2}, []int64{1, 2}},
		{"limit after seq", store.AuditFilter{AfterSeq: 2, Limit: 2}, []int64{3, 4}},
		{"no match", store.AuditFilter{User: "nobody"}, nil},
	}
	for _, tt := range tests {
		if got := seqs(tt.f); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got seqs %v, want %v", tt.name, got, tt.want)
		}
	}
	VerifyChain(t, s, len(evs))
}

func testChainConcurrent(t *testing.T, s store.Store) {
	const workers, each = 6, 15
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				at := t0.Add(time.Duration(w*each+i) * time.Millisecond)
				r := NewRequest(fmt.Sprintf("w%d-%d", w, i), fmt.Sprintf("user%d", w), "dev", at)
				if err := s.Create(ctx(t), r, []audit.Event{CreatedEvent(r)}); err != nil {
					errs <- err
					continue
				}
				if _, err := s.Update(ctx(t), r.ID, Approve("boss", at)); err != nil {
					errs <- err
				}
				if err := s.Append(ctx(t), audit.Event{Time: at, Type: audit.TypeVended, Actor: r.Requester, RequestID: r.ID}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	VerifyChain(t, s, workers*each*3)
}
